"""The closed loop's pages: inboxes with counts, the report form, the event page offering exactly the
viewer's transitions, the action forms (htmx and plain), the events map and the Excel export."""

from __future__ import annotations

import io
from typing import Any

from django.test import Client
from openpyxl import load_workbook

from pingan.core.models import AuditEntry
from pingan.events import actions, notify
from pingan.events.exports import neutralise
from pingan.events.models import Event, Notification, State
from tests.events.conftest import IN_GRID_A, TYPE


def as_user(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def forms_offered(html: str) -> set[str]:
    import re

    return set(re.findall(r'class="ev-action" data-action="([a-z-]+)"', html))


def test_the_inbox_shows_each_tab_with_its_count(world) -> None:  # type: ignore[no-untyped-def]
    world.report()
    world.report(title="第二件")
    world.drive(world.report(title="已受理"), "accepted")
    page = as_user(world.ws).get("/events/?box=to_accept")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-box="to_accept"' in html and 'data-count="2"' in html
    assert html.count('class="event-row') == 2
    everything = as_user(world.ws).get("/events/").content.decode()
    assert everything.count('class="event-row') == 3
    assert as_user(world.grid_b).get("/events/").content.decode().count('class="event-row') == 0


def test_the_inbox_is_refused_to_roles_without_events(world, make_user) -> None:  # type: ignore[no-untyped-def]
    assert as_user(make_user("auditor")).get("/events/").status_code == 403
    assert Client().get("/events/").status_code == 302


def test_the_report_form_creates_the_event_once_even_when_sent_twice(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.grid_a)
    form = c.get("/events/report/")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'id="pick-map"' in html and 'id="use-position"' in html and 'name="photos"' in html
    data = {"event_type": TYPE, "title": "占道经营", "description": "早市摊位占用消防通道", "priority": "high",
            "lon": str(IN_GRID_A[0]), "lat": str(IN_GRID_A[1]), "address": "甲一村口", "idempotency_key": "form-123"}
    first = c.post("/events/report/", data)
    assert first.status_code == 302
    event = Event.objects.get()
    assert first["Location"] == f"/events/{event.pk}/"
    assert event.priority == "high" and event.reporter == world.grid_a
    c.post("/events/report/", data)  # a double tap on a slow phone
    assert Event.objects.count() == 1


def test_the_report_form_asks_for_the_place(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.grid_a)
    response = c.post("/events/report/", {"event_type": TYPE, "title": "x", "description": "y", "priority": "normal",
                                          "idempotency_key": "k"})
    assert response.status_code == 200 and 'class="field-error"' in response.content.decode()
    assert not Event.objects.exists()


def test_a_bad_photo_refuses_the_report_before_the_event_exists(world, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    data = {"event_type": TYPE, "title": "x", "description": "y", "priority": "normal", "lon": str(IN_GRID_A[0]),
            "lat": str(IN_GRID_A[1]), "idempotency_key": "k2",
            "photos": SimpleUploadedFile("a.jpg", b"not an image", content_type="image/jpeg")}
    response = as_user(world.grid_a).post("/events/report/", data)
    assert response.status_code == 200 and "error" in response.content.decode()
    assert not Event.objects.exists()


def test_the_event_page_offers_exactly_the_viewers_transitions(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    ws_page = as_user(world.ws).get(f"/events/{event.pk}/")
    assert ws_page.status_code == 200
    assert forms_offered(ws_page.content.decode()) == {"accept", "reject", "merge", "escalate"}
    assert forms_offered(as_user(world.grid_a).get(f"/events/{event.pk}/").content.decode()) == {"escalate"}
    assert forms_offered(as_user(world.deputy).get(f"/events/{event.pk}/").content.decode()) == set()
    assert forms_offered(as_user(world.admin).get(f"/events/{event.pk}/").content.decode()) >= {"accept", "supervise"}
    assert as_user(world.grid_b).get(f"/events/{event.pk}/").status_code == 404

    event = world.drive(event, "dispatched")
    assert forms_offered(as_user(world.dept).get(f"/events/{event.pk}/").content.decode()) >= {"start", "return"}
    assert "start" not in forms_offered(as_user(world.dept_b).get(f"/events/{event.pk}/").content.decode())
    actions.start_event(world.dept, event)
    actions.resolve_event(world.dept, event, result="已调解", measures="上门", method="mediated")
    assert forms_offered(as_user(world.grid_a).get(f"/events/{event.pk}/").content.decode()) == {"verify", "rework", "escalate"}


def test_the_event_page_shows_deadline_badges(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    Event.objects.filter(pk=event.pk).update(warned=True)
    assert 'ev-badge yellow' in as_user(world.ws).get(f"/events/{event.pk}/").content.decode()
    Event.objects.filter(pk=event.pk).update(overdue=True)
    html = as_user(world.ws).get(f"/events/{event.pk}/").content.decode()
    assert 'ev-badge red' in html and 'ev-badge yellow' not in html


def test_an_action_form_through_htmx_swaps_the_event_body(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    c = as_user(world.ws)
    response = c.post(f"/events/{event.pk}/act/accept/", {"version": "1", "note": "受理"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="event-body"') and 'data-state="accepted"' in html
    assert "dispatch" in forms_offered(html)
    # A second tab still showing version 1: refused, and the page shows the event as it is now.
    stale = c.post(f"/events/{event.pk}/act/reject/", {"version": "1", "reason": "x"}, headers={"HX-Request": "true"})
    assert 'id="action-error"' in stale.content.decode() and 'data-state="accepted"' in stale.content.decode()
    assert Event.objects.get(pk=event.pk).state == State.ACCEPTED


def test_an_action_form_without_javascript_redirects_and_refuses_other_roles(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "accepted")
    response = as_user(world.ws).post(f"/events/{event.pk}/act/dispatch/", {"lead_unit": "dept-a", "assisting_units": ["dept-b"]})
    assert response.status_code == 302 and response["Location"] == f"/events/{event.pk}/"
    event.refresh_from_db()
    assert event.state == State.DISPATCHED and event.tasks.count() == 2
    assert as_user(world.grid_a).post(f"/events/{event.pk}/act/start/").status_code == 403
    assert as_user(world.grid_b).post(f"/events/{event.pk}/act/start/").status_code == 404
    assert as_user(world.ws).post(f"/events/{event.pk}/act/nonsense/").status_code == 404


def test_the_events_map_page_renders_with_filters(world) -> None:  # type: ignore[no-untyped-def]
    page = as_user(world.grid_a).get("/events/map/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="events-map"' in html and 'name="state"' in html and "/api/v1/events/clusters" in html


def test_neutralise_puts_an_apostrophe_before_formula_characters() -> None:
    for text in ("=1+1", "+86", "-2", "@SUM(A1)", "\t=cmd", "\r=cmd"):
        assert neutralise(text) == "'" + text
    assert neutralise("噪声扰民") == "噪声扰民" and neutralise(3) == 3 and neutralise(None) is None


def test_the_excel_export_neutralises_formulas_and_is_audited(world, make_user) -> None:  # type: ignore[no-untyped-def]
    world.report(title='=HYPERLINK("http://evil.example","点击")', description="+1 -1 @cmd", address="-12号")
    world.report(title="正常标题")
    response = as_user(world.ws).get("/events/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2
    titles = {r[1] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\",\"点击\")" in titles and "正常标题" in titles
    for row in ws.iter_rows(min_row=1):
        for cell in row:
            assert cell.data_type != "f", f"formula in {cell.coordinate}"
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert AuditEntry.objects.filter(action="pingan.event.exported").exists()
    # Filters apply, and the export needs its own permission.
    filtered = load_workbook(io.BytesIO(as_user(world.ws).get("/events/export.xlsx?state=closed").content))
    assert filtered.active.max_row == 1
    assert as_user(world.grid_a).get("/events/export.xlsx").status_code == 403


def test_filters_that_are_not_understood_fall_back_to_the_unfiltered_list(world) -> None:  # type: ignore[no-untyped-def]
    world.report()
    page = as_user(world.ws).get("/events/?state=nonsense&from=2026-02-30")
    assert page.status_code == 200
    assert page.content.decode().count('class="event-row') == 1
    assert as_user(world.ws).get("/events/export.xlsx?state=nonsense").status_code == 200


def test_the_notifications_page_lists_ones_own_and_marks_them_read(world, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        first = world.report(title="第一件")
        second = world.report(title="第二件")
    staff = as_user(world.ws)
    page = staff.get("/events/notifications/").content.decode()
    assert page.count('class="is-unread"') == 2 and first.number in page and second.number in page
    assert 'class="bell-count">2<' in page  # the header's bell, on every page
    assert 'class="bell-count"' not in as_user(world.grid_b).get("/events/").content.decode()
    assert as_user(world.grid_b).get("/events/notifications/").content.decode().count('class="is-') == 0

    notify.notify(first, "test", "给乙网格的通知", [world.grid_b])
    own = Notification.objects.filter(user=world.ws).order_by("id")
    others = list(Notification.objects.exclude(user=world.ws).values_list("pk", flat=True))
    assert len(others) == 1
    staff.post("/events/notifications/", {"id": [own[0].pk, *others], "some": "1"})
    assert [n.read_at is not None for n in own] == [True, False]
    assert not Notification.objects.filter(pk__in=others, read_at__isnull=False).exists()  # never another's
    staff.post("/events/notifications/", {"all": "1"})
    page = staff.get("/events/notifications/").content.decode()
    assert page.count('class="is-read"') == 2 and 'class="bell-count"' not in page
    assert Client().get("/events/notifications/").status_code == 302

"""The events API over HTTP: every transition (happy path and one refused case with its stable code),
Idempotency-Key, optimistic concurrency, attachments (type by content, size, EXIF stripped), lists,
filters, clusters and notifications."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from pingan.core import clock
from pingan.events import actions
from pingan.events.models import Attachment, Event, Extension, State, Transition
from tests.events.conftest import IN_GRID_A, IN_GRID_B, TYPE

BASE = "/api/v1/events"


def api(client: Client, method: str, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    response = client.generic(method, BASE + path, json.dumps(body) if body is not None else "",
                              content_type="application/json", headers=headers)
    return response


def as_user(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def report_body(lonlat: tuple[float, float] = IN_GRID_A, **overrides: Any) -> dict[str, Any]:
    body = {"event_type": TYPE, "title": "噪声扰民", "description": "楼下商铺夜间噪声", "lon": lonlat[0], "lat": lonlat[1],
            "address": "甲一村12号"}
    body.update(overrides)
    return body


# -- report, idempotency, reading ------------------------------------------------------------------


def test_a_grid_worker_reports_through_the_api_and_gets_the_located_event(world) -> None:  # type: ignore[no-untyped-def]
    response = api(as_user(world.grid_a), "POST", "", report_body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("NX-") and body["state"] == "reported"
    assert body["area_code"].startswith("330503100201001")
    assert body["workstation"] == "ws-a"
    assert body["version"] == 1
    assert Event.objects.get(pk=body["id"]).reporter == world.grid_a


def test_a_report_without_permission_is_403_and_without_login_401(world, make_user) -> None:  # type: ignore[no-untyped-def]
    auditor = make_user("auditor")
    assert api(as_user(auditor), "POST", "", report_body()).json()["code"] == "permission_denied"
    assert api(Client(), "POST", "", report_body()).status_code == 401
    assert Event.objects.count() == 0


def test_the_same_idempotency_key_returns_the_same_event_and_a_different_body_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.grid_a)
    first = api(c, "POST", "", report_body(), **{"Idempotency-Key": "retry-1"})
    again = api(c, "POST", "", report_body(), **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Event.objects.count() == 1

    changed = api(c, "POST", "", report_body(title="另一件事"), **{"Idempotency-Key": "retry-1"})
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_mismatch"
    assert Event.objects.count() == 1

    # Keys belong to the user: someone else's identical key makes their own event.
    other = api(as_user(world.ws), "POST", "", report_body(), **{"Idempotency-Key": "retry-1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    # Without a key, a retry is a new report.
    assert api(c, "POST", "", report_body()).json()["id"] != first.json()["id"]


def test_a_point_outside_the_district_is_422(world) -> None:  # type: ignore[no-untyped-def]
    response = api(as_user(world.grid_a), "POST", "", report_body((121.5, 31.5)))
    assert response.status_code == 422
    assert response.json()["code"] == "outside_district"


def test_public_reports_are_rate_limited_with_429(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_PUBLIC_REPORTS_PER_HOUR = 2
    c = as_user(world.public)
    codes = [api(c, "POST", "", report_body(title=f"第{i}件", reporter_name="张三", reporter_phone="13857212345")).status_code
             for i in range(3)]
    assert codes == [201, 201, 429]


def test_detail_masks_persons_and_lists_the_callers_actions(world) -> None:  # type: ignore[no-untyped-def]
    from pingan.accounts import actions as account_actions
    from pingan.core.personal import id_check_digit

    stem = "33050319900101001"
    person = account_actions.register_person("test", account_actions.PersonInput(
        name="王小明", id_number=stem + id_check_digit(stem), phone="13857212345", area_code="330503100201001"))
    event = world.report(person_ids=[person.pk])
    body = api(as_user(world.ws), "GET", f"/{event.pk}").json()
    assert body["persons"][0]["name"] != "王小明" and "*" in body["persons"][0]["id_number"]
    assert "138" in body["persons"][0]["phone"] and "13857212345" not in json.dumps(body)
    assert set(body["actions"]) >= {"accept", "reject", "merge", "escalate", "park"} - {"park"}
    assert "resolve" not in body["actions"]
    assert body["flags"] == {"warned": False, "overdue": False, "supervised": False, "supervise_lapsed": False,
                             "parked": False,
                             "repeat_count": 0, "reopened_count": 0}
    assert body["deadlines"]["accept_due"] is not None
    # The grid worker who reported it may see it, but triage is not theirs.
    grid_view = api(as_user(world.grid_a), "GET", f"/{event.pk}").json()
    assert grid_view["actions"] == ["escalate"]


def test_an_event_outside_the_callers_scope_is_404_everywhere(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    c = as_user(world.grid_b)
    for method, path, body in (("GET", f"/{event.pk}", None), ("GET", f"/{event.pk}/timeline", None),
                               ("GET", f"/{event.pk}/duplicates", None), ("POST", f"/{event.pk}/accept", {}),
                               ("POST", f"/{event.pk}/verify", {})):
        response = api(c, method, path, body)
        assert response.status_code == 404, (path, response.content)
        assert response.json()["code"] == "not_found"


def test_the_list_filters_by_state_type_area_date_and_inbox(world) -> None:  # type: ignore[no-untyped-def]
    first = world.report()
    second = world.drive(world.report(title="第二件"), "accepted")
    actions.report_event("system", actions.ReportInput(event_type="hazard-fire", title="消防通道堵塞", description="堆物",
                                                       lon=IN_GRID_B[0], lat=IN_GRID_B[1]))
    c = as_user(world.ws)
    listed = api(c, "GET", "").json()
    assert listed["count"] == 2  # the workstation's village only; the GRID_B event is out of scope
    assert {e["id"] for e in listed["items"]} == {first.pk, second.pk}
    assert [e["id"] for e in api(c, "GET", "?state=accepted").json()["items"]] == [second.pk]
    assert api(c, "GET", "?type=dispute").json()["count"] == 2
    assert api(c, "GET", "?type=hazard").json()["count"] == 0
    assert api(c, "GET", "?area=330503101").json()["count"] == 0
    today = actions.local_day(clock.now())  # the filter counts Asia/Shanghai days, not UTC ones
    assert api(c, "GET", f"?from={today}&to={today}").json()["count"] == 2
    assert api(c, "GET", f"?to={today - dt.timedelta(days=1)}").json()["count"] == 0
    assert [e["id"] for e in api(c, "GET", "?box=to_accept").json()["items"]] == [first.pk]
    assert api(c, "GET", "?overdue=true").json()["count"] == 0
    assert api(c, "GET", "?state=nonsense").status_code == 422
    admin_all = api(as_user(world.admin), "GET", "?limit=1").json()
    assert admin_all["count"] == 3 and len(admin_all["items"]) == 1


def test_the_timeline_lists_every_transition_in_order(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "in_progress")
    rows = api(as_user(world.ws), "GET", f"/{event.pk}/timeline").json()
    assert [r["action"] for r in rows] == ["report", "accept", "dispatch", "start"]
    assert rows[1]["actor"] and rows[1]["from_state"] == "reported" and rows[1]["to_state"] == "accepted"


def test_types_list_the_two_level_taxonomy(world) -> None:  # type: ignore[no-untyped-def]
    rows = api(as_user(world.grid_a), "GET", "/types").json()
    by_code = {r["code"]: r for r in rows}
    assert by_code["dispute-neighbour"]["parent_code"] == "dispute" and by_code["dispute"]["is_dispute"]


def test_clusters_group_nearby_events_and_split_when_zoomed_in(world) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        world.report(title=f"第{i}件", lon=IN_GRID_A[0] + i * 0.004, lat=IN_GRID_A[1])
    c = as_user(world.admin)
    coarse = api(c, "GET", "/clusters?zoom=8").json()
    assert coarse["total"] == 3 and len(coarse["clusters"]) == 1 and coarse["clusters"][0]["count"] == 3
    fine = api(c, "GET", "/clusters?zoom=17").json()
    assert len(fine["clusters"]) == 3 and all(cl["number"] for cl in fine["clusters"])
    empty = api(c, "GET", "/clusters?zoom=12&bbox=120.40,30.80,120.50,30.90").json()
    assert empty["total"] == 0
    assert api(c, "GET", "/clusters?bbox=nonsense").status_code == 422
    assert api(as_user(world.grid_b), "GET", "/clusters?zoom=8").json()["total"] == 0


def test_notifications_are_listed_and_marked_read(world, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        world.report()
    c = as_user(world.ws)
    unread = api(c, "GET", "/notifications").json()
    assert unread and unread[0]["kind"] == "reported"
    assert api(c, "POST", "/notifications/read", {"ids": [unread[0]["id"]]}).json() == {"marked": 1}
    assert len(api(c, "GET", "/notifications").json()) == len(unread) - 1


# -- transitions: the loop, and every action's refusal ---------------------------------------------


def post(user: Any, event: Event, action: str, body: dict[str, Any] | None = None) -> Any:
    return api(as_user(user), "POST", f"/{event.pk}/{action}", body or {})


def test_the_whole_loop_runs_through_the_api_with_joint_handling(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    assert post(world.ws, event, "accept", {"note": "受理"}).json()["state"] == "accepted"
    dispatched = post(world.ws, event, "dispatch", {"lead_unit": "dept-a", "assisting_units": ["dept-b"]})
    assert dispatched.status_code == 200 and dispatched.json()["state"] == "dispatched"
    assert {(t["unit"], t["is_lead"]) for t in dispatched.json()["tasks"]} == {("dept-a", True), ("dept-b", False)}
    assert "start" in api(as_user(world.dept), "GET", f"/{event.pk}").json()["actions"]
    assert post(world.dept, event, "start").json()["state"] == "in_progress"
    assert post(world.dept, event, "progress", {"note": "已联系双方"}).status_code == 200

    blocked = post(world.dept, event, "resolve", {"result": "已调解", "measures": "上门", "method": "mediated"})
    assert blocked.status_code == 409 and blocked.json()["code"] == "assisting_tasks_open"

    assert "complete-task" in api(as_user(world.dept_b), "GET", f"/{event.pk}").json()["actions"]
    done = post(world.dept_b, event, "complete-task", {"note": "配合完成"})
    assert done.status_code == 200
    assert {t["unit"]: t["state"] for t in done.json()["tasks"]}["dept-b"] == "done"

    resolved = post(world.dept, event, "resolve", {"result": "已调解", "measures": "上门", "method": "mediated"})
    assert resolved.json()["state"] == "resolved"
    assert post(world.grid_a, event, "verify").json()["state"] == "verified"
    closed = post(world.grid_a, event, "close", {"satisfaction": 5})
    assert closed.json()["state"] == "closed" and closed.json()["satisfaction"] == 5
    actions_seen = list(Transition.objects.filter(event=event).values_list("action", flat=True))
    assert actions_seen == ["report", "accept", "dispatch", "start", "progress", "complete_task", "resolve", "verify",
                            "close"]


def test_a_stale_version_is_409_with_the_current_state(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    assert post(world.ws, event, "accept", {"version": 1}).status_code == 200
    stale = post(world.admin, event, "reject", {"reason": "重复", "version": 1})
    assert stale.status_code == 409
    # The state moved on first: either refusal names the current state, and nothing changed.
    assert stale.json()["code"] in ("stale_version", "illegal_transition")
    assert stale.json()["details"]["state"] == "accepted"
    escalate = post(world.ws, event, "escalate", {"reason": "需要镇级处理", "version": 1})
    assert escalate.status_code == 409 and escalate.json()["code"] == "stale_version"
    assert escalate.json()["details"] == {"state": "accepted", "version": 2}
    assert Event.objects.get(pk=event.pk).level == "workstation"


def _dispatched(world: Any, **kw: Any) -> Event:
    return world.drive(world.report(), "dispatched", **kw)


def _pending_extension(world: Any) -> Event:
    event = _dispatched(world)
    actions.request_extension(world.dept, event, reason="需要协调", new_due=clock.now() + dt.timedelta(days=30))
    return Event.objects.get(pk=event.pk)


def _parked(world: Any) -> Event:
    event = world.drive(world.report(), "accepted")
    return actions.park_event(world.ws, event, reason="等待政策", review_on=actions.local_day(clock.now()) + dt.timedelta(days=10))


TOMORROW = (dt.date.today() + dt.timedelta(days=2)).isoformat()

# action → (set-up, actor, body, expected state after)  /  (set-up for the refusal, actor, body, code)
HAPPY: dict[str, tuple[Any, str, dict[str, Any], str]] = {
    "accept": (lambda w: w.report(), "ws", {}, "accepted"),
    "reject": (lambda w: w.report(), "ws", {"reason": "不属实"}, "rejected"),
    "merge": (lambda w: w.report(), "ws", {"into": "OTHER"}, "merged"),
    "dispatch": (lambda w: w.drive(w.report(), "accepted"), "ws", {"lead_unit": "dept-a"}, "dispatched"),
    "return": (_dispatched, "dept", {"reason": "非本单位职责"}, "returned"),
    "start": (_dispatched, "dept", {}, "in_progress"),
    "progress": (lambda w: w.drive(w.report(), "in_progress"), "dept", {"note": "进展"}, "in_progress"),
    "complete-task": (lambda w: w.drive(w.report(), "dispatched", assisting=(w.department_b,)), "dept_b", {"note": "完成"},
                      "dispatched"),
    "resolve": (lambda w: w.drive(w.report(), "in_progress"), "dept",
                {"result": "已处理", "measures": "清理", "method": "repaired"}, "resolved"),
    "verify": (lambda w: w.drive(w.report(), "resolved"), "grid_a", {}, "verified"),
    "rework": (lambda w: w.drive(w.report(), "resolved"), "grid_a", {"reason": "未处理到位"}, "in_progress"),
    "close": (lambda w: w.drive(w.report(), "verified"), "grid_a", {"satisfaction": 4}, "closed"),
    "escalate": (lambda w: w.report(), "ws", {"reason": "需要镇级"}, "reported"),
    "supervise": (lambda w: w.report(), "admin", {"note": "限期办理", "due": "2030-01-01T17:30:00+08:00"}, "reported"),
    "reopen": (lambda w: w.drive(w.report(), "closed"), "ws", {"reason": "群众再次反映"}, "dispatched"),
    "park": (lambda w: w.drive(w.report(), "accepted"), "ws", {"reason": "等待政策", "review_on": TOMORROW}, "parked"),
    "unpark": (_parked, "ws", {}, "accepted"),
    "extension-request": (_dispatched, "dept", {"reason": "需要协调",
                                                "new_due": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()},
                          "dispatched"),
    "extension-decide": (_pending_extension, "ws", {"approve": True}, "dispatched"),
}
REFUSED: dict[str, tuple[Any, str, dict[str, Any], int, str]] = {
    "accept": (lambda w: w.drive(w.report(), "accepted"), "ws", {}, 409, "illegal_transition"),
    "reject": (lambda w: w.report(), "grid_a", {"reason": "x"}, 403, "permission_denied"),
    "merge": (lambda w: w.drive(w.report(), "dispatched"), "ws", {"into": "OTHER"}, 409, "illegal_transition"),
    "dispatch": (lambda w: w.report(), "ws", {"lead_unit": "dept-a"}, 409, "illegal_transition"),
    "return": (_dispatched, "dept_b", {"reason": "x"}, 403, "not_lead_unit"),
    "start": (lambda w: w.drive(w.report(), "in_progress"), "dept", {}, 409, "illegal_transition"),
    "progress": (_dispatched, "dept", {"note": "x"}, 409, "illegal_transition"),
    "complete-task": (_dispatched, "dept_b", {"note": "x"}, 404, "no_task"),
    "resolve": (_dispatched, "dept", {"result": "x", "method": "other"}, 409, "illegal_transition"),
    "verify": (lambda w: w.drive(w.report(), "in_progress"), "grid_a", {}, 409, "illegal_transition"),
    "rework": (lambda w: w.drive(w.report(), "resolved"), "deputy", {"reason": "x"}, 403, "permission_denied"),
    "close": (lambda w: w.drive(w.report(), "verified"), "grid_a", {"satisfaction": 6}, 422, ""),
    "escalate": (lambda w: w.drive(w.report(), "closed"), "ws", {"reason": "x"}, 409, "illegal_transition"),
    "supervise": (lambda w: w.report(), "ws", {"note": "x"}, 403, "permission_denied"),
    "reopen": (lambda w: w.drive(w.report(), "verified"), "ws", {"reason": "x"}, 409, "illegal_transition"),
    "park": (lambda w: w.report(), "ws", {"reason": "x", "review_on": TOMORROW}, 409, "illegal_transition"),
    "unpark": (lambda w: w.drive(w.report(), "accepted"), "ws", {}, 409, "illegal_transition"),
    "extension-request": (_pending_extension, "dept", {"reason": "x", "new_due": "2031-01-01T17:30:00+08:00"}, 409,
                          "extension_pending"),
    "extension-decide": (_dispatched, "ws", {"approve": True}, 404, "no_extension"),
}


@pytest.mark.parametrize("action", sorted(HAPPY))
def test_every_action_works_through_the_api(world, action: str) -> None:  # type: ignore[no-untyped-def]
    setup, who, body, state = HAPPY[action]
    event = setup(world)
    if body.get("into") == "OTHER":
        body = {**body, "into": world.report(title="同一件事").pk}
    before = Transition.objects.filter(event=event).count()
    response = post(getattr(world, who), event, action, body)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == state
    assert Transition.objects.filter(event=event).count() == before + 1


@pytest.mark.parametrize("action", sorted(REFUSED))
def test_every_action_refuses_its_illegal_case_with_a_stable_code(world, action: str) -> None:  # type: ignore[no-untyped-def]
    setup, who, body, status, code = REFUSED[action]
    event = setup(world)
    if body.get("into") == "OTHER":
        body = {**body, "into": world.report(title="同一件事").pk}
    before = (Event.objects.filter(pk=event.pk).values("state", "version").get(), Transition.objects.count())
    response = post(getattr(world, who), event, action, body)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    after = (Event.objects.filter(pk=event.pk).values("state", "version").get(), Transition.objects.count())
    assert after == before  # a refusal changes nothing


def test_an_approved_extension_moves_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    event = _pending_extension(world)
    new_due = Extension.objects.get(event=event).new_due
    body = post(world.ws, event, "extension-decide", {"approve": True, "note": "同意"}).json()
    moved = dt.datetime.fromisoformat(body["deadlines"]["resolve_due"])
    assert abs(moved - new_due) < dt.timedelta(milliseconds=1)  # JSON keeps milliseconds
    assert body["extensions"][0]["decision"] == "approved"


def test_duplicates_offer_nearby_open_events_of_the_same_type(world) -> None:  # type: ignore[no-untyped-def]
    first = world.report()
    second = world.report(title="又一次反映", lon=IN_GRID_A[0] + 0.0005)
    far = world.report(title="远处", lon=IN_GRID_A[0] + 0.02)
    ids = [e["id"] for e in api(as_user(world.ws), "GET", f"/{second.pk}/duplicates").json()]
    assert ids == [first.pk] and far.pk not in ids


# -- attachments ------------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position (what a phone writes)."""
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 51.0, 0.0), "E", (120.0, 25.0, 0.0)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(user: Any, event: Event, name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    c = as_user(user)
    return c.post(f"{BASE}/{event.pk}/attachments", {"file": SimpleUploadedFile(name, data, content_type=content_type),
                                                      "stage": "report"})


def test_a_photo_is_stored_without_its_gps_exif_and_served_only_within_scope(world, media) -> None:  # type: ignore[no-untyped-def]
    raw = jpeg_with_gps()
    with Image.open(io.BytesIO(raw)) as original:
        assert original.getexif().get_ifd(0x8825)  # the test photo does carry a position
    event = world.report()
    response = upload(world.grid_a, event, "现场.jpg", raw, "image/jpeg")
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["id"])
    assert attachment.content_type == "image/jpeg" and attachment.is_image
    with attachment.file.open("rb") as fh:
        stored = fh.read()
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and img.size == (64, 48)
        assert not img.getexif().get_ifd(0x8825) and 0x010F not in img.getexif()
    assert b"PhoneMaker" not in stored

    served = as_user(world.ws).get(response.json()["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content) == stored
    assert as_user(world.grid_b).get(response.json()["url"]).status_code == 404
    assert Client().get(response.json()["url"]).status_code == 401


def test_uploads_are_checked_by_content_not_by_name(world, media) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    fake = upload(world.grid_a, event, "photo.jpg", b"<script>alert(1)</script>", "image/jpeg")
    assert fake.status_code == 422 and fake.json()["code"] == "unsupported_file_type"
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    assert upload(world.grid_a, event, "a.png", gif.getvalue(), "image/png").json()["code"] == "unsupported_file_type"
    pdf = upload(world.grid_a, event, "协议.txt", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n%%EOF\n", "text/plain")
    assert pdf.status_code == 201 and pdf.json()["content_type"] == "application/pdf" and not pdf.json()["is_image"]
    png = io.BytesIO()
    Image.new("RGBA", (8, 8)).save(png, format="PNG")
    assert upload(world.grid_a, event, "x.bin", png.getvalue()).json()["content_type"] == "image/png"
    missing = api(as_user(world.grid_a), "POST", f"/{event.pk}/attachments", {})
    assert missing.status_code == 422 and missing.json()["code"] == "file_required"
    assert Attachment.objects.filter(event=event).count() == 2


def test_an_upload_over_the_size_limit_is_413(world, media, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_UPLOAD_MAX_BYTES = 1000
    event = world.report()
    big = upload(world.grid_a, event, "big.pdf", b"%PDF-1.4\n" + b"0" * 2000)
    assert big.status_code == 413 and big.json()["code"] == "file_too_large"
    assert not Attachment.objects.filter(event=event).exists()


def test_an_upload_to_an_event_outside_scope_is_404(world, media) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    assert upload(world.grid_b, event, "x.jpg", jpeg_with_gps(), "image/jpeg").status_code == 404
    assert Event.objects.get(pk=event.pk).state == State.REPORTED

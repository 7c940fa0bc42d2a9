"""The tracking pages: the alert queue, an alert with its steps and action forms, the live map and a target
with its devices, alerts and track playback — for a permitted user, refused (403) or hidden (404) for the
others; and the track shown on the target page is read only through the audited API call."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from pingan.core.models import AuditEntry
from pingan.tracking.models import Alert, AlertState
from tests.tracking.conftest import ZONE_CENTRE

TRACK_VIEWED = "pingan.target.track_viewed"


def as_user(user: Any, **kwargs: Any) -> Client:
    c = Client(**kwargs)
    c.force_login(user)
    return c


def raise_alert(world: Any) -> Alert:
    """Three good GNSS fixes a minute apart at the centre of the exclusion zone: a true violation."""
    result = world.send(world.fixes([ZONE_CENTRE] * 3))
    assert len(result.alerts) == 1, result
    return Alert.objects.get(pk=result.alerts[0])


def actions_offered(html: str) -> set[str]:
    """The action forms on the page, leaving out the queue's empty row template (it holds every action)."""
    html = re.sub(r'<template id="alert-row-template">.*?</template>', "", html, flags=re.S)
    return set(re.findall(r'class="al-action" data-action="([a-z]+)"', html))


def steps(html: str) -> list[str]:
    block = html.split('id="steps"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<li data-action="([a-z]+)"', block)


# -- the queue ---------------------------------------------------------------------------------------


def test_the_queue_shows_an_active_alert_with_its_time_left_and_its_actions(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    page = as_user(world.officer_a).get("/tracking/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-number="{alert.number}"' in html and 'data-state="open"' in html
    assert 'data-seconds-left="900"' in html  # 15 minutes to verify, from the frozen clock
    assert actions_offered(html) == {"acknowledge", "dismiss", "escalate", "note"}
    assert f'data-last-id="{alert.pk}"' in html and 'data-alerts="1"' in html
    assert 'id="enable-sound"' in html and 'data-sound="off"' in html and 'data-beeps="0"' in html
    assert 'class="watermark"' in html
    assert "王某" in html and "核心区" in html and "进入禁入区" in html
    assert "11-30 11:00:00" in html  # raised at 03:00 UTC, shown in Asia/Shanghai


def test_the_queue_is_chinese_first_and_english_second(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.officer_a)
    chinese = c.get("/tracking/alerts/").content.decode()
    assert "告警队列" in chinese and "启用声音" in chinese and "剩余核实时间" in chinese
    english = c.get("/tracking/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Alert queue" in english and "Enable sound" in english and "告警队列" not in english


def test_the_queue_is_refused_to_roles_without_alerts(world) -> None:  # type: ignore[no-untyped-def]
    assert as_user(world.grid_worker).get("/tracking/alerts/").status_code == 403
    anonymous = Client().get("/tracking/alerts/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_queue_of_another_town_does_not_show_the_alert(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    html = as_user(world.officer_b).get("/tracking/alerts/").content.decode()
    assert alert.number not in html and 'data-alerts="0"' in html


def test_a_procurator_sees_the_alert_but_is_offered_no_action(world, make_user) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    html = as_user(make_user("procurator")).get("/tracking/alerts/").content.decode()
    row = html.split(f'data-number="{alert.number}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="al-action"' not in row


def test_the_navigation_shows_the_tracking_pages_by_permission(world) -> None:  # type: ignore[no-untyped-def]
    officer = as_user(world.officer_a).get("/").content.decode()
    assert 'href="/tracking/alerts/"' in officer and 'href="/tracking/map/"' in officer
    grid = as_user(world.grid_worker).get("/").content.decode()
    assert "/tracking/" not in grid


# -- one alert ---------------------------------------------------------------------------------------


def test_the_alert_page_shows_its_steps_evidence_zone_and_position(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    page = as_user(world.officer_a).get(f"/tracking/alerts/{alert.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert steps(html) == ["raised"]
    assert f'data-count="{alert.evidence_count}"' in html and alert.evidence_count >= 2
    assert 'id="alert-map"' in html and '"shape": "circle"' in html and '"radius_m": 300.0' in html
    assert f'"lon": {alert.lon}' in html
    assert f'href="/tracking/targets/{world.target.pk}/"' in html
    assert 'class="watermark"' in html
    assert actions_offered(html) == {"acknowledge", "dismiss", "escalate", "note"}


def test_an_alert_outside_the_viewers_scope_answers_404(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    assert as_user(world.officer_b).get(f"/tracking/alerts/{alert.pk}/").status_code == 404
    assert as_user(world.grid_worker).get(f"/tracking/alerts/{alert.pk}/").status_code == 404
    assert as_user(world.officer_a).get("/tracking/alerts/999999/").status_code == 404


def test_the_forms_acknowledge_note_and_dismiss_and_the_page_shows_each_step(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    c = as_user(world.officer_a)
    base = f"/tracking/alerts/{alert.pk}/act"
    response = c.post(f"{base}/acknowledge/", {"version": alert.version, "note": "电话联系本人"})
    assert response.status_code == 302 and response["Location"] == f"/tracking/alerts/{alert.pk}/"
    assert c.post(f"{base}/note/", {"note": "本人称在医院复诊"}).status_code == 302
    assert c.post(f"{base}/dismiss/", {"reason": "authorised", "note": "已报备"}).status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.DISMISSED and alert.dismiss_reason == "authorised"
    html = c.get(f"/tracking/alerts/{alert.pk}/").content.decode()
    assert steps(html) == ["raised", "acknowledged", "noted", "dismissed"]
    assert "本人称在医院复诊" in html and 'id="dismiss-reason"' in html and "已报备外出" in html
    assert actions_offered(html) == set()
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="pingan.alert.").order_by("id")] == [
        "pingan.alert.raised", "pingan.alert.acknowledged", "pingan.alert.noted", "pingan.alert.dismissed"]


def test_escalating_from_the_page_links_the_new_event(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    c = as_user(world.officer_a)
    assert c.post(f"/tracking/alerts/{alert.pk}/act/escalate/", {"note": "未接电话"}).status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.ESCALATED and alert.event_id
    html = c.get(f"/tracking/alerts/{alert.pk}/").content.decode()
    assert f'href="/events/{alert.event_id}/"' in html
    assert actions_offered(html) == {"close", "note"}


def test_a_stale_form_changes_nothing_and_says_so(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    c = as_user(world.officer_a)
    response = c.post(f"/tracking/alerts/{alert.pk}/act/acknowledge/", {"version": alert.version + 5}, follow=True)
    assert response.status_code == 200
    assert "他人已先行处理此告警" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_dismissing_for_another_reason_needs_a_note(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    response = as_user(world.officer_a).post(f"/tracking/alerts/{alert.pk}/act/dismiss/", {"reason": "other"}, follow=True)
    assert "选择此原因时备注为必填项" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_a_form_goes_back_only_to_a_local_page(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    c = as_user(world.officer_a)
    away = c.post(f"/tracking/alerts/{alert.pk}/act/note/", {"note": "核实中", "next": "https://evil.example/"})
    assert away["Location"] == f"/tracking/alerts/{alert.pk}/"
    back = c.post(f"/tracking/alerts/{alert.pk}/act/note/", {"note": "核实中", "next": "/tracking/alerts/"})
    assert back["Location"] == "/tracking/alerts/"


def test_a_procurator_may_not_act_and_an_unknown_action_is_not_found(world, make_user) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    assert as_user(make_user("procurator")).post(f"/tracking/alerts/{alert.pk}/act/acknowledge/").status_code == 403
    assert as_user(world.officer_a).post(f"/tracking/alerts/{alert.pk}/act/delete/").status_code == 404
    assert as_user(world.officer_a).get(f"/tracking/alerts/{alert.pk}/act/acknowledge/").status_code == 405


def test_the_queue_scripts_call_the_api_with_the_session_and_the_csrf_token(world) -> None:  # type: ignore[no-untyped-def]
    """What alerts.js does: poll with since_id, then POST the action with the X-CSRFToken header."""
    alert = raise_alert(world)
    c = as_user(world.officer_a, enforce_csrf_checks=True)
    c.get("/tracking/alerts/")
    polled = c.get(f"/api/v1/tracking/alerts?state=active&since_id={alert.pk - 1}").json()
    assert [a["id"] for a in polled["items"]] == [alert.pk]
    assert c.get(f"/api/v1/tracking/alerts?state=active&since_id={alert.pk}").json()["items"] == []
    url = f"/api/v1/tracking/alerts/{alert.pk}/acknowledge"
    assert c.post(url, {}, content_type="application/json").status_code == 403  # no CSRF token
    done = c.post(url, {"version": alert.version}, content_type="application/json",
                  HTTP_X_CSRFTOKEN=c.cookies["csrftoken"].value)
    assert done.status_code == 200 and done.json()["state"] == "acknowledged"


# -- the live map and a target --------------------------------------------------------------------------


def test_the_live_map_is_for_those_who_see_targets(world) -> None:  # type: ignore[no-untyped-def]
    page = as_user(world.police_a).get("/tracking/map/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="live-map"' in html and 'data-positions-url="/api/v1/tracking/positions"' in html
    assert 'data-zones-url="/api/v1/tracking/zones"' in html and "leaflet/leaflet.js" in html
    assert 'class="watermark"' in html
    assert as_user(world.grid_worker).get("/tracking/map/").status_code == 403


def test_the_target_page_shows_its_devices_alerts_and_track_playback(world) -> None:  # type: ignore[no-untyped-def]
    alert = raise_alert(world)
    page = as_user(world.officer_a).get(f"/tracking/targets/{world.target.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "phone-001" in html and alert.number in html and 'class="watermark"' in html
    assert 'id="track-form"' in html and f'data-track-url="/api/v1/tracking/targets/{world.target.pk}/track"' in html
    assert 'name="from" value="2026-11-29T11:00"' in html and 'name="to" value="2026-11-30T11:01"' in html  # ~24 h, Shanghai


def test_a_viewer_without_the_track_permission_gets_the_page_without_playback(world) -> None:  # type: ignore[no-untyped-def]
    html = as_user(world.police_a).get(f"/tracking/targets/{world.target.pk}/").content.decode()
    assert "phone-001" in html and 'id="track-form"' not in html and 'data-track-url=""' in html


def test_a_target_outside_the_viewers_scope_answers_404(world) -> None:  # type: ignore[no-untyped-def]
    assert as_user(world.officer_b).get(f"/tracking/targets/{world.target.pk}/").status_code == 404
    assert as_user(world.grid_worker).get(f"/tracking/targets/{world.target.pk}/").status_code == 404


def test_the_target_page_reads_no_track_and_its_track_call_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([(120.32, 30.83), (120.321, 30.831), (120.322, 30.832)]))
    c = as_user(world.officer_a)
    assert c.get(f"/tracking/targets/{world.target.pk}/").status_code == 200
    assert not AuditEntry.objects.filter(action=TRACK_VIEWED).exists()
    url = f"/api/v1/tracking/targets/{world.target.pk}/track"
    track = c.get(url, {"from": "2026-11-30T09:00:00+08:00", "to": "2026-11-30T11:00:00+08:00"})
    assert track.status_code == 200 and len(track.json()) == 3
    entry = AuditEntry.objects.get(action=TRACK_VIEWED)
    assert entry.actor_username == world.officer_a.username and entry.object_id == str(world.target.pk)
    assert entry.changes["fixes"] == 3
    assert as_user(world.police_a).get(url, {"from": "2026-11-30T09:00:00+08:00",
                                             "to": "2026-11-30T11:00:00+08:00"}).status_code == 403
    assert AuditEntry.objects.filter(action=TRACK_VIEWED).count() == 1

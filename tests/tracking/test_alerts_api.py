"""The HTTP door and the alert lifecycle over the API: device and gateway authentication, per-row errors,
acknowledge → note → dismiss, escalate into the closed loop (linked both ways) → close, stale versions,
late verification, scope, the track (audited) and the clustered positions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from pingan.accounts import actions as account_actions
from pingan.core.models import AuditEntry
from pingan.events.models import Event, Source
from pingan.tracking import actions
from pingan.tracking.jobs import late
from pingan.tracking.models import Alert, AlertState, Fix
from tests.tracking.conftest import NEAR, START, ZONE_CENTRE

pytestmark = pytest.mark.django_db
BASE = "/api/v1/tracking"


def as_user(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(client: Client, path: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(BASE + path, data, content_type="application/json", headers=headers)


def entry_rows(world: Any) -> list[dict[str, Any]]:
    points = [NEAR] + [(ZONE_CENTRE[0] + 0.00001 * i, ZONE_CENTRE[1]) for i in range(4)]
    return world.fixes(points)


def raised(world: Any) -> Alert:
    world.send(entry_rows(world))
    return Alert.objects.get()


def test_a_device_posts_its_fixes_with_its_key_and_gets_per_row_errors(world) -> None:  # type: ignore[no-untyped-def]
    rows = [*entry_rows(world), {"t": START.isoformat(), "lon": 999, "lat": 30}]
    response = post(Client(), "/fixes", rows, Authorization=f"Device {world.device.uid}:{world.key}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (5, 1)
    assert body["errors"] == [{"index": 5, "code": "out_of_range", "message": "lon must be within ±180 and lat within ±90"}]
    assert len(body["alerts"]) == 1


def test_ndjson_is_accepted_too(world) -> None:  # type: ignore[no-untyped-def]
    lines = "\n".join(json.dumps(r) for r in entry_rows(world)[:2]) + "\n{oops\n"
    response = post(Client(), "/fixes", lines, Authorization=f"Device {world.device.uid}:{world.key}")
    body = response.json()
    assert (body["accepted"], [e["code"] for e in body["errors"]]) == (2, ["invalid_json"])


def test_a_wrong_key_or_no_credentials_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    rows = entry_rows(world)
    assert post(Client(), "/fixes", rows, Authorization=f"Device {world.device.uid}:wrong").status_code == 403
    assert post(Client(), "/fixes", rows).status_code == 403
    # A browser session is not a gateway credential, even the district admin's.
    assert post(as_user(world.admin), "/fixes", rows).status_code == 403
    assert not Fix.objects.exists()


def test_a_gateway_token_sends_rows_for_named_devices(world) -> None:  # type: ignore[no-untyped-def]
    _token, secret = account_actions.issue_token(world.admin, user=world.admin, name="gateway", scopes=["read", "write"])
    rows = [{**r, "device": world.device.uid} for r in entry_rows(world)]
    rows.append({**rows[0], "device": "nobody", "t": (START - dt.timedelta(minutes=1)).isoformat()})
    response = post(Client(), "/fixes", rows, Authorization=f"Bearer {secret}")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 5
    assert [e["code"] for e in response.json()["errors"]] == ["unknown_device"]
    officer_token = account_actions.issue_token(world.officer_a, user=world.officer_a, name="x", scopes=["read", "write"])[1]
    assert post(Client(), "/fixes", rows, Authorization=f"Bearer {officer_token}").status_code == 403


def test_an_officer_acknowledges_notes_and_dismisses_an_alert(world) -> None:  # type: ignore[no-untyped-def]
    alert = raised(world)
    c = as_user(world.officer_a)
    listed = c.get(BASE + "/alerts?state=active").json()
    assert [a["number"] for a in listed["items"]] == [alert.number]
    assert listed["items"][0]["seconds_left"] > 0
    assert post(c, f"/alerts/{alert.pk}/acknowledge", {"note": "已电话联系"}).json()["state"] == "acknowledged"
    post(c, f"/alerts/{alert.pk}/note", {"note": "本人称在医院就诊"})
    assert post(c, f"/alerts/{alert.pk}/dismiss", {"reason": "other"}).status_code == 422  # "other" needs a note
    detail = post(c, f"/alerts/{alert.pk}/dismiss", {"reason": "authorised", "note": "经批准就医"}).json()
    assert detail["state"] == "dismissed" and detail["actions"] == []
    assert [s["action"] for s in detail["steps"]] == ["raised", "acknowledged", "noted", "dismissed"]
    assert set(AuditEntry.objects.filter(object_id=str(alert.pk), object_type="tracking.alert")
               .values_list("action", flat=True)) >= {"pingan.alert.acknowledged", "pingan.alert.dismissed", "pingan.alert.noted"}
    again = post(c, f"/alerts/{alert.pk}/acknowledge", {})
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")


def test_escalating_opens_an_event_linked_both_ways_and_the_alert_then_closes(world) -> None:  # type: ignore[no-untyped-def]
    alert = raised(world)
    c = as_user(world.officer_a)
    detail = post(c, f"/alerts/{alert.pk}/escalate", {"note": "无法联系本人"}).json()
    assert detail["state"] == "escalated"
    event = Event.objects.get(pk=detail["event_id"])
    assert event.source == Source.TRACKING_ALERT and f"alert:{alert.number}" in event.tags
    assert detail["event_number"] == event.number
    assert post(c, f"/alerts/{alert.pk}/close", {}).json()["state"] == "closed"


def test_a_stale_version_gets_409_with_the_current_state(world) -> None:  # type: ignore[no-untyped-def]
    alert = raised(world)
    actions.acknowledge_alert(world.officer_a, alert)
    response = post(as_user(world.admin), f"/alerts/{alert.pk}/dismiss", {"reason": "position_error", "version": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version" and response.json()["details"]["state"] == "acknowledged"


def test_an_officer_of_another_town_and_a_grid_worker_cannot_see_the_alert(world) -> None:  # type: ignore[no-untyped-def]
    alert = raised(world)
    other = as_user(world.officer_b)
    assert other.get(BASE + "/alerts").json()["count"] == 0
    assert other.get(f"{BASE}/alerts/{alert.pk}").status_code == 404
    assert post(other, f"/alerts/{alert.pk}/acknowledge", {}).status_code == 404
    assert as_user(world.grid_worker).get(BASE + "/alerts").status_code == 403
    assert Alert.objects.get().state == AlertState.OPEN


def test_an_open_alert_past_its_verification_deadline_is_marked_late_once(world, frozen) -> None:  # type: ignore[no-untyped-def]
    alert = raised(world)
    frozen.advance(minutes=16)
    late(frozen.current)
    late(frozen.current)
    alert.refresh_from_db()
    assert alert.late and list(alert.steps.values_list("action", flat=True)) == ["raised", "late"]


def test_the_track_is_ordered_by_device_time_and_every_view_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    world.send(entry_rows(world))
    c = as_user(world.officer_a)
    url = f"{BASE}/targets/{world.target.pk}/track?from={START.isoformat()}&to={(START + dt.timedelta(hours=1)).isoformat()}"
    response = c.get(url.replace("+", "%2B"))
    assert response.status_code == 200, response.content
    times = [f["t"] for f in response.json()]
    assert len(times) == 5 and times == sorted(times)
    assert AuditEntry.objects.filter(action="pingan.target.track_viewed", object_id=str(world.target.pk)).count() == 1
    assert as_user(world.officer_b).get(url.replace("+", "%2B")).status_code == 404


def test_positions_are_clustered_on_the_server(world) -> None:  # type: ignore[no-untyped-def]
    world.send(entry_rows(world))
    body = as_user(world.admin).get(BASE + "/positions?zoom=14").json()
    assert body["total"] == 1
    [cluster] = body["clusters"]
    assert cluster["target_id"] == world.target.pk and cluster["alerting"] is True
    assert as_user(world.officer_b).get(BASE + "/positions?zoom=14").json()["total"] == 0


def test_zones_are_validated(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.admin)
    bad = post(c, "/zones", {"name": "x", "kind": "exclusion", "shape": "polygon", "area": "330503100",
                             "coords": [[[120.3, 30.8], [120.4, 30.9], [120.3, 30.9], [120.4, 30.8], [120.3, 30.8]]]})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_geometry")
    no_radius = post(c, "/zones", {"name": "x", "kind": "exclusion", "shape": "circle", "area": "330503100",
                                   "coords": [120.35, 30.85]})
    assert no_radius.json()["code"] == "required"
    good = post(c, "/zones", {"name": "学校", "kind": "exclusion", "shape": "circle", "area": "330503100",
                              "coords": [120.36, 30.86], "radius_m": 200, "schedule": {"windows": [["07:00", "17:00"]]}})
    assert good.status_code == 201, good.content
    assert post(as_user(world.officer_a), "/zones", {"name": "y", "kind": "watch", "shape": "circle", "area": "330503100",
                                                     "coords": [120.36, 30.86], "radius_m": 50}).status_code == 403

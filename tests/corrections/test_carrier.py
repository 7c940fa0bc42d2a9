"""The carrier-network feed and the boundary check on non-device positions: a carrier position outside the
county without leave raises ``boundary``; inside the destination during leave nothing; outside both
``leave_off_destination``. Bad rows come back with their index and code while good rows are stored; unknown
phones say nothing about whom they belong to; the gateway door takes only a gateway's token."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from pingan.accounts import actions as account_actions
from pingan.accounts.models import Role
from pingan.core.errors import PermissionDeniedError
from pingan.corrections import actions, carrier, positions
from pingan.corrections.models import LeaveState
from pingan.geo import coords
from pingan.tracking.models import Alert, Fix
from tests.corrections.conftest import IN_GRID_A, OUTSIDE_DISTRICT, PASSWORD
from tests.corrections.test_leave import DESTINATION, OFF_ROUTE, leave_input

PHONE = "13857212345"


@pytest.fixture
def gateway(corr) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    user = account_actions.create_user("test", username="carrier_gw", password=PASSWORD)
    account_actions.assign_role("test", user, Role.objects.get(code="carrier_gateway"), area=corr.tree["330503"])
    _record, token = account_actions.issue_token(user, user=user, name="gateway", scopes=["read", "write"])
    return user, token


def row(lon: float, lat: float, *, phone: str = PHONE, t: dt.datetime | None = None, accuracy_m: float = 1500,
        **extra: Any) -> dict[str, Any]:
    from pingan.core import clock

    return {"phone": phone, "t": (t or clock.now()).isoformat(), "lon": lon, "lat": lat, "accuracy_m": accuracy_m,
            **extra}


def carrier_fixes(subject) -> list[Fix]:  # type: ignore[no-untyped-def]
    return list(Fix.objects.filter(target_id=subject.target_id, device__uid=positions.device_uid(subject.target, "carrier")))


def test_a_carrier_position_outside_the_county_without_leave_raises_boundary(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    result = actions.ingest_carrier(gateway[0], [row(*IN_GRID_A)])
    assert (result.accepted, result.errors) == (1, [])
    assert not Alert.objects.exists()
    corr.clock.advance(hours=3)  # 140 km away: a plausible journey, not an impossible jump (fake_position)
    actions.ingest_carrier(gateway[0], [row(*OUTSIDE_DISTRICT)])
    alert = Alert.objects.get()
    assert (alert.rule, alert.severity, alert.target_id) == ("boundary", "warning", subject.target_id)  # coarse
    assert alert.detail["source"] == "carrier" and alert.detail["share_outside"] == 1
    assert [f.fix_type for f in carrier_fixes(subject)] == ["cell", "cell"]
    corr.clock.advance(minutes=15)
    actions.ingest_carrier(gateway[0], [row(*OUTSIDE_DISTRICT)])
    alert.refresh_from_db()
    assert Alert.objects.count() == 1 and alert.evidence_count == 2  # one alert, more evidence


def test_before_the_intake_a_position_outside_raises_nothing(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    subject = corr.register()  # pending intake: may still be on the way to the county
    assert actions.ingest_carrier(gateway[0], [row(*OUTSIDE_DISTRICT)]).accepted == 1
    assert len(carrier_fixes(subject)) == 1 and not Alert.objects.exists()


def test_a_circle_mostly_inside_the_county_raises_nothing(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    corr.taken_in()
    actions.ingest_carrier(gateway[0], [row(120.305, 30.85, accuracy_m=3000)])  # 500 m in, 3 km circle: < half out
    assert not Alert.objects.exists()
    actions.ingest_carrier(gateway[0], [row(120.28, 30.85, accuracy_m=3000, t=None)])  # 2 km out: more than half
    assert Alert.objects.get().rule == "boundary"


def test_a_precise_scan_outside_the_county_is_an_alarm(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    positions.record(subject.target, source="checkin", lon=OUTSIDE_DISTRICT[0], lat=OUTSIDE_DISTRICT[1], accuracy_m=20)
    alert = Alert.objects.get()
    assert (alert.rule, alert.severity) == ("boundary", "alarm")


def test_during_leave_the_destination_is_allowed_and_elsewhere_warns(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    head = account_actions.create_user("test", username="office_head", password=PASSWORD, organisation=corr.office_a)
    account_actions.assign_role("test", head, Role.objects.get(code="judicial_office_head"), organisation=corr.office_a)
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3, start_in=dt.timedelta(0)))
    actions.approve_leave(head, leave)
    assert leave.state == LeaveState.ON_LEAVE
    corr.clock.advance(hours=2)
    result = actions.ingest_carrier(gateway[0], [row(*DESTINATION), row(DESTINATION[0] + 0.05, DESTINATION[1]),
                                                 row(*IN_GRID_A)])
    assert result.accepted == 3 and not Alert.objects.exists()  # at the destination (5 km off: within 10 km), at home
    actions.ingest_carrier(gateway[0], [row(*OFF_ROUTE)])
    alert = Alert.objects.get()
    assert (alert.rule, alert.severity, alert.detail["leave"]) == ("leave_off_destination", "warning", leave.pk)
    assert not Alert.objects.filter(rule="boundary").exists()
    # after the leave's end the boundary applies again
    corr.clock.advance(days=3)
    actions.ingest_carrier(gateway[0], [row(*DESTINATION)])
    assert Alert.objects.filter(rule="boundary", target_id=subject.target_id).count() == 1


def test_bad_rows_come_back_with_index_and_code_and_good_rows_are_kept(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    from pingan.core import clock

    subject = corr.taken_in()
    gx, gy = coords.from_wgs84(*IN_GRID_A, "gcj02")
    rows = [
        row(*IN_GRID_A),                                            # 0 good
        row(*IN_GRID_A, accuracy_m=None),                           # 1 no accuracy
        {**row(*IN_GRID_A), "lon": "east"},                         # 2 not a number
        {**row(*IN_GRID_A), "t": "yesterday"},                      # 3 bad time
        row(*IN_GRID_A, crs="mercator"),                            # 4 unknown crs
        row(*IN_GRID_A, phone="12"),                                # 5 not a phone
        row(*IN_GRID_A, t=clock.now() + dt.timedelta(hours=2)),     # 6 the future
        "not an object",                                            # 7
        row(gx, gy, crs="gcj02", t=clock.now() - dt.timedelta(minutes=5)),  # 8 good, GCJ-02
        row(IN_GRID_A[0], 95),                                      # 9 out of range
    ]
    result = actions.ingest_carrier(gateway[0], rows)
    assert result.accepted == 2
    assert [(e["index"], e["code"]) for e in result.errors] == [
        (1, "missing_field"), (2, "not_finite"), (3, "bad_time"), (4, "unknown_crs"), (5, "bad_phone"),
        (6, "in_future"), (7, "malformed"), (9, "out_of_range")]
    assert all(e["message"] for e in result.errors)
    stored = sorted(carrier_fixes(subject), key=lambda f: f.device_time)
    assert len(stored) == 2
    assert stored[0].lon == pytest.approx(IN_GRID_A[0], abs=1e-6) and stored[0].lat == pytest.approx(IN_GRID_A[1], abs=1e-6)


def test_unknown_phones_say_nothing_about_whom_they_belong_to(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    released = corr.taken_in(phone="13900001111", supervision_end=corr.clock.now().date())
    actions.release_subject(corr.officer_a, released)
    account_actions.register_person("test", account_actions.PersonInput(name="路人甲", phone="13900002222",
                                                                        area_code="330503100201001"))
    subject = corr.taken_in(phone="13900003333")
    result = actions.ingest_carrier(gateway[0], [row(*IN_GRID_A, phone=p) for p in (
        "13900001111", "13900002222", "13700009999", "+86 139-0000-3333")])
    assert result.accepted == 1 and len(carrier_fixes(subject)) == 1
    assert [(e["index"], e["code"], e["message"]) for e in result.errors] == [
        (i, "unknown_phone", "no subject in correction has this phone") for i in (0, 1, 2)]


def test_the_simulator_is_a_provider_with_its_own_rows(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    feed = carrier.SimulatedCarrier(radius_m=800)
    raw = list(feed.rows({PHONE: [IN_GRID_A, OUTSIDE_DISTRICT]}, corr.clock.now() - dt.timedelta(minutes=30)))
    assert set(raw[0]) == {"msisdn", "ts", "gcj_lon", "gcj_lat", "radius"} and raw[0]["gcj_lon"] != IN_GRID_A[0]
    result = actions.ingest_carrier("test", [*raw, {"msisdn": PHONE, "ts": "soon"}], feed=feed)
    assert result.accepted == 2 and [(e["index"], e["code"]) for e in result.errors] == [(2, "bad_time")]
    stored = sorted(carrier_fixes(subject), key=lambda f: f.device_time)
    assert stored[1].lon == pytest.approx(OUTSIDE_DISTRICT[0], abs=1e-6)
    assert Alert.objects.filter(rule="boundary").count() == 1  # (the rows are minutes apart: also an impossible jump)


def test_only_a_gateway_may_send(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDeniedError):
        actions.ingest_carrier(corr.officer_a, [])
    with pytest.raises(PermissionDeniedError):
        actions.ingest_carrier(corr.police, [])


def test_the_gateway_door(corr, gateway, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    url = "/api/v1/corrections/carrier/positions"
    body = json.dumps([row(*IN_GRID_A), row(*IN_GRID_A, phone="13700009999")])
    answer = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {gateway[1]}")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"accepted": 1, "rejected": 1, "errors": [
        {"index": 1, "code": "unknown_phone", "message": "no subject in correction has this phone"}]}
    assert len(carrier_fixes(subject)) == 1
    wrapped = json.dumps({"rows": [row(*IN_GRID_A, t=corr.clock.now() - dt.timedelta(minutes=1))]})
    assert client.post(url, wrapped, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {gateway[1]}").json()["accepted"] == 1
    assert client.post(url, "{oops", content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {gateway[1]}").status_code == 422
    client.force_login(corr.officer_a)  # a browser session is not a gateway
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.logout()
    _r, officer_token = account_actions.issue_token(corr.officer_a, user=corr.officer_a, name="t", scopes=["read", "write"])
    assert client.post(url, body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {officer_token}").status_code == 403
    assert len(carrier_fixes(subject)) == 2


def test_a_phone_is_also_matched_through_the_person_registry(corr, gateway) -> None:  # type: ignore[no-untyped-def]
    from tests.corrections.conftest import id_number

    subject = corr.taken_in(person_input=account_actions.PersonInput(
        name="李四", id_number=id_number(), phone="139 0000 4444", area_code="330503100201001"))
    assert subject.phone != "+8613900004444"
    result = actions.ingest_carrier(gateway[0], [row(*IN_GRID_A, phone="13900004444")])
    assert (result.accepted, result.errors) == (1, []) and len(carrier_fixes(subject)) == 1

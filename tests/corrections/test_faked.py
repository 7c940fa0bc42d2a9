"""Faked positions: the phone's mock-location flag, an impossible jump from the previous position (any source),
and a check-in far from the phone's network position each raise ``fake_position`` (a warning, the kind in its
detail); a plausible sequence of scans, check-ins and network positions flags nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from pingan.corrections import actions, positions, telephony
from pingan.corrections.models import Subject
from pingan.tracking.models import Alert
from tests.corrections.conftest import IN_GRID_A, IN_GRID_B

PHONE = "13857212345"
EAST_50_KM = (IN_GRID_A[0] + 0.52, IN_GRID_A[1])    # about 50 km east
EAST_1_KM = (IN_GRID_A[0] + 0.0104, IN_GRID_A[1])   # about 1 km east


@pytest.fixture(autouse=True)
def _no_scripts() -> Any:
    telephony.unscript(PHONE)
    yield
    telephony.unscript(PHONE)


def flags(subject: Subject) -> list[Alert]:
    return list(Alert.objects.filter(target_id=subject.target_id, rule="fake_position").order_by("id"))


def linked(corr):  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    return subject


def test_a_check_in_with_the_mock_location_flag_is_flagged_through_the_api(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    client.force_login(corr.subject_user)
    response = client.post("/api/v1/corrections/me/check-in", json.dumps(
        {"lon": IN_GRID_A[0], "lat": IN_GRID_A[1], "accuracy_m": 15, "mock_location": True}),
        content_type="application/json")
    assert response.status_code == 200, response.content
    (alert,) = flags(subject)
    assert alert.severity == "warning" and alert.detail["kind"] == "mock_location"
    assert alert.detail["source"] == "checkin" and alert.first_fix_id == response.json()["fix_id"]
    # without the flag, the same check-in an hour later is fine
    corr.clock.advance(hours=1)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=15)
    assert len(flags(subject)) == 1 and flags(subject)[0].evidence_count == 1


def test_an_impossible_jump_is_flagged(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=20)
    corr.clock.advance(minutes=5)   # 50 km in 5 minutes: 600 km/h
    row = actions.check_in(corr.subject_user, lon=EAST_50_KM[0], lat=EAST_50_KM[1], accuracy_m=20)
    (alert,) = flags(subject)
    assert alert.detail["kind"] == "impossible_jump" and alert.detail["speed_kmh"] > 500
    assert alert.last_fix_id == row.fix_id


def test_a_jump_within_the_accuracies_or_at_a_plausible_speed_is_not_flagged(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    positions.record(subject.target, source="carrier", lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=3000,
                     fix_type="cell")
    corr.clock.advance(seconds=30)   # 1 km in 30 s would be 120 km/h … but inside the cell's 3 km
    actions.check_in(corr.subject_user, lon=EAST_1_KM[0], lat=EAST_1_KM[1], accuracy_m=10)
    corr.clock.advance(hours=1)       # 50 km in an hour: a car on the motorway
    actions.check_in(corr.subject_user, lon=EAST_50_KM[0], lat=EAST_50_KM[1], accuracy_m=10)
    assert flags(subject) == []


def test_a_check_in_far_from_the_phones_network_position_is_flagged(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=IN_GRID_B, accuracy_m=600)   # the phone is in town B
    check = actions.start_phone_check(corr.officer_a, subject)
    assert check.verdict == "ok"
    corr.clock.advance(minutes=20)   # 12.5 km in 20 minutes is a plausible trip; but not what the network saw
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=10)
    (alert,) = flags(subject)
    assert alert.detail["kind"] == "far_from_network" and alert.detail["network_fix"] == check.fix_id
    assert alert.detail["distance_m"] > 10_000


def test_a_network_position_older_than_30_minutes_or_within_2_km_is_no_reason(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    positions.record(subject.target, source="carrier", lon=IN_GRID_B[0], lat=IN_GRID_B[1], accuracy_m=800,
                     fix_type="cell")
    corr.clock.advance(minutes=45)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=10)   # 12.5 km, 45 min later
    corr.clock.advance(minutes=5)
    positions.record(subject.target, source="carrier", lon=EAST_1_KM[0] + 0.005, lat=EAST_1_KM[1], accuracy_m=800,
                     fix_type="cell")
    corr.clock.advance(minutes=10)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=10)   # 1.5 km from the cell
    assert flags(subject) == []


def test_a_plausible_day_flags_nothing(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=(IN_GRID_A[0] + 0.003, IN_GRID_A[1]), accuracy_m=900)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=12)
    corr.clock.advance(minutes=40)
    code = actions.issue_code(corr.subject_user)
    actions.verify_code(corr.checkpoint, code.token, lon=EAST_1_KM[0], lat=EAST_1_KM[1])
    corr.clock.advance(minutes=30)
    assert actions.start_phone_check(corr.officer_a, subject).verdict == "ok"
    corr.clock.advance(minutes=10)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0] + 0.001, lat=IN_GRID_A[1], accuracy_m=12)
    assert flags(subject) == []
    assert not Alert.objects.filter(target_id=subject.target_id).exists()


def test_the_jump_check_uses_the_previous_position_of_any_source(corr) -> None:  # type: ignore[no-untyped-def]
    subject = linked(corr)
    code = actions.issue_code(corr.subject_user)
    actions.verify_code(corr.checkpoint, code.token, lon=IN_GRID_A[0], lat=IN_GRID_A[1])
    corr.clock.advance(minutes=2)
    positions.record(subject.target, source="carrier", lon=EAST_50_KM[0], lat=EAST_50_KM[1], accuracy_m=1000,
                     fix_type="cell", at=corr.clock.now() - dt.timedelta(seconds=10))
    (alert,) = flags(subject)
    assert alert.detail["kind"] == "impossible_jump" and alert.detail["source"] == "carrier"

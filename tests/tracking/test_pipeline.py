"""The pipeline behind every door: per-row validation, storing once, evaluation into alerts, one audit entry
per batch, the periodic tick (lost contact, schedules that start), retention."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pingan.core.errors import ValidationFailed
from pingan.core.models import AuditEntry
from pingan.tracking import actions, partitions, pipeline
from pingan.tracking.models import Alert, DoorCounter, Fix, LatestPosition, TargetState
from tests.tracking.conftest import FAR_AWAY, NEAR, START, ZONE_CENTRE

pytestmark = pytest.mark.django_db


def inside(n: int) -> list[tuple[float, float]]:
    return [(ZONE_CENTRE[0] + 0.00001 * i, ZONE_CENTRE[1]) for i in range(n)]


def test_a_true_entry_raises_one_alert_and_later_fixes_add_evidence(world, frozen) -> None:  # type: ignore[no-untyped-def]
    result = world.send(world.fixes([NEAR, *inside(4)]))
    assert result.accepted == 5 and not result.errors
    alerts = list(Alert.objects.all())
    assert len(alerts) == 1 and result.alerts == [alerts[0].pk]
    alert = alerts[0]
    assert (alert.rule, alert.zone_id, alert.state, alert.target_id) == ("zone_exclusion", world.zone.pk, "open", world.target.pk)
    assert alert.number.startswith("TA-20261130-") and alert.place is not None
    assert alert.verify_by == frozen.current + dt.timedelta(minutes=15)
    assert alert.steps.get().action == "raised"
    before = alert.evidence_count
    world.send(world.fixes(inside(3), start=START + dt.timedelta(minutes=10)))
    alert.refresh_from_db()
    assert Alert.objects.count() == 1
    assert alert.evidence_count > before and alert.last_at == START + dt.timedelta(minutes=12)


def test_the_same_fix_sent_twice_is_stored_once(world) -> None:  # type: ignore[no-untyped-def]
    rows = world.fixes([FAR_AWAY, FAR_AWAY])
    assert world.send(rows).accepted == 2
    again = world.send(rows)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert Fix.objects.count() == 2


def test_bad_rows_are_reported_by_index_and_reason_and_the_good_ones_kept(world, frozen) -> None:  # type: ignore[no-untyped-def]
    now = frozen.current
    good = {"t": (now - dt.timedelta(minutes=1)).isoformat(), "lon": FAR_AWAY[0], "lat": FAR_AWAY[1]}
    rows = [
        good,
        {**good, "lon": 200},
        {**good, "lat": float("nan")},
        {**good, "t": (now + dt.timedelta(minutes=10)).isoformat()},
        {**good, "t": (now - dt.timedelta(days=40)).isoformat()},
        {**good, "lon": "120.3"},
        {**good, "crs": "utm"},
        {"lon": 120.3, "lat": 30.8},
        "not an object",
        {**good, "device": "someone-else"},
        {**good, "fix_type": "radar"},
        {**good, "t": "2026-11-30 10:00"},
        {**good, "t": (now - dt.timedelta(minutes=2)).isoformat(), "crs": "gcj02"},
    ]
    result = world.send(rows)
    codes = {e.index: e.code for e in result.errors}
    assert codes == {1: "out_of_range", 2: "not_finite", 3: "in_future", 4: "too_old", 5: "malformed_field",
                     6: "unknown_crs", 7: "missing_field", 8: "malformed_row", 9: "device_mismatch",
                     10: "malformed_field", 11: "malformed_field"}
    assert result.accepted == 2
    converted = Fix.objects.get(input_crs="gcj02")
    assert converted.lon != FAR_AWAY[0]  # GCJ-02 input is stored as WGS-84
    counted = dict(DoorCounter.objects.filter(door="test").values_list("reason", "count"))
    assert counted["accepted"] == 2 and counted["out_of_range"] == 1 and counted["in_future"] == 1


def test_ndjson_keeps_good_lines_around_a_broken_one() -> None:
    rows = pipeline.parse_body(b'{"a": 1}\n{broken\n\n{"b": 2}\n')
    assert len(rows) == 3 and isinstance(rows[1], pipeline._Malformed)
    with pytest.raises(ValidationFailed) as refused:
        pipeline.parse_body(b"[1, 2")
    assert refused.value.code == "invalid_json"
    with pytest.raises(ValidationFailed):
        pipeline.parse_body(b"   ")


def test_a_batch_above_the_limit_is_refused_whole(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_TRACKING_BATCH_MAX = 3
    with pytest.raises(ValidationFailed) as refused:
        world.send(world.fixes([FAR_AWAY] * 4))
    assert refused.value.code == "batch_too_large"
    assert Fix.objects.count() == 0


def test_no_fix_is_accepted_and_no_rule_runs_while_monitoring_is_off(world) -> None:  # type: ignore[no-untyped-def]
    actions.set_monitoring("test", world.target, on=False, reason="authorisation ended")
    world.device.target.refresh_from_db()
    result = world.send(world.fixes(inside(4)))
    assert result.accepted == 0 and {e.code for e in result.errors} == {"not_monitored"}
    assert not Alert.objects.exists() and not Fix.objects.exists()


def test_one_audit_entry_per_batch_not_per_fix(world) -> None:  # type: ignore[no-untyped-def]
    before = AuditEntry.objects.filter(action="pingan.tracking.fixes_ingested").count()
    world.send(world.fixes([FAR_AWAY] * 50))
    entries = AuditEntry.objects.filter(action="pingan.tracking.fixes_ingested")
    assert entries.count() == before + 1
    assert entries.last().changes["accepted"] == 50  # type: ignore[union-attr]


def test_the_latest_position_follows_device_time_not_arrival(world) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=5)))
    world.send(world.fixes([ZONE_CENTRE], start=START))  # late: older than what we have
    latest = LatestPosition.objects.get(target=world.target)
    assert (latest.lon, latest.lat) == FAR_AWAY
    assert not Alert.objects.exists()  # a late fix never decides


def test_engine_state_is_committed_with_the_batch(world) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([NEAR, *inside(1)]))
    state = TargetState.objects.get(target=world.target)
    assert state.state and state.due_at is not None
    world.send(world.fixes(inside(3), start=START + dt.timedelta(minutes=2)))
    assert Alert.objects.filter(rule="zone_exclusion").count() == 1  # the dwell spanned two batches


def test_lost_contact_is_raised_by_the_tick_and_cleared_by_the_next_fix(world, frozen) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY], start=frozen.current - dt.timedelta(minutes=1)))
    assert pipeline.tick(frozen.current) == []
    frozen.advance(hours=2)
    opened = pipeline.tick(frozen.current)
    assert [Alert.objects.get(pk=i).rule for i in opened] == ["lost_contact"]
    assert pipeline.tick(frozen.current) == []  # once
    world.send(world.fixes([FAR_AWAY], start=frozen.current - dt.timedelta(seconds=5)))
    frozen.advance(minutes=10)
    pipeline.tick(frozen.current)
    assert Alert.objects.get(rule="lost_contact").rearmed


def test_a_target_already_inside_when_the_schedule_starts_is_alerted_at_once(world, frozen) -> None:  # type: ignore[no-untyped-def]
    # A special period that starts at 12:00 Shanghai (04:00 UTC) on 30 November.
    schedule = {"dates": [["2026-11-30", "2026-11-30"]], "windows": [["12:00", "23:59"]]}
    zone = actions.create_zone("test", name="会场", kind="exclusion", shape="circle", coords=[FAR_AWAY[0], FAR_AWAY[1]],
                               radius_m=400, area=world.tree["330503100"], applies_to_all=True, schedule=schedule)
    frozen.current = dt.datetime(2026, 11, 30, 3, 50, tzinfo=dt.UTC)
    world.send(world.fixes([FAR_AWAY] * 4, start=frozen.current - dt.timedelta(minutes=5)))
    assert pipeline.tick(frozen.current) == []
    assert not Alert.objects.filter(zone=zone).exists()
    frozen.current = dt.datetime(2026, 11, 30, 4, 0, 20, tzinfo=dt.UTC)
    opened = pipeline.tick(frozen.current)
    assert [Alert.objects.get(pk=i).zone_id for i in opened] == [zone.pk]


def test_retention_thins_old_fixes_to_one_per_bucket(world, frozen, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_TRACKING_RETENTION_DAYS = 1
    world.send(world.fixes([FAR_AWAY] * 20, start=frozen.current - dt.timedelta(hours=23), step_s=30))
    frozen.advance(days=1)
    done = partitions.enforce_retention(frozen.current)
    assert done["deleted"] > 0
    assert Fix.objects.count() in (2, 3)  # 10 minutes of fixes, one per 5-minute bucket
    settings.PINGAN_TRACKING_OLD_FIXES = "drop"
    partitions.enforce_retention(frozen.current)
    assert Fix.objects.count() == 0


def test_a_device_key_is_derived_and_rotating_it_revokes_the_old_one(world) -> None:  # type: ignore[no-untyped-def]
    assert pipeline.authenticate_device(world.device.uid, world.key) == world.device
    new_key = actions.rotate_device_key("test", world.device)
    assert new_key != world.key
    assert pipeline.authenticate_device(world.device.uid, world.key) is None
    assert pipeline.authenticate_device(world.device.uid, new_key) is not None
    body = json.dumps([{"t": 1}]).encode()
    assert pipeline.signature_ok(world.device, body, pipeline.sign(new_key, body))
    assert not pipeline.signature_ok(world.device, body, pipeline.sign(world.key, body))


def test_check_ins_and_scans_are_stored_without_an_authorisation_but_decide_nothing(world) -> None:  # type: ignore[no-untyped-def]
    actions.set_monitoring("test", world.target, on=False, reason="no authorisation")
    world.device.target.refresh_from_db()
    refused = pipeline.submit(world.fixes(inside(4)), source="http", device=world.device)
    assert {e.code for e in refused.errors} == {"not_monitored"}
    stored = pipeline.submit(world.fixes(inside(4)), source="checkin", device=world.device)
    assert stored.accepted == 4 and not stored.errors
    assert not Alert.objects.exists()  # no rule runs while monitoring is off


def test_only_the_owning_module_switches_monitoring_or_moves_its_target(world) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.errors import ConflictError

    subject = actions.create_target("test", kind="person", label="韩某", area=world.tree["330503100"], owner="vehicles")
    # (a module other than corrections: corrections-owned targets are hidden from the district admin altogether)
    with pytest.raises(ConflictError) as refused:
        actions.set_monitoring(world.admin, subject, on=True)
    assert refused.value.code == "owned_elsewhere"
    actions.set_monitoring("test", subject, on=True, owner="vehicles")
    moved = actions.update_target("test", subject, owner="vehicles", area=world.tree["330503101"], sealed=True)
    assert moved.area.code == "330503101" and moved.sealed
    assert AuditEntry.objects.filter(action="pingan.target.updated", object_id=str(subject.pk)).exists()


def test_a_batch_opens_its_alerts_together_numbered_in_turn_and_notified_once_each(world, frozen, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Three targets enter the zone in one gateway batch: three alerts with consecutive numbers, each with its
    raised step and audit entry, and, after the commit, one notification per alert for each responder."""
    from pingan.events.models import Notification

    others = []
    for k in range(2):
        target = actions.create_target("test", kind="person", label=f"李某{k}", area=world.target.area, monitored=True,
                                       interval_s=600)
        others.append(actions.register_device("test", target, uid=f"phone-10{k}")[0])
    rows = [{**row, "device": uid} for uid in ("phone-001", "phone-100", "phone-101")
            for row in world.fixes([NEAR, *inside(4)])]
    with django_capture_on_commit_callbacks(execute=True):
        result = pipeline.submit(rows, source="test", gateway=True)
    assert result.accepted == 15 and len(result.alerts) == 3
    alerts = list(Alert.objects.order_by("pk"))
    assert sorted(a.target_id for a in alerts) == sorted([world.target.pk, *(d.target_id for d in others)])
    numbers = [int(a.number.rsplit("-", 1)[1]) for a in alerts]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert all(a.steps.filter(action="raised").count() == 1 for a in alerts)
    raised = AuditEntry.objects.filter(action="pingan.alert.raised")
    assert sorted(int(e.object_id) for e in raised) == [a.pk for a in alerts]
    responders = {n.user_id for n in Notification.objects.filter(kind="alert.raised")}
    assert world.admin.pk in responders and world.officer_b.pk not in responders
    texts = list(Notification.objects.filter(kind="alert.raised", user=world.admin).values_list("text", flat=True))
    assert len(texts) == 3
    assert all(sum(a.number in text for text in texts) == 1 for a in alerts)


def test_a_device_seen_within_the_minute_keeps_its_row(world, frozen) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY]))
    world.device.refresh_from_db()
    first = world.device.last_seen_at
    assert first == frozen.current
    frozen.advance(seconds=30)
    world.send(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=5)))
    world.device.refresh_from_db()
    assert world.device.last_seen_at == first  # to the minute: not rewritten
    frozen.advance(seconds=40)
    world.send(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=10)))
    world.device.refresh_from_db()
    assert world.device.last_seen_at == frozen.current

"""The closed loop's actions: every transition's legal path, its refusals (by stable code), concurrency,
idempotency, numbering, joint handling, reopening, merging, parking, escalation and scope."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from pingan.core.clock import FrozenClock, use_clock
from pingan.core.errors import DomainError
from pingan.core.models import AuditEntry
from pingan.events import actions, deadlines, queries
from pingan.events.models import Event, EventType, RoutingRule, State, Task, TaskState, Transition
from pingan.geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from tests.events.conftest import IN_GRID_A, IN_GRID_B, OUTSIDE, TYPE, report_in_grid_a, report_input
from tests.threads import run_together

SH = ZoneInfo("Asia/Shanghai")


def refused(code: str, status: int | None = None) -> Any:
    """pytest.raises for a DomainError; check its code (and status) after the block."""
    return _Refused(code, status)


class _Refused:
    def __init__(self, code: str, status: int | None) -> None:
        self.code, self.status = code, status
        self._raises = pytest.raises(DomainError)

    def __enter__(self) -> Any:
        self.info = self._raises.__enter__()
        return self.info

    def __exit__(self, *exc: Any) -> bool:
        handled = self._raises.__exit__(*exc)
        assert self.info.value.code == self.code, f"expected {self.code}, got {self.info.value.code}: {self.info.value}"
        if self.status is not None:
            assert self.info.value.status == self.status
        return bool(handled)


def actions_of(event: Event) -> list[str]:
    return list(Transition.objects.filter(event=event).order_by("at", "id").values_list("action", flat=True))


def audits_of(event: Event) -> list[str]:
    return list(AuditEntry.objects.filter(object_type="events.event", object_id=str(event.pk)).order_by("id")
                .values_list("action", flat=True))


def fresh(event: Event) -> Event:
    return Event.objects.get(pk=event.pk)


# --- report ----------------------------------------------------------------------------------------


def test_a_report_is_located_to_micro_grid_grid_village_town_and_workstation(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    assert (event.microgrid.code, event.grid.code, event.village.code, event.town.code) == (
        "330503100201001001", "330503100201001", "330503100201", "330503100")
    assert event.area == event.microgrid
    assert event.workstation == world.workstation
    assert event.state == State.REPORTED and event.reporter == world.grid_a and event.version == 1
    assert actions_of(event) == ["report"]
    assert audits_of(event) == ["pingan.event.report"]


def test_numbers_count_per_shanghai_day_and_start_again_the_next_day(world) -> None:  # type: ignore[no-untyped-def]
    clock = FrozenClock(dt.datetime(2026, 3, 2, 15, 59, tzinfo=dt.UTC))  # 23:59 in Shanghai, 2 March
    with use_clock(clock):
        first = report_in_grid_a()
        second = report_in_grid_a(title="第二件")
        clock.advance(minutes=2)  # 00:01 on 3 March in Shanghai, still 2 March in UTC
        third = report_in_grid_a(title="第三件")
    assert [first.number, second.number, third.number] == ["NX-20260302-000001", "NX-20260302-000002",
                                                           "NX-20260303-000001"]


def test_a_point_outside_the_district_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    with refused("outside_district", 422):
        actions.report_event(world.grid_a, report_input(OUTSIDE))
    assert not Event.objects.exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"title": ""}, "title"),
    ({"title": "长" * 121}, "title"),
    ({"description": "  "}, "description"),
    ({"priority": "whenever"}, "priority"),
    ({"source": "rumour"}, "source"),
    ({"lon": float("nan")}, "location"),
    ({"lat": float("inf")}, "location"),
    ({"lat": 91.0}, "location"),
    ({"crs": "osgb36"}, "crs"),
])
def test_invalid_reports_are_refused_with_the_field_named(world, overrides, field) -> None:  # type: ignore[no-untyped-def]
    with refused("invalid_event", 422) as info:
        actions.report_event(world.grid_a, report_input(**overrides))
    assert field in info.value.details["fields"]


def test_an_unknown_or_inactive_type_is_refused(world, event_types) -> None:  # type: ignore[no-untyped-def]
    with refused("unknown_event_type"):
        actions.report_event(world.grid_a, report_input(event_type="ufo"))
    actions.report_event(world.grid_a, report_input())  # the type is cached now
    kind = EventType.objects.get(code=TYPE)
    kind.is_active = False
    kind.save()  # as admin does: the process's cache is dropped at once
    with refused("unknown_event_type"):
        actions.report_event(world.grid_a, report_input())


def test_a_change_without_signals_reaches_the_cache_within_its_age(world, event_types, settings) -> None:  # type: ignore[no-untyped-def]
    actions.report_event(world.grid_a, report_input())
    EventType.objects.filter(code=TYPE).update(is_active=False)  # an update() sends no signal
    actions.report_event(world.grid_a, report_input())  # still cached
    settings.PINGAN_EVENT_CONFIG_SECONDS = 0  # as if PINGAN_EVENT_CONFIG_SECONDS had passed
    with refused("unknown_event_type"):
        actions.report_event(world.grid_a, report_input())


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_a_point_in_map_coordinates_is_stored_in_wgs84(world, crs) -> None:  # type: ignore[no-untyped-def]
    convert = wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09
    lon, lat = convert(*IN_GRID_A)
    event = actions.report_event(world.grid_a, report_input((lon, lat), crs=crs))
    assert event.input_crs == crs
    assert event.lon == pytest.approx(IN_GRID_A[0], abs=1e-6) and event.lat == pytest.approx(IN_GRID_A[1], abs=1e-6)


def test_roles_without_the_report_permission_and_anonymous_non_public_reports_are_refused(world, make_user) -> None:  # type: ignore[no-untyped-def]
    with refused("permission_denied", 403):
        actions.report_event(make_user("auditor"), report_input())
    with refused("permission_denied", 403):
        actions.report_event(None, report_input(source="grid_patrol"))
    assert actions.report_event(make_user("block_leader", area="330503100201001"), report_input()).state == State.REPORTED


def test_a_member_of_the_public_gives_a_name_and_a_valid_phone(world) -> None:  # type: ignore[no-untyped-def]
    with refused("invalid_event") as info:
        actions.report_event(world.public, report_input())
    assert set(info.value.details["fields"]) == {"reporter_name", "reporter_phone"}
    with refused("invalid_event") as info:
        actions.report_event(world.public, report_input(reporter_name="王小明", reporter_phone="12345"))
    assert "reporter_phone" in info.value.details["fields"]
    event = actions.report_event(world.public, report_input(reporter_name="王小明", reporter_phone="138 0013 8000"))
    assert event.reporter_phone == "+8613800138000" and event.source == "public" and event.reporter == world.public
    anonymous = actions.report_event(None, report_input(source="public", reporter_name="李四", reporter_phone="13900139000"))
    assert anonymous.reporter is None and anonymous.reporter_name == "李四"
    audit = AuditEntry.objects.filter(object_id=str(event.pk), action="pingan.event.report").get()
    assert "13800138000" not in str(audit.changes)


def test_public_reports_are_rate_limited_per_phone_and_per_address(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_PUBLIC_REPORTS_PER_HOUR = 3
    for i in range(3):
        actions.report_event(None, report_input(source="public", reporter_name="张三", reporter_phone="13800138000",
                                                title=f"第{i}件"), client_ip=f"10.0.0.{i}")
    with refused("rate_limited", 429):
        actions.report_event(None, report_input(source="public", reporter_name="张三", reporter_phone="13800138000"),
                             client_ip="10.0.0.99")
    for i in range(3):
        actions.report_event(None, report_input(source="public", reporter_name="路人", reporter_phone=f"1390013900{i}"),
                             client_ip="10.9.9.9")
    with refused("rate_limited", 429):
        actions.report_event(None, report_input(source="public", reporter_name="路人", reporter_phone="13700137000"),
                             client_ip="10.9.9.9")
    # staff are not limited
    for _ in range(5):
        actions.report_event(world.grid_a, report_input(reporter_phone="13800138000"), client_ip="10.9.9.9")


def test_the_same_idempotency_key_and_body_give_the_same_event(world) -> None:  # type: ignore[no-untyped-def]
    first = actions.report_event(world.grid_a, report_input(), idempotency_key="k-1")
    again = actions.report_event(world.grid_a, report_input(), idempotency_key="k-1")
    assert again.pk == first.pk and Event.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    actions.report_event(world.grid_a, report_input(), idempotency_key="k-1")
    with refused("idempotency_mismatch", 422):
        actions.report_event(world.grid_a, report_input(title="另一件事"), idempotency_key="k-1")
    assert Event.objects.count() == 1


def test_idempotency_keys_are_scoped_to_the_user(world) -> None:  # type: ignore[no-untyped-def]
    mine = actions.report_event(world.grid_a, report_input(), idempotency_key="shared")
    theirs = actions.report_event(world.ws, report_input(), idempotency_key="shared")
    assert mine.pk != theirs.pk


def test_a_repeat_report_by_the_same_reporter_nearby_is_counted_and_offered_as_a_duplicate(world) -> None:  # type: ignore[no-untyped-def]
    original = world.report()
    repeat = actions.report_event(world.grid_a, report_input((IN_GRID_A[0] + 0.001, IN_GRID_A[1])))  # about 95 m east
    assert fresh(original).repeat_count == 1
    assert "repeat" in repeat.tags
    assert Transition.objects.get(event=repeat, action="report").data["repeat_of"] == original.number
    assert list(actions.possible_duplicates(repeat)) == [original]
    far = actions.report_event(world.ws, report_input((IN_GRID_A[0] + 0.01, IN_GRID_A[1])))  # about 950 m
    assert list(actions.possible_duplicates(far)) == []
    other_reporter = actions.report_event(world.ws, report_input())
    assert fresh(original).repeat_count == 1 and "repeat" not in other_reporter.tags
    assert set(actions.possible_duplicates(other_reporter)) == {original, repeat}


def test_without_a_rule_the_defaults_hold_and_nothing_is_dispatched(world) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH)  # a Tuesday morning
    with use_clock(FrozenClock(now)):
        event = world.report()
    assert event.state == State.REPORTED and event.rule is None and event.lead_unit is None
    assert event.accept_due == deadlines.add_time(now, 240, "working")
    assert event.warn_at == deadlines.add_time(now, 180, "working")
    assert event.resolve_due is None


def test_an_auto_dispatch_rule_dispatches_at_once_with_tasks_and_a_resolve_deadline(world, event_types) -> None:  # type: ignore[no-untyped-def]
    rule = RoutingRule.objects.create(name="邻里", event_type=event_types[TYPE], lead_unit=world.department,
                                      auto_dispatch=True, accept_minutes=60, resolve_minutes=600, time_basis="calendar",
                                      warn_percent=50)
    rule.assisting_units.add(world.department_b)
    now = dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH)
    with use_clock(FrozenClock(now)):
        event = world.report()
    assert event.state == State.DISPATCHED and event.rule == rule and event.lead_unit == world.department
    assert event.accept_due == now + dt.timedelta(minutes=60)
    assert event.resolve_due == now + dt.timedelta(minutes=600)
    assert event.warn_at == now + dt.timedelta(minutes=300)
    tasks = {t.unit.code: (t.is_lead, t.state) for t in Task.objects.filter(event=event)}
    assert tasks == {"dept-a": (True, TaskState.PENDING), "dept-b": (False, TaskState.PENDING)}
    assert actions_of(event) == ["report", "dispatch"]
    assert audits_of(event) == ["pingan.event.report", "pingan.event.dispatch"]


def test_an_auto_dispatch_rule_without_a_lead_unit_hands_the_event_to_the_workstation(world, event_types) -> None:  # type: ignore[no-untyped-def]
    RoutingRule.objects.create(name="any", auto_dispatch=True)
    event = world.report()
    assert event.state == State.DISPATCHED and event.lead_unit == world.workstation


# --- triage ----------------------------------------------------------------------------------------


def test_the_workstation_accepts_and_a_second_accept_is_illegal(world) -> None:  # type: ignore[no-untyped-def]
    event = actions.accept_event(world.ws, world.report(), note="收到")
    assert event.state == State.ACCEPTED and fresh(event).version == 2 and fresh(event).accepted_at is not None
    with refused("illegal_transition", 409) as info:
        actions.accept_event(world.ws, event)
    assert info.value.details["state"] == State.ACCEPTED
    assert actions_of(event) == ["report", "accept"]


def test_who_may_not_triage_is_refused_and_out_of_scope_is_not_found(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    with refused("permission_denied", 403):
        actions.accept_event(world.grid_a, event)
    with refused("permission_denied", 403):
        actions.accept_event(world.dept, event)
    with refused("not_found", 404):
        actions.escalate_event(world.grid_b, event, reason="看不到")
    assert fresh(event).state == State.REPORTED


def test_reject_needs_a_reason_and_ends_the_event(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    with refused("reason_required", 422):
        actions.reject_event(world.ws, event, reason=" ")
    event = actions.reject_event(world.ws, event, reason="不属于受理范围")
    assert fresh(event).reject_reason == "不属于受理范围" and event.state == State.REJECTED
    with refused("illegal_transition"):
        actions.accept_event(world.ws, event)


def test_merge_marks_the_duplicate_and_refuses_itself_and_merged_targets(world) -> None:  # type: ignore[no-untyped-def]
    target, duplicate, third = world.report(), world.report(title="重复"), world.report(title="又一件")
    with refused("merge_into_itself"):
        actions.merge_event(world.ws, target, into=target)
    actions.merge_event(world.ws, duplicate, into=target)
    assert fresh(duplicate).state == State.MERGED and fresh(duplicate).merged_into == target
    assert "merged_in" in actions_of(target)
    with refused("invalid_merge_target"):
        actions.merge_event(world.ws, third, into=duplicate)
    with refused("illegal_transition"):
        actions.merge_event(world.ws, duplicate, into=third)


def test_merging_a_new_report_into_a_recently_closed_event_reopens_it(world) -> None:  # type: ignore[no-untyped-def]
    closed = world.drive(world.report(), "closed")
    new = world.report(title="又发生了")
    actions.merge_event(world.ws, new, into=closed)
    closed = fresh(closed)
    assert closed.state == State.DISPATCHED and closed.reopened_count == 1 and closed.number.startswith("NX-")
    assert actions_of(closed)[-2:] == ["merged_in", "reopen"]


def test_dispatch_comes_after_accept_and_gives_each_unit_a_task(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    with refused("illegal_transition"):
        actions.dispatch_event(world.ws, event, lead_unit=world.department)
    event = actions.accept_event(world.ws, event)
    event = actions.dispatch_event(world.ws, event, lead_unit=world.department, assisting_units=[world.department_b])
    assert event.state == State.DISPATCHED and event.resolve_due is not None
    assert {(t.unit_id, t.is_lead) for t in Task.objects.filter(event=event)} == {
        (world.department.pk, True), (world.department_b.pk, False)}


def test_the_lead_unit_sends_back_and_the_workstation_dispatches_elsewhere(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "dispatched")
    with refused("not_lead_unit", 403):
        actions.return_event(world.dept_b, event, reason="不是我们的")
    with refused("reason_required"):
        actions.return_event(world.dept, event, reason="")
    event = actions.return_event(world.dept, event, reason="不属于本单位职责")
    assert event.state == State.RETURNED
    assert list(queries.inbox(world.ws, "returned")) == [event]
    event = actions.dispatch_event(world.ws, event, lead_unit=world.department_b)
    tasks = {t.unit_id: (t.is_lead, t.state) for t in Task.objects.filter(event=event)}
    assert tasks == {world.department.pk: (False, TaskState.RETURNED), world.department_b.pk: (True, TaskState.PENDING)}
    with refused("not_lead_unit"):
        actions.start_event(world.dept, event)
    assert actions.start_event(world.dept_b, event).state == State.IN_PROGRESS


# --- handling --------------------------------------------------------------------------------------


def test_start_progress_and_resolve_by_the_lead_unit(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "dispatched")
    with refused("illegal_transition"):
        actions.add_progress(world.dept, event, note="还没开始")
    event = actions.start_event(world.dept, event)
    with refused("illegal_transition"):
        actions.start_event(world.dept, event)
    entry = actions.add_progress(world.dept, event, note="已联系双方")
    assert entry.action == "progress" and entry.from_state == entry.to_state == State.IN_PROGRESS
    with refused("invalid_method", 422):
        actions.resolve_event(world.dept, event, result="好了", measures="", method="magic")
    with refused("result_required", 422):
        actions.resolve_event(world.dept, event, result="", measures="", method="mediated")
    event = actions.resolve_event(world.dept, event, result="双方达成协议", measures="调解", method="mediated")
    saved = fresh(event)
    assert saved.state == State.RESOLVED and saved.on_time is True and saved.resolution_method == "mediated"
    assert Task.objects.get(event=event, is_lead=True).state == TaskState.DONE


def test_a_district_admin_may_step_in_for_the_lead_unit(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "dispatched")
    assert actions.start_event(world.admin, event).state == State.IN_PROGRESS


def test_joint_handling_resolves_only_when_every_assisting_task_is_done(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "in_progress", assisting=(world.department_b,))
    with refused("assisting_tasks_open", 409) as info:
        actions.resolve_event(world.dept, event, result="r", measures="m", method="mediated")
    assert info.value.details["units"] == ["dept-b"]
    lead_task = Task.objects.get(event=event, is_lead=True)
    assisting_task = Task.objects.get(event=event, is_lead=False)
    with refused("lead_task"):
        actions.complete_task(world.dept, lead_task, note="完成")
    with refused("not_task_unit", 403):
        actions.complete_task(world.dept, assisting_task, note="代办")
    actions.complete_task(world.dept_b, assisting_task, note="已配合执法")
    with refused("illegal_transition"):
        actions.complete_task(world.dept_b, Task.objects.get(pk=assisting_task.pk), note="再一次")
    event = actions.resolve_event(world.dept, fresh(event), result="r", measures="m", method="enforced")
    assert event.state == State.RESOLVED
    assert actions_of(event).count("complete_task") == 1


def test_an_assisting_unit_sees_the_event_in_its_inbox_to_handle(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "dispatched", assisting=(world.department_b,))
    assert list(queries.inbox(world.dept_b, "to_handle")) == [event]
    assert list(queries.inbox(world.dept, "to_handle")) == [event]
    assert list(queries.inbox(world.ws, "to_handle")) == []


# --- verification, closing, reopening ---------------------------------------------------------------


def test_the_grid_worker_of_the_grid_verifies_and_one_of_another_grid_cannot(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(world.ws), "resolved")
    with refused("not_found", 404):
        actions.verify_event(world.grid_b, event)
    with refused("permission_denied", 403):
        actions.verify_event(world.dept, event)
    assert actions.verify_event(world.grid_a, event).state == State.VERIFIED


def test_the_reporter_may_verify_even_outside_their_grid(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(world.grid_b), "resolved")
    assert actions.verify_event(world.grid_b, event).state == State.VERIFIED


def test_rework_sends_a_resolved_event_back_to_the_lead_unit(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "resolved")
    event = actions.rework_event(world.grid_a, event, reason="现场仍有噪声")
    assert event.state == State.IN_PROGRESS and fresh(event).resolved_at is None
    assert Task.objects.get(event=event, is_lead=True).state == TaskState.IN_PROGRESS
    with refused("illegal_transition"):
        actions.verify_event(world.grid_a, event)


def test_close_takes_a_satisfaction_from_one_to_five(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "verified")
    for bad in (0, 6, True):
        with refused("invalid_satisfaction", 422):
            actions.close_event(world.grid_a, event, satisfaction=bad)
    event = actions.close_event(world.grid_a, event, satisfaction=4)
    saved = fresh(event)
    assert saved.state == State.CLOSED and saved.satisfaction == 4 and saved.closed_at is not None


def test_a_dissatisfied_close_reopens_at_once_with_the_same_number(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "verified", assisting=(world.department_b,))
    number = event.number
    event = actions.close_event(world.grid_a, event, satisfaction=2)
    saved = fresh(event)
    assert saved.state == State.DISPATCHED and saved.number == number and saved.reopened_count == 1
    assert actions_of(event)[-2:] == ["close", "reopen"]
    assert audits_of(event)[-2:] == ["pingan.event.close", "pingan.event.reopen"]
    assert {t.state for t in Task.objects.filter(event=event)} == {TaskState.PENDING}
    assert saved.lead_unit == world.department


def test_reopen_is_for_closed_events_within_the_window(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_EVENT_REOPEN_DAYS = 30
    clock = FrozenClock(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH))
    with use_clock(clock):
        event = world.drive(world.report(), "closed")
        recent = world.drive(world.report(title="近期"), "closed")
        with refused("permission_denied"):
            actions.reopen_event(world.grid_a, recent, reason="又吵了")
        with refused("illegal_transition"):
            actions.reopen_event(world.ws, world.report(title="未结"), reason="x")
        clock.advance(days=31)
        with refused("reopen_window_passed", 409):
            actions.reopen_event(world.ws, event, reason="又吵了")
    with use_clock(FrozenClock(dt.datetime(2026, 3, 10, 9, 0, tzinfo=SH))):
        assert actions.reopen_event(world.ws, recent, reason="又吵了").state == State.DISPATCHED


# --- escalation and supervision ---------------------------------------------------------------------


def test_escalation_climbs_workstation_town_district_and_reroutes_the_lead(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "in_progress")
    assert event.level == "workstation"
    event = actions.escalate_event(world.ws, event, reason="协调不了")
    assert event.level == "town" and fresh(event).lead_unit == world.town_government
    lead = Task.objects.get(event=event, is_lead=True)
    assert lead.unit == world.town_government and event.state == State.IN_PROGRESS
    assert Task.objects.get(event=event, unit=world.department).is_lead is False
    assert list(queries.inbox(world.town, "to_handle")) == [event]
    event = actions.escalate_event(world.admin, event, reason="镇里也管不了")
    assert event.level == "district" and fresh(event).lead_unit == world.committee
    with refused("top_level", 409):
        actions.escalate_event(world.admin, event, reason="还要往上")
    assert [t.data["level"] for t in Transition.objects.filter(event=event, action="escalate")] == [
        ["workstation", "town"], ["town", "district"]]


def test_escalation_gives_the_new_level_a_fresh_deadline(world, event_types) -> None:  # type: ignore[no-untyped-def]
    RoutingRule.objects.create(name="r", lead_unit=world.department, auto_dispatch=True, resolve_minutes=60,
                               time_basis="calendar")
    clock = FrozenClock(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH))
    with use_clock(clock):
        event = world.report()
        clock.advance(minutes=90)
        assert actions.mark_overdue(event.pk, clock.now()) is True
        event = actions.escalate_event(world.ws, fresh(event), reason="超期")
    saved = fresh(event)
    assert saved.overdue is False and saved.resolve_due == clock.now() + dt.timedelta(minutes=60)


def test_escalation_and_supervision_are_refused_to_those_without_the_permission(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    with refused("permission_denied", 403):
        actions.escalate_event(world.deputy, event, reason="x")
    with refused("permission_denied", 403):
        actions.supervise_event(world.ws, event, note="督办")
    with refused("illegal_transition"):
        actions.escalate_event(world.ws, actions.reject_event(world.ws, event, reason="无效"), reason="x")


def test_supervision_marks_the_event_with_a_note_and_a_deadline(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "dispatched")
    due = dt.datetime(2026, 12, 1, 17, 0, tzinfo=SH)
    event = actions.supervise_event(world.admin, event, note="请加快办理", due=due)
    saved = fresh(event)
    assert saved.supervised and saved.supervise_note == "请加快办理" and saved.supervise_due == due
    assert event.state == State.DISPATCHED
    assert list(queries.inbox(world.admin, "supervised")) == [event]
    with refused("invalid_due"):
        actions.supervise_event(world.admin, event, note="n", due=dt.datetime(2026, 12, 1))  # noqa: DTZ001


# --- parking ---------------------------------------------------------------------------------------


def test_park_sets_an_event_aside_until_its_review_date_and_unpark_brings_it_back(world) -> None:  # type: ignore[no-untyped-def]
    with use_clock(FrozenClock(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH))):
        reported = world.report()
        with refused("illegal_transition"):
            actions.park_event(world.ws, reported, reason="等政策", review_on=dt.date(2026, 4, 1))
        event = world.drive(reported, "in_progress")
        with refused("permission_denied"):
            actions.park_event(world.grid_a, event, reason="等政策", review_on=dt.date(2026, 4, 1))
        with refused("review_date_not_future", 422):
            actions.park_event(world.ws, event, reason="等政策", review_on=dt.date(2026, 3, 3))
        event = actions.park_event(world.ws, event, reason="等待法院判决", review_on=dt.date(2026, 4, 1))
        assert event.state == State.PARKED and fresh(event).parked_from_state == State.IN_PROGRESS
        assert list(queries.inbox(world.ws, "parked")) == [event]
        with refused("illegal_transition"):
            actions.resolve_event(world.dept, event, result="r", measures="m", method="other")
        event = actions.unpark_event(world.ws, event, note="判决已出")
    saved = fresh(event)
    assert saved.state == State.IN_PROGRESS and saved.parked_until is None and saved.parked_reason == ""
    with refused("illegal_transition"):
        actions.unpark_event(world.ws, event)


# --- extensions ------------------------------------------------------------------------------------


def test_the_lead_unit_asks_for_more_time_and_an_approval_moves_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "in_progress")
    new_due = fresh(event).resolve_due + dt.timedelta(days=5)
    with refused("not_lead_unit"):
        actions.request_extension(world.dept_b, event, reason="x", new_due=new_due)
    with refused("new_due_not_later"):
        actions.request_extension(world.dept, event, reason="需要时间", new_due=fresh(event).resolve_due)
    extension = actions.request_extension(world.dept, event, reason="需要鉴定", new_due=new_due)
    with refused("extension_pending"):
        actions.request_extension(world.dept, event, reason="再要", new_due=new_due + dt.timedelta(days=1))
    with refused("permission_denied"):
        actions.decide_extension(world.dept, extension, approve=True)
    extension = actions.decide_extension(world.ws, extension, approve=True, note="同意")
    assert extension.decision == "approved" and fresh(event).resolve_due == new_due
    assert Task.objects.get(event=event, is_lead=True).due == new_due
    with refused("already_decided"):
        actions.decide_extension(world.ws, extension, approve=False)


def test_a_refused_extension_leaves_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    event = world.drive(world.report(), "in_progress")
    before = fresh(event).resolve_due
    extension = actions.request_extension(world.dept, event, reason="r", new_due=before + dt.timedelta(days=2))
    assert actions.decide_extension(world.ws, extension, approve=False).decision == "refused"
    assert fresh(event).resolve_due == before
    assert actions_of(event)[-2:] == ["request_extension", "decide_extension"]


# --- attachments -----------------------------------------------------------------------------------


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def test_attachments_are_checked_by_content_and_recorded(world, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path)
    event = world.report()
    attachment = actions.add_attachment(world.grid_a, event, upload=SimpleUploadedFile("现场.png", _png()))
    assert attachment.is_image and attachment.content_type == "image/png" and attachment.name == "现场.png"
    assert "attach" in actions_of(event)
    with pytest.raises(DomainError):
        actions.add_attachment(world.grid_a, event, upload=SimpleUploadedFile("photo.png", b"MZ\x90\x00 not a picture"))
    with refused("not_found", 404):
        actions.add_attachment(world.grid_b, event, upload=SimpleUploadedFile("x.png", _png()))
    with refused("invalid_stage"):
        actions.add_attachment(world.grid_a, event, upload=SimpleUploadedFile("x.png", _png()), stage="whenever")


# --- the sweep's marks -----------------------------------------------------------------------------


def test_warn_and_overdue_are_marked_once_against_the_running_deadline(world, event_types) -> None:  # type: ignore[no-untyped-def]
    RoutingRule.objects.create(name="r", accept_minutes=100, warn_percent=50, time_basis="calendar")
    start = dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH)
    event = None
    with use_clock(FrozenClock(start)):
        event = world.report()
    assert actions.mark_warned(event.pk, start + dt.timedelta(minutes=49)) is False
    assert actions.mark_warned(event.pk, start + dt.timedelta(minutes=50)) is True
    assert actions.mark_warned(event.pk, start + dt.timedelta(minutes=51)) is False
    assert actions.mark_overdue(event.pk, start + dt.timedelta(minutes=99)) is False
    assert actions.mark_overdue(event.pk, start + dt.timedelta(minutes=100)) is True
    assert actions.mark_overdue(event.pk, start + dt.timedelta(minutes=101)) is False
    saved = fresh(event)
    assert saved.warned and saved.overdue and saved.overdue_since == start + dt.timedelta(minutes=100)
    assert saved.version == 1  # flags never make a person's concurrent action stale
    assert actions_of(event) == ["report", "warn", "overdue"]
    accepted = actions.accept_event(world.ws, world.report(title="已受理"))
    assert actions.mark_overdue(accepted.pk, start + dt.timedelta(days=400)) is False


# --- concurrency -----------------------------------------------------------------------------------


def test_two_writers_with_the_same_version_exactly_one_wins(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    first_read, second_read = Event.objects.get(pk=event.pk), Event.objects.get(pk=event.pk)
    actions.accept_event(world.ws, first_read)
    with refused("stale_version", 409) as info:
        actions.reject_event(world.ws, second_read, reason="重复")
    assert info.value.details == {"state": State.ACCEPTED, "version": 2}
    assert actions_of(event) == ["report", "accept"]
    assert fresh(event).state == State.ACCEPTED


def test_an_explicit_stale_version_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    with refused("stale_version"):
        actions.accept_event(world.ws, event, version=7)
    assert actions.accept_event(world.ws, event, version=1).state == State.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_and_accepts_from_threads_never_share_a_number_or_both_win(world) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent writers need PostgreSQL (SQLite serialises every write)")
    numbers: list[str] = []
    errors: list[BaseException] = []

    def report() -> None:
        try:
            numbers.append(report_in_grid_a().number)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    run_together(report, 8)
    assert not errors and len(numbers) == 8 and len(set(numbers)) == 8
    event = Event.objects.order_by("id").first()
    assert event is not None
    outcomes: list[str] = []

    def accept() -> None:
        try:
            actions.accept_event(world.ws, Event.objects.get(pk=event.pk), version=1)
            outcomes.append("won")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    run_together(accept, 4)
    assert sorted(outcomes) == ["stale_version"] * 3 + ["won"]
    assert Transition.objects.filter(event=event, action="accept").count() == 1


# --- queries and scope -----------------------------------------------------------------------------


def test_inboxes_hold_what_each_role_must_do_next(world) -> None:  # type: ignore[no-untyped-def]
    reported = world.report()
    resolved = world.drive(world.report(title="已办结"), "resolved")
    assert list(queries.inbox(world.ws, "to_accept")) == [reported]
    assert list(queries.inbox(world.grid_a, "to_accept")) == []
    assert list(queries.inbox(world.grid_a, "to_verify")) == [resolved]
    assert list(queries.inbox(world.grid_b, "to_verify")) == []
    assert set(queries.inbox(world.grid_a, "mine")) == {reported, resolved}
    with refused("unknown_box"):
        queries.inbox(world.ws, "everything")
    assert queries.inbox_counts(world.ws)["to_accept"] == 1


def test_visible_events_follow_scope_and_filters(world) -> None:  # type: ignore[no-untyped-def]
    in_a = world.report()
    in_b = actions.report_event(world.grid_b, report_input(IN_GRID_B, event_type="hazard-fire"))
    by_public = actions.report_event(world.public, report_input(reporter_name="王五", reporter_phone="13800138000"))
    assert set(queries.visible_events(world.grid_a)) == {in_a, by_public}
    assert set(queries.visible_events(world.grid_b)) == {in_b}
    assert set(queries.visible_events(world.public)) == {by_public}
    assert set(queries.visible_events(world.admin, type="hazard")) == {in_b}
    assert set(queries.visible_events(world.admin, area="330503101")) == {in_b}
    assert set(queries.visible_events(world.admin, state="reported,accepted")) == {in_a, in_b, by_public}
    today = in_a.created_at.astimezone(SH).date()
    assert queries.visible_events(world.admin, date_from=today, date_to=today).count() == 3
    assert queries.visible_events(world.admin, **{"from": today + dt.timedelta(days=1)}).count() == 0
    dispatched = world.drive(in_a, "dispatched")
    assert list(queries.visible_events(world.admin, unit=world.department.pk)) == [dispatched]
    assert list(queries.visible_events(world.admin, unit="dept-a")) == [dispatched]
    assert list(queries.visible_events(world.admin, overdue=True)) == []
    assert [t.action for t in queries.timeline(dispatched)] == ["report", "accept", "dispatch"]


# --- notifications ---------------------------------------------------------------------------------


def test_notifications_go_out_after_commit_to_the_units_the_reporter_and_the_workstation(world, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from pingan.events.models import Notification

    with django_capture_on_commit_callbacks(execute=True):
        event = world.report()
    assert set(Notification.objects.filter(event=event).values_list("user__username", flat=True)) == {"ws"}
    event = actions.accept_event(world.ws, event)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = actions.dispatch_event(world.ws, event, lead_unit=world.department, assisting_units=[world.department_b])
    assert not Notification.objects.filter(event=event, kind="dispatched").exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    assert set(Notification.objects.filter(event=event, kind="dispatched").values_list("user__username", flat=True)) == {
        "dept", "dept_b"}
    with django_capture_on_commit_callbacks(execute=True):
        event = actions.start_event(world.dept, event)
        actions.add_progress(world.dept, event, note="已到现场")
    assert Notification.objects.filter(event=event, kind="progress", user=world.grid_a).exists()

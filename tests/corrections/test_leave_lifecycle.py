"""Leave and the rest of 如燕: where a subject on approved leave may be (one answer, ``places.allowed``, for the
phone check, the boundary screening and the leave's zone), and what transfer, release and termination do to the
subject's leave requests — every change a step of the leave and an audit entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pingan.core.models import AuditEntry
from pingan.corrections import actions, boundary, jobs, places, telephony
from pingan.corrections.models import LeaveLevel, LeaveRequest, LeaveState, Subject
from pingan.events.models import Notification
from pingan.tracking.models import Alert, Target, Zone
from tests.conftest import GRID_B, TOWN_A
from tests.corrections.conftest import IN_GRID_A, TODAY
from tests.corrections.test_leave import DESTINATION, OFF_ROUTE, ON_THE_WAY, leave_input

PHONE = "13857212345"   # every subject of the fixtures has this phone


@pytest.fixture(autouse=True)
def _no_scripts() -> Any:
    telephony.unscript(PHONE)
    yield
    telephony.unscript(PHONE)


def alerts(subject: Subject, rule: str) -> list[Alert]:
    return list(Alert.objects.filter(target_id=subject.target_id, rule=rule).order_by("id"))


def on_leave(corr, heads, subject: Subject, days: float = 3, **overrides: Any) -> LeaveRequest:  # type: ignore[no-untyped-def]
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=days, start_in=dt.timedelta(0), **overrides))
    actions.approve_leave(heads["a"], leave)
    leave.refresh_from_db()
    assert leave.state == LeaveState.ON_LEAVE
    return leave


def steps(leave: LeaveRequest) -> list[tuple[str, str]]:
    return list(leave.steps.values_list("action", "actor_name"))


def audit_actions(leave: LeaveRequest) -> list[str]:
    return list(AuditEntry.objects.filter(object_id=str(leave.pk), action__startswith="pingan.leave.")
                .order_by("id").values_list("action", flat=True))


def permitted_members(subject: Subject) -> list[str]:
    target = Target.objects.get(pk=subject.target_id)
    return list(Zone.objects.filter(owner="corrections", is_active=True, targets=target, name__startswith="permitted ")
                .values_list("name", flat=True))


# -- 1. where the subject may be during a leave ------------------------------------------------------------


def test_during_leave_the_allowed_places_are_the_county_and_the_leaves_area(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    now = corr.clock.now()
    before = places.allowed(subject, now)
    assert before.leave is None and len(before.geometries) == 1 and not before.unbounded
    assert before.distance_outside_m(*IN_GRID_A) == 0 and before.distance_outside_m(*DESTINATION) > 50_000
    leave = on_leave(corr, heads, subject)
    during = places.allowed(subject, now + dt.timedelta(hours=1))
    assert during.leave == leave and len(during.geometries) == 2
    for point in (IN_GRID_A, DESTINATION, ON_THE_WAY, (DESTINATION[0] + 0.05, DESTINATION[1])):
        assert during.distance_outside_m(*point) == 0, point
    assert during.distance_outside_m(*OFF_ROUTE) > 10_000
    # the same area as the leave's tracking zone (device fixes)
    zone = Zone.objects.get(pk=LeaveRequest.objects.get(pk=leave.pk).zone_id)
    assert zone.coords == actions._leave_rings(subject, leave)
    assert places.allowed(subject, leave.ends_at).leave is None  # the window is [start, end)


def test_a_phone_check_at_the_leave_destination_is_ok_and_elsewhere_a_mismatch(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = on_leave(corr, heads, subject)
    corr.clock.advance(hours=3)  # a plausible journey to Shanghai (not an impossible jump)
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=DESTINATION, accuracy_m=800)
    at_destination = actions.start_phone_check(corr.officer_a, subject)
    assert (at_destination.verdict, at_destination.outside_m, at_destination.leave_id) == ("ok", 0, leave.pk)
    assert at_destination.alert_id is None
    # neither the phone check nor the boundary screening of its network position alerts
    for rule in ("phone_check_position", "boundary", "leave_off_destination"):
        assert not alerts(subject, rule), rule

    corr.clock.advance(hours=3)
    telephony.script(PHONE, at=OFF_ROUTE, accuracy_m=800)  # south of the district, away from the way to Shanghai
    elsewhere = actions.start_phone_check(corr.officer_a, subject)
    assert (elsewhere.verdict, elsewhere.leave_id) == ("position_mismatch", leave.pk) and elsewhere.outside_m > 10_000
    (alert,) = alerts(subject, "phone_check_position")
    assert elsewhere.alert_id == alert.pk and alert.detail["leave"] == leave.pk
    # the boundary screening says the same of the same position (one helper, no second opinion)
    (off,) = alerts(subject, "leave_off_destination")
    assert off.detail["source"] == "phonecheck" and off.detail["leave"] == leave.pk
    assert not alerts(subject, "boundary")


def test_after_the_leave_the_destination_is_outside_again(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = on_leave(corr, heads, subject, days=1)
    corr.clock.advance(days=1, hours=1)
    jobs.leave(corr.clock.now())
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=DESTINATION, accuracy_m=800)
    check = actions.start_phone_check(corr.officer_a, subject)
    assert (check.verdict, check.leave_id) == ("position_mismatch", None) and check.outside_m > 50_000
    assert alerts(subject, "phone_check_position") and alerts(subject, "boundary")
    assert not alerts(subject, "leave_off_destination")
    assert LeaveRequest.objects.get(pk=leave.pk).state == LeaveState.ON_LEAVE  # not reported back yet


def test_on_the_way_to_the_destination_neither_check_alerts(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    on_leave(corr, heads, subject)
    corr.clock.advance(hours=2)
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=ON_THE_WAY, accuracy_m=1000)
    check = actions.start_phone_check(corr.officer_a, subject)
    assert (check.verdict, check.outside_m) == ("ok", 0)
    assert not Alert.objects.filter(target_id=subject.target_id, rule__in=(
        "phone_check_position", "boundary", "leave_off_destination")).exists()


def test_a_leave_without_a_destination_point_has_nothing_to_compare_with(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = on_leave(corr, heads, subject, point=False)
    assert places.allowed(subject, corr.clock.now()).unbounded
    corr.clock.advance(hours=3)
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=DESTINATION, accuracy_m=800)
    check = actions.start_phone_check(corr.officer_a, subject)
    assert (check.verdict, check.outside_m, check.leave_id) == ("ok", None, leave.pk)
    assert not Alert.objects.filter(target_id=subject.target_id, rule__in=(
        "phone_check_position", "boundary", "leave_off_destination")).exists()


def test_the_boundary_screening_uses_the_same_allowed_places() -> None:
    """``boundary`` asks ``places.allowed`` (no copy of the rule of its own)."""
    import inspect

    source = inspect.getsource(boundary.boundary)
    assert "places.allowed(" in source and "leave_in_force" not in source
    assert "places.allowed(" in inspect.getsource(actions._finish_call)


# -- 2. transfer, release and termination during leave -------------------------------------------------------


def test_a_transfer_moves_a_pending_request_to_the_new_office(corr, heads, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    short = actions.request_leave(corr.officer_a, subject, leave_input(days=3, start_in=dt.timedelta(days=2)))
    long = actions.request_leave(corr.officer_a, subject, leave_input(days=10, start_in=dt.timedelta(days=6)))
    actions.approve_leave(heads["a"], long)  # forwarded to the bureau by the old office's head
    assert long.stage == LeaveLevel.BUREAU
    with django_capture_on_commit_callbacks(execute=True):
        actions.transfer_subject(corr.officer_a, subject, to_office=corr.office_b, to_officer=corr.officer_b,
                                 area=corr.tree[GRID_B], reason="变更执行地")
    for leave in (short, long):
        leave.refresh_from_db()
        assert (leave.state, leave.stage) == (LeaveState.PENDING, LeaveLevel.OFFICE)  # the new office decides afresh
        assert steps(leave)[-1] == ("transferred", "officer_a")
        assert leave.steps.last().note == "甲镇司法所 → 乙镇司法所"
        assert audit_actions(leave)[-1] == "pingan.leave.transferred"
    entry = AuditEntry.objects.filter(object_id=str(long.pk), action="pingan.leave.transferred").get()
    assert entry.changes["stage"] == [LeaveLevel.BUREAU, LeaveLevel.OFFICE]
    assert entry.changes["judicial_office"] == ["sfs-a", "sfs-b"]
    told = Notification.objects.filter(kind="corrections.leave_transferred")
    assert set(told.values_list("user__username", flat=True)) == {"office_head_b"} and told.count() == 2
    assert "乙镇司法所" in told.first().text
    # the old office's head no longer reaches the subject; the new one decides
    from pingan.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        actions.approve_leave(heads["a"], short)
    assert actions.approve_leave(heads["b"], short).state == LeaveState.APPROVED


def test_a_transfer_during_a_leave_keeps_the_boundary_suspended(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = on_leave(corr, heads, subject)
    zone_id = LeaveRequest.objects.get(pk=leave.pk).zone_id
    assert permitted_members(subject) == []
    actions.transfer_subject(corr.officer_a, subject, to_office=corr.office_b, to_officer=corr.officer_b,
                             area=corr.tree[GRID_B], reason="变更执行地")
    leave.refresh_from_db()
    assert (leave.state, leave.suspended, leave.zone_id) == (LeaveState.ON_LEAVE, True, zone_id)  # same county
    assert Zone.objects.get(pk=zone_id).is_active
    assert permitted_members(subject) == []  # not back in the county's zone while away on leave
    assert steps(leave)[-1] == ("transferred", "officer_a")
    actions.report_return(corr.officer_b, leave)
    assert permitted_members(subject) == ["permitted 330503"]


def test_a_transfer_to_another_permitted_area_during_a_leave_rebuilds_its_zone(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(permitted_area=corr.tree[TOWN_A])
    leave = on_leave(corr, heads, subject)
    old_zone = Zone.objects.get(pk=LeaveRequest.objects.get(pk=leave.pk).zone_id)
    actions.transfer_subject(corr.officer_a, subject, to_office=corr.office_b, to_officer=corr.officer_b,
                             area=corr.tree[GRID_B], reason="变更执行地")
    subject.refresh_from_db()
    assert subject.permitted_area.code == "330503"
    leave.refresh_from_db()
    old_zone.refresh_from_db()
    assert not old_zone.is_active and leave.zone_id != old_zone.pk and leave.zone.is_active
    assert leave.zone.coords == actions._leave_rings(subject, leave)
    assert list(leave.zone.targets.values_list("pk", flat=True)) == [subject.target_id]
    assert permitted_members(subject) == []
    entry = AuditEntry.objects.filter(object_id=str(leave.pk), action="pingan.leave.transferred").get()
    assert entry.changes["zone"] == [old_zone.pk, leave.zone_id]


def test_release_cancels_pending_requests_and_closes_the_leave_in_force(corr, heads, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(supervision_end=TODAY)
    away = on_leave(corr, heads, subject, days=0.15)                                  # 10:00 – 13:36
    pending = actions.request_leave(corr.officer_a, subject, leave_input(days=0.1, start_in=dt.timedelta(hours=5)))
    zone_id = LeaveRequest.objects.get(pk=away.pk).zone_id
    corr.clock.advance(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.release_subject(corr.officer_a, subject, note="期满解矫")
    away.refresh_from_db()
    pending.refresh_from_db()
    assert (away.state, away.suspended) == (LeaveState.CLOSED, False)
    assert not Zone.objects.get(pk=zone_id).is_active and permitted_members(subject) == []
    assert pending.state == LeaveState.CANCELLED and pending.stage == ""
    assert steps(away)[-1] == ("closed", "officer_a") and steps(pending)[-1] == ("cancelled", "officer_a")
    assert away.steps.last().note == "correction ended: subject released"
    assert audit_actions(away)[-1] == "pingan.leave.closed" and audit_actions(pending)[-1] == "pingan.leave.cancelled"
    entry = AuditEntry.objects.filter(object_id=str(pending.pk), action="pingan.leave.cancelled").get()
    assert entry.changes == {"subject": subject.number, "state": ["pending", "cancelled"], "reason": "subject released"}
    assert Notification.objects.filter(kind="corrections.leave_cancelled", user=heads["a"]).exists()
    assert Notification.objects.filter(kind="corrections.leave_closed", user=heads["a"]).exists()
    # long past the leave's end and the grace: no late return for a closed file
    corr.clock.advance(days=2)
    assert jobs.leave(corr.clock.now()) == {"started": 0, "ended": 0, "overdue": 0}
    assert not alerts(subject, actions.LEAVE_LATE_RULE)
    assert LeaveRequest.objects.get(pk=away.pk).state == LeaveState.CLOSED


def test_termination_closes_an_overdue_leave_and_clears_its_alert(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    late = on_leave(corr, heads, subject, days=1)
    approved = actions.request_leave(corr.officer_a, subject, leave_input(days=2, start_in=dt.timedelta(days=5)))
    actions.approve_leave(heads["a"], approved)
    corr.clock.advance(days=1, hours=13)
    jobs.leave(corr.clock.now())
    late.refresh_from_db()
    assert late.state == LeaveState.OVERDUE
    (alert,) = alerts(subject, actions.LEAVE_LATE_RULE)
    assert not alert.rearmed
    actions.terminate_subject(corr.officer_a, subject, reason="revoked", note="法院裁定撤销缓刑")
    late.refresh_from_db()
    approved.refresh_from_db()
    assert late.state == LeaveState.CLOSED and steps(late)[-1] == ("closed", "officer_a")
    assert approved.state == LeaveState.CANCELLED and steps(approved)[-1] == ("cancelled", "officer_a")
    alert.refresh_from_db()
    assert alert.rearmed and alert.steps.filter(action="cleared").exists()  # its condition is over; it stays to handle
    corr.clock.advance(days=10)
    assert jobs.leave(corr.clock.now()) == {"started": 0, "ended": 0, "overdue": 0}
    assert LeaveRequest.objects.get(pk=approved.pk).state == LeaveState.CANCELLED
    assert len(alerts(subject, actions.LEAVE_LATE_RULE)) == 1


def test_a_closed_file_takes_no_new_leave_steps(corr, heads) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.errors import ConflictError

    subject = corr.taken_in()
    leave = on_leave(corr, heads, subject)
    actions.terminate_subject(corr.officer_a, subject, reason="death")
    leave.refresh_from_db()
    with pytest.raises(ConflictError):
        actions.report_return(corr.officer_a, leave)
    with pytest.raises(ConflictError):
        actions.cancel_leave(corr.officer_a, leave)

"""Leave (请假外出, 社区矫正法实施办法 art. 26–27): the approval rule (up to 7 days the judicial office, longer the
county justice bureau, at most 30 days), the wrong approver, the boundary suspended for the leave's window, the
late return, and who sees leave requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.corrections import actions, jobs
from pingan.corrections.models import LeaveLevel, LeaveState
from pingan.events.models import Notification
from pingan.tracking import pipeline
from pingan.tracking.models import Alert, Device, Zone
from tests.corrections.conftest import IN_GRID_A, OUTSIDE_DISTRICT

DESTINATION = (121.47, 31.23)  # Shanghai, far outside the test district
ON_THE_WAY = (120.95, 31.05)   # between the district and Shanghai
OFF_ROUTE = (120.40, 30.50)    # south of the district, away from the way to Shanghai


def leave_input(days: float = 3, *, start_in: dt.timedelta = dt.timedelta(hours=1), point: bool = True,
                **overrides: Any) -> actions.LeaveInput:
    from pingan.core import clock

    start = clock.now() + start_in
    values: dict[str, Any] = {"destination": "上海市黄浦区（探望父亲）", "starts_at": start,
                              "ends_at": start + dt.timedelta(days=days), "reason": "父亲住院，前往探望"}
    if point:
        values.update(dest_lon=DESTINATION[0], dest_lat=DESTINATION[1], radius_km=10)
    values.update(overrides)
    return actions.LeaveInput(**values)


def fixes(device, points, start: dt.datetime, step_s: int = 60):  # type: ignore[no-untyped-def]
    device = Device.objects.select_related("target").get(pk=device.pk)
    rows = [{"t": (start + dt.timedelta(seconds=i * step_s)).isoformat(), "lon": lon, "lat": lat, "accuracy": 5}
            for i, (lon, lat) in enumerate(points)]
    return pipeline.submit(rows, source="test", device=device, now=start + dt.timedelta(seconds=len(rows) * step_s))


# -- the rule ---------------------------------------------------------------------------------------------


def test_the_level_follows_the_length(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    short = actions.request_leave(corr.officer_a, subject, leave_input(days=7))
    long = actions.request_leave(corr.officer_a, subject, leave_input(days=7.5, start_in=dt.timedelta(days=8)))
    assert (short.days, short.level, short.stage, short.state) == (7, LeaveLevel.OFFICE, LeaveLevel.OFFICE, LeaveState.PENDING)
    assert (long.days, long.level) == (8, LeaveLevel.BUREAU)
    assert list(short.steps.values_list("action", "actor_name")) == [("requested", "officer_a")]


def test_more_than_thirty_days_is_refused_with_a_clear_code(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    with pytest.raises(ValidationFailed) as exc:
        actions.request_leave(corr.officer_a, subject, leave_input(days=30.5))
    assert exc.value.code == "leave_too_long" and exc.value.details["max_days"] == 30
    assert actions.request_leave(corr.officer_a, subject, leave_input(days=30)).level == LeaveLevel.BUREAU


@pytest.mark.parametrize(("change", "code"), [
    ({"ends_at_before": True}, "bad_range"),
    ({"start_in": -dt.timedelta(hours=1)}, "in_past"),
    ({"dest_lat": None}, "invalid_destination"),
    ({"radius_km": 0}, "out_of_range"),
    ({"reason": " "}, "required"),
])
def test_a_bad_request_says_what_is_wrong(corr, change, code) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    change = dict(change)
    if change.pop("ends_at_before", False):
        data = leave_input()
        data.ends_at = data.starts_at - dt.timedelta(hours=1)
    else:
        data = leave_input(**change)
    with pytest.raises(ValidationFailed) as exc:
        actions.request_leave(corr.officer_a, subject, data)
    assert exc.value.code == code


def test_leaves_of_one_subject_do_not_overlap_and_a_pending_subject_gets_none(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    actions.request_leave(corr.officer_a, subject, leave_input(days=3))
    with pytest.raises(ConflictError) as exc:
        actions.request_leave(corr.officer_a, subject, leave_input(days=2, start_in=dt.timedelta(days=1)))
    assert exc.value.code == "leave_overlaps"
    with pytest.raises(ConflictError):
        actions.request_leave(corr.officer_a, corr.register(name="钱二"), leave_input())


def test_the_judicial_office_head_approves_up_to_seven_days(corr, heads, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    with django_capture_on_commit_callbacks(execute=True):
        leave = actions.request_leave(corr.officer_a, subject, leave_input(days=5))
    assert Notification.objects.filter(user=heads["a"], kind="corrections.leave_requested").exists()
    assert not Notification.objects.filter(user=corr.head, kind="corrections.leave_requested").exists()
    with django_capture_on_commit_callbacks(execute=True):
        actions.approve_leave(heads["a"], leave, note="同意")
    leave.refresh_from_db()
    assert (leave.state, leave.approver, leave.stage) == (LeaveState.APPROVED, heads["a"], "")
    assert [s.action for s in leave.steps.all()] == ["requested", "approved"]
    for user in (corr.officer_a, corr.subject_user):
        assert Notification.objects.filter(user=user, kind="corrections.leave_approved").exists()


def test_a_longer_leave_goes_from_the_office_to_the_bureau(corr, heads, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=10))
    with django_capture_on_commit_callbacks(execute=True):
        actions.approve_leave(heads["a"], leave, note="司法所同意，报区司法局")
    leave.refresh_from_db()
    assert (leave.state, leave.stage) == (LeaveState.PENDING, LeaveLevel.BUREAU)  # forwarded, not approved
    assert Notification.objects.filter(user=corr.head, kind="corrections.leave_forwarded").exists()
    with pytest.raises(PermissionDeniedError) as exc:
        actions.approve_leave(heads["a"], leave)
    assert exc.value.code == "bureau_approval_required"
    actions.approve_leave(corr.head, leave, note="同意")
    leave.refresh_from_db()
    assert (leave.state, leave.approver) == (LeaveState.APPROVED, corr.head)
    assert [(s.action, s.level) for s in leave.steps.all()] == [
        ("requested", "bureau"), ("forwarded", "office"), ("approved", "bureau")]


def test_the_wrong_approver_is_refused(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3))
    for user in (corr.officer_a, corr.procurator):  # they see the subject and may not approve
        with pytest.raises(PermissionDeniedError):
            actions.approve_leave(user, leave)
    for user in (heads["b"], corr.officer_b, corr.grid_worker, corr.judge, corr.enterprise):  # they do not see it
        with pytest.raises(NotFoundError):
            actions.approve_leave(user, leave)
    with pytest.raises(PermissionDeniedError):
        actions.refuse_leave(corr.procurator, leave, note="不同意")
    leave.refresh_from_db()
    assert leave.state == LeaveState.PENDING


def test_a_request_whose_period_is_over_cannot_be_approved(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=1))
    corr.clock.advance(days=2)
    with pytest.raises(ConflictError) as exc:
        actions.approve_leave(heads["a"], leave)
    assert exc.value.code == "leave_expired"
    actions.refuse_leave(heads["a"], leave, note="已过期")
    assert leave.state == LeaveState.REFUSED


def test_refusal_needs_a_reason_and_ends_the_request(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3))
    with pytest.raises(ValidationFailed):
        actions.refuse_leave(heads["a"], leave, note="")
    actions.refuse_leave(heads["a"], leave, note="理由不充分")
    assert leave.state == LeaveState.REFUSED
    with pytest.raises(ConflictError):
        actions.approve_leave(heads["a"], leave)


def test_the_subject_asks_from_their_own_login_and_may_cancel(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    login = corr.linked(subject)
    leave = actions.request_leave(login, subject, leave_input(days=2))
    assert leave.requested_by == login
    other = corr.taken_in(name="孙三")
    with pytest.raises(NotFoundError):
        actions.request_leave(login, other, leave_input(days=2))
    with pytest.raises(NotFoundError):
        actions.request_leave(corr.other_subject_user, subject, leave_input(days=2, start_in=dt.timedelta(days=5)))
    actions.cancel_leave(login, leave, note="不去了")
    assert leave.state == LeaveState.CANCELLED
    with pytest.raises(PermissionDeniedError):
        actions.request_leave(corr.procurator, subject, leave_input(days=2))


# -- the boundary during the leave ------------------------------------------------------------------------


def test_an_approved_leave_suspends_the_boundary_alert_for_its_window(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    device, _key = actions.register_subject_device(corr.officer_a, subject, uid="phone-leave-1")
    corr.authorise(subject, ground="left_area")
    permitted = Zone.objects.get(owner="corrections", name="permitted 330503")
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3, start_in=dt.timedelta(minutes=30)))
    actions.approve_leave(heads["a"], leave)
    assert jobs.leave(corr.clock.now()) == {"started": 0, "ended": 0, "overdue": 0}  # not yet
    corr.clock.advance(minutes=31)
    assert jobs.leave(corr.clock.now())["started"] == 1
    leave.refresh_from_db()
    assert (leave.state, leave.suspended) == (LeaveState.ON_LEAVE, True)
    assert subject.target_id not in permitted.targets.values_list("pk", flat=True)
    assert list(leave.zone.targets.values_list("pk", flat=True)) == [subject.target_id]
    pipeline.reset_engine()
    fixes(device, [ON_THE_WAY] * 4, corr.clock.now())
    fixes(device, [DESTINATION] * 4, corr.clock.now() + dt.timedelta(minutes=60))  # there
    assert list(Alert.objects.filter(target_id=subject.target_id).values_list("rule", flat=True)) == []

    corr.clock.advance(days=3)
    assert jobs.leave(corr.clock.now())["ended"] == 1
    leave.refresh_from_db()
    assert not leave.suspended and not Zone.objects.get(pk=leave.zone_id).is_active
    assert subject.target_id in permitted.targets.values_list("pk", flat=True)
    pipeline.reset_engine()  # the engine looks at zone changes every few seconds
    fixes(device, [DESTINATION] * 4, corr.clock.now())
    alert = Alert.objects.get(target_id=subject.target_id)
    assert (alert.rule, alert.zone_id) == ("zone_inclusion", permitted.pk)


def test_off_the_route_during_leave_the_leave_zone_alerts(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    device, _key = actions.register_subject_device(corr.officer_a, subject, uid="phone-leave-2")
    corr.authorise(subject, ground="left_area")
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3, start_in=dt.timedelta(0)))
    actions.approve_leave(heads["a"], leave)  # starts at once
    leave.refresh_from_db()
    assert leave.state == LeaveState.ON_LEAVE
    pipeline.reset_engine()
    fixes(device, [OFF_ROUTE] * 4, corr.clock.now())
    alert = Alert.objects.get(target_id=subject.target_id)
    assert (alert.rule, alert.zone_id) == ("zone_inclusion", leave.zone_id)


def test_a_late_return_alerts_once_and_the_return_is_recorded(corr, heads, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=2, start_in=dt.timedelta(0)))
    actions.approve_leave(heads["a"], leave)
    corr.clock.advance(days=2, hours=11)  # within the 12 hours' grace
    assert jobs.leave(corr.clock.now()) == {"started": 0, "ended": 1, "overdue": 0}
    assert not Alert.objects.filter(rule="leave_late_return").exists()
    corr.clock.advance(hours=1, seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.leave(corr.clock.now())["overdue"] == 1
        assert jobs.leave(corr.clock.now())["overdue"] == 0
    corr.clock.advance(hours=5)
    assert jobs.leave(corr.clock.now())["overdue"] == 0
    alert = Alert.objects.get(rule="leave_late_return")
    assert (alert.target_id, alert.severity, alert.detail["leave"]) == (subject.target_id, "alarm", leave.pk)
    assert Notification.objects.filter(user=corr.officer_a, kind="corrections.leave_overdue").count() == 1
    leave.refresh_from_db()
    assert leave.state == LeaveState.OVERDUE
    with pytest.raises(PermissionDeniedError):
        actions.report_return(corr.procurator, leave)
    actions.report_return(corr.officer_a, leave, note="已到司法所销假")
    assert leave.state == LeaveState.RETURNED and leave.returned_at == corr.clock.now()
    assert [s.action for s in leave.steps.all()] == ["requested", "approved", "started", "ended", "overdue", "returned"]


def test_a_return_in_time_raises_nothing(corr, heads) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=2, start_in=dt.timedelta(0)))
    actions.approve_leave(heads["a"], leave)
    corr.clock.advance(days=1)
    actions.report_return(corr.officer_a, leave)
    leave.refresh_from_db()
    assert (leave.state, leave.suspended) == (LeaveState.RETURNED, False)
    permitted = Zone.objects.get(owner="corrections", name="permitted 330503")
    assert subject.target_id in permitted.targets.values_list("pk", flat=True)
    corr.clock.advance(days=3)
    assert jobs.leave(corr.clock.now()) == {"started": 0, "ended": 0, "overdue": 0}
    assert not Alert.objects.exists()
    with pytest.raises(ConflictError):
        actions.cancel_leave(corr.officer_a, leave)


def test_the_share_of_the_accuracy_circle_outside_the_area() -> None:
    from pingan.corrections.boundary import share_outside
    from tests.conftest import TREE

    district = TREE[0][4]
    assert share_outside(*IN_GRID_A, 100, [district]) == 0
    assert share_outside(*OUTSIDE_DISTRICT, 100, [district]) == 1
    edge = share_outside(120.30, 30.85, 1000, [district])  # on the western border: half outside
    assert 0.45 < edge < 0.55

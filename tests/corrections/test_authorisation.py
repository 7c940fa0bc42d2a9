"""Electronic monitoring (社区矫正法 art. 29): only on the five grounds, approved by the head of the justice
bureau, at most three months a period, renewed after an assessment; the job starts it, expires it (after which
the subject's device is refused with not_monitored) and reminds the officer 7 days and 1 day before, once each."""

from __future__ import annotations

import datetime as dt

import pytest

from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.core.models import AuditEntry
from pingan.corrections import actions, jobs
from pingan.corrections.models import Ground
from pingan.events.models import Notification
from pingan.tracking import pipeline
from pingan.tracking.models import Device, Target
from tests.corrections.conftest import IN_GRID_A, TODAY


def monitored(subject) -> bool:  # type: ignore[no-untyped-def]
    return Target.objects.get(pk=subject.target_id).monitored


def device_fix(subject, device, at: dt.datetime):  # type: ignore[no-untyped-def]
    """What the HTTP door does: the device (and its target's monitoring switch) as it is now, then submit."""
    device = Device.objects.select_related("target").get(pk=device.pk)
    return pipeline.submit([{"t": at.isoformat(), "lon": IN_GRID_A[0], "lat": IN_GRID_A[1], "accuracy": 5}],
                           source="test", device=device)


def test_there_are_exactly_the_five_grounds_of_the_law() -> None:
    assert set(Ground.values) == {"prohibition_order", "left_area", "refused_report", "administrative_penalty",
                                  "revocation_pending"}


def test_monitoring_needs_one_of_the_five_grounds(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    with pytest.raises(ValidationFailed) as error:
        corr.authorise(subject, ground="officer_feels_like_it")
    assert error.value.code == "invalid_ground"
    assert not monitored(subject)


def test_an_authorisation_period_is_at_most_three_months(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    start = corr.clock.now()
    with pytest.raises(ValidationFailed) as error:
        corr.authorise(subject, ends_at=actions.add_months(start, 3) + dt.timedelta(minutes=1))
    assert error.value.code == "period_too_long"
    authorisation = corr.authorise(subject, ends_at=actions.add_months(start, 3))
    assert authorisation.state == "active"


def test_three_months_are_calendar_months_clamped_to_the_month_end() -> None:
    moment = dt.datetime(2026, 11, 30, 4, 0, tzinfo=dt.UTC)  # 30 November, 12:00 in Shanghai
    assert actions.add_months(moment, 3) == dt.datetime(2027, 2, 28, 4, 0, tzinfo=dt.UTC)


def test_the_approver_must_hold_approve_monitoring(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    for approver in (corr.officer_a, corr.officer_a2, corr.procurator, None):
        with pytest.raises(ValidationFailed) as error:
            corr.authorise(subject, approver=approver)
        assert error.value.code == "approver_not_authorised"
    assert not monitored(subject)


def test_only_a_subject_in_correction_is_monitored(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.register()
    with pytest.raises(ConflictError):
        corr.authorise(subject)


def test_monitoring_cannot_outlast_the_supervision(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(supervision_end=TODAY + dt.timedelta(days=10))
    with pytest.raises(ValidationFailed) as error:
        corr.authorise(subject, days=20)
    assert error.value.code == "beyond_supervision"


def test_a_second_live_authorisation_is_refused(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.authorise(subject)
    with pytest.raises(ConflictError) as error:
        corr.authorise(subject, ground="left_area")
    assert error.value.code == "authorisation_exists"


def test_granting_switches_monitoring_on_and_device_fixes_are_accepted(corr, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    device, key = actions.register_subject_device(corr.officer_a, subject, uid="bracelet-1")
    assert key
    refused = device_fix(subject, device, corr.clock.now())
    assert [e.code for e in refused.errors] == ["not_monitored"]
    with django_capture_on_commit_callbacks(execute=True):
        authorisation = corr.authorise(subject)
    assert monitored(subject)
    assert authorisation.periods.count() == 1 and authorisation.requested_by == corr.officer_a
    corr.clock.advance(minutes=1)
    assert device_fix(subject, device, corr.clock.now()).accepted == 1
    assert Notification.objects.filter(user=corr.procurator, kind="corrections.authorisation_granted").exists()
    entry = AuditEntry.objects.get(action="pingan.authorisation.granted")
    assert entry.changes["ground"] == "prohibition_order" and entry.changes["approver"] == "head"


def test_the_head_of_the_bureau_may_grant_it_directly(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    authorisation = actions.grant_authorisation(corr.head, subject, ground="left_area", facts="未经批准离开县域",
                                                approver=corr.head, ends_at=corr.clock.now() + dt.timedelta(days=7))
    assert authorisation.state == "active"


def test_expiry_switches_monitoring_off_and_a_device_fix_is_then_refused_not_monitored(corr, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    device, _key = actions.register_subject_device(corr.officer_a, subject, uid="bracelet-2")
    authorisation = corr.authorise(subject, days=10)
    corr.clock.advance(days=10) - dt.timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.authorisations(corr.clock.now() - dt.timedelta(seconds=1))["expired"] == 0
        assert monitored(subject)
        assert jobs.authorisations(corr.clock.now())["expired"] == 1
        assert jobs.authorisations(corr.clock.now())["expired"] == 0
    authorisation.refresh_from_db()
    assert authorisation.state == "expired" and not monitored(subject)
    corr.clock.advance(minutes=1)
    refused = device_fix(subject, device, corr.clock.now())
    assert refused.accepted == 0 and [e.code for e in refused.errors] == ["not_monitored"]
    assert Notification.objects.filter(user=corr.officer_a, kind="corrections.authorisation_expired").count() == 1


def test_the_officer_is_reminded_seven_days_and_one_day_before_expiry_once_each(corr, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.authorise(subject, days=30)
    kind = "corrections.authorisation_ending"
    with django_capture_on_commit_callbacks(execute=True):
        corr.clock.advance(days=22)  # 8 days left
        assert jobs.authorisations(corr.clock.now())["reminded"] == 0
        corr.clock.advance(days=1, seconds=1)  # just under 7 days left
        assert jobs.authorisations(corr.clock.now())["reminded"] == 1
        corr.clock.advance(hours=1)
        assert jobs.authorisations(corr.clock.now())["reminded"] == 0
        corr.clock.advance(days=5, hours=23)  # just under a day left
        assert jobs.authorisations(corr.clock.now())["reminded"] == 1
        corr.clock.advance(hours=1)
        assert jobs.authorisations(corr.clock.now())["reminded"] == 0
    assert Notification.objects.filter(user=corr.officer_a, kind=kind).count() == 2


def test_a_renewal_is_a_new_period_after_an_assessment_with_its_own_reminders(corr, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    authorisation = corr.authorise(subject, days=30)
    with django_capture_on_commit_callbacks(execute=True):
        corr.clock.advance(days=29, hours=12)
        assert jobs.authorisations(corr.clock.now())["reminded"] == 1  # the 1-day one (the 7-day one was missed)
    with pytest.raises(ValidationFailed):
        actions.renew_authorisation(corr.officer_a, authorisation, assessment=" ", approver=corr.head,
                                    ends_at=authorisation.ends_at + dt.timedelta(days=30))
    with pytest.raises(ValidationFailed) as error:
        actions.renew_authorisation(corr.officer_a, authorisation, assessment="仍有违反禁止令风险", approver=corr.head,
                                    ends_at=actions.add_months(authorisation.ends_at, 3) + dt.timedelta(hours=1))
    assert error.value.code == "period_too_long"
    old_end = authorisation.ends_at
    period = actions.renew_authorisation(corr.officer_a, authorisation, assessment="仍有违反禁止令风险",
                                         approver=corr.head, ends_at=old_end + dt.timedelta(days=60))
    assert period.number == 2 and period.starts_at == old_end and period.assessment
    with django_capture_on_commit_callbacks(execute=True):
        corr.clock.advance(days=1)  # past the first period's end: nothing expires
        counts = jobs.authorisations(corr.clock.now())
        assert counts["expired"] == 0 and monitored(subject)
        corr.clock.advance(days=53)  # 6½ days before the new end
        assert jobs.authorisations(corr.clock.now())["reminded"] == 1
        corr.clock.advance(days=6)  # ½ day before
        assert jobs.authorisations(corr.clock.now())["reminded"] == 1
        corr.clock.advance(days=1)
        assert jobs.authorisations(corr.clock.now())["expired"] == 1
    assert not monitored(subject)


def test_an_authorisation_that_starts_later_switches_monitoring_on_at_its_start(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    start = corr.clock.now() + dt.timedelta(days=2)
    authorisation = corr.authorise(subject, starts_at=start, ends_at=start + dt.timedelta(days=30))
    assert authorisation.state == "approved" and not monitored(subject)
    corr.clock.advance(days=1)
    assert jobs.authorisations(corr.clock.now())["started"] == 0
    corr.clock.advance(days=1)
    assert jobs.authorisations(corr.clock.now())["started"] == 1
    assert monitored(subject)


def test_an_authorisation_cannot_start_in_the_past(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    with pytest.raises(ValidationFailed) as error:
        corr.authorise(subject, starts_at=corr.clock.now() - dt.timedelta(days=1))
    assert error.value.code == "in_past"


def test_ending_an_authorisation_stops_monitoring_at_once(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    authorisation = corr.authorise(subject)
    actions.end_authorisation(corr.officer_a, authorisation, reason="禁止令期满")
    assert authorisation.state == "ended" and not monitored(subject)
    with pytest.raises(ConflictError):
        actions.end_authorisation(corr.officer_a, authorisation, reason="again")


def test_a_procurator_and_an_officer_of_another_town_cannot_grant_monitoring(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    with pytest.raises(PermissionDeniedError):
        actions.grant_authorisation(corr.procurator, subject, ground="left_area", facts="x", approver=corr.head,
                                    ends_at=corr.clock.now() + dt.timedelta(days=7))
    with pytest.raises(NotFoundError):
        actions.grant_authorisation(corr.officer_b, subject, ground="left_area", facts="x", approver=corr.head,
                                    ends_at=corr.clock.now() + dt.timedelta(days=7))
    assert not monitored(subject)


def test_officers_cannot_switch_monitoring_in_tracking_directly(corr) -> None:  # type: ignore[no-untyped-def]
    from pingan.tracking import actions as tracking_actions

    subject = corr.taken_in()
    with pytest.raises(PermissionDeniedError):
        tracking_actions.set_monitoring(corr.officer_a, Target.objects.get(pk=subject.target_id), on=True)

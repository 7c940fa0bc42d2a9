"""Smart phone checks (智能电话核查) and lost contact (失联): the plan by level inside the day window (never at
night unless configured), reproducible and redrawn after a level change; a due check called through the
simulator; missed after the retries, voice mismatch, a network position outside the permitted area and
provider errors each alert; lost contact after 24 hours without any position or answered check opens the record
and the alarm once, and a new position re-arms it; who may see and start checks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pingan.core.models import AuditEntry
from pingan.corrections import actions, jobs, phoneplan, telephony
from pingan.corrections.models import LostContact, PhoneCheck, PhoneCheckPlan, Record, Subject
from pingan.events.models import Notification
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, Fix, LatestPosition
from tests.corrections.conftest import IN_GRID_A, IN_GRID_B, OUTSIDE_DISTRICT, TODAY

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13857212345"   # every subject of the fixtures has this phone
BASE = "/api/v1/corrections"


@pytest.fixture(autouse=True)
def _no_scripts() -> Any:
    telephony.unscript(PHONE)
    yield
    telephony.unscript(PHONE)


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(SHANGHAI)


def alerts(subject: Subject, rule: str) -> list[Alert]:
    return list(Alert.objects.filter(target_id=subject.target_id, rule=rule).order_by("id"))


def check_now(corr, subject: Subject) -> PhoneCheck:  # type: ignore[no-untyped-def]
    return actions.start_phone_check(corr.officer_a, subject)


def retry_until_done(corr, check: PhoneCheck) -> PhoneCheck:  # type: ignore[no-untyped-def]
    """Advance the clock past each retry and run the job until the check is final."""
    for _ in range(10):
        check.refresh_from_db()
        if check.state not in ("scheduled", "calling"):
            return check
        corr.clock.advance(minutes=5)
        jobs.phone_checks(corr.clock.now())
    raise AssertionError("the check never finished")


# -- the plan --------------------------------------------------------------------------------------------


def test_strict_gets_three_checks_a_day_inside_the_window_ordinary_one_lenient_one_a_week(corr) -> None:  # type: ignore[no-untyped-def]
    handle = "a1b2c3d4e5f6a7b8c9d0"
    week = [TODAY + dt.timedelta(days=i) for i in range(7)]   # Monday to Sunday
    for day in week:
        strict = phoneplan.times(handle, "strict", day)
        assert len(strict) == 3 and strict == sorted(strict) and len(set(strict)) == 3
        assert len(phoneplan.times(handle, "ordinary", day)) == 1
    assert sum(len(phoneplan.times(handle, "lenient", day)) for day in week) == 1
    # never at night: every check of a month, for several subjects, falls between 08:00 and 21:00 local time
    for n in range(5):
        for i in range(31):
            for moment in phoneplan.times(f"subject-{n}", "strict", TODAY + dt.timedelta(days=i)):
                assert 8 <= local(moment).hour < 21 and local(moment).date() == TODAY + dt.timedelta(days=i)


def test_the_plan_is_reproducible_yet_differs_between_subjects_and_days(corr) -> None:  # type: ignore[no-untyped-def]
    first = phoneplan.times("handle-one", "strict", TODAY)
    assert phoneplan.times("handle-one", "strict", TODAY) == first   # a restart draws the same times
    assert phoneplan.times("handle-two", "strict", TODAY) != first
    assert phoneplan.times("handle-one", "strict", TODAY + dt.timedelta(days=1)) != [
        t + dt.timedelta(days=1) for t in first]


def test_configured_hours_and_rates_are_used(corr, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_CORRECTIONS_PHONE_CHECK_HOURS = "22-24"
    settings.PINGAN_CORRECTIONS_PHONE_CHECKS = {"strict": "5/day", "lenient": "0/day"}
    times = phoneplan.times("h", "strict", TODAY)
    assert len(times) == 5 and all(22 <= local(t).hour < 24 for t in times)
    assert phoneplan.times("h", "lenient", TODAY) == []
    assert len(phoneplan.times("h", "ordinary", TODAY)) == 1   # the default for a level not configured
    settings.PINGAN_CORRECTIONS_PHONE_CHECK_HOURS = "21-8"
    with pytest.raises(ValueError):
        phoneplan.times("h", "strict", TODAY)


def test_the_job_schedules_today_and_tomorrow_once_and_redraws_after_a_level_change(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    actions.change_level(corr.officer_a, subject, level="strict", reason="违规")
    pending = corr.register(name="李四", phone="13857200001")   # not taken in: no checks
    jobs.phone_checks(corr.clock.now())
    now = corr.clock.now()
    planned = list(PhoneCheck.objects.filter(subject=subject).order_by("scheduled_at"))
    tomorrow = TODAY + dt.timedelta(days=1)
    expected = [t for t in phoneplan.times(subject.handle, "strict", TODAY) if t > now] + \
        phoneplan.times(subject.handle, "strict", tomorrow)
    assert [c.scheduled_at for c in planned] == expected
    assert all(c.state == "scheduled" and c.planned for c in planned)
    assert not PhoneCheck.objects.filter(subject=pending).exists()
    jobs.phone_checks(now)   # idempotent
    assert PhoneCheck.objects.filter(subject=subject).count() == len(planned)
    assert PhoneCheckPlan.objects.filter(subject=subject).count() == 2
    actions.change_level(corr.officer_a, subject, level="lenient", reason="表现良好")
    jobs.phone_checks(now)
    redrawn = sorted(PhoneCheck.objects.filter(subject=subject).values_list("scheduled_at", flat=True))
    assert redrawn == [t for day in (TODAY, tomorrow) for t in phoneplan.times(subject.handle, "lenient", day) if t > now]


# -- calls -------------------------------------------------------------------------------------------------


def test_a_due_check_is_called_through_the_simulator_and_its_network_position_is_a_cell_fix(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1])
    jobs.phone_checks(corr.clock.now())
    first = PhoneCheck.objects.filter(subject=subject).order_by("scheduled_at").first()
    assert first is not None and first.state == "scheduled"
    telephony.script(PHONE, errors=0, answer=True, voice="match")
    corr.clock.current = first.scheduled_at - dt.timedelta(seconds=30)
    jobs.phone_checks(corr.clock.now())
    first.refresh_from_db()
    assert first.state == "scheduled" and first.attempts == 0   # not due yet
    corr.clock.current = first.scheduled_at + dt.timedelta(seconds=20)
    jobs.phone_checks(corr.clock.now())
    first.refresh_from_db()
    assert (first.state, first.answered, first.voice, first.verdict, first.attempts) == ("answered", True, "match", "ok", 1)
    assert first.provider == "simulator" and first.provider_ref.startswith("sim-")
    fix = Fix.objects.get(pk=first.fix_id)
    assert (fix.source, fix.fix_type) == ("phonecheck", "cell") and fix.accuracy_m == first.accuracy_m
    # the simulated phone is near the subject's latest position (within its cell-sized accuracy)
    assert actions._distance_m(IN_GRID_A, (fix.lon, fix.lat)) <= first.accuracy_m
    assert first.outside_m == 0 and first.expected_area == subject.permitted_area and first.home_m is not None
    assert LatestPosition.objects.get(target_id=subject.target_id).fix_id == fix.pk
    assert not Alert.objects.filter(target_id=subject.target_id).exists()
    assert AuditEntry.objects.filter(action="pingan.phonecheck.answered").count() == 1


def test_the_simulator_is_deterministic_from_its_seed(corr, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_TELEPHONY_SEED = "demo-seed"
    results = [telephony.Simulator().call("13900000001", reference=f"PC{i}") for i in range(200)]
    telephony.unscript("13900000001")
    again = [telephony.Simulator().call("13900000001", reference=f"PC{i}") for i in range(200)]
    assert [(r.answered, r.voice, r.error) for r in results] == [(r.answered, r.voice, r.error) for r in again]
    answered = sum(r.answered for r in results)
    assert 170 <= answered < 200   # most answer, not all
    assert sum(r.voice == "match" for r in results if r.answered) >= answered * 0.9
    telephony.unscript("13900000001")


def test_an_unanswered_check_is_retried_then_missed_and_alerts_once(corr, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES = 2
    subject = corr.taken_in()
    telephony.script(PHONE, errors=0, answer=False)
    check = check_now(corr, subject)
    assert (check.state, check.attempts) == ("scheduled", 1)   # the first attempt went unanswered: a retry is due
    assert not alerts(subject, "phone_check_missed")
    with django_capture_on_commit_callbacks(execute=True):
        check = retry_until_done(corr, check)
    assert (check.state, check.verdict, check.attempts, check.answered) == ("missed", "missed", 3, False)
    (alert,) = alerts(subject, "phone_check_missed")
    assert check.alert_id == alert.pk and alert.severity == "alarm" and alert.detail["check"] == check.pk
    assert Notification.objects.filter(kind="corrections.phone_check_missed").exists()
    second = retry_until_done(corr, check_now(corr, subject))   # missed again: still one alert
    assert second.state == "missed" and len(alerts(subject, "phone_check_missed")) == 1
    telephony.script(PHONE, errors=0, answer=True)
    assert check_now(corr, subject).state == "answered"
    alert.refresh_from_db()
    assert alert.rearmed and alert.state in ACTIVE_ALERT_STATES   # answered again: the condition cleared


def test_a_voice_mismatch_alerts(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    telephony.script(PHONE, errors=0, answer=True, voice="mismatch", at=IN_GRID_A, accuracy_m=500)
    check = check_now(corr, subject)
    assert (check.state, check.voice, check.verdict) == ("answered", "mismatch", "voice_mismatch")
    (alert,) = alerts(subject, "phone_check_voice")
    assert check.alert_id == alert.pk and alert.last_fix_id == check.fix_id


def test_a_network_position_outside_the_county_alerts_and_inside_is_ok(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=IN_GRID_B, accuracy_m=800)   # another town, same district
    inside = check_now(corr, subject)
    assert (inside.verdict, inside.outside_m) == ("ok", 0)
    # just outside the district's edge (120.30 E), by less than the cell's accuracy: not a mismatch
    telephony.script(PHONE, at=(120.295, 30.85), accuracy_m=1500)
    edge = check_now(corr, subject)
    assert edge.verdict == "ok" and 0 < edge.outside_m < 1500
    assert not alerts(subject, "phone_check_position")
    telephony.script(PHONE, at=OUTSIDE_DISTRICT, accuracy_m=1500)
    outside = check_now(corr, subject)
    assert outside.verdict == "position_mismatch" and outside.outside_m > 100_000
    (alert,) = alerts(subject, "phone_check_position")
    assert outside.alert_id == alert.pk and alert.detail["outside_m"] == outside.outside_m


def test_provider_errors_are_retried_then_the_check_fails(corr, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES = 2
    subject = corr.taken_in()
    telephony.script(PHONE, errors=1, answer=True, voice="match")   # one error, then the call goes through
    recovered = retry_until_done(corr, check_now(corr, subject))
    assert (recovered.state, recovered.attempts, recovered.error) == ("answered", 2, "")
    telephony.script(PHONE, errors=-1)
    failed = retry_until_done(corr, check_now(corr, subject))
    assert (failed.state, failed.verdict, failed.attempts) == ("failed", "failed", 3)
    assert "provider error" in failed.error
    (alert,) = alerts(subject, "phone_check_failed")
    assert alert.severity == "warning" and not alerts(subject, "phone_check_missed")


def test_planned_checks_do_not_call_at_night_when_the_window_has_passed(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    jobs.phone_checks(corr.clock.now())
    check = PhoneCheck.objects.filter(subject=subject).order_by("scheduled_at").first()
    assert check is not None
    telephony.script(PHONE, errors=0, answer=True)
    night = dt.datetime.combine(check.day, dt.time(23, 30), tzinfo=SHANGHAI).astimezone(dt.UTC)   # no worker ran all day
    corr.clock.current = night
    actions.run_phone_check(check.pk, corr.clock.now())
    check.refresh_from_db()
    assert (check.state, check.attempts, check.error) == ("failed", 0, "outside the call hours")
    assert not Alert.objects.filter(target_id=subject.target_id).exists()


# -- lost contact ------------------------------------------------------------------------------------------


def test_lost_contact_after_24_hours_opens_the_record_and_the_alarm_once_and_a_new_position_rearms(corr, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    corr.clock.advance(hours=23)
    assert jobs.lost_contact(corr.clock.now())["lost"] == 0
    corr.clock.advance(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.lost_contact(corr.clock.now())["lost"] == 1
    (alert,) = alerts(subject, "corrections_lost_contact")
    record = Record.objects.get(subject=subject, kind="lost_contact")
    assert record.is_open and alert.severity == "alarm" and alert.state == "open"
    assert actions.status(subject)[0] == "red"
    assert Notification.objects.filter(kind="corrections.lost_contact").exists()
    corr.clock.advance(hours=1)
    assert jobs.lost_contact(corr.clock.now())["lost"] == 0   # once
    assert Record.objects.filter(subject=subject, kind="lost_contact").count() == 1
    actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1])   # contact again
    alert.refresh_from_db()
    spell = LostContact.objects.get(subject=subject)
    assert alert.rearmed and spell.regained_at == corr.clock.now() and spell.regained_by == "checkin"
    record.refresh_from_db()
    assert record.is_open   # the officer closes it with its outcome
    actions.close_record(corr.officer_a, record, outcome="contact_restored", note="已电话联系本人")
    assert actions.status(subject)[0] != "red" or alert.state in ACTIVE_ALERT_STATES
    corr.clock.advance(hours=12)
    assert jobs.lost_contact(corr.clock.now())["lost"] == 0
    corr.clock.advance(hours=13)   # silent again for more than 24 hours after the check-in: a new spell
    assert jobs.lost_contact(corr.clock.now())["lost"] == 1
    assert LostContact.objects.filter(subject=subject).count() == 2


def test_an_answered_check_keeps_contact_and_a_device_fix_regains_it(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.clock.advance(hours=20)
    telephony.script(PHONE, errors=0, answer=True, voice="match")   # no position known: the answer counts by itself
    assert check_now(corr, subject).state == "answered"
    corr.clock.advance(hours=10)
    assert jobs.lost_contact(corr.clock.now())["lost"] == 0
    corr.clock.advance(hours=15)
    assert jobs.lost_contact(corr.clock.now())["lost"] == 1
    # a device fix through tracking (monitoring authorised) is seen by the sweep
    corr.authorise(subject)
    from pingan.tracking import actions as tracking_actions
    from pingan.tracking import pipeline

    device, _key = tracking_actions.register_device("test", subject.target, uid="bracelet-1")
    device.target.refresh_from_db()
    now = corr.clock.now()
    result = pipeline.submit([{"t": now.isoformat(), "lon": IN_GRID_A[0], "lat": IN_GRID_A[1], "accuracy": 10}],
                             source="http", device=device, now=now)
    assert not result.errors
    assert jobs.lost_contact(corr.clock.now())["regained"] == 1
    assert LostContact.objects.get(subject=subject).regained_by == "tracking"
    (alert,) = alerts(subject, "corrections_lost_contact")
    assert alert.rearmed


# -- access ------------------------------------------------------------------------------------------------


def call(client, user, method: str, path: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.generic(method, BASE + path, json.dumps(body) if body is not None else "",
                          content_type="application/json")


def test_who_sees_and_starts_phone_checks(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    telephony.script(PHONE, errors=0, answer=True, voice="match")
    started = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/phone-checks")
    assert started.status_code == 201, started.content
    check_id = started.json()["id"]
    assert started.json()["state"] == "answered" and started.json()["subject_name"] != subject.person.name
    for user in (corr.officer_a, corr.procurator, corr.head):
        assert call(client, user, "GET", f"/phone-checks/{check_id}").status_code == 200
        assert call(client, user, "GET", f"/subjects/{subject.pk}/phone-checks").json()[0]["id"] == check_id
        assert check_id in [r["id"] for r in call(client, user, "GET", "/phone-checks?day=today").json()["items"]]
    assert call(client, corr.procurator, "POST", f"/subjects/{subject.pk}/phone-checks").status_code == 403
    for who in ("grid_worker", "judge", "officer_b", "enterprise", "admin", "police", "checkpoint", "subject_user"):
        user = getattr(corr, who)
        assert call(client, user, "GET", f"/phone-checks/{check_id}").status_code == 404, who
        assert call(client, user, "GET", f"/subjects/{subject.pk}/phone-checks").status_code == 404, who
        assert call(client, user, "POST", f"/subjects/{subject.pk}/phone-checks").status_code == 404, who
        listing = call(client, user, "GET", "/phone-checks")
        assert listing.status_code == 403 or check_id not in [r["id"] for r in listing.json()["items"]], who
    assert PhoneCheck.objects.count() == 1
    filtered = call(client, corr.officer_a, "GET", "/phone-checks?verdict=missed,failed").json()["items"]
    assert filtered == []
    assert call(client, corr.officer_a, "GET", "/phone-checks?day=yesterday").status_code == 422


def test_the_retries_of_a_call_made_in_the_hours_follow_after_the_window_closes(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    late = dt.datetime.combine(TODAY, dt.time(20, 58), tzinfo=SHANGHAI).astimezone(dt.UTC)
    check = PhoneCheck.objects.create(subject=subject, scheduled_at=late, due_at=late, day=TODAY, planned=True,
                                      created_at=corr.clock.now())
    telephony.script(PHONE, errors=0, answer=False)
    corr.clock.current = late
    jobs.phone_checks(corr.clock.now())
    check.refresh_from_db()
    assert (check.state, check.attempts) == ("scheduled", 1)
    check = retry_until_done(corr, check)   # 21:03, 21:08: outside the hours, yet the same check's retries
    assert (check.state, check.attempts) == ("missed", 3)
    assert len(alerts(subject, "phone_check_missed")) == 1

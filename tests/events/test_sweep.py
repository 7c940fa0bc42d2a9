"""The sweep: yellow, red, escalation, unparking and delivery, minute by minute across the Spring Festival.

Rules here count 08:30–12:00 and 13:30–17:30 on working days. 2026: Sat 14 Feb is a make-up working day,
Sun 15 … Mon 23 Feb are holidays. Expected times are worked out by hand in the comments (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pingan.accounts.models import Organisation, OrgKind
from pingan.core import audit
from pingan.core import jobs as core_jobs
from pingan.core.clock import FrozenClock, use_clock
from pingan.core.models import AuditEntry
from pingan.events import actions, deadlines
from pingan.events import jobs as sweep_jobs
from pingan.events.actions import ReportInput
from pingan.events.models import (
    Event,
    EventType,
    IdempotencyKey,
    Level,
    Notification,
    OutboundMessage,
    RoutingRule,
    State,
    Transition,
)

SH = ZoneInfo("Asia/Shanghai")
VILLAGE_A = "330503100201"
TOWN_A = "330503100"
LON, LAT = 120.32, 30.85  # inside GRID_A's first micro-grid


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def frozen(moment: dt.datetime) -> FrozenClock:
    """A clock standing at ``moment``, in UTC as the real clock gives it (the audit chain hashes ``at`` as given)."""
    return FrozenClock(moment.astimezone(dt.UTC))


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    deadlines.clear_calendar_cache()
    yield
    deadlines.clear_calendar_cache()


@pytest.fixture
def world(tree, make_user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    workstation = Organisation.objects.create(code="ws-a", name="甲片区联动工作站", kind=OrgKind.WORKSTATION,
                                              area=tree[VILLAGE_A])
    workstation.areas.add(tree[VILLAGE_A])
    town = Organisation.objects.create(code="tg-a", name="甲镇人民政府", kind=OrgKind.TOWN_GOVERNMENT, area=tree[TOWN_A])
    staff = make_user("workstation_staff", area=VILLAGE_A, organisation="ws-a")

    def rule(code: str, **limits: Any) -> RoutingRule:
        event_type = EventType.objects.create(code=code, name=code)
        values: dict[str, Any] = {"accept_minutes": 240, "resolve_minutes": 480, "warn_percent": 50,
                                  "time_basis": "working", "auto_dispatch": True, "escalate_when_overdue": True}
        values.update(limits)
        return RoutingRule.objects.create(name=code, event_type=event_type, **values)

    rules = {
        "noise": rule("noise"),
        "road": rule("road", escalate_when_overdue=False),
        "parked": rule("parked", auto_dispatch=False, accept_minutes=20000),
        "hotline": rule("hotline", auto_dispatch=False, accept_minutes=60, time_basis="calendar"),
    }
    return {"workstation": workstation, "town": town, "staff": staff, "rules": rules}


def report(code: str) -> Event:
    return actions.report_event("system", ReportInput(event_type=code, title=f"{code} event", description="d",
                                                      lon=LON, lat=LAT))


def happened(event: Event, action: str) -> list[dt.datetime]:
    return [t.astimezone(SH) for t in Transition.objects.filter(event=event, action=action).values_list("at", flat=True)]


def run_minutes(clock: FrozenClock, until: dt.datetime, *, fine: tuple[tuple[dt.datetime, dt.datetime], ...] = (),
                coarse_minutes: int = 1) -> None:
    """The sweep as the worker runs it, once a minute (the other apps' jobs are left out, for speed).

    For speed over long spans, a test may name ``fine`` windows (aligned to the coarse step) around the expected
    moments and step ``coarse_minutes`` elsewhere: anything that fired too early in a coarse stretch would
    show up at a coarse step, which is never an expected minute."""
    while clock.now() <= until:
        sweep_jobs.sweep(clock.now())
        inside = any(start <= clock.now() < end for start, end in fine)
        clock.advance(minutes=1 if inside else coarse_minutes)


def test_the_sweep_is_registered_to_run_every_minute() -> None:
    job = core_jobs.registered()["events.sweep"]
    assert job.every == dt.timedelta(minutes=1)
    assert job.func is sweep_jobs.sweep


@pytest.mark.django_db(transaction=True)
def test_warning_overdue_escalation_and_unparking_happen_at_the_right_minutes_across_the_spring_festival(world) -> None:  # type: ignore[no-untyped-def]
    clock = frozen(at(2026, 2, 14, 9, 0))  # Saturday 14 Feb, a make-up working day
    with use_clock(clock):
        noise, road, parked = report("noise"), report("road"), report("parked")
        actions.accept_event("system", parked)
        actions.park_event("system", parked, reason="waiting for the court", review_on=dt.date(2026, 2, 18))
        # Resolve limit 480 working minutes from Sat 09:00, warning at 50 % = 240:
        #   warn: Sat 09:00–12:00 = 180, 13:30 + 60 = Sat 14:30.
        #   due:  Sat 180 + 240 = 420; Sun 15 … Mon 23 off; Tue 24 08:30 + 60 = Tue 09:30.
        assert noise.state == State.DISPATCHED
        assert noise.warn_at == at(2026, 2, 14, 14, 30)
        assert noise.resolve_due == at(2026, 2, 24, 9, 30)
        run_minutes(clock, at(2026, 2, 24, 10, 0), coarse_minutes=30, fine=(
            (at(2026, 2, 14, 14, 0), at(2026, 2, 14, 15, 0)),  # around the warning
            (at(2026, 2, 17, 23, 30), at(2026, 2, 18, 0, 30)),  # around the review date's midnight
            (at(2026, 2, 24, 9, 0), at(2026, 2, 24, 10, 30)),  # the first working morning after the festival
        ))

    assert happened(noise, "warn") == [at(2026, 2, 14, 14, 30)]
    assert happened(noise, "overdue") == [at(2026, 2, 24, 9, 30)]
    assert happened(noise, "escalate") == [at(2026, 2, 24, 9, 30)]  # in the same pass as it went red
    assert happened(road, "warn") == [at(2026, 2, 14, 14, 30)]
    assert happened(road, "overdue") == [at(2026, 2, 24, 9, 30)]
    assert happened(road, "escalate") == []  # its rule does not escalate
    assert happened(parked, "unpark") == [at(2026, 2, 18, 0, 0)]  # the review date, Shanghai midnight

    noise.refresh_from_db()
    road.refresh_from_db()
    parked.refresh_from_db()
    # At the town, a new limit runs: 480 from Tue 24 09:30 = Tue 150 + 240 = 390, Wed 25 08:30 + 90 = 10:00;
    # its warning at 240 = Tue 150, 13:30 + 90 = Tue 15:00.
    assert (noise.level, noise.lead_unit, noise.overdue, noise.warned) == (Level.TOWN, world["town"], False, False)
    assert (noise.resolve_due, noise.warn_at) == (at(2026, 2, 25, 10, 0), at(2026, 2, 24, 15, 0))
    assert (road.overdue, road.overdue_since, road.level) == (True, at(2026, 2, 24, 9, 30), Level.WORKSTATION)
    assert (parked.state, parked.parked_until) == (State.ACCEPTED, None)

    # The workstation's staff heard of each step in-app, and the console channel delivered it in the same minute.
    staff = world["staff"]
    kinds = set(Notification.objects.filter(user=staff, event=noise).values_list("kind", flat=True))
    assert {"dispatched", "warning", "overdue", "escalated"} <= kinds
    assert OutboundMessage.objects.exists()
    assert not OutboundMessage.objects.exclude(status=OutboundMessage.Status.SENT).exists()


@pytest.mark.django_db(transaction=True)
def test_a_reported_event_on_calendar_time_goes_up_one_level_per_missed_limit_through_a_holiday_night(world) -> None:  # type: ignore[no-untyped-def]
    clock = frozen(at(2026, 2, 17, 20, 0))  # a holiday evening: calendar time runs on
    with use_clock(clock):
        event = report("hotline")
        assert event.state == State.REPORTED
        run_minutes(clock, at(2026, 2, 17, 23, 30))
    # Accept within 60 calendar minutes, warning at 50 %. Each level gets a new limit from its escalation:
    # workstation 20:00 → yellow 20:30, red and up to the town 21:00; town → 21:30, 22:00 up to the district;
    # the district → 22:30, red at 23:00, and there is no level above it.
    assert happened(event, "warn") == [at(2026, 2, 17, 20, 30), at(2026, 2, 17, 21, 30), at(2026, 2, 17, 22, 30)]
    assert happened(event, "overdue") == [at(2026, 2, 17, 21, 0), at(2026, 2, 17, 22, 0), at(2026, 2, 17, 23, 0)]
    assert happened(event, "escalate") == [at(2026, 2, 17, 21, 0), at(2026, 2, 17, 22, 0)]
    event.refresh_from_db()
    assert (event.state, event.level, event.overdue) == (State.REPORTED, Level.DISTRICT, True)


@pytest.mark.django_db
def test_a_second_pass_at_the_same_moment_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    with use_clock(frozen(at(2026, 3, 2, 9, 0))):
        event = report("noise")
    later = at(2026, 3, 9, 9, 0)  # past the due time: 480 working minutes from Mon 2 Mar 09:00 is Tue 09:30
    with use_clock(frozen(later)):
        first = sweep_jobs.sweep(later)
        second = sweep_jobs.sweep(later)  # another worker whose lease overlapped, or a retry
    assert (first["warned"], first["overdue"], first["escalated"]) == (1, 1, 1)
    assert (second["warned"], second["overdue"], second["escalated"], second["unparked"]) == (0, 0, 0, 0)
    assert [len(happened(event, a)) for a in ("warn", "overdue", "escalate")] == [1, 1, 1]
    assert audit.verify().ok


@pytest.mark.django_db
def test_an_escalated_event_goes_up_again_only_when_the_new_levels_limit_runs_out(world) -> None:  # type: ignore[no-untyped-def]
    with use_clock(frozen(at(2026, 3, 2, 9, 0))):
        event = report("noise")  # due Tue 3 Mar 09:30

    def sweep_at(moment: dt.datetime) -> dict[str, int]:
        with use_clock(frozen(moment)):
            return sweep_jobs.sweep(moment)

    assert sweep_at(at(2026, 3, 4, 9, 0))["escalated"] == 1  # found late (the worker was down): up once
    event.refresh_from_db()
    # the town's limit: 480 from Wed 4 Mar 09:00 = Wed 180 + 240, Thu 5 Mar 08:30 + 60 = 09:30
    assert (event.level, event.resolve_due) == (Level.TOWN, at(2026, 3, 5, 9, 30))
    assert sweep_at(at(2026, 3, 4, 9, 1))["escalated"] == 0
    assert sweep_at(at(2026, 3, 5, 9, 29))["escalated"] == 0
    assert sweep_at(at(2026, 3, 5, 9, 30))["escalated"] == 1
    event.refresh_from_db()
    assert event.level == Level.DISTRICT
    counts = sweep_at(at(2026, 3, 20, 10, 0))
    assert (counts["overdue"], counts["escalated"]) == (1, 0)  # red, but nothing above the district
    assert sweep_jobs.to_escalate().count() == 0


@pytest.mark.django_db
def test_one_failing_event_does_not_stop_the_others_and_batches_cover_them_all(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with use_clock(frozen(at(2026, 3, 2, 9, 0))):
        events = [report("road") for _ in range(5)]
    real = actions.mark_overdue

    def flaky(event_id: int, now: dt.datetime) -> bool:
        if event_id == events[1].pk:
            raise RuntimeError("deadlock detected")
        return real(event_id, now)

    monkeypatch.setattr(actions, "mark_overdue", flaky)
    monkeypatch.setattr(sweep_jobs, "BATCH", 2)
    moment = at(2026, 3, 9, 9, 0)
    with use_clock(frozen(moment)):
        counts = sweep_jobs.sweep(moment)
    assert counts["overdue"] == 4
    assert sorted(Event.objects.filter(overdue=True).values_list("pk", flat=True)) == sorted(
        e.pk for e in events if e.pk != events[1].pk)


@pytest.mark.django_db
def test_an_event_changed_by_someone_else_meanwhile_is_left_for_the_next_pass(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with use_clock(frozen(at(2026, 3, 2, 9, 0))):
        event = report("noise")
    moment = at(2026, 3, 9, 9, 0)
    real = actions.escalate_event

    def racing(actor: Any, target: Event, **kwargs: Any) -> Event:
        Event.objects.filter(pk=target.pk).update(version=target.version + 1)  # a person's action got there first
        return real(actor, target, **kwargs)

    monkeypatch.setattr(actions, "escalate_event", racing)
    with use_clock(frozen(moment)):
        assert sweep_jobs.sweep(moment)["escalated"] == 0
        monkeypatch.setattr(actions, "escalate_event", real)
        assert sweep_jobs.sweep(moment + dt.timedelta(minutes=1))["escalated"] == 1
    assert len(happened(event, "escalate")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_supervision_deadline_that_passes_is_marked_once_and_told_to_the_units_and_the_supervisor(world, make_user) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user("district_admin", organisation="zfw")  # 政法委
    clock = frozen(at(2026, 3, 3, 9, 0))
    with use_clock(clock):
        event = report("hotline")
        done = report("hotline")
        for e in (event, done):
            actions.supervise_event(supervisor, Event.objects.get(pk=e.pk), note="三天内办结", due=at(2026, 3, 3, 11, 0))
        actions.reject_event("system", Event.objects.get(pk=done.pk), reason="not ours")  # final: never marked
        assert sweep_jobs.sweep(at(2026, 3, 3, 10, 59))["supervision_lapsed"] == 0
        assert sweep_jobs.sweep(at(2026, 3, 3, 11, 0))["supervision_lapsed"] == 1
        assert sweep_jobs.sweep(at(2026, 3, 3, 11, 1))["supervision_lapsed"] == 0
        saved = Event.objects.get(pk=event.pk)
        assert saved.supervise_lapsed and not Event.objects.get(pk=done.pk).supervise_lapsed
        assert happened(event, "supervision_lapsed") == [at(2026, 3, 3, 11, 0)]
        assert AuditEntry.objects.filter(action="pingan.event.supervision_lapsed", object_id=str(event.pk)).count() == 1
        told = set(Notification.objects.filter(kind="supervision_lapsed").values_list("user__username", flat=True))
        assert told == {world["staff"].username, supervisor.username}  # the workstation and the supervisor's office

        # a new supervision with a new deadline clears the mark, and its own deadline is watched again
        actions.supervise_event(supervisor, saved, note="再督办", due=at(2026, 3, 4, 9, 0))
        assert not Event.objects.get(pk=event.pk).supervise_lapsed
        assert sweep_jobs.sweep(at(2026, 3, 4, 9, 0))["supervision_lapsed"] == 1
        assert len(happened(event, "supervision_lapsed")) == 2


def test_idempotency_keys_expire_after_their_days_and_then_a_retry_is_a_new_report(world, make_user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_IDEMPOTENCY_DAYS = 7
    assert core_jobs.registered()["events.idempotency_expiry"].every == dt.timedelta(hours=1)
    reporter = make_user("grid_worker", area="330503100201001")
    data = ReportInput(event_type="noise", title="噪音", description="d", lon=LON, lat=LAT)
    with use_clock(frozen(at(2026, 3, 1, 9, 0))):
        old = actions.report_event(reporter, data, idempotency_key="old-key")
    with use_clock(frozen(at(2026, 3, 6, 9, 0))):
        new = actions.report_event(reporter, data, idempotency_key="new-key")
    assert sweep_jobs.idempotency_expiry(at(2026, 3, 8, 8, 59)) == {"dropped": 0}
    assert sweep_jobs.idempotency_expiry(at(2026, 3, 8, 9, 1)) == {"dropped": 1}
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    assert AuditEntry.objects.filter(action="pingan.idempotency.expired").count() == 1
    with use_clock(frozen(at(2026, 3, 8, 9, 2))):
        assert actions.report_event(reporter, data, idempotency_key="new-key").pk == new.pk  # still a replay
        assert actions.report_event(reporter, data, idempotency_key="old-key").pk != old.pk  # a new report

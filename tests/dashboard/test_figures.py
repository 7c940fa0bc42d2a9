"""The dashboard's figures: the rollup recounted from the raw rows, today counted live, scope, periods."""

from __future__ import annotations

import datetime as dt

import pytest

from pingan.accounts import policy
from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.dashboard import figures as f
from pingan.dashboard import rollup
from pingan.dashboard.models import DailyFigures, DailyTotals
from pingan.events import actions
from pingan.events.bulk import load_history
from pingan.events.models import Event
from tests.conftest import GRID_A, TOWN_A, TOWN_B
from tests.dashboard.conftest import IN_TOWN_A, IN_TOWN_B, MEASURES, NOW, SHANGHAI, recount, rollup_sums

TODAY = NOW.date()
YESTERDAY = TODAY - dt.timedelta(days=1)


def report(where: tuple[float, float], **extra: object) -> Event:
    return actions.report_event("system", actions.ReportInput(
        event_type="dispute-neighbour", title="邻里噪声", description="夜间噪声", lon=where[0], lat=where[1], **extra))


def resolve(event: Event, department: object, method: str = "mediated") -> Event:
    event = actions.accept_event("system", event)
    event = actions.dispatch_event("system", event, lead_unit=department)
    event = actions.start_event("system", event)
    return actions.resolve_event("system", event, result="已调解", measures="上门调解", method=method)


def close(event: Event, satisfaction: int) -> Event:
    event = actions.verify_event("system", event)
    return actions.close_event("system", event, satisfaction=satisfaction)


@pytest.fixture
def history(setup, clock):  # type: ignore[no-untyped-def]
    loaded = load_history(1500, now=NOW, days=120, seed=7)
    assert loaded.events == 1500
    return loaded


# -- the rollup ------------------------------------------------------------------------------------

def test_the_rollup_equals_a_recount_from_the_raw_rows(history) -> None:  # type: ignore[no-untyped-def]
    rollup.refresh(NOW)
    first = TODAY - dt.timedelta(days=130)
    assert rollup.complete_through() == YESTERDAY
    counted = recount(first, YESTERDAY)
    assert counted["reported"] > 1000 and counted["resolved"] > 1000 and counted["mediated"] > 0
    assert rollup_sums(DailyFigures, first, YESTERDAY) == counted
    assert rollup_sums(DailyTotals, first, YESTERDAY) == counted
    for town in (TOWN_A, TOWN_B):
        by_town = recount(first, YESTERDAY, town__code=town)
        assert by_town["reported"] > 0
        assert rollup_sums(DailyTotals, first, YESTERDAY, town__code=town) == by_town
    # and day by day, for a few days
    for back in (1, 2, 10, 45):
        day = TODAY - dt.timedelta(days=back)
        assert rollup_sums(DailyTotals, day, day) == recount(day, day)


def test_a_refresh_of_unchanged_days_writes_nothing(history) -> None:  # type: ignore[no-untyped-def]
    assert rollup.refresh(NOW)["rows"] > 0
    again = rollup.refresh(NOW + dt.timedelta(minutes=5))
    assert not again["full"]
    assert again["rows"] == 0


def test_the_rollup_follows_a_reopened_event_on_an_older_day(history, setup, clock) -> None:  # type: ignore[no-untyped-def]
    rollup.refresh(NOW)
    closed = (Event.objects.filter(state="closed", closed_at__gte=NOW - dt.timedelta(days=20),
                                   closed_at__lt=NOW - dt.timedelta(days=2)).order_by("closed_at").first())
    assert closed is not None
    day = closed.closed_at.astimezone(SHANGHAI).date()  # type: ignore[union-attr]
    before = rollup_sums(DailyTotals, day, day)["closed"]
    actions.reopen_event("system", closed, reason="群众再次反映")
    clock.advance(minutes=5)
    rollup.refresh()
    assert rollup_sums(DailyTotals, day, day) == recount(day, day)
    assert rollup_sums(DailyTotals, day, day)["closed"] == before - 1


def test_the_periodic_job_is_registered_every_five_minutes() -> None:
    from pingan.core import jobs

    job = jobs.registered()["dashboard.rollup"]
    assert job.every == dt.timedelta(minutes=5)


# -- figures ---------------------------------------------------------------------------------------

def test_figures_add_today_live_to_the_rollup(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("district_admin")
    load_history(300, now=NOW - dt.timedelta(days=1), days=60, seed=3)
    rollup.refresh(NOW)
    flt = f.parse_filters(period="day")
    before = f.figures(admin, flt).totals
    assert f.figures(admin, flt).source == "rollup"
    event = resolve(report(IN_TOWN_A), setup["department"])
    close(event, satisfaction=5)
    report(IN_TOWN_B)
    after = f.figures(admin, f.parse_filters(period="day")).totals
    assert after["reported"] == before["reported"] + 2
    assert after["events_resolved"] == before["events_resolved"] + 1
    assert after["disputes_mediated"] == before["disputes_mediated"] + 1
    assert after["closed"] == before["closed"] + 1
    assert after["satisfied"] == before["satisfied"] + 1
    assert after["open"] == before["open"] + 1  # the second report
    # the cards equal a recount of the raw rows over the same range
    first = f.parse_filters(period="day").first
    counted = recount(first, TODAY)
    assert {m: after[k] for m, k in zip(MEASURES, ("reported", "repeat_reports", "events_resolved", "resolved_on_time",
                                                      "disputes_mediated", "closed", "rated", "satisfied"), strict=True)} == counted


def test_the_rates_are_on_time_over_resolved_and_satisfied_over_rated(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("district_admin")
    for satisfaction in (5, 4, 3, 1):
        close(resolve(report(IN_TOWN_A), setup["department"]), satisfaction)
    resolve(report(IN_TOWN_A), setup["department"], method="advised")  # resolved, not closed
    totals = f.figures(admin, f.parse_filters(period="day")).totals
    assert totals["events_resolved"] == 5 - 1  # the event rated 1 reopened at once (≤ 2)
    assert totals["closed"] == 3
    assert totals["satisfaction_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert totals["on_time_rate"] == pytest.approx(totals["resolved_on_time"] / 4, abs=1e-4)
    assert totals["disputes_mediated"] == 3


def test_a_town_user_sees_only_their_town(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    load_history(400, now=NOW - dt.timedelta(days=1), days=90, seed=11)
    rollup.refresh(NOW)
    report(IN_TOWN_A)
    deputy = make_user("deputy", area=TOWN_A)
    admin = make_user("district_admin")
    flt = f.parse_filters(period="month")
    mine = f.figures(deputy, flt)
    everything = f.figures(admin, flt)
    assert mine.source == "rollup"  # a town scope is answered by the town rows
    assert [row["code"] for row in mine.by_town] == [TOWN_A]
    assert mine.totals["reported"] == recount(flt.first, flt.last, town__code=TOWN_A)["reported"]
    assert everything.totals["reported"] == recount(flt.first, flt.last)["reported"]
    assert mine.totals["reported"] < everything.totals["reported"]
    assert mine.totals["open"] == Event.objects.filter(town__code=TOWN_A, state__in=[
        "reported", "accepted", "dispatched", "returned", "in_progress", "resolved", "verified"]).count()


def test_a_scope_the_rollup_cannot_answer_is_counted_live_with_the_same_numbers(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    load_history(300, now=NOW - dt.timedelta(days=1), days=60, seed=5)
    rollup.refresh(NOW)
    grid_scoped = make_user("workstation_staff", area=GRID_A)  # a grid is finer than the rollup's villages
    flt = f.parse_filters(period="week")
    board = f.figures(grid_scoped, flt)
    assert board.source == "live"
    assert board.totals["reported"] == recount(flt.first, flt.last, area__code__startswith=GRID_A)["reported"]


def test_an_organisation_scope_counts_an_event_with_several_tasks_once(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    from pingan.accounts.models import Organisation, OrgKind

    helper = Organisation.objects.create(code="dept-y", name="市场监管局", kind=OrgKind.DEPARTMENT)
    staff = make_user("department_staff", area=TOWN_B, organisation="dept-x")
    event = actions.accept_event("system", report(IN_TOWN_A))
    actions.dispatch_event("system", event, lead_unit=setup["department"], assisting_units=[helper])
    totals = f.figures(staff, f.parse_filters(period="day")).totals
    assert totals["reported"] == 1  # seen through its task, counted once
    assert totals["open"] == 1


def test_the_rollup_plus_the_events_seen_through_tasks_equal_a_live_count(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    from pingan.accounts.models import Organisation, OrgKind

    helper = Organisation.objects.create(code="dept-y", name="市场监管局", kind=OrgKind.DEPARTMENT)
    load_history(300, now=NOW - dt.timedelta(days=4), days=30, seed=9)
    clock.advance(days=-3)
    handled = actions.accept_event("system", report(IN_TOWN_A))  # town A, handled by dept-x: outside the area
    actions.dispatch_event("system", handled, lead_unit=setup["department"], assisting_units=[helper])
    report(IN_TOWN_B)
    clock.advance(days=3)
    rollup.refresh()
    staff = make_user("department_staff", area=TOWN_B, organisation="dept-x")
    flt = f.parse_filters(period="week")
    board = f.figures(staff, flt)
    assert board.source == "rollup"
    ids = set(policy.restrict(staff, "events.view_dashboard", Event.objects.all()).values_list("pk", flat=True))
    assert handled.pk in ids
    counted = recount(flt.first, flt.last, pk__in=ids)
    assert counted["reported"] > recount(flt.first, flt.last, town__code=TOWN_B)["reported"]
    assert {m: board.totals[k] for m, k in zip(MEASURES, ("reported", "repeat_reports", "events_resolved", "resolved_on_time",
                                                          "disputes_mediated", "closed", "rated", "satisfied"), strict=True)} == counted
    assert {row["code"] for row in board.by_town} == {TOWN_A, TOWN_B}


def test_figures_are_refused_without_the_permission(setup, make_user) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDeniedError):
        f.figures(make_user("grid_worker", area=GRID_A), f.parse_filters())


def test_a_report_just_before_midnight_in_shanghai_counts_on_that_day(setup, make_user) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.clock import FrozenClock, use_clock

    admin = make_user("district_admin")
    late = dt.datetime(2026, 3, 1, 23, 50, tzinfo=SHANGHAI)  # 15:50 UTC
    with use_clock(FrozenClock(late)) as c:
        report(IN_TOWN_A)
        c.advance(minutes=20)  # 00:10 on 2 March in Shanghai, still 1 March in UTC
        report(IN_TOWN_A)
        board = f.figures(admin, f.parse_filters(period="day", start="2026-03-01", end="2026-03-02"))
    days = {row["period"]: row["reported"] for row in board.trend}
    assert days == {"2026-03-01": 1, "2026-03-02": 1}


# -- periods and filters -----------------------------------------------------------------------------

def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    assert f.bucket(dt.date(2026, 3, 18), "week") == ("2026-W12", dt.date(2026, 3, 16))
    assert f.bucket(dt.date(2026, 3, 18), "month") == ("2026-03", dt.date(2026, 3, 1))
    assert f.bucket(dt.date(2026, 3, 18), "year") == ("2026", dt.date(2026, 1, 1))
    assert f.default_range("month", dt.date(2026, 3, 18)) == (dt.date(2025, 4, 1), dt.date(2026, 3, 18))
    assert f.default_range("week", dt.date(2026, 3, 18)) == (dt.date(2025, 12, 29), dt.date(2026, 3, 18))
    labels = [label for label, _ in f.buckets(dt.date(2025, 12, 30), dt.date(2026, 2, 2), "month")]
    assert labels == ["2025-12", "2026-01", "2026-02"]


def test_bad_filters_are_refused_with_stable_codes(setup) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as bad_period:
        f.parse_filters(period="quarter")
    assert bad_period.value.code == "invalid_period"
    with pytest.raises(ValidationFailed) as backwards:
        f.parse_filters(start="2026-03-02", end="2026-03-01")
    assert backwards.value.code == "invalid_range"
    with pytest.raises(ValidationFailed) as too_long:
        f.parse_filters(period="day", start="2020-01-01", end="2026-01-01")
    assert too_long.value.code == "range_too_long"
    with pytest.raises(NotFoundError):
        f.parse_filters(town="999999999")
    assert f.parse_filters(town=TOWN_A).town is not None


def test_an_event_in_scope_with_several_tasks_is_listed_once_without_distinct(setup, clock, make_user) -> None:  # type: ignore[no-untyped-def]
    """The scope's task term is a subquery, not a join: an event in the user's area with two tasks (one of them
    the user's unit's) comes back once, and the list needs no DISTINCT (which sorts every row before a LIMIT)."""
    from pingan.accounts.models import Organisation, OrgKind
    from pingan.events import queries

    helper = Organisation.objects.create(code="dept-y", name="市场监管局", kind=OrgKind.DEPARTMENT)
    staff = make_user("department_staff", area=TOWN_B, organisation="dept-x")
    here = actions.accept_event("system", report(IN_TOWN_B))
    actions.dispatch_event("system", here, lead_unit=setup["department"], assisting_units=[helper])
    away = actions.accept_event("system", report(IN_TOWN_A))
    actions.dispatch_event("system", away, lead_unit=setup["department"], assisting_units=[helper])
    report(IN_TOWN_A)  # neither in the area nor handled by dept-x
    assert here.tasks.count() == 2
    listed = policy.restrict(staff, "events.view_event", Event.objects.all())
    assert sorted(listed.values_list("pk", flat=True)) == sorted([here.pk, away.pk])
    assert "DISTINCT" not in str(listed.query)
    assert sorted(e.pk for e in queries.inbox(staff, "to_handle")) == sorted([here.pk, away.pk])

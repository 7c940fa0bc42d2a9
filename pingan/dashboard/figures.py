"""The dashboard's figures: the article's (visits, places inspected, joint enforcement actions,
events resolved, disputes mediated) and the rates (按期办结率, satisfaction), by town, workstation and
period, scoped by the access policy (``events.view_dashboard`` on events).

Where the figures come from:

- Counts over a date range (reported, resolved, mediated, closed, ratings, repeat reports) are
  summed from the rollup (:mod:`pingan.dashboard.rollup`) for finished days, plus a live count of
  the days the rollup has not reached yet (today). The rollup is used when the user's scope is
  expressible on its rows: the whole district or towns (``DailyTotals``), villages
  (``DailyFigures``); the rows are restricted by the same policy. Any other scope (an
  organisation's tasks, a grid, a per-object grant) is counted live from the events the policy lets
  the user see — the same numbers, only slower.
- Open, overdue and parked, and the open events by state, are as of now, whatever the period.
- Visits, places inspected and joint enforcement actions come from ``pingan.fieldwork.figures``
  (0 when that module is missing).

Rates: on-time closure = resolved on time / resolved; satisfaction = closed rated ≥ 4 / closed with a
rating; ``None`` when nothing was resolved (rated) in the range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core import clock
from pingan.core.errors import NotFoundError, ValidationFailed
from pingan.dashboard import rollup
from pingan.dashboard.models import DailyFigures, DailyTotals
from pingan.events.models import OPEN_STATES, Event, State
from pingan.events.permissions import VIEW_DASHBOARD
from pingan.geo.models import Area

PERM = VIEW_DASHBOARD.code
PERIODS = ("day", "week", "month", "year")
PERIOD_LABELS = {"day": _("day"), "week": _("week"), "month": _("month"), "year": _("year")}
MAX_BUCKETS = 400
# the dashboard's name → the name in pingan.fieldwork.figures.counts()
FIELDWORK_KEYS = {"visits": "visits", "places_inspected": "places_checked", "joint_actions": "joint_enforcements"}
ROLLUP_LEVELS = ("district", "town", "village")
EXTRA_IDS_MAX = 5000  # events reached only through a scope's other terms, listed by id up to this many


@dataclass(frozen=True)
class Filters:
    period: str
    first: dt.date  # local days, inclusive
    last: dt.date
    town: Area | None = None
    workstation: Organisation | None = None

    @property
    def start(self) -> dt.datetime:
        return rollup.day_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return rollup.day_start(self.last + dt.timedelta(days=1))


@dataclass
class Dashboard:
    filters: Filters
    totals: dict[str, Any]
    by_town: list[dict[str, Any]]
    by_workstation: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    states: list[dict[str, Any]]
    source: str  # "rollup" or "live"
    as_of: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)


# -- periods -------------------------------------------------------------------------------------

def bucket(day: dt.date, period: str) -> tuple[str, dt.date]:
    """The period a day falls in: its label and first day."""
    if period == "day":
        return day.isoformat(), day
    if period == "week":
        year, week, weekday = day.isocalendar()
        return f"{year}-W{week:02d}", day - dt.timedelta(days=weekday - 1)
    if period == "month":
        return f"{day.year}-{day.month:02d}", day.replace(day=1)
    return str(day.year), day.replace(month=1, day=1)


def default_range(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """Day: the last 30 days; week: the last 12 weeks; month: the last 12 months; year: three years."""
    if period == "day":
        return today - dt.timedelta(days=29), today
    if period == "week":
        return bucket(today, "week")[1] - dt.timedelta(weeks=11), today
    if period == "month":
        month = today.year * 12 + today.month - 1 - 11
        return dt.date(month // 12, month % 12 + 1, 1), today
    return dt.date(today.year - 2, 1, 1), today


def buckets(first: dt.date, last: dt.date, period: str) -> list[tuple[str, dt.date]]:
    out: list[tuple[str, dt.date]] = []
    day = first
    while day <= last:
        label, start = bucket(day, period)
        out.append((label, max(start, first)))
        if period == "day":
            day += dt.timedelta(days=1)
        elif period == "week":
            day = start + dt.timedelta(weeks=1)
        elif period == "month":
            day = (start + dt.timedelta(days=32)).replace(day=1)
        else:
            day = start.replace(year=start.year + 1)
    return out


def _date(value: str | dt.date | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("invalid_date", f"{name}: expected YYYY-MM-DD", field=name) from None


def parse_filters(*, period: str | None = None, town: str | None = None, workstation: str | None = None,
                  start: str | dt.date | None = None, end: str | dt.date | None = None) -> Filters:
    """Filters from request parameters (codes and ISO dates); the range defaults to the period's."""
    period = period or "month"
    if period not in PERIODS:
        raise ValidationFailed("invalid_period", f"period must be one of {', '.join(PERIODS)}", field="period")
    today = rollup.local_date(clock.now())
    first, last = _date(start, "from"), _date(end, "to")
    default_first, default_last = default_range(period, last or today)
    first, last = first or default_first, last or default_last
    if first > last:
        raise ValidationFailed("invalid_range", "from is after to", field="from")
    if len(buckets(first, last, period)) > MAX_BUCKETS:
        raise ValidationFailed("range_too_long", f"at most {MAX_BUCKETS} periods", field="period")
    town_obj = ws_obj = None
    if town:
        town_obj = Area.objects.filter(code=town, level="town").defer("geometry_wkb").first()
        if town_obj is None:
            raise NotFoundError("not_found", "no such town", field="town")
    if workstation:
        ws_obj = Organisation.objects.filter(code=workstation, kind="workstation").first()
        if ws_obj is None:
            raise NotFoundError("not_found", "no such workstation", field="workstation")
    return Filters(period, first, last, town_obj, ws_obj)


# -- sources -------------------------------------------------------------------------------------

def _filtered(qs: QuerySet[Any], filters: Filters) -> QuerySet[Any]:
    if filters.town is not None:
        qs = qs.filter(town=filters.town)
    if filters.workstation is not None:
        qs = qs.filter(workstation=filters.workstation)
    return qs


@dataclass(frozen=True)
class _Plan:
    """How to count a scope: a rollup table for its area part (None: everything live) and, for the rest
    of the scope (an organisation's tasks, grants), a filter of the events it adds, counted live."""

    table: type[DailyFigures] | type[DailyTotals] | None
    area: Q | None = None  # the area part, as the policy wrote it
    rest: Q | None = None  # the other terms


def _plan(scope: Q) -> _Plan:
    """DailyTotals answers area subtrees at town level or above (and the whole district), DailyFigures
    subtrees down to village level; a scope with any other shape is counted live."""
    if not scope:
        return _Plan(DailyTotals)
    leaves: list[tuple[str, Any]] = []

    def flatten(node: Any) -> bool:
        if isinstance(node, Q):
            if node.negated or (node.connector != Q.OR and len(node.children) > 1):
                return False
            return all(flatten(child) for child in node.children)
        leaves.append(node)
        return True

    if not flatten(scope):
        return _Plan(None)
    codes = [str(value) for name, value in leaves if name == "area__code__startswith"]
    others = [leaf for leaf in leaves if leaf[0] != "area__code__startswith"]
    levels = dict(Area.objects.filter(code__in=codes).values_list("code", "level"))
    if not codes or any(levels.get(code) not in ROLLUP_LEVELS for code in codes):
        return _Plan(None)
    table = DailyTotals if all(levels[code] in ("district", "town") for code in codes) else DailyFigures
    area = Q(*[Q(area__code__startswith=code) for code in codes], _connector=Q.OR)
    rest = Q(*[Q(leaf) for leaf in others], _connector=Q.OR) if others else None
    return _Plan(table, area, rest)


Groups = dict[Any, dict[str, int]]


@dataclass
class Counts:
    """The range's counts three ways: per local day, per town id, per workstation id."""

    days: Groups = field(default_factory=dict)
    towns: Groups = field(default_factory=dict)
    workstations: Groups = field(default_factory=dict)

    def add(self, day: dt.date, town: int | None, ws: int | None, values: Mapping[str, int]) -> None:
        for groups, key in ((self.days, day), (self.towns, town), (self.workstations, ws)):
            _add(groups.setdefault(key, dict.fromkeys(rollup.MEASURES, 0)), values)

    def add_tally(self, counted: rollup.Tally) -> None:
        for (day, _area, town, ws), values in counted.items():
            self.add(day, town, ws, values)


def _rollup_counts(user: Any, table: type[DailyFigures] | type[DailyTotals], filters: Filters, first: dt.date,
                   last: dt.date) -> Counts:
    """Sums of the rollup rows in scope, grouped in the database (a few hundred rows come back)."""
    rows = policy.restrict(user, PERM, _filtered(table.objects.all(), filters))
    rows = rows.filter(day__gte=first, day__lte=last).order_by()
    sums = {name: Sum(name) for name in rollup.MEASURES}
    out = Counts()
    for groups, column in ((out.days, "day"), (out.towns, "town_id"), (out.workstations, "workstation_id")):
        for row in rows.values(column).annotate(**sums):
            groups[row[column]] = {m: row[m] or 0 for m in rollup.MEASURES}
    return out


def _counts(user: Any, filters: Filters) -> tuple[Counts, Any, str]:
    """The range's counts, and how to narrow the events to the user's scope (for the snapshot)."""
    scope = policy.scope_q(user, PERM, Event)
    events = _filtered(Event.objects.all(), filters)
    if scope is None:
        return Counts(), lambda qs: qs.none(), "live"

    def visible(qs: QuerySet[Event]) -> QuerySet[Event]:
        if not scope:
            return qs
        narrowed = policy.restrict(user, PERM, qs)
        # A restriction that joins rows that can repeat makes restrict() add DISTINCT, which would come after
        # the counts' GROUP BY: then by ids, so that each event counts once.
        return Event.objects.filter(pk__in=narrowed.values("pk")) if narrowed.query.distinct else narrowed

    plan = _plan(scope)
    through = rollup.complete_through() if plan.table is not None else None
    counts = Counts()
    if plan.table is None or through is None or through < filters.first:
        counts.add_tally(rollup.tally(events, filters.first, filters.last, by_area=False, narrow=visible))
        return counts, visible, "live"
    counts = _rollup_counts(user, plan.table, filters, filters.first, min(filters.last, through))
    counts.add_tally(rollup.tally(events, through + dt.timedelta(days=1), filters.last, by_area=False, narrow=visible))
    if plan.rest is not None and plan.area is not None:
        # Events the scope reaches only through its other terms (an organisation's tasks, what the user
        # reported), before the days counted live above. Each term is looked up on its own index first
        # (typically a few hundred events, often none), so the range's events are never scanned against
        # the terms or joined to their tasks; each event counts once.
        reached: set[int] = set()
        for term in plan.rest.children:
            reached.update(Event.objects.filter(term).values_list("pk", flat=True)[:EXTRA_IDS_MAX + 1])
        if len(reached) > EXTRA_IDS_MAX:  # too many to list: the same as subqueries
            extra = events.filter(Q(*[Q(pk__in=Event.objects.filter(term).values("pk")) for term in plan.rest.children],
                                    _connector=Q.OR))
        else:
            extra = events.filter(pk__in=sorted(reached))
        if reached:
            counts.add_tally(rollup.tally(extra.exclude(plan.area), filters.first, min(filters.last, through),
                                          by_area=False))
    return counts, visible, "rollup"


def fieldwork_counts(user: Any, filters: Filters) -> dict[str, int]:
    """Visits, places inspected and joint enforcement actions from the fieldwork module (0 if absent)."""
    try:
        from pingan.fieldwork.figures import counts
    except ImportError:
        return dict.fromkeys(FIELDWORK_KEYS, 0)
    found: Mapping[str, Any] = counts(
        user, town_code=filters.town.code if filters.town else None,
        workstation_id=filters.workstation.pk if filters.workstation else None, since=filters.start, until=filters.end,
    )
    return {key: int(found.get(source) or 0) for key, source in FIELDWORK_KEYS.items()}


# -- assembly ------------------------------------------------------------------------------------

def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _summary(values: Mapping[str, int]) -> dict[str, Any]:
    return {
        "reported": values["reported"],
        "events_resolved": values["resolved"],
        "resolved_on_time": values["resolved_on_time"],
        "disputes_mediated": values["mediated"],
        "closed": values["closed"],
        "rated": values["rated"],
        "satisfied": values["satisfied"],
        "repeat_reports": values["repeats"],
        "on_time_rate": _rate(values["resolved_on_time"], values["resolved"]),
        "satisfaction_rate": _rate(values["satisfied"], values["rated"]),
    }


def _add(into: dict[str, int], values: Mapping[str, int]) -> None:
    for name in rollup.MEASURES:
        into[name] += values.get(name, 0)


def _snapshot(visible: QuerySet[Event]) -> tuple[list[dict[str, Any]], dict[tuple[int | None, int | None], dict[str, int]]]:
    """The events not finished now (open or parked): by state, and open / overdue / parked per (town,
    workstation). One query on the state index: a few percent of all events."""
    labels = dict(State.choices)
    by_state: dict[str, int] = {}
    places: dict[tuple[int | None, int | None], dict[str, int]] = {}
    current = (visible.order_by().filter(state__in=[*OPEN_STATES, State.PARKED])
               .values("town_id", "workstation_id", "state", "overdue").annotate(n=Count("id")))
    for row in current:
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        entry = places.setdefault((row["town_id"], row["workstation_id"]), {"open": 0, "overdue": 0, "parked": 0})
        if row["state"] == State.PARKED:
            entry["parked"] += row["n"]
        else:
            entry["open"] += row["n"]
            if row["overdue"]:
                entry["overdue"] += row["n"]
    order = [*OPEN_STATES, State.PARKED]
    states = [{"state": str(s), "label": str(labels[s]), "count": by_state[s]} for s in order if by_state.get(s)]
    return states, places


def _names(model: type[Area] | type[Organisation], ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    wanted = [i for i in set(ids) if i is not None]
    qs: QuerySet[Any] = model.objects.filter(pk__in=wanted)
    return {row["id"]: (row["code"], row["name"]) for row in qs.values("id", "code", "name")}


def _table(groups: dict[int | None, dict[str, int]], now: dict[int | None, dict[str, int]],
           names: dict[int, tuple[str, str]], unknown: str) -> list[dict[str, Any]]:
    rows = []
    for key in set(groups) | set(now):
        code, name = names.get(key, ("", unknown)) if key is not None else ("", unknown)
        values = groups.get(key) or dict.fromkeys(rollup.MEASURES, 0)
        rows.append({"code": code, "name": name, **_summary(values),
                     **(now.get(key) or {"open": 0, "overdue": 0, "parked": 0})})
    rows.sort(key=lambda r: (r["code"] == "", r["code"]))
    return rows


def figures(user: Any, filters: Filters) -> Dashboard:
    """The dashboard for ``user`` (403 without ``events.view_dashboard``)."""
    policy.require(user, PERM)
    counts, visible, source = _counts(user, filters)

    empty = dict.fromkeys(rollup.MEASURES, 0)
    total = dict(empty)
    for values in counts.towns.values():
        _add(total, values)
    by_town, by_ws = counts.towns, counts.workstations
    trend: dict[str, dict[str, int]] = {label: dict(empty) for label, _ in buckets(filters.first, filters.last, filters.period)}
    for day, values in counts.days.items():
        label = bucket(day, filters.period)[0]
        if label in trend:
            _add(trend[label], values)

    states, places = _snapshot(visible(_filtered(Event.objects.all(), filters).filter(state__in=[*OPEN_STATES, State.PARKED])))
    now_town: dict[int | None, dict[str, int]] = {}
    now_ws: dict[int | None, dict[str, int]] = {}
    for (town, ws), entry in places.items():
        for target, key in ((now_town, town), (now_ws, ws)):
            slot = target.setdefault(key, {"open": 0, "overdue": 0, "parked": 0})
            for name, value in entry.items():
                slot[name] += value
    current = {name: sum(e[name] for e in places.values()) for name in ("open", "overdue", "parked")}

    totals = {**fieldwork_counts(user, filters), **_summary(total), **current}
    starts = dict(buckets(filters.first, filters.last, filters.period))
    return Dashboard(
        filters=filters,
        totals=totals,
        by_town=_table(by_town, now_town, _names(Area, [*by_town, *now_town]), str(_("(no town)"))),
        by_workstation=_table(by_ws, now_ws, _names(Organisation, [*by_ws, *now_ws]), str(_("(no workstation)"))),
        trend=[{"period": label, "start": starts[label], **_summary(values)} for label, values in trend.items()],
        states=states,
        source=source,
        as_of=clock.now(),
    )

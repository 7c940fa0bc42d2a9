"""Counting events per local day, and the rollup that keeps those counts.

:func:`tally` counts a queryset of events per (local day, area, town, workstation) with three
aggregate queries (by the day reported, resolved and closed). The rollup (:class:`DailyFigures`)
holds the tally of every finished day; :func:`refresh` rewrites it. The periodic job rewrites the
trailing ``PINGAN_DASHBOARD_REFRESH_DAYS`` (default 40: longer than the 30-day reopen window) every
five minutes and everything once a day, so a change to an older day (a late repeat report, a reopen)
shows within a day. Days after ``complete_through`` (today, at least) are always counted live.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DateField, Func, IntegerField, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from pingan.core import clock
from pingan.dashboard.models import DailyFigures, DailyTotals, RollupState
from pingan.events.models import Event, EventType, ResolutionMethod, State

log = logging.getLogger("pingan.dashboard")

ROLLUP = "events"
MEASURES = ("reported", "repeats", "resolved", "resolved_on_time", "mediated", "closed", "rated", "satisfied")
RESOLVED_STATES = (State.RESOLVED, State.VERIFIED, State.CLOSED)
SATISFIED_FROM = 4  # a rating of 4 or 5 of 5 counts as satisfied
CHUNK_DAYS = 92  # a full rewrite reads the events a quarter at a time

Key = tuple[dt.date, int, int | None, int | None]  # day, area id, town id, workstation id
Tally = dict[Key, dict[str, int]]


def zone() -> dt.tzinfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    """The moment a local day begins, as an aware datetime."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone())


def refresh_days() -> int:
    return int(getattr(settings, "PINGAN_DASHBOARD_REFRESH_DAYS", 40))


class _FixedOffsetDate(Func):
    """SQLite: the local date of a UTC timestamp with the built-in ``date(x, '+N minutes')``,
    which is much faster than Django's Python-level time-zone function."""

    output_field = DateField()

    def __init__(self, expression: Any, minutes: int) -> None:
        super().__init__(expression)
        self.minutes = minutes

    def as_sql(self, compiler: Any, conn: Any, **extra: Any) -> Any:  # type: ignore[override]
        sql, params = compiler.compile(self.source_expressions[0])
        return f"date({sql}, '{self.minutes:+d} minutes')", params


def _fixed_offset_minutes() -> int | None:
    """The zone's UTC offset in minutes if it has been constant since 1992 (Asia/Shanghai: 480)."""
    tz = zone()
    offsets = {
        dt.datetime(year, month, 1, 12, tzinfo=tz).utcoffset()
        for year in range(1992, dt.date.today().year + 2)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return None if offset is None else int(offset.total_seconds() // 60)


def local_day(field: str) -> Func:
    """An expression for the local calendar day of a timestamp column."""
    minutes = _fixed_offset_minutes()
    if connection.vendor == "sqlite" and minutes is not None:
        return _FixedOffsetDate(field, minutes)
    return TruncDate(field, tzinfo=zone())


def dispute_type_ids() -> list[int]:
    """Types that count as disputes (矛盾纠纷): flagged themselves or under a flagged parent."""
    return list(EventType.objects.filter(Q(is_dispute=True) | Q(parent__is_dispute=True)).values_list("id", flat=True))


def tally(events: QuerySet[Event], first: dt.date, last: dt.date, *, by_area: bool = True,
          narrow: Callable[[QuerySet[Event]], QuerySet[Event]] | None = None) -> Tally:
    """Count ``events`` for the local days ``first``..``last`` (inclusive), per (day, area, town,
    workstation); without ``by_area`` the area of every key is 0 (fewer, coarser groups). ``narrow``
    is applied to each query after its date range (the access policy's scope, so that the scope's
    subquery starts from the range's few rows)."""
    if last < first:
        return {}
    start, end = day_start(first), day_start(last + dt.timedelta(days=1))

    class _Base:
        def filter(self, **range_: Any) -> QuerySet[Event]:
            qs = events.order_by().filter(**range_)
            qs = narrow(qs) if narrow is not None else qs
            return qs.annotate(_area=Coalesce("village_id", "area_id") if by_area else Value(0, output_field=IntegerField()))

    base = _Base()
    keys = ("_day", "_area", "town_id", "workstation_id")
    disputes = dispute_type_ids()
    # The state condition is applied to the grouped rows, not in SQL: with it in the WHERE clause the
    # planners pick the state index (most events are closed) over the range on resolved_at/closed_at.
    queries: list[tuple[QuerySet[Any, dict[str, Any]], tuple[str, ...]]] = [
        (base.filter(created_at__gte=start, created_at__lt=end).annotate(_day=local_day("created_at"))
         .values(*keys).annotate(reported=Count("id"), repeats=Sum("repeat_count")), ()),
        (base.filter(resolved_at__gte=start, resolved_at__lt=end)
         .annotate(_day=local_day("resolved_at")).values(*keys, "state")
         .annotate(resolved=Count("id"), resolved_on_time=Count("id", filter=Q(on_time=True)),
                   mediated=Count("id", filter=Q(resolution_method=ResolutionMethod.MEDIATED, event_type_id__in=disputes))),
         RESOLVED_STATES),
        (base.filter(closed_at__gte=start, closed_at__lt=end)
         .annotate(_day=local_day("closed_at")).values(*keys, "state")
         .annotate(closed=Count("id"), rated=Count("satisfaction"),
                   satisfied=Count("id", filter=Q(satisfaction__gte=SATISFIED_FROM))), (State.CLOSED,)),
    ]
    out: Tally = {}
    for query, states in queries:
        for row in query:
            if states and row.pop("state") not in states:
                continue
            day = row.pop("_day")
            if isinstance(day, str):  # a backend that hands the date back as text
                day = dt.date.fromisoformat(day)
            key = (day, row.pop("_area"), row.pop("town_id"), row.pop("workstation_id"))
            counts = out.setdefault(key, dict.fromkeys(MEASURES, 0))
            for name, value in row.items():
                counts[name] += value or 0
    return out


def _sync(model: type[DailyFigures] | type[DailyTotals], keys: tuple[str, ...], first: dt.date, last: dt.date,
          wanted: dict[tuple[Any, ...], dict[str, int]]) -> int:
    """Make ``model``'s rows of ``first``..``last`` equal ``wanted`` (key: the values of ``keys``, day first),
    touching only the rows that differ, so a refresh of unchanged days writes nothing."""
    wanted = {key: values for key, values in wanted.items() if any(values.values())}
    existing: dict[tuple[Any, ...], tuple[int, tuple[int, ...]]] = {}
    stale: list[int] = []
    for pk, *rest in model.objects.filter(day__gte=first, day__lte=last).values_list("id", *keys, *MEASURES):
        key, stored = tuple(rest[: len(keys)]), tuple(rest[len(keys):])
        if key in existing:  # never written so; drop the extra
            stale.append(pk)
        else:
            existing[key] = (pk, stored)
    insert = []
    for key, values in wanted.items():
        row = tuple(values[m] for m in MEASURES)
        found = existing.pop(key, None)
        if found is not None and found[1] == row:
            continue
        if found is not None:
            stale.append(found[0])
        insert.append((connection.ops.adapt_datefield_value(key[0]), *key[1:], *row))
    stale.extend(pk for pk, _ in existing.values())
    if not stale and not insert:
        return 0
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f"{k}_id" if k in ("area", "town", "workstation") else k) for k in (*keys, *MEASURES))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * (len(keys) + len(MEASURES)))})"  # noqa: S608
    with transaction.atomic():
        for i in range(0, len(stale), 500):
            model.objects.filter(pk__in=stale[i:i + 500]).delete()
        if insert:
            with connection.cursor() as cur:
                cur.executemany(sql, insert)
    return len(insert) + len(stale)


def _write(first: dt.date, last: dt.date, counts: Tally) -> int:
    """Both grains of ``first``..``last`` from a tally by village."""
    totals: dict[tuple[Any, ...], dict[str, int]] = {}
    for (day, _area, town, ws), values in counts.items():
        into = totals.setdefault((day, town, ws), dict.fromkeys(MEASURES, 0))
        for name in MEASURES:
            into[name] += values[name]
    changed = _sync(DailyFigures, ("day", "area", "town", "workstation"), first, last, dict(counts))
    return changed + _sync(DailyTotals, ("day", "town", "workstation"), first, last, totals)


def _chunks(first: dt.date, last: dt.date, size: int = CHUNK_DAYS) -> Iterable[tuple[dt.date, dt.date]]:
    while first <= last:
        end = min(last, first + dt.timedelta(days=size - 1))
        yield first, end
        first = end + dt.timedelta(days=1)


def rebuild(first: dt.date, last: dt.date) -> int:
    """Rewrite the rollup rows of ``first``..``last`` from the events; returns the rows changed."""
    written = 0
    for a, b in _chunks(first, last):
        written += _write(a, b, tally(Event.objects.all(), a, b))
    return written


def refresh(now: dt.datetime | None = None, *, full: bool = False) -> dict[str, Any]:
    """Bring the rollup up to yesterday (local). Rewrites every day when ``full`` (or never done, or
    the last full rewrite is a day old), else the trailing window."""
    now = now or clock.now()
    last = local_date(now) - dt.timedelta(days=1)
    state, _ = RollupState.objects.get_or_create(name=ROLLUP)
    full = full or state.full_at is None or state.complete_through is None or now - state.full_at >= dt.timedelta(days=1)
    if full:
        earliest = Event.objects.aggregate(first=Min("created_at"))["first"]
        first = local_date(earliest) if earliest else last + dt.timedelta(days=1)
        for model in (DailyFigures, DailyTotals):
            model.objects.filter(Q(day__lt=first) | Q(day__gt=last)).delete()
    else:
        assert state.complete_through is not None
        first = min(state.complete_through + dt.timedelta(days=1), last - dt.timedelta(days=refresh_days() - 1))
        for model in (DailyFigures, DailyTotals):
            model.objects.filter(day__gt=last).delete()
    written = rebuild(first, last)
    state.complete_through = last
    state.refreshed_at = now
    if full:
        state.full_at = now
    state.save()
    log.info("dashboard rollup: %s %s..%s, %d rows changed", "full" if full else "window", first, last, written)
    return {"full": full, "first": first, "last": last, "rows": written}


def complete_through() -> dt.date | None:
    state = RollupState.objects.filter(name=ROLLUP).only("complete_through").first()
    return state.complete_through if state else None

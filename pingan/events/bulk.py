"""Bulk loader of historical events, for benchmarks and large demos (``pingan bench events``).

It writes rows directly, in batches of one multi-row statement (``executemany`` of ready values: the ORM's
per-field preparation would take half an hour for a million rows) — no actions, no timeline, no audit — because
it fakes *history* to measure reads against; every event created through the product goes through
``actions.report_event``. The mix is deterministic for a seed: events spread over the micro-grids of
the district and over the last ``days`` days, about 3% still open (most of them recent), the rest
closed, rejected or merged, a few parked, with deadlines, on-time flags, ratings, resolution methods,
repeat counts, and a Task row for every event that was dispatched. Readable numbers are allocated
per day and the day counters (EventSequence) are moved past them, so later reports never reuse one.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from pingan.accounts.models import Organisation, OrgKind
from pingan.events.models import (
    Event,
    EventSequence,
    EventType,
    Level,
    Priority,
    ResolutionMethod,
    Source,
    State,
    Task,
    TaskState,
    TimeBasis,
)
from pingan.geo.models import Area

OPEN_SHARE = 0.03
PARKED_SHARE = 0.004
OPEN_MIX = {State.REPORTED: 0.10, State.ACCEPTED: 0.05, State.DISPATCHED: 0.30, State.RETURNED: 0.03,
            State.IN_PROGRESS: 0.35, State.RESOLVED: 0.10, State.VERIFIED: 0.07}
FINAL_MIX = {State.CLOSED: 0.90, State.REJECTED: 0.04, State.MERGED: 0.06}
SOURCE_MIX = {Source.GRID_PATROL: 0.55, Source.WORKSTATION_VISIT: 0.15, Source.HOTLINE_12345: 0.15, Source.PUBLIC: 0.06,
              Source.INSPECTION: 0.06, Source.TRACKING_ALERT: 0.01, Source.COURT_REFERRAL: 0.01,
              Source.PROCURATORATE_REFERRAL: 0.01}
PRIORITY_MIX = {Priority.LOW: 0.15, Priority.NORMAL: 0.70, Priority.HIGH: 0.12, Priority.URGENT: 0.03}
RATING_MIX = {5: 0.60, 4: 0.25, 3: 0.04, 2: 0.008, 1: 0.002, 0: 0.10}  # 0: not rated
OTHER_METHODS = [ResolutionMethod.ENFORCED, ResolutionMethod.ADVISED, ResolutionMethod.REPAIRED,
                 ResolutionMethod.REFERRED, ResolutionMethod.OTHER]
ACCEPT_HOURS, RESOLVE_DAYS = 4, 5
HOUR = 3600.0
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
REACHED: dict[str, int] = {  # how far along the loop an event in this state got: 1 accepted, 2 dispatched, 3 resolved, 4 closed
    State.REPORTED: 0, State.REJECTED: 0, State.MERGED: 0, State.ACCEPTED: 1, State.DISPATCHED: 2, State.RETURNED: 2,
    State.IN_PROGRESS: 2, State.PARKED: 2, State.RESOLVED: 3, State.VERIFIED: 3, State.CLOSED: 4,
}

# The fallback taxonomy, used only when the database has no event types at all (a bare bench database).
FALLBACK_TYPES: list[tuple[str, str, str, bool, list[tuple[str, str, str]]]] = [
    ("dispute", "矛盾纠纷", "Disputes", True, [
        ("dispute-neighbour", "邻里纠纷", "Neighbours"), ("dispute-family", "婚姻家庭", "Marriage and family"),
        ("dispute-wages", "劳动欠薪", "Unpaid wages"), ("dispute-injury", "工伤赔偿", "Work injury"),
        ("dispute-consumer", "消费纠纷", "Consumer"), ("dispute-property", "物业纠纷", "Property management"),
        ("dispute-land", "土地山林", "Land and forest")]),
    ("hazard", "安全隐患", "Safety hazards", False, [("hazard-fire", "消防隐患", "Fire"), ("hazard-road", "道路交通", "Roads")]),
    ("order", "治安", "Public order", False, []),
    ("ecology", "生态环境", "Environment", False, []),
    ("market", "市场监管", "Market supervision", False, []),
    ("livelihood", "民生诉求", "Livelihood requests", False, []),
    ("other", "其他", "Other", False, []),
]


@dataclass
class LoadResult:
    events: int = 0
    tasks: int = 0
    seconds: float = 0.0
    open: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


def ensure_types() -> list[EventType]:
    """The types to load events of: the active leaf types (a first-level type without children counts
    as a leaf). Creates a small fallback taxonomy only when there are no types at all."""
    if not EventType.objects.exists():
        with transaction.atomic():
            for order, (code, name, name_en, dispute, children) in enumerate(FALLBACK_TYPES):
                parent = EventType.objects.create(code=code, name=name, name_en=name_en, is_dispute=dispute, order=order)
                for n, (child, child_name, child_en) in enumerate(children):
                    EventType.objects.create(code=child, name=child_name, name_en=child_en, parent=parent, order=n)
    types = list(EventType.objects.filter(is_active=True).select_related("parent"))
    parents = {t.parent_id for t in types if t.parent_id}
    return [t for t in types if t.pk not in parents]


@dataclass
class _Geography:
    microgrid: np.ndarray  # ids
    grid: np.ndarray
    village: np.ndarray
    town: np.ndarray
    area: np.ndarray  # the finest area (the micro-grid)
    lon: np.ndarray
    lat: np.ndarray
    workstation: np.ndarray  # 0: none
    names: list[str]


def _geography() -> _Geography:
    rows = list(Area.objects.values_list("id", "level", "parent_id", "centroid_lon", "centroid_lat", "name"))
    parent = {r[0]: r[2] for r in rows}
    level = {r[0]: r[1] for r in rows}
    finest = [r for r in rows if r[1] == "microgrid"] or [r for r in rows if r[1] == "grid"] or rows
    if not finest:
        raise RuntimeError("the database has no areas; load the geography first")

    def up(area_id: int, wanted: str) -> int:
        current: int | None = area_id
        while current is not None and level[current] != wanted:
            current = parent[current]
        return current or 0

    ws_of_village: dict[int, int] = {}
    links = Organisation.areas.through.objects.filter(organisation__kind=OrgKind.WORKSTATION, organisation__is_active=True)
    for org_id, area_id in links.order_by("organisation__code").values_list("organisation_id", "area_id"):
        ws_of_village.setdefault(area_id, org_id)
    ids = [r[0] for r in finest]
    village = np.array([up(i, "village") for i in ids])
    return _Geography(
        microgrid=np.array([i if level[i] == "microgrid" else 0 for i in ids]),
        grid=np.array([up(i, "grid") for i in ids]),
        village=village,
        town=np.array([up(i, "town") for i in ids]),
        area=np.array(ids),
        lon=np.array([r[3] for r in finest]),
        lat=np.array([r[4] for r in finest]),
        workstation=np.array([ws_of_village.get(int(v), 0) for v in village]),
        names=[r[5] for r in finest],
    )


def _pick(rng: np.random.Generator, mix: dict[Any, float], n: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys], dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


def _id(value: Any) -> int | None:
    value = int(value)
    return value or None


def load_history(n: int, *, now: dt.datetime, days: int = 730, seed: int = 330503, batch: int = 5000,
                 progress: Callable[[int, int], None] | None = None) -> LoadResult:
    """Write ``n`` historical events (and their tasks) reported over the ``days`` before ``now``."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    geo = _geography()
    types = ensure_types()
    if not types:
        raise RuntimeError("no active event types")
    type_ids = np.array([t.pk for t in types])
    dispute = np.array([bool(t.is_dispute or (t.parent is not None and t.parent.is_dispute)) for t in types])
    type_names = [t.name for t in types]
    departments = list(Organisation.objects.filter(kind=OrgKind.DEPARTMENT).values_list("id", flat=True)) or [0]
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    span = days * 86400.0
    now_ts = now.timestamp()
    sequence: dict[dt.date, int] = dict(EventSequence.objects.values_list("day", "last"))
    result = LoadResult()
    writer = _Writer()
    done = 0
    while done < n:
        size = min(batch, n - done)
        events, tasks = _batch(rng, size, geo, type_ids, dispute, type_names, departments, tz, span, now_ts, sequence,
                               writer)
        writer.insert(events, tasks)
        for row in events:
            state = row["state"]
            result.by_state[state] = result.by_state.get(state, 0) + 1
        result.tasks += len(tasks)
        done += size
        if progress is not None:
            progress(done, n)
    writer.finish()
    with transaction.atomic():
        existing = set(EventSequence.objects.values_list("day", flat=True))
        EventSequence.objects.bulk_create([EventSequence(day=d, last=v) for d, v in sequence.items() if d not in existing])
        for d, v in sequence.items():
            if d in existing:
                EventSequence.objects.filter(day=d, last__lt=v).update(last=v)
    result.events = done
    result.open = sum(v for k, v in result.by_state.items() if k in OPEN_MIX)
    result.seconds = time.perf_counter() - started
    return result


class _Writer:
    """Inserts rows given as {column: python value} with explicit ids, adapting values once per row."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self.next_event = (Event.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.next_task = (Task.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.empty_json = connection.ops.adapt_json_value([], None)
        self.event_columns = [str(f.column) for f in Event._meta.concrete_fields]
        self.task_columns = [str(f.column) for f in Task._meta.concrete_fields]

    def moment(self, timestamp: float | None) -> Any:
        if timestamp is None:
            return None
        if self.vendor == "sqlite":  # what Django stores: naive UTC text
            return (EPOCH + dt.timedelta(seconds=timestamp)).isoformat(" ")
        return EPOCH_UTC + dt.timedelta(seconds=timestamp)

    def day(self, value: dt.date | None) -> Any:
        return None if value is None else connection.ops.adapt_datefield_value(value)

    def _sql(self, table: str, columns: list[str]) -> str:
        quote = connection.ops.quote_name
        return (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608 (names only)
                f"VALUES ({', '.join(['%s'] * len(columns))})")

    def insert(self, events: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(self._sql(Event._meta.db_table, self.event_columns),
                            [tuple(row[c] for c in self.event_columns) for row in events])
            if tasks:
                cur.executemany(self._sql(Task._meta.db_table, self.task_columns),
                                [tuple(row[c] for c in self.task_columns) for row in tasks])

    def finish(self) -> None:
        """Move the id sequences past the explicit ids (PostgreSQL)."""
        statements = connection.ops.sequence_reset_sql(no_style(), [Event, Task])
        if statements:
            with connection.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)


def _batch(rng: np.random.Generator, size: int, geo: _Geography, type_ids: np.ndarray, dispute: np.ndarray,
           type_names: list[str], departments: list[int], tz: dt.tzinfo, span: float, now_ts: float,
           sequence: dict[dt.date, int], writer: _Writer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    where = rng.integers(0, len(geo.area), size)
    kind = rng.integers(0, len(type_ids), size)
    is_open = rng.random(size) < OPEN_SHARE
    is_parked = ~is_open & (rng.random(size) < PARKED_SHARE)
    # open events are mostly recent; the rest anywhere in the span
    recent = is_open & (rng.random(size) < 0.85)
    age = np.where(recent, rng.random(size) * 45 * 86400.0, rng.random(size) * span)
    # the time of day: around 14:00 local (UTC+8), mostly in office hours
    created = now_ts - age
    day_start = created - created % 86400.0
    created = np.minimum(day_start + rng.normal(14.0 - 8.0, 3.0, size).clip(-7.9, 15.9) * HOUR, now_ts - 60.0)
    accept_after = rng.uniform(0.1, 6.0, size) * HOUR
    dispatch_after = rng.uniform(0.0, 3.0, size) * HOUR
    resolve_after = rng.lognormal(np.log(40.0), 1.0, size) * HOUR
    close_after = rng.uniform(4.0, 72.0, size) * HOUR
    states = np.where(is_open, _pick(rng, OPEN_MIX, size), _pick(rng, FINAL_MIX, size))
    states = np.where(is_parked, State.PARKED, states)
    ratings = _pick(rng, RATING_MIX, size)
    methods = _pick(rng, {m: 1.0 for m in OTHER_METHODS}, size)
    mediated = rng.random(size) < 0.85
    repeats = np.where(rng.random(size) < 0.03, rng.integers(1, 3, size), 0)
    sources = _pick(rng, SOURCE_MIX, size)
    priorities = _pick(rng, PRIORITY_MIX, size)
    lead_is_dept = rng.random(size) < 0.3
    dept = rng.integers(0, len(departments), size)
    assisting = rng.random(size) < 0.1
    dept2 = rng.integers(0, len(departments), size)
    jitter = rng.normal(0.0, 0.0004, (size, 2))
    events: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    moment = writer.moment
    for i in range(size):
        state = str(states[i])
        c = float(created[i])
        accepted = c + accept_after[i]
        dispatched = accepted + dispatch_after[i]
        resolved = dispatched + resolve_after[i]
        closed = resolved + close_after[i]
        if state in (State.CLOSED, State.PARKED) and closed > now_ts - 60:
            shift = closed - (now_ts - 60)
            c, accepted, dispatched, resolved, closed = c - shift, accepted - shift, dispatched - shift, resolved - shift, closed - shift
        reached = REACHED[state]
        stamps = [c, accepted, dispatched, resolved, closed]
        for k in range(1, reached + 1):  # an open event's steps all lie in the past
            stamps[k] = min(stamps[k], now_ts - 60 + k)
        day = dt.datetime.fromtimestamp(stamps[0], tz).date()
        seq = sequence.get(day, 0) + 1
        sequence[day] = seq
        accept_due = stamps[0] + ACCEPT_HOURS * HOUR
        resolve_due = stamps[2] + RESOLVE_DAYS * 86400.0 if reached >= 2 else None
        g = int(where[i])
        ws = _id(geo.workstation[g])
        lead = _id(departments[int(dept[i])]) if lead_is_dept[i] or ws is None else ws
        t = int(kind[i])
        resolved_at = stamps[3] if reached >= 3 else None
        rating = int(ratings[i])
        method = ""
        if reached >= 3:
            method = ResolutionMethod.MEDIATED if dispute[t] and mediated[i] else str(methods[i])
        due = resolve_due if reached >= 2 else accept_due
        is_overdue = bool(state in OPEN_MIX and due is not None and due < now_ts and reached < 3)
        parked = state == State.PARKED
        event_id = writer.next_event
        writer.next_event += 1
        events.append({
            "id": event_id, "number": f"NX-{day:%Y%m%d}-{seq:06d}", "event_type_id": int(type_ids[t]),
            "source": str(sources[i]), "priority": str(priorities[i]), "state": state, "level": Level.WORKSTATION.value,
            "title": f"{type_names[t]} · {geo.names[g]}"[:120],
            "description": f"{type_names[t]}: reported at {geo.names[g]} (historical record loaded for a benchmark).",
            "tags": writer.empty_json, "reporter_id": None, "reporter_name": "", "reporter_phone": "",
            "lon": float(geo.lon[g] + jitter[i, 0]), "lat": float(geo.lat[g] + jitter[i, 1]), "input_crs": "wgs84",
            "address": "", "microgrid_id": _id(geo.microgrid[g]), "grid_id": _id(geo.grid[g]),
            "village_id": _id(geo.village[g]), "town_id": _id(geo.town[g]), "area_id": int(geo.area[g]),
            "workstation_id": ws, "rule_id": None, "lead_unit_id": lead if reached >= 2 else None,
            "time_basis": TimeBasis.CALENDAR.value, "accept_due": moment(accept_due), "resolve_due": moment(resolve_due),
            "warn_at": None, "warned": is_overdue, "overdue": is_overdue, "overdue_since": moment(due) if is_overdue else None,
            "supervised": False, "supervise_note": "", "supervise_due": None, "supervise_lapsed": False,
            "parked_reason": "awaiting a court ruling" if parked else "",
            "parked_until": writer.day(day + dt.timedelta(days=90)) if parked else None,
            "parked_from_state": State.IN_PROGRESS.value if parked else "", "merged_into_id": None,
            "repeat_count": int(repeats[i]), "reopened_count": 0,
            "result": "resolved" if reached >= 3 else "", "measures": "", "resolution_method": str(method),
            "satisfaction": (rating or None) if reached >= 4 else None,
            "reject_reason": "not within our remit" if state == State.REJECTED else "",
            "created_at": moment(stamps[0]), "accepted_at": moment(stamps[1]) if reached >= 1 else None,
            "dispatched_at": moment(stamps[2]) if reached >= 2 else None, "resolved_at": moment(resolved_at),
            "closed_at": moment(stamps[4]) if reached >= 4 else None, "updated_at": moment(max(stamps[: reached + 1])),
            "on_time": (resolved_at <= resolve_due) if resolved_at is not None and resolve_due is not None else None,
            "version": reached + 1,
        })
        if reached >= 2 and lead is not None:
            task_state = {State.DISPATCHED.value: TaskState.PENDING.value, State.RETURNED.value: TaskState.RETURNED.value}.get(
                state, TaskState.DONE.value if reached >= 3 else TaskState.IN_PROGRESS.value)
            units = [(lead, True, str(task_state))]
            helper = _id(departments[int(dept2[i])])
            if assisting[i] and helper is not None and helper != lead:
                units.append((helper, False, TaskState.DONE.value if reached >= 3 else TaskState.PENDING.value))
            for unit, is_lead, unit_state in units:
                tasks.append({"id": writer.next_task, "event_id": event_id, "unit_id": unit, "is_lead": is_lead,
                              "state": unit_state, "due": moment(resolve_due), "notes": "",
                              "created_at": moment(stamps[2]), "done_at": moment(resolved_at)})
                writer.next_task += 1
    return events, tasks

"""The one pipeline every door hands fixes to: validate → convert → store → evaluate → alerts.

Doors (HTTP, MQTT, the NATS stream) parse their transport and call :func:`submit` (or, for the stream's
consumers, :func:`ingest`). A batch is one transaction: the new fixes, the engine's effects (alerts raised,
evidence added, conditions cleared), each target's engine state, the latest positions, the door counters,
one audit entry for the batch and, for the stream, the partition's committed sequence. A fix already
stored (same device and device time) is skipped, so a retried batch or a redelivered message changes
nothing.

Per-target order: each batch loads the states of its targets (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serialises write transactions), so several processes may ingest at once and still evaluate each target's
fixes in device-time order.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from pingan.core import audit, clock, memory
from pingan.core.errors import ValidationFailed
from pingan.geo.coords import CRS_NAMES, to_wgs84
from pingan.tracking import engine as eng
from pingan.tracking.models import (
    ACTIVE_ALERT_STATES,
    Alert,
    AlertStep,
    Device,
    DoorCounter,
    Fix,
    FixType,
    LatestPosition,
    StreamPartition,
    Target,
    TargetState,
    Zone,
    zone_spec_kwargs,
)
from pingan.tracking.schedule import Schedule

log = logging.getLogger(__name__)

DOORS = ("http", "mqtt", "stream", "checkin", "scan", "phone", "phonecheck", "carrier", "jt808", "bench", "test")
EVIDENCE_HEAD = 20   # an alert keeps its first fixes …
EVIDENCE_TAIL = 80   # … and its newest ones as evidence (the count keeps growing)
FIX_TYPES = {c.value for c in FixType}
DEVICE_SEEN_STEP = dt.timedelta(seconds=60)  # how stale a device's last_seen_at may get


# --- device keys and signatures --------------------------------------------------------------


def device_key(uid: str, key_version: int) -> str:
    """The device's secret, derived from the signing key: nothing secret is stored per device."""
    digest = hmac.new(settings.PINGAN_SIGNING_KEY.encode(), f"pingan-device:{uid}:{key_version}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authenticate_device(uid: str, key: str) -> Device | None:
    device = Device.objects.select_related("target").filter(uid=uid, is_active=True).first()
    if device is None or not hmac.compare_digest(device_key(device.uid, device.key_version), key or ""):
        return None
    return device


def sign(key: str, payload: bytes) -> str:
    """HMAC-SHA256 of a message payload with the device's key, as hex (what MQTT messages carry)."""
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def signature_ok(device: Device, payload: bytes, signature: str) -> bool:
    expected = sign(device_key(device.uid, device.key_version), payload)
    return bool(signature) and hmac.compare_digest(expected, signature.strip().lower())


# --- parsing and validation -------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    index: int
    code: str
    message: str


class DeviceRef(NamedTuple):
    """What the pipeline needs of a device and its target: cheaper than two model instances (the gateway
    door reads hundreds a batch)."""

    pk: int
    uid: str
    target_id: int
    crs: str
    is_active: bool
    monitored: bool

    @classmethod
    def of(cls, device: Device) -> DeviceRef:
        return cls(device.pk, device.uid, device.target_id, device.crs, device.is_active, device.target.monitored)


def devices_by_uid(uids: Iterable[str]) -> dict[str, DeviceRef]:
    """The devices named, active or not, by uid (one query, whatever their number)."""
    wanted = sorted(set(uids))
    if not wanted:
        return {}
    where, params = among("d.uid", wanted)
    devices = connection.ops.quote_name(Device._meta.db_table)
    targets = connection.ops.quote_name(Target._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT d.id, d.uid, d.target_id, d.crs, d.is_active, t.monitored FROM {devices} d "  # noqa: S608
                    f"JOIN {targets} t ON t.id = d.target_id WHERE {where}", params)
        return {uid: DeviceRef(pk, uid, tid, crs, bool(active), bool(monitored))
                for pk, uid, tid, crs, active, monitored in cur.fetchall()}


def among(column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
    """SQL for ``column`` among ``values`` with one bound parameter however many there are (an array on
    PostgreSQL, a JSON list on SQLite): the hot path pays no per-value compilation (the ORM's ``__in`` costs
    several microseconds a value) and meets no limit on bound parameters. ``column`` is code, never input."""
    listed = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [listed]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(listed)]  # noqa: S608


@dataclass
class CleanFix:
    device: DeviceRef
    device_time: dt.datetime
    lon: float
    lat: float
    accuracy_m: float
    fix_type: str
    speed_kmh: float | None
    heading: float | None
    input_crs: str
    raw_ref: str = ""


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    published: int = 0


def parse_body(body: bytes) -> list[Any]:
    """A JSON array, one JSON object, or NDJSON. A line of NDJSON that is not JSON stays in the list as a
    :class:`_Malformed` marker, so it is reported by its index and the other lines are kept."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        raise ValidationFailed("empty_body", "no fixes in the request")
    if text[0] == "[":
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ValidationFailed("invalid_json", f"the body is not valid JSON: {exc}") from None
        return list(parsed)
    rows: list[Any] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            rows.append(_Malformed(str(exc)))
    return rows


@dataclass(frozen=True)
class _Malformed:
    reason: str


def _number(row: dict[str, Any], *names: str, required: bool = False) -> float | None:
    for name in names:
        if name in row and row[name] is not None:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _RowProblem("malformed_field", f"{name} must be a number")
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                raise _RowProblem("not_finite", f"{name} must be a finite number") from None
            if not math.isfinite(number):
                raise _RowProblem("not_finite", f"{name} must be a finite number")
            return number
    if required:
        raise _RowProblem("missing_field", f"{names[0]} is required")
    return None


class _RowProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _device_time(row: dict[str, Any]) -> dt.datetime:
    value = row.get("t", row.get("device_time"))
    if value is None:
        raise _RowProblem("missing_field", "t (device time) is required")
    if isinstance(value, bool):
        raise _RowProblem("malformed_field", "t must be a time")
    if isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > 10**12:  # beyond any float's range too
            raise _RowProblem("malformed_field", "t is out of range")
        if not math.isfinite(value):
            raise _RowProblem("not_finite", "t must be finite")
        try:
            moment = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise _RowProblem("malformed_field", "t is out of range") from None
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _RowProblem("malformed_field", "t must be ISO 8601 or POSIX seconds") from None
        if moment.tzinfo is None:
            raise _RowProblem("malformed_field", "t needs a time zone (e.g. Z or +08:00)")
    else:
        raise _RowProblem("malformed_field", "t must be ISO 8601 or POSIX seconds")
    # Millisecond precision, the same on every database.
    try:
        moment = moment.astimezone(dt.UTC)
    except OverflowError:  # year 1 at +14:00, year 9999 at -14:00
        raise _RowProblem("malformed_field", "t is out of range") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_rows(rows: Sequence[Any], *, device: Device | None = None, gateway: bool = False,
               now: dt.datetime | None = None, raw_ref: str = "", source: str = "") -> tuple[list[CleanFix], list[RowError]]:
    """Validate each row on its own. ``device`` is the authenticated device (rows may omit ``device`` or must
    name it); ``gateway`` lets a trusted caller send rows for any device named in the rows. A target whose
    monitoring is off takes fixes only from the sources in ``PINGAN_TRACKING_SOURCES_WITHOUT_AUTHORISATION``."""
    unauthorised_ok = source in settings.PINGAN_TRACKING_SOURCES_WITHOUT_AUTHORISATION
    now = now or clock.now()
    limit = int(settings.PINGAN_TRACKING_BATCH_MAX)
    if len(rows) > limit:
        raise ValidationFailed("batch_too_large", f"at most {limit} fixes per batch, got {len(rows)}", limit=limit)
    future = now + dt.timedelta(seconds=int(settings.PINGAN_TRACKING_FUTURE_SECONDS))
    oldest = now - dt.timedelta(days=int(settings.PINGAN_TRACKING_RETENTION_DAYS))
    named = {str(r["device"]) for r in rows if isinstance(r, dict) and isinstance(r.get("device"), str | int)}
    known = devices_by_uid(named) if gateway and named else {}
    own = DeviceRef.of(device) if device is not None else None
    clean: list[CleanFix] = []
    errors: list[RowError] = []
    for index, row in enumerate(rows):
        try:
            if isinstance(row, _Malformed):
                raise _RowProblem("invalid_json", f"not JSON: {row.reason}")
            if not isinstance(row, dict):
                raise _RowProblem("malformed_row", "each fix is a JSON object")
            which = _row_device(row, own, gateway, known)
            lon = _number(row, "lon", required=True)
            lat = _number(row, "lat", required=True)
            assert lon is not None and lat is not None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise _RowProblem("out_of_range", "lon must be within ±180 and lat within ±90")
            moment = _device_time(row)
            if moment > future:
                raise _RowProblem("in_future", f"the device time is more than {settings.PINGAN_TRACKING_FUTURE_SECONDS} s ahead")
            if moment < oldest:
                raise _RowProblem("too_old", "the device time is older than the retention")
            crs = str(row.get("crs") or which.crs).lower()
            if crs not in CRS_NAMES:
                raise _RowProblem("unknown_crs", f"crs must be one of {', '.join(CRS_NAMES)}")
            wlon, wlat = to_wgs84(lon, lat, crs)
            accuracy = _number(row, "accuracy", "accuracy_m")
            if accuracy is not None and accuracy < 0:
                raise _RowProblem("out_of_range", "accuracy must not be negative")
            fix_type = str(row.get("fix_type") or "gnss").lower()
            if fix_type not in FIX_TYPES:
                raise _RowProblem("malformed_field", "fix_type must be gnss, cell or wifi")
            speed = _number(row, "speed", "speed_kmh")
            if speed is not None and not 0 <= speed <= 1000:
                raise _RowProblem("out_of_range", "speed must be 0–1000 km/h")
            heading = _number(row, "heading")
            if heading is not None and not 0 <= heading <= 360:
                raise _RowProblem("out_of_range", "heading must be 0–360")
            if not which.monitored and not unauthorised_ok:
                raise _RowProblem("not_monitored", "this device's target is not being monitored")
            clean.append(CleanFix(which, moment, wlon, wlat, accuracy if accuracy is not None else 10.0, fix_type,
                                  speed, heading, crs, f"{raw_ref}#{index}" if raw_ref else ""))
        except _RowProblem as problem:
            errors.append(RowError(index, problem.code, problem.message))
    return clean, errors


def _row_device(row: dict[str, Any], device: DeviceRef | None, gateway: bool, known: dict[str, DeviceRef]) -> DeviceRef:
    named = row.get("device")
    if named is not None and not isinstance(named, str | int):
        raise _RowProblem("malformed_field", "device must be a device id")
    if device is not None:
        if named is not None and str(named) != device.uid:
            raise _RowProblem("device_mismatch", "a device may only send its own fixes")
        return device
    if not gateway or named is None:
        raise _RowProblem("unknown_device", "no device for this fix")
    found = known.get(str(named))
    if found is None or not found.is_active:
        raise _RowProblem("unknown_device", f"unknown device {named}")
    return found


# --- the engine in this process ---------------------------------------------------------------

_lock = threading.RLock()
_engine: eng.Engine | None = None
_zones_seen: tuple[Any, ...] | None = None
_zones_checked = 0.0


def _zone_fingerprint() -> tuple[Any, ...]:
    agg = Zone.objects.filter(is_active=True).aggregate(n=Count("id"), latest=Max("updated_at"))
    return agg["n"], agg["latest"]


def zone_specs() -> list[eng.ZoneSpec]:
    zones = list(Zone.objects.filter(is_active=True).prefetch_related("targets", "groups"))
    specs = []
    for zone in zones:
        targets = None if zone.applies_to_all else frozenset(t.pk for t in zone.targets.all())
        groups = frozenset() if zone.applies_to_all else frozenset(g.pk for g in zone.groups.all())
        schedule = Schedule.from_dict(zone.schedule) if zone.schedule else None
        specs.append(eng.ZoneSpec(**zone_spec_kwargs(zone), schedule=schedule, targets=targets, groups=groups))
    return specs


def current_engine(*, force: bool = False) -> eng.Engine:
    """This process's engine, holding the zone index; rebuilt when zones change (checked at most once per
    ``PINGAN_INDEX_CHECK_SECONDS``). It keeps the targets' settings it has seen; their state is not kept
    here: each batch loads it."""
    global _engine, _zones_seen, _zones_checked
    with _lock:
        moment = time.monotonic()
        if _engine is not None and not force and moment - _zones_checked < settings.PINGAN_INDEX_CHECK_SECONDS:
            return _engine
        _zones_checked = moment
        seen = _zone_fingerprint()
        if _engine is None or force or seen != _zones_seen:
            replacing = _engine is not None
            _engine = eng.Engine(zones=zone_specs(), config=eng.EngineConfig())
            _zones_seen = seen
            memory.keep(replacing=replacing)  # the zone index: millions of long-lived objects
        return _engine


def reset_engine() -> None:
    """Forget this process's engine (tests, after zones change outside actions)."""
    global _engine, _zones_seen
    with _lock:
        _engine, _zones_seen = None, None


def target_info(targets: Iterable[Target]) -> dict[int, eng.TargetInfo]:
    targets = list(targets)
    groups: dict[int, set[int]] = defaultdict(set)
    through = Target.groups.through
    for tid, gid in through.objects.filter(target_id__in=[t.pk for t in targets]).values_list("target_id", "targetgroup_id"):
        groups[tid].add(gid)
    return {t.pk: eng.TargetInfo(id=t.pk, kind=t.kind, monitored=t.monitored, groups=frozenset(groups[t.pk]),
                                 interval_s=float(t.interval_s)) for t in targets}


# --- submit and ingest ------------------------------------------------------------------------


def submit(rows: Sequence[Any], *, source: str, device: Device | None = None, gateway: bool = False,
           now: dt.datetime | None = None, raw_ref: str = "") -> IngestResult:
    """What every door calls: validate each row, then store and evaluate the good ones — in this process,
    or, with ``PINGAN_STREAM_URL`` set, by publishing them to the stream for the workers."""
    now = now or clock.now()
    clean, errors = parse_rows(rows, device=device, gateway=gateway, now=now, raw_ref=raw_ref, source=source)
    count_rejections(source, errors)
    if settings.PINGAN_STREAM_URL:
        from pingan.tracking import stream  # the NATS client is only needed when the stream is on

        published = stream.publish(clean, source=source)
        return IngestResult(errors=errors, published=published)
    result = ingest(clean, source=source, now=now)
    result.errors = errors
    return result


def count_rejections(door: str, errors: Sequence[RowError]) -> None:
    by_reason: dict[str, int] = defaultdict(int)
    for error in errors:
        by_reason[error.code] += 1
    for reason, n in by_reason.items():
        bump_counter(door, reason, n)


def bump_counter(door: str, reason: str, n: int = 1) -> None:
    if n <= 0:
        return
    updated = DoorCounter.objects.filter(door=door, reason=reason).update(count=F("count") + n, updated_at=clock.now())
    if not updated:
        try:
            with transaction.atomic():
                DoorCounter.objects.create(door=door, reason=reason, count=n)
        except IntegrityError:
            DoorCounter.objects.filter(door=door, reason=reason).update(count=F("count") + n)


def ingest(clean: Sequence[CleanFix], *, source: str, now: dt.datetime | None = None,
           partition: int | None = None, seq: int | None = None, actor: Any = "system") -> IngestResult:
    """Store and evaluate one batch in one transaction (see the module docstring). With ``partition`` and
    ``seq`` (the stream's consumers), the partition's committed sequence moves in the same transaction, and a
    batch at or below it is skipped whole."""
    now = now or clock.now()
    result = IngestResult()
    engine = current_engine()
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                if partition is not None and seq is not None and not _advance_partition(partition, seq):
                    result.duplicates = len(clean)
                    return result
                fixes = _store(clean, now, result, source)
                result.accepted = len(fixes)
                if fixes:
                    # The positions first: evaluating may append to the audit chain (alerts), whose lock is
                    # then held to the commit, so what follows it is kept short.
                    _latest(fixes)
                    _touch_devices(fixes, now)
                    _evaluate(engine, fixes, now, result)
                if fixes or result.duplicates:
                    devices = sorted({f.device.uid for f in clean})
                    audit.record(actor, "pingan.tracking.fixes_ingested", object_type="tracking.fix",
                                 object_repr=f"{source}: {len(fixes)} fixes",
                                 changes={"source": source, "accepted": len(fixes), "duplicates": result.duplicates,
                                          "devices": devices[:20], "device_count": len(devices),
                                          "alerts_raised": len(result.alerts)})
                if fixes:
                    # After the audit entry: every batch takes the audit's lock before the counter's row
                    # (a batch that raised an alert holds the audit lock already), so two never deadlock.
                    bump_counter(source, "accepted", len(fixes))
            return result
        except IntegrityError:
            # Another process stored some of these fixes between our check and our insert: try once more,
            # which skips them as duplicates.
            if attempt == 2:
                raise
            result = IngestResult()
    return result


def _advance_partition(partition: int, seq: int) -> bool:
    StreamPartition.objects.get_or_create(number=partition)
    return bool(StreamPartition.objects.filter(number=partition, committed_seq__lt=seq).update(committed_seq=seq))


class Stored(NamedTuple):
    """A fix just inserted, as the rest of the batch needs it (cheaper than a model instance)."""

    pk: int
    target_id: int
    device_id: int
    device_time: dt.datetime
    lon: float
    lat: float
    accuracy_m: float
    fix_type: str
    speed_kmh: float | None
    heading: float | None


_FIX_COLUMNS = ("target_id", "device_id", "device_time", "received_at", "lon", "lat", "accuracy_m", "fix_type",
                "speed_kmh", "heading", "source", "input_crs", "raw_ref")
_FIX_PG_TYPES = ("bigint", "bigint", "timestamptz", "timestamptz", "float8", "float8", "float8", "text", "float8",
                 "float8", "text", "text", "text")
_ROWS_PER_INSERT = 1000


def _chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _binary_cursor() -> Any:
    """On PostgreSQL, a cursor that binds parameters on the server in binary (psycopg's ``Cursor``, where
    Django's is a ``ClientCursor`` quoting every value into the SQL text: for a batch's arrays, most of the
    statement's time), and prepares a statement it runs often. Wrapped as Django wraps its cursors, so query
    logging and execute wrappers see it."""
    import psycopg

    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))  # type: ignore[attr-defined]


def insert_rows(table: str, columns: Sequence[str], pg_types: Sequence[str], rows: Sequence[Sequence[Any]],
                tail: str = "", *, alias: str = "") -> list[tuple[Any, ...]]:
    """``INSERT INTO table (columns) … tail`` for many rows at once, returning what ``tail``'s ``RETURNING``
    returns. PostgreSQL gets one array a column (``SELECT * FROM unnest(…)``: thirteen parameters for any
    number of rows, about twice as fast as a VALUES list); SQLite a ``VALUES`` list per thousand rows.
    ``table``, ``columns`` and ``tail`` are code, never input."""
    if not rows:
        return []
    into = f"INSERT INTO {connection.ops.quote_name(table)}{f' AS {alias}' if alias else ''} ({', '.join(columns)})"
    out: list[tuple[Any, ...]] = []
    if connection.vendor == "postgresql":
        arrays = [list(column) for column in zip(*rows, strict=True)]
        with _binary_cursor() as cur:
            cur.execute(f"{into} SELECT * FROM unnest({', '.join(f'%b::{t}[]' for t in pg_types)}) {tail}", arrays)  # noqa: S608
            return list(cur.fetchall()) if "RETURNING" in tail else []
    with connection.cursor() as cur:
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for chunk in _chunks(rows, _ROWS_PER_INSERT):
            cur.execute(f"{into} VALUES {', '.join([placeholder] * len(chunk))} {tail}",  # noqa: S608
                        [value for row in chunk for value in row])
            if "RETURNING" in tail:
                out += cur.fetchall()
    return out


def _store(clean: Sequence[CleanFix], now: dt.datetime, result: IngestResult, source: str) -> list[tuple[Stored, CleanFix]]:
    """Insert the fixes not stored yet; return them (with ids) beside their clean rows.

    One ``INSERT … ON CONFLICT (device_id, device_time) DO NOTHING RETURNING`` (:func:`insert_rows`): the
    database skips the ones stored before (a resent batch, another worker), and the ORM's per-value compilation
    (most of a batch's time in ``bulk_create``) is not paid. Values are adapted as the ORM adapts them, so ORM
    lookups see the same rows."""
    if not clean:
        return []
    unique: dict[tuple[int, dt.datetime], CleanFix] = {}
    for row in clean:
        unique.setdefault((row.device.pk, row.device_time), row)
    result.duplicates += len(clean) - len(unique)
    adapt = connection.ops.adapt_datetimefield_value
    text_times = connection.vendor != "postgresql"  # SQLite keeps datetimes as text: match on the text sent
    received = adapt(now)
    sent: dict[tuple[int, Any], CleanFix] = {}
    values = []
    for (device_id, moment), row in unique.items():
        at = adapt(moment)
        sent[(device_id, at if text_times else moment)] = row
        values.append((row.device.target_id, device_id, at, received, row.lon, row.lat, row.accuracy_m, row.fix_type,
                       row.speed_kmh, row.heading, source, row.input_crs, row.raw_ref[:60]))
    returned_time = "CAST(device_time AS TEXT)" if text_times else "device_time"
    stored: list[tuple[Stored, CleanFix]] = []
    for pk, device_id, at in insert_rows(Fix._meta.db_table, _FIX_COLUMNS, _FIX_PG_TYPES, values,
                                         f"ON CONFLICT (device_id, device_time) DO NOTHING RETURNING id, device_id, {returned_time}"):
        row = sent[(device_id, at)]
        stored.append((Stored(pk, row.device.target_id, device_id, row.device_time, row.lon, row.lat,
                              row.accuracy_m, row.fix_type, row.speed_kmh, row.heading), row))
    result.duplicates += len(unique) - len(stored)
    stored.sort(key=lambda pair: pair[0].pk)
    return stored


def _fix_in(fix: Fix | Stored) -> eng.FixIn:
    return eng.FixIn(ref=fix.pk, target=fix.target_id, t=fix.device_time.timestamp(), lon=fix.lon, lat=fix.lat,
                     accuracy_m=fix.accuracy_m, fix_type=fix.fix_type, speed_kmh=fix.speed_kmh)


def _db_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _db_datetime(value: Any) -> dt.datetime | None:
    """A datetime column read through a raw cursor: aware from PostgreSQL, UTC text from SQLite."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _load_states(target_ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], dt.datetime | None]]:
    """The targets' engine states and due times (locked on PostgreSQL until the batch commits)."""
    where, params = among("target_id", [int(t) for t in target_ids])
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    table = connection.ops.quote_name(TargetState._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT target_id, state, due_at FROM {table} WHERE {where} ORDER BY target_id{lock}", params)  # noqa: S608
        return {tid: (_db_json(state), _db_datetime(due_at)) for tid, state, due_at in cur.fetchall()}


def _target_infos(target_ids: Sequence[int]) -> dict[int, eng.TargetInfo]:
    groups: dict[int, set[int]] = defaultdict(set)
    through = connection.ops.quote_name(Target.groups.through._meta.db_table)
    table = connection.ops.quote_name(Target._meta.db_table)
    with connection.cursor() as cur:
        where, params = among("target_id", [int(t) for t in target_ids])
        cur.execute(f"SELECT target_id, targetgroup_id FROM {through} WHERE {where}", params)  # noqa: S608
        for tid, gid in cur.fetchall():
            groups[tid].add(gid)
        where, params = among("id", [int(t) for t in target_ids])
        cur.execute(f"SELECT id, kind, monitored, interval_s FROM {table} WHERE {where}", params)  # noqa: S608
        rows = cur.fetchall()
    return {pk: eng.TargetInfo(id=pk, kind=kind, monitored=bool(monitored), groups=frozenset(groups[pk]),
                               interval_s=float(interval_s)) for pk, kind, monitored, interval_s in rows}


def _save_states(rows: Sequence[tuple[int, dict[str, Any], dt.datetime | None]]) -> None:
    """One upsert (``ON CONFLICT (target_id) DO UPDATE``) for the batch's states, new and changed alike."""
    adapt = connection.ops.adapt_datetimefield_value
    updated = adapt(timezone.now())
    insert_rows(TargetState._meta.db_table, ("target_id", "state", "due_at", "updated_at"),
                ("bigint", "jsonb", "timestamptz", "timestamptz"),
                [(tid, json.dumps(state, separators=(",", ":")), adapt(due_at), updated) for tid, state, due_at in rows],
                "ON CONFLICT (target_id) DO UPDATE SET state = excluded.state, due_at = excluded.due_at, "
                "updated_at = excluded.updated_at")


def run_engine(engine: eng.Engine, target_ids: Sequence[int], step: Any) -> list[eng.Effect]:
    """Load the targets' states (locked), run ``step(engine)`` (process or tick), and save the states that
    changed."""
    states = _load_states(target_ids)
    infos = _target_infos(target_ids)
    with _lock:
        # The engine keeps the targets' settings between batches (set_target is a no-op when they are
        # unchanged; its effects are those of the state about to be replaced, so they are dropped), while
        # each target's state always comes from the database: another process may have moved it on.
        for tid in target_ids:
            if tid not in infos:
                engine.forget(tid)
                continue
            engine.set_target(infos[tid])
            engine.import_state(tid, states[tid][0] if tid in states else None)
        try:
            effects = list(step(engine))
            exported = {tid: engine.export_state(tid) for tid in target_ids if tid in infos}
            due = {tid: engine.next_due(tid) for tid in exported}
        except BaseException:
            for tid in target_ids:
                engine.forget(tid)
            raise
    changed = []
    for tid, state in exported.items():
        when = due[tid]
        due_at = dt.datetime.fromtimestamp(when, tz=dt.UTC) if when is not None else None
        if states.get(tid) != (state, due_at):
            changed.append((tid, state, due_at))
    _save_states(changed)
    return effects


def _evaluate(engine: eng.Engine, fixes: Sequence[tuple[Stored, CleanFix]], now: dt.datetime, result: IngestResult) -> None:
    by_id = {fix.pk: fix for fix, _row in fixes}
    target_ids = sorted({fix.target_id for fix, _row in fixes})
    batch = [_fix_in(fix) for fix, _row in fixes]
    effects = run_engine(engine, target_ids, lambda e: e.process(batch))
    result.alerts += apply_effects(effects, now, by_id)


def apply_effects(effects: Iterable[eng.Effect], now: dt.datetime, fixes: Mapping[int, Any] | None = None) -> list[int]:
    """Alerts from the engine's effects: ``raise`` opens one (or adds evidence to the one already active for
    that target × rule × zone), ``evidence`` extends the active one, ``clear`` marks it re-armed. Returns the
    ids of the alerts opened."""
    from pingan.tracking import actions  # actions sit above the pipeline only for the alert lifecycle

    fixes = fixes or {}
    effects = list(effects)
    opened: list[int] = []
    # The active alerts of the effects' targets, in one query (locked on PostgreSQL until the batch commits);
    # at most one per target × rule × zone (a partial unique constraint).
    active_of: dict[tuple[int, str, int], Alert] = {}
    if effects:
        rows = Alert.objects.filter(target_id__in={e.target for e in effects}, state__in=ACTIVE_ALERT_STATES)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update()
        active_of = {(a.target_id, a.rule, a.zone_key): a for a in rows.order_by("id")}
    # New alerts are opened together (actions.open_alerts); an effect on an alert still waiting to be opened
    # (a raise and its evidence in one batch) opens the waiting ones first.
    waiting: dict[tuple[int, str, int], eng.Effect] = {}

    def open_waiting() -> None:
        for alert in actions.open_alerts(list(waiting.values()), now, fixes):
            active_of[(alert.target_id, alert.rule, alert.zone_key)] = alert
            opened.append(alert.pk)
        waiting.clear()

    changed: dict[int, Alert] = {}  # alerts with new evidence or re-armed: one update for all at the end
    cleared: list[AlertStep] = []
    for effect in effects:
        key = (effect.target, effect.rule, effect.zone or 0)
        if key in waiting:
            open_waiting()
        active = active_of.get(key)
        if effect.kind == "raise" and active is None:
            waiting[key] = effect
        elif effect.kind in ("raise", "evidence") and active is not None:
            if _add_evidence(active, effect):
                changed[active.pk] = active
        elif effect.kind == "clear" and active is not None and not active.rearmed:
            active.rearmed = True
            changed[active.pk] = active
            cleared.append(AlertStep(alert=active, action="cleared", from_state=active.state, to_state=active.state,
                                     actor_name="system", at=now, note="", data={"t": effect.t}))
    open_waiting()
    if changed:
        Alert.objects.bulk_update(list(changed.values()), ["evidence", "evidence_count", "last_at", "last_fix_id", "rearmed"])
    AlertStep.objects.bulk_create(cleared)
    return opened


def _add_evidence(alert: Alert, effect: eng.Effect) -> bool:
    """Add the effect's fixes to the alert's evidence (in memory; the caller saves); False if none were new."""
    refs = [r for r in effect.refs if r not in alert.evidence[-EVIDENCE_TAIL:]]
    if not refs:
        return False
    evidence = alert.evidence + refs
    if len(evidence) > EVIDENCE_HEAD + EVIDENCE_TAIL:
        evidence = evidence[:EVIDENCE_HEAD] + evidence[-EVIDENCE_TAIL:]
    alert.evidence = evidence
    alert.evidence_count += len(refs)
    moment = dt.datetime.fromtimestamp(effect.t, tz=dt.UTC)
    if moment >= alert.last_at:
        alert.last_at, alert.last_fix_id = moment, refs[-1]
    return True


def _latest(fixes: Sequence[tuple[Stored, CleanFix]]) -> None:
    """Each target's newest fix of the batch replaces its latest position when it is newer (one upsert whose
    ``WHERE`` keeps the newer row, so concurrent batches never move a position back in time)."""
    newest: dict[int, Stored] = {}
    for fix, _row in fixes:
        if fix.target_id not in newest or fix.device_time > newest[fix.target_id].device_time:
            newest[fix.target_id] = fix
    adapt = connection.ops.adapt_datetimefield_value
    insert_rows(LatestPosition._meta.db_table,
                ("target_id", "fix_id", "device_time", "lon", "lat", "accuracy_m", "speed_kmh", "heading"),
                ("bigint", "bigint", "timestamptz", "float8", "float8", "float8", "float8", "float8"),
                [(f.target_id, f.pk, adapt(f.device_time), f.lon, f.lat, f.accuracy_m, f.speed_kmh, f.heading)
                 for f in newest.values()],
                "ON CONFLICT (target_id) DO UPDATE SET fix_id = excluded.fix_id, device_time = excluded.device_time, "
                "lon = excluded.lon, lat = excluded.lat, accuracy_m = excluded.accuracy_m, "
                "speed_kmh = excluded.speed_kmh, heading = excluded.heading "
                "WHERE excluded.device_time > latest.device_time", alias="latest")


def _touch_devices(fixes: Sequence[tuple[Stored, CleanFix]], now: dt.datetime) -> None:
    """The devices' ``last_seen_at``, to the minute: a device seen less than ``DEVICE_SEEN_STEP`` ago keeps its
    row (no new row version for every batch of a device sending every few seconds)."""
    where, params = among("id", sorted({row.device.pk for _fix, row in fixes}))
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {connection.ops.quote_name(Device._meta.db_table)} SET last_seen_at = %s "  # noqa: S608
                    f"WHERE {where} AND (last_seen_at IS NULL OR last_seen_at < %s)",
                    [adapt(now), *params, adapt(now - DEVICE_SEEN_STEP)])


# --- the periodic side: schedules, lost contact, re-arming --------------------------------------


def tick(now: dt.datetime | None = None) -> list[int]:
    """Run the engine's time-driven rules for the targets that are due (lost contact, re-arming) and, when a
    zone's schedule has started or ended since the last tick, for the targets it applies to."""
    now = now or clock.now()
    engine = current_engine()
    moment = now.timestamp()
    due = set(TargetState.objects.filter(due_at__lte=now, target__monitored=True).values_list("target_id", flat=True))
    due |= _schedule_flips(engine, moment)
    opened: list[int] = []
    ids = sorted(due)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        with transaction.atomic():
            effects = run_engine(engine, chunk, lambda e, c=chunk: e.tick(moment, targets=c))
            opened += apply_effects(effects, now)
    return opened


def _schedule_flips(engine: eng.Engine, moment: float) -> set[int]:
    """The monitored targets of every zone whose schedule changed since the last tick (kept on the zone, so
    any worker sees the same flips once)."""
    targets: set[int] = set()
    for zone in Zone.objects.filter(is_active=True, schedule__isnull=False):
        active = Schedule.from_dict(zone.schedule or {}).active(moment)
        if zone.schedule_state == active:
            continue
        if not Zone.objects.filter(pk=zone.pk, schedule_state=zone.schedule_state).update(schedule_state=active):
            continue  # another worker saw this flip first
        if not active:
            continue  # an ending schedule raises nothing; open conditions are cleared by the engine on their fixes
        monitored = Target.objects.filter(monitored=True)
        if not zone.applies_to_all:
            monitored = monitored.filter(models.Q(zones=zone) | models.Q(groups__zones=zone))
        targets |= set(monitored.values_list("id", flat=True).distinct())
    return targets

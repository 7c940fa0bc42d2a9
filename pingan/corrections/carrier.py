"""The carrier-network position feed (运营商基站定位): one small interface for a provider's rows, the JSON
gateway's format, the phone matching, and a simulator for tests and the demo.

A carrier reports where the network sees a phone: a cell position, coarse (hundreds of metres to kilometres).
Such a position needs no monitoring authorisation (it is not a device the subject carries for the purpose); it is
stored as a position of the subject's target with source ``carrier`` and fix type ``cell`` and screened like
the other non-device positions (boundary, core areas). A provider's adapter turns its rows into
:class:`CarrierRow` (phone, time, WGS-84 position, accuracy); :func:`pingan.corrections.actions.ingest_carrier`
does the rest.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from pingan.core import clock, personal
from pingan.corrections.models import OPEN_SUBJECT_STATES, Subject
from pingan.geo import coords

MAX_ACCURACY_M = 100_000.0


class RowProblem(Exception):
    """A row that cannot be taken: ``code`` for programs, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CarrierRow:
    """One position from a carrier, as Pingan needs it: the phone (as the carrier wrote it), the time (UTC), a
    WGS-84 point and the accuracy radius in metres."""

    phone: str
    t: dt.datetime
    lon: float
    lat: float
    accuracy_m: float


class CarrierFeed(Protocol):
    """A provider's adapter: ``parse`` turns one of its rows into a :class:`CarrierRow` or raises
    :class:`RowProblem`. ``name`` appears in the audit log."""

    name: str

    def parse(self, raw: Any) -> CarrierRow: ...


def _finite(raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name)
    if value is None:
        raise RowProblem("missing_field", f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RowProblem("not_finite", f"{name} must be a finite number")
    return float(value)


def _time(value: Any) -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    if not isinstance(value, str) or not value:
        raise RowProblem("bad_time", "t must be an ISO 8601 time with its offset, or Unix seconds")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RowProblem("bad_time", "t must be an ISO 8601 time with its offset, or Unix seconds") from None
    if moment.tzinfo is None:
        raise RowProblem("bad_time", "t needs its UTC offset (e.g. +08:00)")
    return moment.astimezone(dt.UTC)


def clean_row(phone: Any, t: Any, lon: float, lat: float, accuracy_m: Any, crs: Any = "wgs84") -> CarrierRow:
    """Check and convert the parts of a row (any supported coordinate system to WGS-84)."""
    if not isinstance(phone, str) or not phone.strip():
        raise RowProblem("missing_field", "phone is required")
    moment = _time(t)
    if moment > clock.now() + dt.timedelta(seconds=settings.PINGAN_TRACKING_FUTURE_SECONDS):
        raise RowProblem("in_future", "t is in the future")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise RowProblem("out_of_range", "lon must be within ±180 and lat within ±90")
    if accuracy_m is None:
        raise RowProblem("missing_field", "accuracy_m is required (a cell position is coarse)")
    if isinstance(accuracy_m, bool) or not isinstance(accuracy_m, int | float) or not math.isfinite(accuracy_m) \
            or not 0 < accuracy_m <= MAX_ACCURACY_M:
        raise RowProblem("out_of_range", "accuracy_m must be more than 0 and at most 100,000 m")
    try:
        lon, lat = coords.to_wgs84(lon, lat, crs if crs is not None else "wgs84")
    except ValueError as exc:
        raise RowProblem("unknown_crs", str(exc)) from None
    return CarrierRow(phone=phone.strip(), t=moment, lon=lon, lat=lat, accuracy_m=float(accuracy_m))


class GatewayFeed:
    """The JSON rows of ``POST /api/v1/corrections/carrier/positions``:
    ``{"phone", "t", "lon", "lat", "accuracy_m", "crs"?}`` (crs: wgs84 — the default —, cgcs2000, gcj02, bd09)."""

    name = "gateway"

    def parse(self, raw: Any) -> CarrierRow:
        if not isinstance(raw, Mapping):
            raise RowProblem("malformed", "each row must be a JSON object")
        return clean_row(raw.get("phone"), raw.get("t"), _finite(raw, "lon"), _finite(raw, "lat"),
                         raw.get("accuracy_m"), raw.get("crs", "wgs84"))


def subject_for_phone(phone: str) -> Subject:
    """The subject in correction (pending intake or in correction) whose phone this is — the subject's own
    number, or the number in the person registry. Anything else is ``unknown_phone``: the answer never says whether
    the number belongs to someone who is not in correction."""
    try:
        e164 = personal.normalize_phone(phone)
    except ValueError:
        raise RowProblem("bad_phone", "not a valid phone number") from None
    open_subjects = Subject.objects.filter(state__in=OPEN_SUBJECT_STATES, sealed=False).select_related("target")
    found = list(open_subjects.filter(phone=e164)[:2]) or list(open_subjects.filter(person__phone=e164)[:2])
    if len(found) != 1:
        raise RowProblem("unknown_phone", "no subject in correction has this phone")
    return found[0]


# the simulator ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedCarrier:
    """A carrier for tests and the demo. Its rows are in a provider's own shape — ``{"msisdn", "ts" (Unix ms),
    "gcj_lon", "gcj_lat", "radius"}`` with GCJ-02 coordinates, as Chinese carriers' LBS platforms deliver them —
    so that the adapter path is the real one. :meth:`rows` makes them from WGS-84 tracks."""

    name: str = "simulator"
    radius_m: float = 800.0

    def rows(self, tracks: Mapping[str, Sequence[tuple[float, float]]], start: dt.datetime,
             step: dt.timedelta = dt.timedelta(minutes=15)) -> Iterator[dict[str, Any]]:
        for phone, points in tracks.items():
            for i, (lon, lat) in enumerate(points):
                glon, glat = coords.from_wgs84(lon, lat, "gcj02")
                yield {"msisdn": phone, "ts": int((start + i * step).timestamp() * 1000), "gcj_lon": glon,
                       "gcj_lat": glat, "radius": self.radius_m}

    def parse(self, raw: Any) -> CarrierRow:
        if not isinstance(raw, Mapping):
            raise RowProblem("malformed", "each row must be an object")
        ts = raw.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, int | float):
            raise RowProblem("bad_time", "ts must be Unix milliseconds")
        return clean_row(raw.get("msisdn"), ts / 1000, _finite(raw, "gcj_lon"), _finite(raw, "gcj_lat"),
                         raw.get("radius"), "gcj02")

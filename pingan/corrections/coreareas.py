"""Core areas (核心区) at run time: the cached index of active core areas, the screening check that turns a
non-device position (scan, check-in, carrier cell, phone check) into a reverse warning, and the tracking hook
that gives every core-area alert its verification deadline and the police post its notice without identity.

Device fixes of monitored subjects reach the tracking engine, whose ``zone_exclusion`` rule alerts on the core
area's zone (a ``fast`` exclusion zone: two fixes inside are enough). The other positions are not evaluated by
the engine (they may be coarse, and they arrive while monitoring is off): :func:`check_position` computes, for
each core area that applies to the subject and whose schedule runs at the position's time, the share of the
position's accuracy circle (in a local metric frame) that lies inside the core area grown by its border
tolerance ``buffer_m``. A share of at least ``PINGAN_CORRECTIONS_POSSIBLE_ENTRY_SHARE`` raises the rule
``corearea_possible`` on the core area's zone: severity ``alarm`` for a precise position (accuracy ≤ 100 m)
whose point is inside the area, ``warning`` otherwise.

The index is built once per process and rebuilt when a core-area action commits (:func:`invalidate`) or, for
other processes, when the core areas' fingerprint (count, last id, sum of versions, newest ``updated_at``) changes — checked at most every
``PINGAN_INDEX_CHECK_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils.translation import gettext as _

from pingan.accounts.models import RoleAssignment, User
from pingan.core import clock
from pingan.corrections import screening
from pingan.corrections.models import CoreArea
from pingan.tracking import actions as tracking_actions
from pingan.tracking import pipeline
from pingan.tracking.engine import Effect, zone_geometry_lonlat
from pingan.tracking.geometry import Frame
from pingan.tracking.models import Alert, Target
from pingan.tracking.schedule import Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULE = "corearea_possible"
PRECISE_M = 100.0  # a position at least this accurate, inside the area, is an alarm
CIRCLE_SEGMENTS = 16  # quadrant segments of the accuracy circle (64 vertices)


@dataclass(frozen=True)
class Indexed:
    id: int
    zone_id: int
    name: str
    groups: frozenset[int]
    schedule: Schedule | None
    frame: Frame
    polygon: Any  # the area in the local frame (metres)
    grown: Any  # grown by buffer_m
    bounds: tuple[float, float, float, float]  # lon/lat bounds of the grown area
    verify_minutes: int
    police_post_id: int | None

    def active(self, at: dt.datetime) -> bool:
        return self.schedule is None or self.schedule.active(at.timestamp())


_lock = threading.Lock()
_index: dict[int, Indexed] | None = None
_by_zone: dict[int, int] = {}
_seen: tuple[Any, ...] | None = None
_checked = 0.0


def invalidate() -> None:
    """Forget the index (a core area changed); the next lookup rebuilds it."""
    global _index, _seen
    with _lock:
        _index, _seen = None, None


def _fingerprint() -> tuple[Any, ...]:
    agg = CoreArea.objects.aggregate(n=Count("id"), last=Max("id"), versions=Sum("version"), latest=Max("updated_at"))
    return agg["n"], agg["last"], agg["versions"], agg["latest"]


def _build() -> dict[int, Indexed]:
    out: dict[int, Indexed] = {}
    rows = CoreArea.objects.filter(is_active=True, zone__is_active=True).select_related("zone").prefetch_related("zone__groups")
    for core in rows:
        zone = core.zone
        lonlat = zone_geometry_lonlat(zone.shape, zone.coords, radius_m=zone.radius_m, width_m=zone.width_m)
        if not lonlat.is_valid:
            lonlat = shapely.make_valid(lonlat)
        frame = Frame.around([lonlat])
        polygon = frame.geometry_to_xy(lonlat)
        grown = polygon.buffer(core.buffer_m) if core.buffer_m > 0 else polygon
        lon0, lat0, lon1, lat1 = frame.geometry_to_lonlat(grown).bounds
        out[core.pk] = Indexed(
            id=core.pk, zone_id=zone.pk, name=core.name, groups=frozenset(g.pk for g in zone.groups.all()),
            schedule=Schedule.from_dict(core.schedule) if core.schedule else None, frame=frame, polygon=polygon,
            grown=grown, bounds=(lon0, lat0, lon1, lat1), verify_minutes=core.verify_minutes,
            police_post_id=core.police_post_id)
    return out


def index() -> dict[int, Indexed]:
    """The active core areas by id (cached, see the module docstring)."""
    global _index, _seen, _checked, _by_zone
    with _lock:
        moment = time.monotonic()
        if _index is not None and moment - _checked < settings.PINGAN_INDEX_CHECK_SECONDS:
            return _index
        _checked = moment
        seen = _fingerprint()
        if _index is None or seen != _seen:
            _index = _build()
            _by_zone = {c.zone_id: c.id for c in _index.values()}
            _seen = seen
        return _index


def by_zone(zone_id: int | None) -> Indexed | None:
    if not zone_id:
        return None
    found = index()
    core_id = _by_zone.get(zone_id)
    return found.get(core_id) if core_id is not None else None


def _deg_margin(lat: float, metres: float) -> tuple[float, float]:
    dlat = metres / 111_320.0
    dlon = metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    return dlon, dlat


def share_inside(core: Indexed, lon: float, lat: float, accuracy_m: float) -> float:
    """The share of the accuracy circle (radius ``accuracy_m``; a point for 0) inside the grown core area."""
    x, y = core.frame.to_xy(lon, lat)
    point = shapely.Point(float(x), float(y))
    if accuracy_m <= 0:
        return 1.0 if core.grown.covers(point) else 0.0
    circle = point.buffer(accuracy_m, quad_segs=CIRCLE_SEGMENTS)
    return float(circle.intersection(core.grown).area / circle.area)


def evaluate(target_groups: set[int], lon: float, lat: float, accuracy_m: float,
             at: dt.datetime) -> list[tuple[Indexed, float, str]]:
    """The core areas this position may have entered: (core area, share, severity)."""
    threshold = float(settings.PINGAN_CORRECTIONS_POSSIBLE_ENTRY_SHARE)
    out = []
    dlon, dlat = _deg_margin(lat, accuracy_m)
    for core in index().values():
        lon0, lat0, lon1, lat1 = core.bounds
        if lon + dlon < lon0 or lon - dlon > lon1 or lat + dlat < lat0 or lat - dlat > lat1:
            continue
        if not (core.groups & target_groups) or not core.active(at):
            continue
        share = share_inside(core, lon, lat, accuracy_m)
        if share + 1e-9 < threshold:
            continue
        x, y = core.frame.to_xy(lon, lat)
        precise = accuracy_m <= PRECISE_M and core.polygon.covers(shapely.Point(float(x), float(y)))
        out.append((core, share, "alarm" if precise else "warning"))
    return out


@screening.check
def core_areas(position: screening.Position) -> None:
    """A recorded non-device position inside (or mostly inside) an active core area raises a reverse warning."""
    target = position.target
    if target.owner != "corrections" or target.sealed:
        return
    if target.monitored and position.accuracy_m <= PRECISE_M:
        return  # the tracking engine evaluates this fix itself (zone_exclusion on the core area's zone)
    if not index():
        return
    groups = set(Target.groups.through.objects.filter(target_id=target.pk).values_list("targetgroup_id", flat=True))
    found = evaluate(groups, position.lon, position.lat, position.accuracy_m, position.at)
    if not found:
        return
    refs = (position.fix_id,) if position.fix_id is not None else ()
    effects = [Effect("raise", target.pk, RULE, core.zone_id, position.at.timestamp(), refs=refs, severity=severity,
                      detail={"lon": position.lon, "lat": position.lat, "accuracy_m": position.accuracy_m,
                              "share": round(share, 3), "source": position.source, "core_area": core.id})
               for core, share, severity in found]
    with transaction.atomic():
        pipeline.apply_effects(effects, clock.now())  # raised now, whenever the position was taken


# --- every core-area alert: its deadline and the police post's notice --------------------------------


@tracking_actions.on_alert_opened
def _core_area_alert(alert: Alert) -> None:
    core = by_zone(alert.zone_id)
    if core is None:
        return
    verify_by = alert.raised_at + dt.timedelta(minutes=core.verify_minutes)
    Alert.objects.filter(pk=alert.pk).update(verify_by=verify_by)
    alert.verify_by = verify_by
    transaction.on_commit(lambda: notify_police_post(alert.pk))


def police_recipients(alert: Alert, core_area: CoreArea) -> list[User]:
    """The police post's officers: police officers whose organisation is the core area's post, or whose area
    scope covers the alert's place."""
    place = alert.place.code if alert.place_id and alert.place else None
    rows = RoleAssignment.objects.filter(is_active=True, role__code="police_officer", user__is_active=True)
    users: dict[int, User] = {}
    for assignment in rows.select_related("user", "area"):
        if (core_area.police_post_id and assignment.organisation_id == core_area.police_post_id) or (
                place and assignment.area is not None and place.startswith(assignment.area.code)):
            users[assignment.user_id] = assignment.user
    return sorted(users.values(), key=lambda u: u.pk)


def police_notice(alert: Alert, core_area: CoreArea) -> str:
    """Only the alert number, the core area, the time (Asia/Shanghai), the place and what to do: no name, file
    number or target label."""
    place = alert.place.name if alert.place_id and alert.place else _("unknown place")
    where = f"{place} ({alert.lat:.5f}, {alert.lon:.5f})" if alert.lat is not None and alert.lon is not None else place
    return _("Core-area warning {number}: {area}, {time}, near {where}. The judicial office is verifying; "
             "be ready to respond if it is escalated to you.").format(
        number=alert.number, area=core_area.name, time=alert.raised_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        where=where)


def notify_police_post(alert_id: int) -> None:
    from pingan.events.notify import notify

    alert = Alert.objects.select_related("place", "zone").filter(pk=alert_id).first()
    core_area = CoreArea.objects.filter(zone_id=alert.zone_id or 0).first() if alert is not None else None
    if alert is None or core_area is None:
        return
    users = police_recipients(alert, core_area)
    if users:
        notify(None, "corrections.corearea_notice", police_notice(alert, core_area)[:300], users)

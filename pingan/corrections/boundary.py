"""The boundary check on positions that are not device fixes (scans, check-ins, carrier cell positions, phone
checks) of a subject in correction (not before the intake: the subject may still be on the way): leaving the
permitted area (the county by default) without approved leave, and, during a leave, being
neither in the county nor in the leave's area.

Where the subject may be comes from ``places.allowed`` — the same answer the phone check and the leave's tracking
zone use: the permitted area, and during an approved leave in force the leave's area (the convex hull of the
permitted area and the destination circle, so the way there and back is allowed too). For a position, its
accuracy circle is laid out in a local metric frame around it, and the share of the circle outside the allowed
area is measured with shapely. A share of PINGAN_CORRECTIONS_BOUNDARY_SHARE (0.5) or more counts as outside:

- no leave in force: rule ``boundary`` — an alarm for a precise position (not a cell position, accuracy within
  PINGAN_CORRECTIONS_PRECISE_M), a warning for a coarse one (the verification workflow sorts these out);
- an approved leave in force: the boundary rule is suspended; outside both the county and the leave's area the
  rule ``leave_off_destination`` raises a warning. A leave without a destination point has nothing to compare
  with and raises nothing.

Device fixes of a monitored subject are left to the tracking engine (the permitted-area inclusion zone, and the
leave's own zone while on leave); this check skips a precise position of a monitored subject for that reason.
"""

from __future__ import annotations

import datetime as dt

import shapely
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from pingan.core import clock
from pingan.corrections import actions, places, screening
from pingan.corrections.models import Subject, SubjectState
from pingan.geo.models import Area
from pingan.tracking import pipeline
from pingan.tracking.actions import label_rule
from pingan.tracking.engine import Effect
from pingan.tracking.geometry import Frame
from pingan.tracking.models import Zone

BOUNDARY_RULE = "boundary"
OFF_DESTINATION_RULE = "leave_off_destination"
MIN_RADIUS_M = 5.0          # a position given as exact still covers a few metres
QUAD_SEGS = 16

label_rule(BOUNDARY_RULE, _("left the permitted area without leave"))
label_rule(OFF_DESTINATION_RULE, _("away from the leave's destination"))
label_rule(actions.LEAVE_LATE_RULE, _("not back from leave in time"))


def share_outside(lon: float, lat: float, accuracy_m: float, allowed: list[shapely.Geometry]) -> float:
    """The share (0–1) of the accuracy circle around (lon, lat) that lies outside all of ``allowed`` (lon/lat
    geometries), measured in metres in a frame centred on the position."""
    frame = Frame(lon, lat)
    circle = shapely.Point(0.0, 0.0).buffer(max(float(accuracy_m), MIN_RADIUS_M), quad_segs=QUAD_SEGS)
    inside = shapely.union_all([frame.geometry_to_xy(g) for g in allowed]) if allowed else shapely.Polygon()
    return min(1.0, max(0.0, float(circle.difference(inside).area / circle.area)))


def _permitted_zone_id(area: Area) -> int | None:
    return Zone.objects.filter(owner="corrections", kind="inclusion", name=f"permitted {area.code}",
                               is_active=True).values_list("pk", flat=True).first()


def _raise(position: screening.Position, rule: str, zone_id: int | None, severity: str, detail: dict[str, object]) -> None:
    detail = {"source": position.source, "fix_type": position.fix_type, "accuracy_m": position.accuracy_m,
              "lon": position.lon, "lat": position.lat, **detail}
    refs = (position.fix_id,) if position.fix_id is not None else ()
    with transaction.atomic():
        pipeline.apply_effects([Effect("raise", position.target.pk, rule, zone_id, position.at.timestamp(), refs=refs,
                                       severity=severity, detail=detail)], clock.now())


def precise(position: screening.Position) -> bool:
    return position.fix_type != "cell" and position.accuracy_m <= float(settings.PINGAN_CORRECTIONS_PRECISE_M)


@screening.check
def boundary(position: screening.Position) -> None:
    if position.target.monitored and precise(position):
        return  # the tracking engine's zones decide (see the module docstring)
    subject = Subject.objects.select_related("permitted_area").filter(
        target_id=position.target.pk, state=SubjectState.IN_CORRECTION).first()
    if subject is None:
        return
    threshold = float(settings.PINGAN_CORRECTIONS_BOUNDARY_SHARE)
    at = position.at if position.at.tzinfo else position.at.replace(tzinfo=dt.UTC)
    where = places.allowed(subject, at)
    if where.unbounded:
        return  # leave without a destination point: nothing to compare with
    share = share_outside(position.lon, position.lat, position.accuracy_m, list(where.geometries))
    if share < threshold:
        return
    if where.leave is not None:
        _raise(position, OFF_DESTINATION_RULE, where.leave.zone_id, "warning",
               {"leave": where.leave.pk, "share_outside": round(share, 3)})
    else:
        _raise(position, BOUNDARY_RULE, _permitted_zone_id(where.area),
               "alarm" if precise(position) else "warning", {"share_outside": round(share, 3)})

"""Where a subject may be at a moment: the permitted area (the residence's county by default) and, while an
approved leave is in force, the leave's area. The one answer that every comparison of a position with "where the
subject should be" uses — the boundary screening of non-device positions (``boundary.py``), the smart phone
check (``actions._finish_call``) and the leave's own tracking inclusion zone for device fixes
(``actions._start_leave``) — so that they cannot disagree.

- No leave in force: the permitted area.
- An approved leave in force at the moment (``approved`` or ``on_leave``, start ≤ t < end) with a destination
  point: the permitted area and the leave's area, the convex hull of the permitted area and the destination
  circle (its point and ``radius_km``), so that the way there and back counts as allowed too.
- An approved leave in force without a destination point: nothing to compare with (``unbounded``): the
  subject has leave to be away and no place was given.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import shapely

from pingan.corrections.models import IN_FORCE_LEAVE_STATES, LeaveRequest, Subject
from pingan.geo.models import Area
from pingan.tracking.geometry import shape_polygon_lonlat


def leave_in_force(subject: Subject, at: dt.datetime) -> LeaveRequest | None:
    """The approved leave whose window contains ``at`` (started, or about to be started by the job)."""
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return LeaveRequest.objects.filter(subject=subject, state__in=IN_FORCE_LEAVE_STATES, starts_at__lte=at,
                                       ends_at__gt=at).order_by("starts_at").first()


def leave_area(area: Area, leave: LeaveRequest) -> shapely.Geometry | None:
    """The area allowed during the leave (lon/lat): the convex hull of the permitted area and the destination
    circle; None for a leave without a destination point."""
    if leave.dest_lon is None or leave.dest_lat is None:
        return None
    circle = shape_polygon_lonlat("circle", [leave.dest_lon, leave.dest_lat], radius_m=leave.radius_km * 1000)
    return shapely.convex_hull(shapely.union(area.geometry, circle))


@dataclass(frozen=True)
class Allowed:
    """Where the subject may be at one moment (see the module docstring)."""

    area: Area                                   # the permitted area
    leave: LeaveRequest | None = None            # the approved leave in force, if any
    geometries: tuple[shapely.Geometry, ...] = field(default=())  # lon/lat: the permitted area, then the leave's area

    @property
    def unbounded(self) -> bool:
        """A leave in force without a destination point: no place to compare a position with."""
        return self.leave is not None and len(self.geometries) < 2

    @property
    def on_leave(self) -> bool:
        return self.leave is not None

    def distance_outside_m(self, lon: float, lat: float) -> float:
        """How far (m) the point lies outside every allowed geometry; 0 inside one."""
        point = shapely.Point(lon, lat)
        if any(g.covers(point) for g in self.geometries):
            return 0.0
        kx, ky = 111_320 * math.cos(math.radians(lat)), 110_574.0
        return min(float(shapely.transform(g, lambda xy: (xy - (lon, lat)) * (kx, ky)).distance(shapely.Point(0, 0)))
                   for g in self.geometries)


def allowed(subject: Subject, at: dt.datetime) -> Allowed:
    """Where ``subject`` may be at ``at``: its permitted area and, during an approved leave in force, the
    leave's area."""
    area = subject.permitted_area
    leave = leave_in_force(subject, at)
    geometries = [area.geometry]
    if leave is not None and (extra := leave_area(area, leave)) is not None:
        geometries.append(extra)
    return Allowed(area=area, leave=leave, geometries=tuple(geometries))

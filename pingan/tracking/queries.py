"""Read paths of tracking, always through the access policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, F, Min, QuerySet
from django.db.models.functions import Floor

from pingan.accounts import policy
from pingan.core import audit
from pingan.core.errors import NotFoundError, ValidationFailed
from pingan.geo.queries import cell_size
from pingan.tracking import permissions as perms
from pingan.tracking.models import (
    ACTIVE_ALERT_STATES,
    Alert,
    AlertStep,
    Device,
    Fix,
    LatestPosition,
    Target,
    Zone,
)

MAX_TRACK_FIXES = 20_000


def targets(user: Any) -> QuerySet[Target]:
    return policy.restrict(user, perms.VIEW_TARGET.code, Target.objects.select_related("area", "organisation"))


def target(user: Any, target_id: int) -> Target:
    found = targets(user).filter(pk=target_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such target")
    return found


def zones(user: Any) -> QuerySet[Zone]:
    return policy.restrict(user, perms.VIEW_TARGET.code, Zone.objects.select_related("area"))


def alerts(user: Any, *, state: str = "", rule: str = "", target_id: int | None = None,
           since_id: int | None = None) -> QuerySet[Alert]:
    qs = policy.restrict(user, perms.VIEW_ALERT.code, Alert.objects.select_related("target", "zone", "place", "event"))
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_ALERT_STATES)
    elif state:
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    if rule:
        qs = qs.filter(rule=rule)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if since_id:
        qs = qs.filter(pk__gt=since_id)
    return qs


def alert(user: Any, alert_id: int) -> Alert:
    found = alerts(user).filter(pk=alert_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such alert")
    return found


def steps(alert: Alert) -> QuerySet[AlertStep]:
    return alert.steps.select_related("actor").order_by("at", "id")


def track(user: Any, target: Target, start: dt.datetime, end: dt.datetime) -> list[Fix]:
    """A target's fixes in [start, end], in device-time order; every call is audited (a track is sensitive)."""
    policy.require(user, perms.VIEW_TRACK.code, target)
    if end <= start:
        raise ValidationFailed("bad_range", "the end must be after the start")
    if end - start > dt.timedelta(days=31):
        raise ValidationFailed("bad_range", "a track spans at most 31 days")
    fixes = list(Fix.objects.filter(target=target, device_time__gte=start, device_time__lte=end)
                 .order_by("device_time")[:MAX_TRACK_FIXES])
    audit.record(user, "pingan.target.track_viewed", target,
                 changes={"from": start.isoformat(), "to": end.isoformat(), "fixes": len(fixes)})
    return fixes


def positions(user: Any, *, zoom: int, bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The latest positions the user may see, clustered on the server into grid cells for the zoom."""
    qs = policy.restrict(user, perms.VIEW_TARGET.code, LatestPosition.objects.all())
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        qs = qs.filter(lon__gte=x0, lon__lte=x1, lat__gte=y0, lat__lte=y1)
    size = cell_size(zoom)
    cells = list(qs.annotate(cx=Floor(F("lon") / size), cy=Floor(F("lat") / size)).values("cx", "cy")
                 .annotate(n=Count("target_id"), lon=Avg("lon"), lat=Avg("lat"), first=Min("target_id"))
                 .order_by("cx", "cy"))
    singles = {p.target_id: p for p in LatestPosition.objects.filter(target_id__in=[c["first"] for c in cells if c["n"] == 1])
               .select_related("target")}
    alerting = set(Alert.objects.filter(state__in=ACTIVE_ALERT_STATES, target_id__in=list(singles))
                   .values_list("target_id", flat=True))
    out = []
    for c in cells:
        one = singles.get(c["first"]) if c["n"] == 1 else None
        out.append({
            "lon": one.lon if one else c["lon"], "lat": one.lat if one else c["lat"], "count": c["n"],
            "target_id": one.target_id if one else None, "label": one.target.label if one else None,
            "kind": one.target.kind if one else None, "at": one.device_time if one else None,
            "alerting": bool(one and one.target_id in alerting),
        })
    return {"cell_deg": size, "total": sum(c["n"] for c in cells), "clusters": out}


def devices(user: Any, target: Target) -> QuerySet[Device]:
    """A target's devices, for its page (devices follow their target's scope)."""
    return policy.restrict(user, perms.VIEW_TARGET.code, Device.objects.filter(target=target)).order_by("uid")

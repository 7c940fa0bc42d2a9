"""Figures of grid and workstation work for the dashboard (which imports this; fieldwork never
imports the dashboard). Counted from the raw rows the user may see (``fieldwork.view_fieldwork``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.fieldwork import permissions as fp
from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, PatrolEvent, Visit


def _area_q(path: str, codes: list[str]) -> Q:
    q = Q(pk__in=[])
    for code in codes:
        q |= Q(**{f"{path}__code__startswith": code})
    return q


def _workstation_codes(workstation_id: int) -> list[str]:
    """The area codes a workstation covers (its villages), else its home area."""
    org = Organisation.objects.filter(pk=workstation_id).first()
    if org is None:
        return []
    codes = list(org.areas.values_list("code", flat=True))
    if not codes and org.area_id is not None:
        codes = [org.area.code]  # type: ignore[union-attr]
    return codes


def _visible(user: Any, qs: QuerySet[Any]) -> QuerySet[Any]:
    return policy.restrict(user, fp.VIEW_FIELDWORK.code, qs)


def counts(
    user: Any,
    *,
    town_code: str | None = None,
    workstation_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[str, Any]:
    """The article's figures of field work, for a town (area code prefix), a workstation and a period
    ``[since, until)``.

    * ``visits``, ``repeat_visitors`` (persons with more than one visit), ``joint_enforcements``:
      by the workstation (its home area for ``town_code``);
    * ``inspections``, ``hazards``: by the place's area (inside the workstation's villages);
    * ``patrols``, ``patrol_km``: by the patrolled grid, started in the period;
    * ``places_checked``: inspections not made on a patrol plus the places checked on patrols;
    * ``found_to_reported_minutes``: the median minutes from the patrol point where a problem was
      found to its report (None without patrol reports).
    """
    visits = _visible(user, Visit.objects.all())
    inspections = _visible(user, Inspection.objects.all())
    joint = _visible(user, JointEnforcement.objects.all())
    patrols = _visible(user, Patrol.objects.all())
    if town_code:
        visits = visits.filter(workstation__area__code__startswith=town_code)
        joint = joint.filter(workstation__area__code__startswith=town_code)
        inspections = inspections.filter(place__area__code__startswith=town_code)
        patrols = patrols.filter(grid__code__startswith=town_code)
    if workstation_id is not None:
        codes = _workstation_codes(workstation_id)
        visits = visits.filter(workstation_id=workstation_id)
        joint = joint.filter(workstation_id=workstation_id)
        inspections = inspections.filter(_area_q("place__area", codes))
        patrols = patrols.filter(_area_q("grid", codes))
    if since is not None:
        visits, inspections, joint = (visits.filter(at__gte=since), inspections.filter(at__gte=since),
                                      joint.filter(at__gte=since))
        patrols = patrols.filter(started_at__gte=since)
    if until is not None:
        visits, inspections, joint = (visits.filter(at__lt=until), inspections.filter(at__lt=until),
                                      joint.filter(at__lt=until))
        patrols = patrols.filter(started_at__lt=until)

    patrol_ids = patrols.values("pk")
    plain = Patrol.objects.filter(pk__in=patrol_ids).aggregate(places=Sum("places_checked"), metres=Sum("distance_m"))
    off_patrol = inspections.filter(patrol__isnull=True).count()
    repeat = (visits.order_by().values("visitor_id").annotate(n=Count("id", distinct=True)).filter(n__gt=1).count())
    delays = [
        (reported - found).total_seconds() / 60
        for found, reported in PatrolEvent.objects.filter(patrol__in=patrol_ids).values_list("found_at", "event__created_at")
    ]
    return {
        "visits": visits.count(),
        "repeat_visitors": repeat,
        "inspections": inspections.count(),
        "hazards": inspections.filter(hazard=True).count(),
        "places_checked": off_patrol + (plain["places"] or 0),
        "joint_enforcements": joint.count(),
        "patrols": patrols.count(),
        "patrol_km": round((plain["metres"] or 0) / 1000, 1),
        "patrol_events": len(delays),
        "found_to_reported_minutes": round(statistics.median(delays), 1) if delays else None,
    }

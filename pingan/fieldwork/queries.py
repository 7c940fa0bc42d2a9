"""Read paths for grid and workstation work, always through the access policy."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db import models
from django.db.models import Count, QuerySet

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind, Person
from pingan.core.errors import NotFoundError
from pingan.fieldwork import permissions as fp
from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, Place, Visit

M = TypeVar("M", bound=models.Model)

# Organisations that take part in visits and joint enforcement (not workstations or enterprises).
DEPARTMENT_KINDS = (OrgKind.COMMITTEE, OrgKind.DEPARTMENT, OrgKind.POLICE_STATION, OrgKind.JUDICIAL_OFFICE,
                    OrgKind.MEDIATION_COMMITTEE, OrgKind.TOWN_GOVERNMENT, OrgKind.COURT_STATION)


def _one(user: Any, queryset: QuerySet[M], pk: int, perm: str = fp.VIEW_FIELDWORK.code) -> M:
    obj = policy.restrict(user, perm, queryset).filter(pk=pk).first()
    if obj is None:
        raise NotFoundError("not_found", "no such record")
    return obj


def _period(qs: QuerySet[M], field: str, since: dt.datetime | None, until: dt.datetime | None) -> QuerySet[M]:
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{field}__lt": until})
    return qs


# --- patrols ---------------------------------------------------------------------------------


def patrols(user: Any, *, worker_id: int | None = None, grid_code: str = "", open_only: bool | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[Patrol]:
    qs = policy.restrict(user, fp.VIEW_FIELDWORK.code, Patrol.objects.select_related("worker", "grid"))
    if worker_id is not None:
        qs = qs.filter(worker_id=worker_id)
    if grid_code:
        qs = qs.filter(grid__code__startswith=grid_code)
    if open_only is not None:
        qs = qs.filter(ended_at__isnull=open_only)
    return _period(qs, "started_at", since, until).annotate(events_reported=Count("patrol_events")).order_by(
        "-started_at", "-id")


def get_patrol(user: Any, pk: int) -> Patrol:
    return _one(user, Patrol.objects.select_related("worker", "grid"), pk)


def open_patrol(user: Any) -> Patrol | None:
    """The user's own patrol that has not ended."""
    if not getattr(user, "is_authenticated", False):
        return None
    own = Patrol.objects.select_related("grid").filter(worker=user, ended_at__isnull=True)
    return policy.restrict(user, fp.PATROL.code, own).first()


def patrol_grids(user: Any) -> QuerySet[Any]:
    """The grids the user may patrol."""
    from pingan.geo.models import Area

    return policy.restrict(user, fp.PATROL.code, Area.objects.filter(level="grid")).defer("geometry_wkb").order_by("code")


def patrol_events(user: Any, patrol: Patrol) -> QuerySet[Any]:
    return patrol.patrol_events.select_related("event").order_by("found_at")


# --- visits ----------------------------------------------------------------------------------


def visits(user: Any, *, workstation_id: int | None = None, person_id: int | None = None,
           since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[Visit]:
    qs = policy.restrict(user, fp.VIEW_FIELDWORK.code,
                         Visit.objects.select_related("workstation", "visitor", "event", "received_by"))
    if workstation_id is not None:
        qs = qs.filter(workstation_id=workstation_id)
    if person_id is not None:
        qs = qs.filter(visitor_id=person_id)
    return _period(qs, "at", since, until).order_by("-at", "-id")


def get_visit(user: Any, pk: int) -> Visit:
    return _one(user, Visit.objects.select_related("workstation", "visitor", "event", "received_by"), pk)


def visit_counts(user: Any, person_ids: list[int]) -> dict[int, int]:
    """How many visits (the user may see) each of these persons made; more than one is a repeat visit."""
    if not person_ids:
        return {}
    rows = (policy.restrict(user, fp.VIEW_FIELDWORK.code, Visit.objects.all()).filter(visitor_id__in=person_ids)
            .order_by().values("visitor_id").annotate(n=Count("id", distinct=True)))
    return {r["visitor_id"]: r["n"] for r in rows}


def repeat_visits(user: Any, person: Person | int) -> tuple[int, list[Visit]]:
    """The visits of one person the user may see: (count, list newest first)."""
    pk = person.pk if isinstance(person, Person) else int(person)
    found = list(visits(user, person_id=pk))
    return len(found), found


def repeat_visitors(user: Any, *, workstation_id: int | None = None, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> QuerySet[Any]:
    """Persons with more than one visit in the period: rows of (visitor_id, visits)."""
    return (visits(user, workstation_id=workstation_id, since=since, until=until).order_by()
            .values("visitor_id").annotate(n=Count("id", distinct=True)).filter(n__gt=1).order_by("-n", "visitor_id"))


def workstations(user: Any, perm: str) -> QuerySet[Organisation]:
    """The workstations the user may ``perm`` (record visits, enforce …)."""
    return policy.restrict(user, perm, Organisation.objects.filter(kind=OrgKind.WORKSTATION, is_active=True)).order_by("code")


def departments() -> QuerySet[Organisation]:
    """Units that take part in visits and joint enforcement (the organisation directory is public to staff)."""
    return Organisation.objects.filter(kind__in=DEPARTMENT_KINDS, is_active=True).order_by("kind", "code")


# --- places and inspections ------------------------------------------------------------------


def places(user: Any, *, kind: str = "", area_code: str = "", q: str = "") -> QuerySet[Place]:
    qs = policy.restrict(user, fp.VIEW_FIELDWORK.code, Place.objects.select_related("area", "enterprise"))
    if kind:
        qs = qs.filter(kind=kind)
    if area_code:
        qs = qs.filter(area__code__startswith=area_code)
    if q:
        qs = qs.filter(name__icontains=q.strip())
    return qs.annotate(inspection_count=Count("inspections", distinct=True)).order_by("name", "id")


def get_place(user: Any, pk: int) -> Place:
    return _one(user, Place.objects.select_related("area", "enterprise"), pk)


def inspections(user: Any, *, place_id: int | None = None, hazard: bool | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[Inspection]:
    qs = policy.restrict(user, fp.VIEW_FIELDWORK.code,
                         Inspection.objects.select_related("place", "place__area", "inspector", "event"))
    if place_id is not None:
        qs = qs.filter(place_id=place_id)
    if hazard is not None:
        qs = qs.filter(hazard=hazard)
    return _period(qs, "at", since, until).order_by("-at", "-id")


def enterprises(user: Any) -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind=OrgKind.ENTERPRISE, is_active=True).order_by("code")


# --- joint enforcement -----------------------------------------------------------------------


def joint_enforcements(user: Any, *, workstation_id: int | None = None, since: dt.datetime | None = None,
                       until: dt.datetime | None = None) -> QuerySet[JointEnforcement]:
    qs = policy.restrict(user, fp.VIEW_FIELDWORK.code,
                         JointEnforcement.objects.select_related("workstation", "place", "recorded_by"))
    if workstation_id is not None:
        qs = qs.filter(workstation_id=workstation_id)
    return _period(qs, "at", since, until).prefetch_related("departments", "events").order_by("-at", "-id")


def get_joint_enforcement(user: Any, pk: int) -> JointEnforcement:
    return _one(user, JointEnforcement.objects.select_related("workstation", "place"), pk)


# --- event types for the report forms ---------------------------------------------------------


def report_types() -> list[tuple[str, str]]:
    """Active second-level event types as (code, "parent / name") for a report form."""
    from pingan.events.models import EventType

    rows = EventType.objects.filter(is_active=True, parent__isnull=False, parent__is_active=True).select_related("parent")
    return [(t.code, str(t)) for t in rows.order_by("parent__order", "parent__code", "order", "code")]

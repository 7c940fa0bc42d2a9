"""Grid and workstation work over HTTP: parse, call an action or a query, return a schema."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from pingan.accounts import actions as account_actions
from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core import personal
from pingan.core.errors import NotFoundError, ValidationFailed
from pingan.fieldwork import actions, queries
from pingan.fieldwork import permissions as fp
from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, Place, Visit
from pingan.fieldwork.schemas import (
    ErrorOut,
    EventRef,
    InspectionIn,
    InspectionOut,
    JointEnforcementIn,
    JointEnforcementOut,
    PatrolDetailOut,
    PatrolEndIn,
    PatrolOut,
    PatrolStartIn,
    PlaceIn,
    PlaceOut,
    PointIn,
    ReportIn,
    VisitIn,
    VisitOut,
)

router = Router(tags=["fieldwork"])

ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- presenters ------------------------------------------------------------------------------


def event_ref(event: Any) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"id": event.pk, "number": event.number, "state": event.state, "title": event.title}


def patrol_out(patrol: Patrol, *, detail: bool = False) -> dict[str, Any]:
    events = getattr(patrol, "events_reported", None)
    out: dict[str, Any] = {
        "id": patrol.pk, "worker": patrol.worker.username, "grid_code": patrol.grid.code, "grid_name": patrol.grid.name,
        "started_at": patrol.started_at, "ended_at": patrol.ended_at, "points": len(patrol.track),
        "distance_m": patrol.distance_m, "places_checked": patrol.places_checked, "notes": patrol.notes,
        "events_reported": events if events is not None else patrol.patrol_events.count(),
    }
    if detail:
        out["track"] = [tuple(p) for p in patrol.track]
        out["events"] = [
            {"event": event_ref(link.event), "found_at": link.found_at, "reported_at": link.event.created_at,
             "minutes": round((link.event.created_at - link.found_at).total_seconds() / 60, 1)}
            for link in patrol.patrol_events.select_related("event").order_by("found_at")
        ]
    return out


def visit_out(visit: Visit, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": visit.pk, "workstation_id": visit.workstation_id, "workstation": visit.workstation.name,
        "visitor_id": visit.visitor_id, "visitor": personal.mask_name(visit.visitor.name), "at": visit.at,
        "matter": visit.matter, "category": visit.category,
        "departments": [d.code for d in visit.departments.all()], "outcome": visit.outcome, "event": event_ref(visit.event),
        "received_by": visit.received_by.username if visit.received_by else None,
        "visits_by_person": counts.get(visit.visitor_id, 1),
    }


def place_out(place: Place) -> dict[str, Any]:
    count = getattr(place, "inspection_count", None)
    return {
        "id": place.pk, "name": place.name, "kind": place.kind, "area_code": place.area.code, "lon": place.lon,
        "lat": place.lat, "address": place.address, "enterprise_id": place.enterprise_id,
        "inspections": count if count is not None else place.inspections.count(),
    }


def inspection_out(inspection: Inspection) -> dict[str, Any]:
    return {
        "id": inspection.pk, "place_id": inspection.place_id, "place": inspection.place.name,
        "inspector": inspection.inspector.username if inspection.inspector else None, "at": inspection.at,
        "findings": inspection.findings, "hazard": inspection.hazard, "hazard_level": inspection.hazard_level,
        "patrol_id": inspection.patrol_id, "event": event_ref(inspection.event),
    }


def joint_out(action: JointEnforcement) -> dict[str, Any]:
    return {
        "id": action.pk, "workstation_id": action.workstation_id, "workstation": action.workstation.name, "at": action.at,
        "place_id": action.place_id, "address": action.address, "departments": [d.code for d in action.departments.all()],
        "findings": action.findings, "events": [event_ref(e) for e in action.events.all()],
    }


def _report_input(body: ReportIn, source: str) -> Any:
    from pingan.events.actions import ReportInput

    return ReportInput(**body.dict(), source=source)


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    return key[:80] or None


def _patrol(patrol_id: int) -> Patrol:
    """The patrol by id; the action decides whether the caller may see or change it."""
    patrol = Patrol.objects.select_related("worker", "grid").filter(pk=patrol_id).first()
    if patrol is None:
        raise NotFoundError("not_found", "no such patrol")
    return patrol


def _organisation(pk: int, field: str) -> Organisation:
    org = Organisation.objects.filter(pk=pk).first()
    if org is None:
        raise ValidationFailed("unknown_organisation", f"no organisation {pk}", fields={field: "unknown"})
    return org


# --- patrols ---------------------------------------------------------------------------------


@router.get("/patrols", response={200: list[PatrolOut], 403: ErrorOut})
@paginate
def list_patrols(request: HttpRequest, grid: str = "", mine: bool = False, open: bool | None = None) -> Any:  # noqa: A002
    """Patrols in the caller's scope, newest first (``mine`` for the caller's own)."""
    policy.require(request.user, fp.VIEW_FIELDWORK.code)
    worker = request.user.pk if mine else None
    return [patrol_out(p) for p in queries.patrols(request.user, worker_id=worker, grid_code=grid, open_only=open)]


@router.post("/patrols", response={201: PatrolDetailOut, **ERRORS})
def start_patrol(request: HttpRequest, body: PatrolStartIn) -> Any:
    patrol = actions.start_patrol(request.user, body.grid_code)
    return Status(201, patrol_out(patrol, detail=True))


@router.get("/patrols/{patrol_id}", response={200: PatrolDetailOut, 404: ErrorOut})
def get_patrol(request: HttpRequest, patrol_id: int) -> Any:
    return patrol_out(queries.get_patrol(request.user, patrol_id), detail=True)


@router.post("/patrols/{patrol_id}/points", response={200: PatrolOut, **ERRORS})
def add_patrol_point(request: HttpRequest, patrol_id: int, body: PointIn) -> Any:
    """Append the worker's position (any supported coordinate system; stored as WGS-84)."""
    patrol = actions.add_patrol_point(request.user, _patrol(patrol_id), body.lon, body.lat, body.crs, at=body.at)
    return patrol_out(patrol)


@router.post("/patrols/{patrol_id}/end", response={200: PatrolDetailOut, **ERRORS})
def end_patrol(request: HttpRequest, patrol_id: int, body: PatrolEndIn) -> Any:
    patrol = actions.end_patrol(request.user, _patrol(patrol_id), body.notes, places_checked=body.places_checked)
    return patrol_out(patrol, detail=True)


@router.post("/patrols/{patrol_id}/events", response={201: EventRef, **ERRORS})
def report_on_patrol(request: HttpRequest, patrol_id: int, body: ReportIn) -> Any:
    """Report an event found on the own open patrol (source "grid_patrol"). Honours ``Idempotency-Key``."""
    event = actions.report_on_patrol(request.user, _patrol(patrol_id), _report_input(body, actions.SOURCE_PATROL),
                                     idempotency_key=_idempotency_key(request))
    return Status(201, event_ref(event))


# --- visits ----------------------------------------------------------------------------------


@router.get("/visits", response={200: list[VisitOut], 403: ErrorOut})
@paginate
def list_visits(request: HttpRequest, workstation_id: int | None = None, person_id: int | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> Any:
    """Visits in the caller's scope; ``person_id`` lists one person's (repeat) visits.
    ``visits_by_person`` counts the visitor's visits the caller may see (more than 1 is a repeat)."""
    policy.require(request.user, fp.VIEW_FIELDWORK.code)
    rows = list(queries.visits(request.user, workstation_id=workstation_id, person_id=person_id, since=since,
                               until=until).prefetch_related("departments"))
    counts = queries.visit_counts(request.user, sorted({v.visitor_id for v in rows}))
    return [visit_out(v, counts) for v in rows]


@router.post("/visits", response={201: VisitOut, **ERRORS})
def create_visit(request: HttpRequest, body: VisitIn) -> Any:
    """Register a visitor: an existing person by ``person_id``, or a new one by ``person``."""
    workstation = _organisation(body.workstation_id, "workstation_id")
    person: Any
    if body.person_id is not None:
        person = body.person_id
    elif body.person is not None:
        person = account_actions.PersonInput(**body.person.dict())
    else:
        raise ValidationFailed("person_required", "give person_id or person", fields={"person": "required"})
    visit = actions.register_visit(request.user, workstation, person, body.matter, body.departments,
                                   category=body.category, outcome=body.outcome, at=body.at)
    return Status(201, visit_out(visit, queries.visit_counts(request.user, [visit.visitor_id])))


@router.get("/visits/{visit_id}", response={200: VisitOut, 404: ErrorOut})
def get_visit(request: HttpRequest, visit_id: int) -> Any:
    visit = queries.get_visit(request.user, visit_id)
    return visit_out(visit, queries.visit_counts(request.user, [visit.visitor_id]))


@router.post("/visits/{visit_id}/event", response={201: EventRef, **ERRORS})
def open_visit_event(request: HttpRequest, visit_id: int, body: ReportIn) -> Any:
    """Open an event from the visit (source "workstation_visit"); the visitor is added as a party."""
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None:
        raise NotFoundError("not_found", "no such visit")
    event = actions.open_event_from_visit(request.user, visit, _report_input(body, actions.SOURCE_VISIT),
                                          idempotency_key=_idempotency_key(request))
    return Status(201, event_ref(event))


# --- places and inspections ------------------------------------------------------------------


@router.get("/places", response={200: list[PlaceOut], 403: ErrorOut})
@paginate
def list_places(request: HttpRequest, kind: str = "", area: str = "", q: str = "") -> Any:
    policy.require(request.user, fp.VIEW_FIELDWORK.code)
    return [place_out(p) for p in queries.places(request.user, kind=kind, area_code=area, q=q)]


@router.post("/places", response={201: PlaceOut, **ERRORS})
def create_place(request: HttpRequest, body: PlaceIn) -> Any:
    place = actions.register_place(request.user, name=body.name, kind=body.kind, lon=body.lon, lat=body.lat, crs=body.crs,
                                   address=body.address, enterprise=None if body.enterprise_id is None
                                   else _organisation(body.enterprise_id, "enterprise_id"))
    return Status(201, place_out(place))


@router.get("/places/{place_id}", response={200: PlaceOut, 404: ErrorOut})
def get_place(request: HttpRequest, place_id: int) -> Any:
    return place_out(queries.get_place(request.user, place_id))


@router.get("/inspections", response={200: list[InspectionOut], 403: ErrorOut})
@paginate
def list_inspections(request: HttpRequest, place_id: int | None = None, hazard: bool | None = None) -> Any:
    policy.require(request.user, fp.VIEW_FIELDWORK.code)
    return [inspection_out(i) for i in queries.inspections(request.user, place_id=place_id, hazard=hazard)]


@router.post("/inspections", response={201: InspectionOut, **ERRORS})
def create_inspection(request: HttpRequest, body: InspectionIn) -> Any:
    """Record an inspection; ``hazard`` opens a safety-hazard event (source "inspection")."""
    place = Place.objects.filter(pk=body.place_id).first()
    if place is None:
        raise NotFoundError("not_found", "no such place")
    patrol = _patrol(body.patrol_id) if body.patrol_id is not None else None
    inspection = actions.record_inspection(request.user, place, findings=body.findings, hazard=body.hazard,
                                           hazard_level=body.hazard_level, at=body.at, patrol=patrol,
                                           event_type=body.event_type)
    return Status(201, inspection_out(inspection))


# --- joint enforcement -----------------------------------------------------------------------


@router.get("/joint-enforcements", response={200: list[JointEnforcementOut], 403: ErrorOut})
@paginate
def list_joint_enforcements(request: HttpRequest, workstation_id: int | None = None) -> Any:
    policy.require(request.user, fp.VIEW_FIELDWORK.code)
    return [joint_out(j) for j in queries.joint_enforcements(request.user, workstation_id=workstation_id)]


@router.post("/joint-enforcements", response={201: JointEnforcementOut, **ERRORS})
def create_joint_enforcement(request: HttpRequest, body: JointEnforcementIn) -> Any:
    workstation = _organisation(body.workstation_id, "workstation_id")
    place = Place.objects.filter(pk=body.place_id).first() if body.place_id is not None else None
    if body.place_id is not None and place is None:
        raise NotFoundError("not_found", "no such place")
    action = actions.record_joint_enforcement(
        request.user, workstation=workstation, departments=body.departments, findings=body.findings, at=body.at,
        place=place, address=body.address, events=body.event_ids,
    )
    return Status(201, joint_out(action))


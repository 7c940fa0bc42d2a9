"""Every change to patrols, visits, places, inspections and joint enforcement is a function here.

Each one checks access with the policy, validates, writes in one transaction and records the audit
entry. Events are opened only through ``pingan.events.actions.report_event`` (fieldwork sits above
events; events never imports fieldwork).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext

from pingan.accounts import actions as account_actions
from pingan.accounts import permissions as ap
from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind, Person
from pingan.core import audit, clock
from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.fieldwork import permissions as fp
from pingan.fieldwork.models import (
    HazardLevel,
    Inspection,
    JointEnforcement,
    Patrol,
    PatrolEvent,
    Place,
    PlaceKind,
    Visit,
    VisitCategory,
    VisitOutcome,
)
from pingan.geo import queries as geo_queries
from pingan.geo.coords import to_wgs84
from pingan.geo.models import Area

if TYPE_CHECKING:
    from pingan.events.actions import ReportInput
    from pingan.events.models import Event

MAX_TRACK_POINTS = 5000
CLOCK_SKEW = dt.timedelta(minutes=5)
FOUND_RADIUS_M = 300.0  # a track point this close to the event is where the worker found it
EARTH_RADIUS_M = 6_371_008.8

SOURCE_PATROL = "grid_patrol"
SOURCE_VISIT = "workstation_visit"
SOURCE_INSPECTION = "inspection"


# --- helpers ---------------------------------------------------------------------------------


def _is_user(actor: Any) -> bool:
    return getattr(actor, "is_authenticated", False)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def clean_point(lon: Any, lat: Any, crs: str = "wgs84") -> tuple[float, float]:
    """A point in ``crs`` validated and converted to WGS-84."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationFailed("invalid_point", "longitude and latitude must be numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (-180 <= x <= 180 and -90 <= y <= 90):
        raise ValidationFailed("invalid_point", "longitude must be within ±180 and latitude within ±90")
    try:
        wlon, wlat = to_wgs84(x, y, crs)
    except ValueError as exc:
        raise ValidationFailed("invalid_crs", str(exc)) from None
    return round(wlon, 7), round(wlat, 7)


def _text(value: str, field: str, *, required: bool = True, limit: int = 2000) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed("invalid_" + field, f"{field} is required", fields={field: "required"})
    if len(value) > limit:
        raise ValidationFailed("invalid_" + field, f"{field} is longer than {limit} characters", fields={field: "too long"})
    return value


def _when(at: dt.datetime | None, *, not_before: dt.datetime | None = None) -> dt.datetime:
    now = clock.now()
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValidationFailed("invalid_time", "times must carry a time zone")
    if at > now + CLOCK_SKEW:
        raise ValidationFailed("time_in_future", "the time is in the future")
    if not_before is not None and at < not_before - CLOCK_SKEW:
        raise ValidationFailed("time_too_early", "the time is before the start")
    return at


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _require(actor: Any, perm: str) -> None:
    """The permission check; a string actor (a system channel: "demo", "test") skips it."""
    if _is_user(actor):
        policy.require(actor, perm)
    elif not isinstance(actor, str):
        raise PermissionDeniedError()


def _user(actor: Any) -> Any:
    return actor if _is_user(actor) else None


def _visible_or_404(actor: Any, perm: str, obj: Any, code: str = "not_found") -> None:
    """403 when the actor may see the object but not ``perm`` it; 404 when they may not see it."""
    if isinstance(actor, str) or policy.can(actor, perm, obj):
        return
    if policy.can(actor, fp.VIEW_FIELDWORK.code, obj):
        raise PermissionDeniedError("permission_denied", f"not allowed: {perm}")
    raise NotFoundError(code, "no such record")


def _workstation(actor: Any, workstation: Organisation, perm: str) -> None:
    if workstation.kind != OrgKind.WORKSTATION or not workstation.is_active:
        raise ValidationFailed("not_a_workstation", "choose an active linkage workstation", fields={"workstation": "invalid"})
    if _is_user(actor) and not policy.can(actor, perm, workstation):
        raise PermissionDeniedError("workstation_out_of_scope", "the workstation is outside your scope")


def _organisations(values: Iterable[Organisation | int], field: str) -> list[Organisation]:
    items = list(values)
    ids = {v.pk if isinstance(v, Organisation) else int(v) for v in items}
    found = list(Organisation.objects.filter(pk__in=ids, is_active=True))
    if len(found) != len(ids):
        raise ValidationFailed("unknown_organisation", "an organisation was not found", fields={field: "unknown"})
    return sorted(found, key=lambda o: o.code)


def _report(actor: Any, data: ReportInput, source: str, *, idempotency_key: str | None = None,
            person_ids: Sequence[int] = ()) -> Event:
    from pingan.events import actions as event_actions

    ids = list(dict.fromkeys([*data.person_ids, *person_ids]))
    return event_actions.report_event(
        actor, dataclasses.replace(data, source=source, person_ids=ids), idempotency_key=idempotency_key
    )


# --- patrols ---------------------------------------------------------------------------------


def start_patrol(actor: Any, grid_code: str) -> Patrol:
    """Start a patrol of a grid (a micro-grid code starts one of its grid). One open patrol per worker."""
    policy.require(actor, fp.PATROL.code)
    area = Area.objects.filter(code=(grid_code or "").strip()).select_related("parent").first()
    if area is None:
        raise ValidationFailed("unknown_area", f"no area {grid_code!r}", fields={"grid_code": "unknown"})
    if area.level == "microgrid" and area.parent is not None:
        area = area.parent
    if area.level != "grid":
        raise ValidationFailed("not_a_grid", "a patrol covers one grid", fields={"grid_code": "not a grid"})
    if not policy.can(actor, fp.PATROL.code, area):
        raise PermissionDeniedError("area_out_of_scope", "the grid is outside your scope")
    with transaction.atomic():
        open_patrol = Patrol.objects.select_for_update().filter(worker=actor, ended_at__isnull=True).first()
        if open_patrol is not None:
            raise ConflictError("patrol_open", "finish the open patrol first", patrol_id=open_patrol.pk)
        patrol = Patrol.objects.create(worker=actor, grid=area, started_at=clock.now())
        audit.record(actor, "pingan.patrol.started", patrol, changes={"grid": area.code})
    return patrol


def _own_open_patrol(actor: Any, patrol: Patrol) -> Patrol:
    """The patrol locked for update, if it is the actor's own and still open."""
    if patrol.worker_id != getattr(actor, "pk", None):
        if policy.can(actor, fp.VIEW_FIELDWORK.code, patrol):
            raise PermissionDeniedError("not_your_patrol", "only the worker on the patrol may change it")
        raise NotFoundError("not_found", "no such patrol")
    policy.require(actor, fp.PATROL.code)
    locked = Patrol.objects.select_for_update().get(pk=patrol.pk)
    if locked.ended_at is not None:
        raise ConflictError("patrol_ended", "the patrol has ended", ended_at=_stamp(locked.ended_at))
    return locked


def add_patrol_point(actor: Any, patrol: Patrol, lon: float, lat: float, crs: str = "wgs84", *,
                     at: dt.datetime | None = None) -> Patrol:
    """Append a position to the track (converted to WGS-84) and add the distance from the last one."""
    wlon, wlat = clean_point(lon, lat, crs)
    with transaction.atomic():
        locked = _own_open_patrol(actor, patrol)
        moment = _when(at, not_before=locked.started_at)
        track = list(locked.track)
        if len(track) >= MAX_TRACK_POINTS:
            raise ValidationFailed("track_full", f"a patrol keeps at most {MAX_TRACK_POINTS} points")
        if track:
            last_lon, last_lat, last_t = track[-1]
            if moment < parse_stamp(last_t):
                raise ValidationFailed("point_out_of_order", "the point is older than the last one")
            locked.distance_m = round(locked.distance_m + distance_m(last_lon, last_lat, wlon, wlat), 1)
        track.append([wlon, wlat, _stamp(moment)])
        locked.track = track
        locked.save(update_fields=["track", "distance_m"])
        audit.record(actor, "pingan.patrol.point", locked, changes={"points": len(track)})
    return locked


def end_patrol(actor: Any, patrol: Patrol, notes: str = "", *, places_checked: int | None = None) -> Patrol:
    """End the patrol. ``places_checked`` is the worker's count of places looked at; inspections
    recorded on the patrol are counted already, so it can only raise the figure."""
    notes = _text(notes, "notes", required=False)
    with transaction.atomic():
        locked = _own_open_patrol(actor, patrol)
        if places_checked is not None:
            if places_checked < 0 or places_checked > 10_000:
                raise ValidationFailed("invalid_places_checked", "places checked must be between 0 and 10000")
            locked.places_checked = max(locked.places_checked, places_checked)
        locked.ended_at = max(clock.now(), locked.started_at)
        locked.notes = notes
        locked.save(update_fields=["ended_at", "notes", "places_checked"])
        audit.record(actor, "pingan.patrol.ended", locked, changes={
            "points": len(locked.track), "distance_m": locked.distance_m, "places_checked": locked.places_checked,
        })
    return locked


def found_at_for(patrol: Patrol, lon: float, lat: float, reported_at: dt.datetime) -> dt.datetime:
    """When the worker was at the spot: the time of the track point nearest the event (within
    FOUND_RADIUS_M, not after the report); else the last point before the report; else the report."""
    best: tuple[float, dt.datetime] | None = None
    last: dt.datetime | None = None
    for plon, plat, stamp in patrol.track:
        moment = parse_stamp(stamp)
        if moment > reported_at:
            continue
        last = moment
        d = distance_m(plon, plat, lon, lat)
        if d <= FOUND_RADIUS_M and (best is None or d < best[0] or (d == best[0] and moment > best[1])):
            best = (d, moment)
    if best is not None:
        return best[1]
    return last or reported_at


def report_on_patrol(actor: Any, patrol: Patrol, data: ReportInput, *, idempotency_key: str | None = None) -> Event:
    """Report an event found on the worker's own open patrol (source "grid_patrol") and link it."""
    with transaction.atomic():
        locked = _own_open_patrol(actor, patrol)
        event = _report(actor, data, SOURCE_PATROL, idempotency_key=idempotency_key)
        link = PatrolEvent.objects.filter(event=event).first()
        if link is None:
            found = min(found_at_for(locked, event.lon, event.lat, event.created_at), event.created_at)
            link = PatrolEvent.objects.create(patrol=locked, event=event, found_at=found)
            audit.record(actor, "pingan.patrol.event_reported", locked, changes={
                "event": event.number, "found_to_reported_s": int((event.created_at - found).total_seconds()),
            })
        elif link.patrol_id != locked.pk:
            raise ConflictError("event_on_other_patrol", "the event belongs to another patrol")
    return event


# --- visits ----------------------------------------------------------------------------------


def _visitor(actor: Any, person: int | Person | account_actions.PersonInput, workstation: Organisation) -> Person:
    if isinstance(person, account_actions.PersonInput):
        if not person.area_code and workstation.area_id is not None:
            # Without a stated residence, a visitor is taken to live in the workstation's area, so the
            # workstation's staff find the person again (masked) in the registry.
            person = dataclasses.replace(person, area_code=workstation.area.code)  # type: ignore[union-attr]
        return account_actions.register_person(actor, person)
    pk = person.pk if isinstance(person, Person) else int(person)
    found = Person.objects.filter(pk=pk).first()
    if found is not None and _is_user(actor):
        # A returning visitor may live outside the workstation's area: someone the actor may see,
        # or who visited where the actor sees visits, may be named again.
        seen = policy.restrict(actor, ap.VIEW_PERSON.code, Person.objects.filter(pk=pk)).exists() or \
            policy.restrict(actor, fp.VIEW_FIELDWORK.code, Visit.objects.filter(visitor_id=pk)).exists()
        found = found if seen else None
    if found is None:
        raise NotFoundError("person_not_found", "no such person", fields={"person_id": "unknown"})
    return found


def register_visit(
    actor: Any,
    workstation: Organisation,
    person: int | Person | account_actions.PersonInput,
    matter: str,
    departments: Iterable[Organisation | int] = (),
    *,
    category: str = VisitCategory.CONSULTATION,
    outcome: str = VisitOutcome.PENDING,
    at: dt.datetime | None = None,
) -> Visit:
    """Register a visitor at a workstation. A new visitor (``PersonInput``) is registered in the
    person registry first (an existing ID number finds the existing record)."""
    _require(actor, fp.RECORD_VISIT.code)
    _workstation(actor, workstation, fp.RECORD_VISIT.code)
    matter = _text(matter, "matter")
    if category not in VisitCategory.values:
        raise ValidationFailed("invalid_category", f"unknown category {category!r}", fields={"category": "invalid"})
    if outcome not in VisitOutcome.values or outcome == VisitOutcome.EVENT_OPENED:
        raise ValidationFailed("invalid_outcome", f"invalid outcome {outcome!r}", fields={"outcome": "invalid"})
    units = _organisations(departments, "departments")
    moment = _when(at)
    with transaction.atomic():
        visitor = _visitor(actor, person, workstation)
        visit = Visit.objects.create(
            workstation=workstation, visitor=visitor, at=moment, matter=matter, category=category, outcome=outcome,
            received_by=_user(actor),
        )
        visit.departments.set(units)
        audit.record(actor, "pingan.visit.registered", visit, changes={
            "workstation": workstation.code, "visitor": visitor.audit_repr(), "category": category,
            "departments": [u.code for u in units], "outcome": outcome,
        })
    return visit


def open_event_from_visit(actor: Any, visit: Visit, data: ReportInput, *, idempotency_key: str | None = None) -> Event:
    """Open an event for the visitor's matter (source "workstation_visit"); the visitor is a party."""
    _visible_or_404(actor, fp.RECORD_VISIT.code, visit)
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.event_id is not None:
            raise ConflictError("event_exists", "the visit already opened an event", event_id=locked.event_id)
        # The visitor becomes a party when the actor may see the person (a visitor from elsewhere,
        # matched by ID number, may live outside the workstation's scope).
        linked = not _is_user(actor) or policy.can(actor, ap.VIEW_PERSON.code, locked.visitor)
        event = _report(actor, data, SOURCE_VISIT, idempotency_key=idempotency_key,
                        person_ids=[locked.visitor_id] if linked else [])
        locked.event = event
        locked.outcome = VisitOutcome.EVENT_OPENED
        locked.save(update_fields=["event", "outcome"])
        audit.record(actor, "pingan.visit.event_opened", locked, changes={"event": event.number, "visitor_party": linked})
    return event


# --- places and inspections ------------------------------------------------------------------


def register_place(
    actor: Any,
    *,
    name: str,
    kind: str,
    lon: float,
    lat: float,
    crs: str = "wgs84",
    address: str = "",
    enterprise: Organisation | None = None,
) -> Place:
    """Register a place, located to the finest area that holds its point."""
    _require(actor, fp.INSPECT.code)
    name = _text(name, "name", limit=120)
    address = _text(address, "address", required=False, limit=200)
    if kind not in PlaceKind.values:
        raise ValidationFailed("invalid_kind", f"unknown kind {kind!r}", fields={"kind": "invalid"})
    if enterprise is not None and enterprise.kind != OrgKind.ENTERPRISE:
        raise ValidationFailed("not_an_enterprise", "the organisation is not an enterprise", fields={"enterprise": "invalid"})
    wlon, wlat = clean_point(lon, lat, crs)
    located = geo_queries.locate(wlon, wlat)
    code = located and (located.microgrid or located.grid or located.village or located.town or located.district)
    if not code:
        raise ValidationFailed("outside_district", "the point is outside every area", fields={"lon": "outside"})
    area = Area.objects.get(code=code)
    if _is_user(actor) and not policy.can(actor, fp.INSPECT.code, area):
        raise PermissionDeniedError("area_out_of_scope", "the place is outside your scope")
    with transaction.atomic():
        place = Place.objects.create(name=name, kind=kind, area=area, lon=wlon, lat=wlat, address=address,
                                     enterprise=enterprise, created_at=clock.now())
        audit.record(actor, "pingan.place.registered", place, changes={
            "kind": kind, "area": area.code, "enterprise": enterprise.code if enterprise else None,
        })
    return place


# The default taxonomy's hazard subtypes (events migration 0002) for the kinds of place they fit.
HAZARD_TYPE_BY_KIND: dict[str, str] = {
    PlaceKind.DELIVERY_OUTLET: "hazard-delivery",
    PlaceKind.ENTERPRISE: "hazard-production",
    PlaceKind.CONSTRUCTION_SITE: "hazard-production",
}
HAZARD_TYPE_DEFAULT = "hazard-fire"


def hazard_event_type(kind: str = "") -> str:
    """The event type a hazard finding opens: the default taxonomy's safety-hazard subtype for the
    kind of place; else the first active subtype of a "hazard…"/"safety…" type or of a type named
    安全…; else such a first-level type itself."""
    from pingan.events.models import EventType

    active = EventType.objects.filter(is_active=True).order_by("order", "code")
    preferred = [HAZARD_TYPE_BY_KIND.get(kind, HAZARD_TYPE_DEFAULT), HAZARD_TYPE_DEFAULT]
    for code in preferred:
        if active.filter(code=code).exists():
            return code
    for candidate in (
        active.filter(parent__code__in=["hazard", "safety"], parent__is_active=True),
        active.filter(parent__code__startswith="safety", parent__is_active=True),
        active.filter(parent__name__startswith="安全", parent__is_active=True),
        active.filter(code__in=["hazard", "safety"]),
        active.filter(name__startswith="安全"),
    ):
        found = candidate.values_list("code", flat=True).first()
        if found:
            return found
    raise ValidationFailed("no_hazard_type", "no active safety-hazard event type is configured")


def record_inspection(
    actor: Any,
    place: Place,
    *,
    findings: str,
    hazard: bool = False,
    hazard_level: str = "",
    at: dt.datetime | None = None,
    patrol: Patrol | None = None,
    event_type: str = "",
) -> Inspection:
    """Record an inspection; a hazard finding opens a safety-hazard event (source "inspection")."""
    _visible_or_404(actor, fp.INSPECT.code, place)
    findings = _text(findings, "findings")
    if hazard:
        hazard_level = hazard_level or HazardLevel.GENERAL
        if hazard_level not in HazardLevel.values:
            raise ValidationFailed("invalid_hazard_level", f"unknown level {hazard_level!r}", fields={"hazard_level": "invalid"})
    else:
        hazard_level = ""
    moment = _when(at)
    with transaction.atomic():
        if patrol is not None:
            patrol = _own_open_patrol(actor, patrol)
        inspection = Inspection.objects.create(place=place, inspector=_user(actor), at=moment, findings=findings, hazard=hazard,
                                               hazard_level=hazard_level, patrol=patrol)
        if patrol is not None:
            patrol.places_checked += 1
            patrol.save(update_fields=["places_checked"])
        if hazard:
            from pingan.events.actions import ReportInput

            data = ReportInput(
                event_type=event_type or hazard_event_type(place.kind),
                title=(gettext("Hazard at %(place)s") % {"place": place.name})[:120],
                description=findings, lon=place.lon, lat=place.lat, address=place.address, source=SOURCE_INSPECTION,
                priority="high" if hazard_level == HazardLevel.MAJOR else "normal", tags=["hazard", hazard_level],
            )
            inspection.event = _report(actor, data, SOURCE_INSPECTION)
            inspection.save(update_fields=["event"])
        audit.record(actor, "pingan.inspection.recorded", inspection, changes={
            "place": place.pk, "hazard": hazard, "hazard_level": hazard_level,
            "event": inspection.event.number if inspection.event else None,
        })
    return inspection


# --- joint enforcement -----------------------------------------------------------------------


def record_joint_enforcement(
    actor: Any,
    *,
    workstation: Organisation,
    departments: Iterable[Organisation | int],
    findings: str,
    at: dt.datetime | None = None,
    place: Place | None = None,
    address: str = "",
    events: Iterable[Event | int] = (),
) -> JointEnforcement:
    """Record a joint enforcement action of a workstation with the departments that took part."""
    from pingan.events import permissions as ep
    from pingan.events.models import Event

    _require(actor, fp.ENFORCE.code)
    _workstation(actor, workstation, fp.ENFORCE.code)
    findings = _text(findings, "findings")
    address = _text(address, "address", required=False, limit=200)
    units = [u for u in _organisations(departments, "departments") if u.pk != workstation.pk]
    if not units:
        raise ValidationFailed("departments_required", "name at least one participating department",
                               fields={"departments": "required"})
    if place is not None:
        _visible_or_404(actor, fp.VIEW_FIELDWORK.code, place)
        address = address or place.address or place.name
    if not address:
        raise ValidationFailed("invalid_address", "give a place or an address", fields={"address": "required"})
    event_ids = {e.pk if isinstance(e, Event) else int(e) for e in events}
    found = Event.objects.filter(pk__in=event_ids)
    linked = list(policy.restrict(actor, ep.VIEW_EVENT.code, found) if _is_user(actor) else found)
    if len(linked) != len(event_ids):
        raise NotFoundError("event_not_found", "an event was not found", fields={"events": "unknown"})
    moment = _when(at)
    with transaction.atomic():
        action = JointEnforcement.objects.create(workstation=workstation, at=moment, place=place, address=address,
                                                 findings=findings, recorded_by=_user(actor))
        action.departments.set(units)
        action.events.set(linked)
        audit.record(actor, "pingan.joint_enforcement.recorded", action, changes={
            "workstation": workstation.code, "departments": [u.code for u in units], "place": place.pk if place else None,
            "events": sorted(e.number for e in linked),
        })
    return action

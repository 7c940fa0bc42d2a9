"""Every change of an event's state is one function here.

Each transition: checks the permission and scope with the access policy, checks the state, writes with a
conditional ``UPDATE … WHERE id = ? AND version = ?`` (a stale or concurrent writer gets
``ConflictError("stale_version")`` with the current state), adds one timeline entry (``Transition``) and one
audit entry ``pingan.event.<verb>``, and queues notifications for after the commit.

``actor`` is a User, or a string naming a system channel (``"system"``, ``"demo"``, ``"bench"``) for jobs
and loaders; a string actor skips the permission checks.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind, Person, User
from pingan.accounts.permissions import VIEW_PERSON
from pingan.core import audit, clock, counters, personal
from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.events import lookups, routing
from pingan.events import permissions as perms
from pingan.events.errors import IllegalTransition, RateLimited, StaleVersion
from pingan.events.models import (
    FINAL_STATES,
    OPEN_STATES,
    Attachment,
    Event,
    EventPerson,
    EventSequence,
    EventType,
    Extension,
    IdempotencyKey,
    Level,
    Priority,
    ResolutionMethod,
    RoutingRule,
    Source,
    State,
    Task,
    TaskState,
    TimeBasis,
    Transition,
)
from pingan.events.uploads import clean_upload
from pingan.geo.coords import CRS_NAMES, to_wgs84
from pingan.geo.models import Area

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")

DEFAULT_ACCEPT_MINUTES = 240
DEFAULT_RESOLVE_MINUTES = 2400
DEFAULT_WARN_PERCENT = 75

#: states whose clock runs against the accept deadline, and those against the resolve deadline (an accepted
#: event waiting for dispatch has no clock of its own)
ACCEPT_PHASE = (State.REPORTED,)
RESOLVE_PHASE = (State.DISPATCHED, State.RETURNED, State.IN_PROGRESS)
PARKABLE = (State.ACCEPTED, State.DISPATCHED, State.RETURNED, State.IN_PROGRESS)
NOT_FINAL = (*OPEN_STATES, State.PARKED)

NEXT_LEVEL = {Level.GRID: Level.WORKSTATION, Level.WORKSTATION: Level.TOWN, Level.TOWN: Level.DISTRICT}
DISTRICT_UNIT_CODE = "zfw"  # 区委政法委

ATTACHMENT_STAGES = ("report", "progress", "resolve", "verify")

Actor = Any


# --- small helpers ---------------------------------------------------------------------------


def _is_system(actor: Actor) -> bool:
    return isinstance(actor, str)


def _user(actor: Actor) -> User | None:
    return actor if getattr(actor, "is_authenticated", False) else None


def _actor_name(actor: Actor) -> str:
    if isinstance(actor, str):
        return actor
    user = _user(actor)
    return user.username if user is not None else ""


def _is_district_admin(actor: Actor) -> bool:
    user = _user(actor)
    if user is None:
        return False
    return bool(user.is_superuser and user.is_active) or "district_admin" in policy.role_codes(user)


def reopen_days() -> int:
    return int(getattr(settings, "PINGAN_EVENT_REOPEN_DAYS", 30))


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def add_time(start: datetime, minutes: int, basis: str) -> datetime:
    """``deadlines.add_time`` (working or calendar time); plain calendar time until that module exists."""
    try:
        deadlines = importlib.import_module("pingan.events.deadlines")
    except ModuleNotFoundError as exc:
        if exc.name != "pingan.events.deadlines":
            raise
        return start + timedelta(minutes=minutes)
    result: datetime = deadlines.add_time(start, minutes, basis)
    return result


def _limits(rule: RoutingRule | None) -> tuple[int, int, int, str]:
    """(accept minutes, resolve minutes, warn percent, time basis) of a rule, or the defaults."""
    if rule is None:
        return DEFAULT_ACCEPT_MINUTES, DEFAULT_RESOLVE_MINUTES, DEFAULT_WARN_PERCENT, TimeBasis.WORKING
    return rule.accept_minutes, rule.resolve_minutes, rule.warn_percent, rule.time_basis


def _deadline(start: datetime, minutes: int, percent: int, basis: str) -> tuple[datetime, datetime]:
    """(due, warn at) for a limit of ``minutes`` from ``start``."""
    due = add_time(start, minutes, basis)
    warn = add_time(start, max(0, minutes * percent // 100), basis)
    return due, warn


def _text(value: str, field_name: str, *, max_length: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{field_name}_required", f"{field_name} is required", field=field_name)
    if len(text) > max_length:
        raise ValidationFailed(f"{field_name}_too_long", f"{field_name}: at most {max_length} characters", field=field_name)
    return text


# --- access ----------------------------------------------------------------------------------


def _refuse(actor: Actor, event: Event, code: str = "permission_denied") -> None:
    """403 when the actor can see the event, 404 when it is out of their sight altogether."""
    if policy.can(actor, perms.VIEW_EVENT.code, event) or (event.reporter_id and event.reporter_id == getattr(actor, "pk", None)):
        raise PermissionDeniedError(code, "not allowed on this event")
    raise NotFoundError("not_found", "no such event")


def _require(actor: Actor, perm: str, event: Event) -> None:
    if _is_system(actor):
        return
    if not policy.has_perm(actor, perm):
        raise PermissionDeniedError("permission_denied", f"not allowed: {perm}")
    if not policy.can(actor, perm, event):
        _refuse(actor, event)


def _require_unit(actor: Actor, event: Event, unit_id: int | None, code: str = "not_lead_unit") -> None:
    """events.handle_event on the event, and the actor belongs to the unit (district admins may step in)."""
    _require(actor, perms.HANDLE_EVENT.code, event)
    if _is_system(actor) or _is_district_admin(actor):
        return
    if unit_id is None or getattr(actor, "organisation_id", None) != unit_id:
        raise PermissionDeniedError(code, "only the handling unit may do this")


def _require_verifier(actor: Actor, event: Event) -> None:
    """events.verify_event, and the actor is the reporter or reaches the event."""
    if _is_system(actor):
        return
    if not policy.has_perm(actor, perms.VERIFY_EVENT.code):
        raise PermissionDeniedError("permission_denied", f"not allowed: {perms.VERIFY_EVENT.code}")
    if event.reporter_id is not None and event.reporter_id == getattr(actor, "pk", None):
        return
    if not policy.can(actor, perms.VERIFY_EVENT.code, event):
        _refuse(actor, event)


def _check_state(event: Event, allowed: Iterable[str], action: str) -> None:
    if event.state not in tuple(allowed):
        raise IllegalTransition(event.state, action)


# --- writing ---------------------------------------------------------------------------------


def _entry(event: Event, actor: Actor, action: str, from_state: str, to_state: str, note: str = "",
           data: dict[str, Any] | None = None, at: datetime | None = None) -> Transition:
    """A timeline entry, not yet saved."""
    return Transition(
        event=event, at=at or clock.now(), actor=_user(actor), actor_name=_actor_name(actor), action=action,
        from_state=from_state, to_state=to_state, note=note, data=data or {},
    )


def _timeline(event: Event, actor: Actor, action: str, from_state: str, to_state: str, note: str = "",
              data: dict[str, Any] | None = None, at: datetime | None = None) -> Transition:
    entry = _entry(event, actor, action, from_state, to_state, note, data, at)
    entry.save(force_insert=True)
    return entry


def _write(actor: Actor, event: Event, action: str, *, to_state: str, version: int | None, fields: dict[str, Any] | None = None,
           note: str = "", data: dict[str, Any] | None = None, changes: dict[str, Any] | None = None) -> Event:
    """The conditional update, the timeline entry and the audit entry of one transition (inside a transaction)."""
    expected = event.version if version is None else version
    now = clock.now()
    from_state = event.state
    values: dict[str, Any] = dict(fields or {})
    values["state"] = to_state
    values["updated_at"] = now
    rows = Event.objects.filter(pk=event.pk, version=expected).update(**values, version=F("version") + 1)
    if rows == 0:
        current = Event.objects.filter(pk=event.pk).values("state", "version").first()
        raise StaleVersion(current["state"] if current else None, current["version"] if current else None)
    for name, value in values.items():
        setattr(event, name, value)
    event.version = expected + 1
    _timeline(event, actor, action, from_state, to_state, note, data, now)
    audit.record(actor, f"pingan.event.{action}", event,
                 changes={"state": [from_state, to_state], "version": event.version, **(changes or {})})
    return event


def _note_only(actor: Actor, event: Event, action: str, note: str = "", data: dict[str, Any] | None = None,
               changes: dict[str, Any] | None = None) -> Transition:
    """A timeline entry that changes no field of the event (progress notes, extension requests …)."""
    entry = _timeline(event, actor, action, event.state, event.state, note, data)
    audit.record(actor, f"pingan.event.{action}", event, changes={"state": event.state, **(changes or {})})
    return entry


@dataclass
class _Note:
    """One notification an action queues: its kind and text, and whom it concerns."""

    kind: str
    text: Any
    org_ids: set[int]
    reporter_id: int | None


def _note(event: Event, kind: str, text: Any, *, units: Iterable[int | None] = (), reporter: bool = False,
          workstation: bool = False) -> _Note:
    org_ids = {u for u in units if u}
    if workstation and event.workstation_id:
        org_ids.add(event.workstation_id)
    return _Note(kind, text, org_ids, event.reporter_id if reporter else None)


def _notify(event: Event, kind: str, text: Any, *, actor: Actor = None, units: Iterable[int | None] = (),
            reporter: bool = False, workstation: bool = False) -> None:
    """Queue ``notify.notify(event, kind, text, users)`` for after the commit (a failing channel never rolls
    back the transition)."""
    _notify_all(event, [_note(event, kind, text, units=units, reporter=reporter, workstation=workstation)], actor=actor)


def _notify_all(event: Event, notes: Sequence[_Note], *, actor: Actor = None) -> None:
    """Queue the notes of one action for after its commit: then one query finds the active users they concern
    (never the actor), and their rows are written together (``notify.notify_many``)."""
    exclude_id = getattr(_user(actor), "pk", None)
    org_ids = {o for n in notes for o in n.org_ids}
    reporter_ids = {n.reporter_id for n in notes if n.reporter_id}
    if not org_ids and not reporter_ids:
        return

    def send() -> None:
        try:
            module = importlib.import_module("pingan.events.notify")
        except ModuleNotFoundError as exc:
            if exc.name == "pingan.events.notify":
                return
            raise
        users = User.objects.filter(Q(organisation_id__in=org_ids) | Q(pk__in=reporter_ids), is_active=True)
        if exclude_id is not None:
            users = users.exclude(pk=exclude_id)
        found = list(users)
        batch = []
        for n in notes:
            recipients = [u for u in found if u.organisation_id in n.org_ids or (n.reporter_id and u.pk == n.reporter_id)]
            if recipients:
                batch.append((event, n.kind, str(n.text), recipients))
        if batch:
            module.notify_many(batch)

    transaction.on_commit(send, robust=True)


# --- report ----------------------------------------------------------------------------------


@dataclass
class ReportInput:
    event_type: str            # EventType.code
    title: str
    description: str
    lon: float
    lat: float
    crs: str = "wgs84"         # wgs84 | cgcs2000 | gcj02 | bd09
    address: str = ""
    source: str = "grid_patrol"
    priority: str = "normal"
    reporter_name: str = ""    # members of the public
    reporter_phone: str = ""
    person_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def input_hash(data: ReportInput) -> str:
    """SHA-256 of the canonical JSON of a report (what an Idempotency-Key is bound to)."""
    body = json.dumps(asdict(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _is_public(user: User | None, actor: Actor, data: ReportInput) -> bool:
    if user is not None:
        return "public" in policy.role_codes(user) and not policy.has_perm(user, perms.TRIAGE_EVENT.code)
    return data.source == Source.PUBLIC or actor == "public"


@dataclass
class _Located:
    area: Area
    microgrid: Area | None
    grid: Area | None
    village: Area | None
    town: Area | None
    workstation: Organisation | None


def _locate(lon: float, lat: float) -> _Located:
    """The point's areas, finest first, from the process's locate index and area map (no query), and the
    workstation covering them (from :mod:`pingan.events.lookups`)."""
    from pingan.geo.queries import areas_by_code, locate

    found = locate(lon, lat, "wgs84")
    if found is None:
        raise ValidationFailed("outside_district", "the point is outside the district", field="location")
    codes = [c for c in (found.microgrid, found.grid, found.village, found.town, found.district) if c]
    areas = areas_by_code(codes)
    chain = [areas[c] for c in codes if c in areas]
    if not chain:
        raise ValidationFailed("outside_district", "the point is outside the district", field="location")
    village = areas.get(found.village or "")
    workstation = lookups.workstation(village.pk if village is not None else None, [a.pk for a in chain])
    return _Located(
        area=chain[0],
        microgrid=areas.get(found.microgrid or ""),
        grid=areas.get(found.grid or ""),
        village=village,
        town=areas.get(found.town or ""),
        workstation=workstation,
    )


def _clean_report(actor: Actor, user: User | None, data: ReportInput, public: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    event_type = lookups.event_type(data.event_type)
    if event_type is None:
        raise ValidationFailed("unknown_event_type", f"no active event type {data.event_type!r}", field="event_type")
    title = (data.title or "").strip()
    if not 1 <= len(title) <= 120:
        errors["title"] = "a title of 1 to 120 characters is required"
    description = (data.description or "").strip()
    if not description or len(description) > 5000:
        errors["description"] = "a description of at most 5000 characters is required"
    source = Source.PUBLIC.value if public and user is not None else data.source
    if source not in Source.values:
        errors["source"] = f"unknown source {data.source!r}"
    if data.priority not in Priority.values:
        errors["priority"] = f"unknown priority {data.priority!r}"
    address = (data.address or "").strip()
    if len(address) > 200:
        errors["address"] = "at most 200 characters"
    crs = (data.crs or "").strip().lower()
    lon = lat = math.nan
    if crs not in CRS_NAMES:
        errors["crs"] = f"unknown coordinate system {data.crs!r}"
    try:
        lon, lat = float(data.lon), float(data.lat)
    except (TypeError, ValueError):
        errors["location"] = "longitude and latitude must be numbers"
    if isinstance(data.lon, bool) or isinstance(data.lat, bool) or not (math.isfinite(lon) and math.isfinite(lat)):
        errors.setdefault("location", "longitude and latitude must be finite numbers")
    elif not (-180 <= lon <= 180 and -90 <= lat <= 90):
        errors["location"] = "longitude must lie in [-180, 180] and latitude in [-90, 90]"
    name = (data.reporter_name or "").strip() or (user.display_name if public and user is not None else "")
    raw_phone = (data.reporter_phone or "").strip() or (user.phone if public and user is not None else "")
    phone = ""
    if len(name) > 60:
        errors["reporter_name"] = "at most 60 characters"
    if raw_phone:
        try:
            phone = personal.normalize_phone(raw_phone)
        except ValueError as exc:
            errors["reporter_phone"] = str(exc)
    if public:
        if not name:
            errors["reporter_name"] = "a member of the public gives a name"
        if not raw_phone:
            errors["reporter_phone"] = "a member of the public gives a phone number"
    tags: list[str] = []
    for tag in data.tags or []:
        text = str(tag).strip()
        if not text:
            continue
        if len(text) > 30:
            errors["tags"] = "a tag has at most 30 characters"
        elif text not in tags:
            tags.append(text)
    if len(tags) > 10:
        errors["tags"] = "at most 10 tags"
    person_ids = sorted({int(i) for i in data.person_ids or []})
    persons: list[Person] = []
    if person_ids:
        found = Person.objects.filter(pk__in=person_ids)
        if user is not None:
            found = policy.restrict(user, VIEW_PERSON.code, found)
        persons = list(found)
        if len(persons) != len(person_ids):
            errors["person_ids"] = "unknown person"
    if errors:
        raise ValidationFailed("invalid_event", "; ".join(f"{k}: {v}" for k, v in errors.items()), fields=errors)
    wlon, wlat = to_wgs84(lon, lat, crs)
    return {
        "event_type": event_type, "title": title, "description": description, "source": source,
        "priority": data.priority, "address": address, "crs": crs, "lon": wlon, "lat": wlat,
        "reporter_name": name, "reporter_phone": phone, "tags": tags, "persons": persons,
    }


def _rate_limit(client_ip: str | None, phone: str) -> None:
    limit = int(getattr(settings, "PINGAN_PUBLIC_REPORTS_PER_HOUR", 10))
    bucket = int(clock.now().timestamp() // 3600)
    for kind, value in (("ip", client_ip), ("phone", phone)):
        if not value:
            continue
        key = f"pingan:events:report:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}:{bucket}"
        cache.add(key, 0, timeout=7200)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=7200)
            count = 1
        if count > limit:
            raise RateLimited("rate_limited", "too many reports; try again later", per=kind, limit=limit)


def _next_number(now: datetime) -> str:
    """NX-YYYYMMDD-000123: per Asia/Shanghai day (``counters.count_up``: the day's row stays locked until the
    commit, so two concurrent reports never share a number, and a rolled-back report gives its number back)."""
    day = local_day(now)
    last = counters.count_up(EventSequence, "day", day)
    return f"NX-{day:%Y%m%d}-{last:06d}"


def _replay(found: tuple[str, int], body_hash: str) -> Event:
    if found[0] != body_hash:
        raise ValidationFailed("idempotency_mismatch", "this Idempotency-Key was used with a different request")
    return Event.objects.get(pk=found[1])


def _known_key(user: User, key: str) -> tuple[str, int] | None:
    """(body hash, event id) of the user's key, if it was used (a fixed statement: every keyed report asks)."""
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"SELECT {q('body_hash')}, {q('event_id')} FROM {q(IdempotencyKey._meta.db_table)} "  # noqa: S608
                    f"WHERE {q('user_id')} = %s AND {q('key')} = %s", [user.pk, key])
        row = cur.fetchone()
    return (str(row[0]), int(row[1])) if row else None


def report_event(actor: Actor, data: ReportInput, *, idempotency_key: str | None = None,
                 client_ip: str | None = None) -> Event:
    """上报: validate, locate, number, route (and dispatch at once when the rule says so)."""
    user = _user(actor)
    if user is not None:
        if not policy.has_perm(user, perms.REPORT_EVENT.code):
            raise PermissionDeniedError("permission_denied", f"not allowed: {perms.REPORT_EVENT.code}")
    elif not _is_system(actor) and data.source != Source.PUBLIC:
        raise PermissionDeniedError("permission_denied", "log in to report")
    public = _is_public(user, actor, data)
    key = (idempotency_key or "").strip() or None
    if key is not None and not 1 <= len(key) <= 80:
        raise ValidationFailed("invalid_idempotency_key", "an Idempotency-Key has 1 to 80 characters")
    body_hash = input_hash(data)
    keyed = (user, key) if user is not None and key is not None else None
    if keyed is not None:
        found = _known_key(*keyed)
        if found is not None:
            return _replay(found, body_hash)
    clean = _clean_report(actor, user, data, public)
    where = _locate(clean["lon"], clean["lat"])
    if public:
        _rate_limit(client_ip, clean["reporter_phone"])
    try:
        with transaction.atomic():
            event = _create(actor, user, clean, where, keyed=keyed, body_hash=body_hash)
    except IntegrityError:
        if keyed is not None:
            found = _known_key(*keyed)
            if found is not None:
                return _replay(found, body_hash)
        raise
    return event


def _create(actor: Actor, user: User | None, clean: dict[str, Any], where: _Located, *,
            keyed: tuple[User, str] | None = None, body_hash: str = "") -> Event:
    """The report's rows in a few statements: the number, the event, its people, the tasks of an automatic
    dispatch, the idempotency key, the timeline entries (one insert) and the audit entries (one append)."""
    now = clock.now()
    event_type: EventType = clean["event_type"]
    rule = routing.match_for(event_type, where.area, clean["priority"])
    accept_minutes, resolve_minutes, warn_percent, basis = _limits(rule)
    accept_due, warn_at = _deadline(now, accept_minutes, warn_percent, basis)
    event = Event(
        event_type=event_type, source=clean["source"], priority=clean["priority"],
        state=State.REPORTED, level=Level.WORKSTATION, title=clean["title"], description=clean["description"],
        tags=clean["tags"], reporter=user, reporter_name=clean["reporter_name"], reporter_phone=clean["reporter_phone"],
        lon=clean["lon"], lat=clean["lat"], input_crs=clean["crs"], address=clean["address"],
        microgrid=where.microgrid, grid=where.grid, village=where.village, town=where.town, area=where.area,
        workstation=where.workstation, rule=rule, time_basis=basis, accept_due=accept_due, warn_at=warn_at,
        created_at=now, updated_at=now, version=1,
    )
    lead: Organisation | None = None
    assisting: list[Organisation] = []
    if rule is not None and rule.auto_dispatch:
        lead = rule.lead_unit or where.workstation
        if lead is not None:
            assisting = [u for u in rule.assisting_units.all() if u.pk != lead.pk]
            event.state = State.DISPATCHED
            event.lead_unit = lead
            event.dispatched_at = now
            event.resolve_due, event.warn_at = _deadline(now, resolve_minutes, warn_percent, basis)
    repeat_of = _repeat_of(event, user)
    if repeat_of is not None and "repeat" not in event.tags:
        event.tags = [*event.tags, "repeat"]
    # Numbered last before the insert: the day's counter is held from here to the commit.
    event.number = _next_number(now)
    event.save(force_insert=True)
    if clean["persons"]:
        EventPerson.objects.bulk_create([EventPerson(event=event, person=p, role=EventPerson.Role.PARTY)
                                         for p in clean["persons"]])
    data: dict[str, Any] = {"area": where.area.code, "rule": rule.pk if rule else None}
    if repeat_of is not None:
        data["repeat_of"] = repeat_of[1]
        Event.objects.filter(pk=repeat_of[0]).update(repeat_count=F("repeat_count") + 1)
    entries = [_entry(event, actor, "report", "", State.REPORTED, "", data, now)]
    journal = [audit.Pending(actor, "pingan.event.report", event, changes={
        "number": event.number, "type": event_type.code, "source": event.source, "priority": event.priority,
        "area": where.area.code, "reporter_phone": personal.mask_phone(event.reporter_phone),
        "repeat_of": repeat_of[1] if repeat_of else None, "rule": rule.pk if rule else None,
    })]
    notes: list[_Note] = []
    if event.state == State.DISPATCHED and lead is not None:
        _new_tasks(event, lead, assisting, event.resolve_due, now)
        entries.append(_entry(event, "system", "dispatch", State.REPORTED, State.DISPATCHED, "",
                              {"lead_unit": lead.code, "assisting_units": [u.code for u in assisting], "auto": True}, now))
        journal.append(audit.Pending("system", "pingan.event.dispatch", event, changes={
            "state": [State.REPORTED, State.DISPATCHED], "lead_unit": lead.code,
            "assisting_units": [u.code for u in assisting], "auto": True,
        }))
        notes.append(_note(event, "dispatched", _("Event {number} was dispatched to your unit").format(number=event.number),
                           units=[lead.pk, *(u.pk for u in assisting)]))
    notes.append(_note(event, "reported", _("New event {number}: {title}").format(number=event.number, title=event.title),
                       workstation=True))
    if keyed is not None:
        IdempotencyKey.objects.create(user=keyed[0], key=keyed[1], body_hash=body_hash, event=event, created_at=now)
    Transition.objects.bulk_create(entries)
    audit.record_many(journal)  # last: the audit chain's head is held from here to the commit
    _notify_all(event, notes, actor=actor)
    event.reported_now = True
    return event


def _new_tasks(event: Event, lead: Organisation, assisting: Sequence[Organisation], due: datetime | None,
               now: datetime) -> None:
    """The tasks of an event that has none yet (what :func:`_set_tasks` writes then, in one insert)."""
    wanted: dict[int, bool] = {u.pk: False for u in assisting}
    wanted[lead.pk] = True
    Task.objects.bulk_create([Task(event=event, unit_id=unit_id, is_lead=is_lead, state=TaskState.PENDING, due=due,
                                   created_at=now) for unit_id, is_lead in wanted.items()])


def _repeat_of(event: Event, user: User | None) -> tuple[int, str] | None:
    """(id, number) of the earliest open or parked event of the same type by the same reporter (the user, or
    for a report without one the same phone) within 200 m and 7 days (重复件), or None. What
    :func:`_nearby_rows` asks, as one fixed statement: every report asks it."""
    if user is None and not event.reporter_phone:
        return None
    radius_m = 200.0
    lat_deg = radius_m / 111_320.0
    lon_deg = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(event.lat))))
    since = connection.ops.adapt_datetimefield_value(event.created_at - timedelta(days=7))
    q = connection.ops.quote_name
    states = list(NOT_FINAL)
    who, who_params = ((f"{q('reporter_id')} = %s", [user.pk]) if user is not None
                       else (f"{q('reporter_id')} IS NULL AND {q('reporter_phone')} = %s", [event.reporter_phone]))
    sql = (
        f"SELECT {q('id')}, {q('lon')}, {q('lat')}, {q('created_at')}, {q('number')} "  # noqa: S608 (names from the model)
        f"FROM {q(Event._meta.db_table)} WHERE {q('event_type_id')} = %s "
        f"AND {q('state')} IN ({', '.join(['%s'] * len(states))}) AND {q('created_at')} >= %s "
        f"AND {q('lon')} BETWEEN %s AND %s AND {q('lat')} BETWEEN %s AND %s AND {who}"
    )
    params = [event.event_type_id, *states, since, event.lon - lon_deg, event.lon + lon_deg,
              event.lat - lat_deg, event.lat + lat_deg, *who_params]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = [r for r in cur.fetchall() if r[0] != event.pk and _metres(event.lon, event.lat, r[1], r[2]) <= radius_m]
    if not rows:
        return None
    first = min(rows, key=lambda row: (row[3], row[0]))  # created_at: text on SQLite, ordered as time
    return int(first[0]), str(first[4])


def _nearby_rows(event: Event, *, radius_m: float, days: int, states: Sequence[str], where: Q | None = None,
                 extra: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """(pk, lon, lat, *extra) of the events of the event's type within ``radius_m`` (a box in SQL, then the
    great-circle distance) and ``days`` before it."""
    lat_deg = radius_m / 111_320.0
    lon_deg = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(event.lat))))
    since = event.created_at - timedelta(days=days)
    rows = (
        Event.objects.filter(event_type_id=event.event_type_id, state__in=states, created_at__gte=since,
                             lon__range=(event.lon - lon_deg, event.lon + lon_deg),
                             lat__range=(event.lat - lat_deg, event.lat + lat_deg))
        .filter(where or Q())
        .exclude(pk=event.pk)
        .values_list("pk", "lon", "lat", *extra)
    )
    return [row for row in rows if _metres(event.lon, event.lat, row[1], row[2]) <= radius_m]


def _nearby(event: Event, *, radius_m: float, days: int, states: Sequence[str], where: Q | None = None) -> QuerySet[Event]:
    """The events :func:`_nearby_rows` finds, as a queryset."""
    ids = [row[0] for row in _nearby_rows(event, radius_m=radius_m, days=days, states=states, where=where)]
    return Event.objects.filter(pk__in=ids)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def possible_duplicates(event: Event, *, radius_m: float = 200, days: int = 7) -> QuerySet[Event]:
    """Events of the same type within ``radius_m`` and ``days`` that this one may duplicate: open or parked
    ones, and closed ones still inside the reopen window (merging into those reopens them)."""
    candidates = _nearby(event, radius_m=radius_m, days=days, states=(*NOT_FINAL, State.CLOSED))
    window_start = clock.now() - timedelta(days=reopen_days())
    return candidates.filter(Q(state__in=NOT_FINAL) | Q(state=State.CLOSED, closed_at__gte=window_start)).order_by("-created_at")


# --- triage ----------------------------------------------------------------------------------


def accept_event(actor: Actor, event: Event, *, note: str = "", version: int | None = None) -> Event:
    _require(actor, perms.TRIAGE_EVENT.code, event)
    _check_state(event, (State.REPORTED,), "accept")
    note = _text(note, "note", max_length=2000, required=False)
    with transaction.atomic():
        _write(actor, event, "accept", to_state=State.ACCEPTED, version=version, fields={"accepted_at": clock.now()}, note=note)
        _notify(event, "accepted", _("Event {number} was accepted").format(number=event.number), actor=actor, reporter=True)
    return event


def reject_event(actor: Actor, event: Event, *, reason: str, version: int | None = None) -> Event:
    _require(actor, perms.TRIAGE_EVENT.code, event)
    _check_state(event, (State.REPORTED,), "reject")
    reason = _text(reason, "reason", max_length=200)
    with transaction.atomic():
        _write(actor, event, "reject", to_state=State.REJECTED, version=version, fields={"reject_reason": reason}, note=reason)
        _notify(event, "rejected", _("Event {number} was not accepted").format(number=event.number), actor=actor, reporter=True)
    return event


def merge_event(actor: Actor, event: Event, *, into: Event, version: int | None = None) -> Event:
    """A duplicate joins another event; merging into a closed event inside the reopen window reopens it."""
    _require(actor, perms.TRIAGE_EVENT.code, event)
    if not _is_system(actor) and not policy.can(actor, perms.VIEW_EVENT.code, into):
        raise NotFoundError("not_found", "no such event to merge into")
    _check_state(event, (State.REPORTED, State.ACCEPTED), "merge")
    if into.pk == event.pk:
        raise ValidationFailed("merge_into_itself", "an event cannot be merged into itself")
    with transaction.atomic():
        into.refresh_from_db()
        if into.state in (State.MERGED, State.REJECTED):
            raise ConflictError("invalid_merge_target", "that event was itself merged or rejected", state=into.state)
        _write(actor, event, "merge", to_state=State.MERGED, version=version, fields={"merged_into": into},
               data={"into": into.number}, changes={"into": into.number})
        _note_only(actor, into, "merged_in", data={"event": event.number}, changes={"event": event.number})
        if (into.state == State.CLOSED and into.closed_at is not None
                and into.closed_at >= clock.now() - timedelta(days=reopen_days())):
            _reopen("system", into, reason=str(_("A new report was merged into it")), version=None)
        _notify(event, "merged", _("Event {number} was merged into {into}").format(number=event.number, into=into.number),
                actor=actor, reporter=True)
    return event


def _set_tasks(event: Event, lead: Organisation, assisting: Sequence[Organisation], due: datetime | None,
               now: datetime, *, restart: bool = True) -> None:
    """One task per unit: the lead's and each assisting unit's. Units no longer involved keep their task as
    sent back (or done). ``restart``: the tasks begin again (dispatch, reopen); without it (escalation) the
    assisting units keep where they are and only the lead changes."""
    wanted: dict[int, bool] = {u.pk: False for u in assisting}
    wanted[lead.pk] = True
    existing = {t.unit_id: t for t in Task.objects.filter(event=event)}
    for unit_id, is_lead in wanted.items():
        task = existing.get(unit_id)
        if task is None:
            Task.objects.create(event=event, unit_id=unit_id, is_lead=is_lead, state=TaskState.PENDING, due=due, created_at=now)
        elif restart or task.state == TaskState.RETURNED:
            task.is_lead, task.state, task.due, task.done_at = is_lead, TaskState.PENDING, due, None
            task.save(update_fields=["is_lead", "state", "due", "done_at"])
        else:
            task.is_lead = is_lead
            if is_lead:
                task.due = due
            task.save(update_fields=["is_lead", "due"])
    for unit_id, task in existing.items():
        if unit_id not in wanted:
            task.is_lead = False
            if task.state != TaskState.DONE:
                task.state = TaskState.RETURNED
            task.save(update_fields=["is_lead", "state"])


def _assisting(event: Event, lead: Organisation) -> list[Organisation]:
    """The event's current assisting units (their tasks not sent back), other than ``lead``."""
    tasks = (Task.objects.filter(event=event, is_lead=False).exclude(state=TaskState.RETURNED).exclude(unit=lead)
             .select_related("unit").order_by("id"))
    return [t.unit for t in tasks]


def _units(lead_unit: Organisation, assisting_units: Iterable[Organisation]) -> list[Organisation]:
    if not isinstance(lead_unit, Organisation) or not lead_unit.is_active:
        raise ValidationFailed("invalid_unit", "an active lead unit is required", field="lead_unit")
    assisting: list[Organisation] = []
    for unit in assisting_units:
        if not isinstance(unit, Organisation) or not unit.is_active:
            raise ValidationFailed("invalid_unit", "assisting units must be active organisations", field="assisting_units")
        if unit.pk != lead_unit.pk and unit.pk not in {u.pk for u in assisting}:
            assisting.append(unit)
    return assisting


def dispatch_event(actor: Actor, event: Event, *, lead_unit: Organisation, assisting_units: Iterable[Organisation] = (),
                   note: str = "", version: int | None = None) -> Event:
    """交办: one task for the lead unit and one for each assisting unit; the resolve clock starts."""
    _require(actor, perms.TRIAGE_EVENT.code, event)
    _check_state(event, (State.ACCEPTED, State.RETURNED), "dispatch")
    assisting = _units(lead_unit, assisting_units)
    note = _text(note, "note", max_length=2000, required=False)
    now = clock.now()
    _accept, resolve_minutes, warn_percent, basis = _limits(event.rule)
    resolve_due, warn_at = _deadline(now, resolve_minutes, warn_percent, event.time_basis or basis)
    with transaction.atomic():
        _write(actor, event, "dispatch", to_state=State.DISPATCHED, version=version, note=note,
               fields={"lead_unit": lead_unit, "dispatched_at": now, "resolve_due": resolve_due, "warn_at": warn_at,
                       "warned": False, "overdue": False, "overdue_since": None},
               data={"lead_unit": lead_unit.code, "assisting_units": [u.code for u in assisting]},
               changes={"lead_unit": lead_unit.code, "assisting_units": [u.code for u in assisting]})
        _set_tasks(event, lead_unit, assisting, resolve_due, now)
        _notify(event, "dispatched", _("Event {number} was dispatched to your unit").format(number=event.number),
                actor=actor, units=[lead_unit.pk, *(u.pk for u in assisting)])
    return event


# --- handling --------------------------------------------------------------------------------


def _lead_task(event: Event) -> QuerySet[Task]:
    return Task.objects.filter(event=event, is_lead=True)


def return_event(actor: Actor, event: Event, *, reason: str, version: int | None = None) -> Event:
    """退回: the lead unit says the event is not theirs; it goes back to the dispatcher."""
    _require_unit(actor, event, event.lead_unit_id)
    _check_state(event, (State.DISPATCHED,), "return")
    reason = _text(reason, "reason", max_length=200)
    with transaction.atomic():
        _write(actor, event, "return", to_state=State.RETURNED, version=version, note=reason)
        _lead_task(event).update(state=TaskState.RETURNED)
        _notify(event, "returned", _("Event {number} was sent back").format(number=event.number), actor=actor, workstation=True)
    return event


def start_event(actor: Actor, event: Event, *, version: int | None = None) -> Event:
    _require_unit(actor, event, event.lead_unit_id)
    _check_state(event, (State.DISPATCHED,), "start")
    with transaction.atomic():
        _write(actor, event, "start", to_state=State.IN_PROGRESS, version=version)
        _lead_task(event).update(state=TaskState.IN_PROGRESS)
    return event


def _own_task(actor: Actor, event: Event) -> Task | None:
    unit_id = getattr(actor, "organisation_id", None)
    if unit_id is None:
        return None
    return Task.objects.filter(event=event, unit_id=unit_id).exclude(state=TaskState.RETURNED).first()


def add_progress(actor: Actor, event: Event, *, note: str) -> Transition:
    """A progress note by the lead unit or an assisting unit (in_progress → in_progress)."""
    _require(actor, perms.HANDLE_EVENT.code, event)
    task = _own_task(actor, event)
    if task is None and not (_is_system(actor) or _is_district_admin(actor)):
        raise PermissionDeniedError("not_task_unit", "only a unit handling the event may add progress")
    _check_state(event, (State.IN_PROGRESS,), "progress")
    note = _text(note, "note", max_length=2000)
    with transaction.atomic():
        entry = _note_only(actor, event, "progress", note=note, data={"unit": task.unit.code} if task else {})
        if task is not None:
            Task.objects.filter(pk=task.pk).update(notes=(task.notes + "\n" + note).strip())
        _notify(event, "progress", _("Progress on event {number}").format(number=event.number), actor=actor,
                units=[event.lead_unit_id], reporter=True)
    return entry


def complete_task(actor: Actor, task: Task, *, note: str) -> Task:
    """An assisting unit's share is done (the lead unit finishes by resolving the event)."""
    event = task.event
    _require_unit(actor, event, task.unit_id, code="not_task_unit")
    if task.is_lead:
        raise ConflictError("lead_task", "the lead unit finishes its task by resolving the event")
    _check_state(event, (State.DISPATCHED, State.IN_PROGRESS), "complete_task")
    note = _text(note, "note", max_length=2000)
    now = clock.now()
    with transaction.atomic():
        rows = Task.objects.filter(pk=task.pk, state__in=[TaskState.PENDING, TaskState.IN_PROGRESS]).update(
            state=TaskState.DONE, done_at=now, notes=(task.notes + "\n" + note).strip())
        if rows == 0:
            current = Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()
            raise ConflictError("illegal_transition", "this task is not open", state=current, action="complete_task")
        task.refresh_from_db()
        _note_only(actor, event, "complete_task", note=note, data={"unit": task.unit.code}, changes={"unit": task.unit.code})
        _notify(event, "task_done", _("A unit finished its part of event {number}").format(number=event.number),
                actor=actor, units=[event.lead_unit_id])
    return task


def resolve_event(actor: Actor, event: Event, *, result: str, measures: str, method: str,
                  version: int | None = None) -> Event:
    """办结 by the lead unit: only when every assisting task is done."""
    _require_unit(actor, event, event.lead_unit_id)
    _check_state(event, (State.IN_PROGRESS,), "resolve")
    result = _text(result, "result", max_length=5000)
    measures = _text(measures, "measures", max_length=5000, required=False)
    if method not in ResolutionMethod.values:
        raise ValidationFailed("invalid_method", f"unknown resolution method {method!r}", field="method")
    open_tasks = list(Task.objects.filter(event=event, is_lead=False, state__in=[TaskState.PENDING, TaskState.IN_PROGRESS])
                      .values_list("unit__code", flat=True))
    if open_tasks:
        raise ConflictError("assisting_tasks_open", "assisting units have not finished", units=open_tasks)
    now = clock.now()
    on_time = event.resolve_due is None or now <= event.resolve_due
    with transaction.atomic():
        _write(actor, event, "resolve", to_state=State.RESOLVED, version=version, note=result,
               fields={"result": result, "measures": measures, "resolution_method": method, "resolved_at": now,
                       "on_time": on_time},
               data={"method": method, "on_time": on_time}, changes={"method": method, "on_time": on_time})
        _lead_task(event).update(state=TaskState.DONE, done_at=now)
        _notify(event, "resolved", _("Event {number} was resolved; please verify").format(number=event.number),
                actor=actor, reporter=True, workstation=True)
    return event


# --- verification and closing ----------------------------------------------------------------


def verify_event(actor: Actor, event: Event, *, note: str = "", version: int | None = None) -> Event:
    _require_verifier(actor, event)
    _check_state(event, (State.RESOLVED,), "verify")
    note = _text(note, "note", max_length=2000, required=False)
    with transaction.atomic():
        _write(actor, event, "verify", to_state=State.VERIFIED, version=version, note=note)
        _notify(event, "verified", _("Event {number} was verified").format(number=event.number), actor=actor,
                units=[event.lead_unit_id], workstation=True)
    return event


def rework_event(actor: Actor, event: Event, *, reason: str, version: int | None = None) -> Event:
    _require_verifier(actor, event)
    _check_state(event, (State.RESOLVED,), "rework")
    reason = _text(reason, "reason", max_length=200)
    with transaction.atomic():
        _write(actor, event, "rework", to_state=State.IN_PROGRESS, version=version, note=reason,
               fields={"resolved_at": None, "on_time": None})
        _lead_task(event).update(state=TaskState.IN_PROGRESS, done_at=None)
        _notify(event, "rework", _("Event {number} needs more work").format(number=event.number), actor=actor,
                units=[event.lead_unit_id])
    return event


def close_event(actor: Actor, event: Event, *, satisfaction: int, note: str = "", version: int | None = None) -> Event:
    """归档 with the reporter's satisfaction (1–5); 2 or less reopens the event at once (same number)."""
    _require_verifier(actor, event)
    _check_state(event, (State.VERIFIED,), "close")
    if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
        raise ValidationFailed("invalid_satisfaction", "satisfaction is a whole number from 1 to 5", field="satisfaction")
    note = _text(note, "note", max_length=2000, required=False)
    with transaction.atomic():
        _write(actor, event, "close", to_state=State.CLOSED, version=version, note=note,
               fields={"satisfaction": satisfaction, "closed_at": clock.now()},
               data={"satisfaction": satisfaction}, changes={"satisfaction": satisfaction})
        if satisfaction <= 2:
            _reopen("system", event, reason=str(_("The reporter was not satisfied")), version=None)
        else:
            _notify(event, "closed", _("Event {number} was closed").format(number=event.number), actor=actor,
                    units=[event.lead_unit_id], reporter=True)
    return event


def _reopen(actor: Actor, event: Event, *, reason: str, version: int | None) -> Event:
    now = clock.now()
    lead = event.lead_unit or event.workstation
    if lead is None:
        raise ConflictError("no_unit", "the event has no unit to go back to")
    _accept, resolve_minutes, warn_percent, basis = _limits(event.rule)
    resolve_due, warn_at = _deadline(now, resolve_minutes, warn_percent, event.time_basis or basis)
    _write(actor, event, "reopen", to_state=State.DISPATCHED, version=version, note=reason,
           fields={"lead_unit": lead, "dispatched_at": now, "resolve_due": resolve_due, "warn_at": warn_at,
                   "warned": False, "overdue": False, "overdue_since": None, "resolved_at": None, "closed_at": None,
                   "on_time": None, "satisfaction": None, "reopened_count": event.reopened_count + 1},
           data={"reopened": event.reopened_count + 1})
    _set_tasks(event, lead, _assisting(event, lead), resolve_due, now)
    _notify(event, "reopened", _("Event {number} was reopened").format(number=event.number), actor=actor,
            units=[lead.pk, *(t.unit_id for t in Task.objects.filter(event=event, is_lead=False))], reporter=True,
            workstation=True)
    return event


def reopen_event(actor: Actor, event: Event, *, reason: str, version: int | None = None) -> Event:
    """A closed event goes back to its units (within PINGAN_EVENT_REOPEN_DAYS of closing)."""
    _require(actor, perms.TRIAGE_EVENT.code, event)
    _check_state(event, (State.CLOSED,), "reopen")
    reason = _text(reason, "reason", max_length=200)
    if event.closed_at is not None and event.closed_at < clock.now() - timedelta(days=reopen_days()):
        raise ConflictError("reopen_window_passed", "the event was closed too long ago to reopen", days=reopen_days())
    with transaction.atomic():
        _reopen(actor, event, reason=reason, version=version)
    return event


# --- escalation, supervision, parking --------------------------------------------------------


def _unit_for_level(event: Event, level: str) -> Organisation | None:
    if level == Level.WORKSTATION:
        return event.workstation
    if level == Level.TOWN and event.town_id:
        town_government = (Organisation.objects.filter(kind=OrgKind.TOWN_GOVERNMENT, area_id=event.town_id, is_active=True)
                           .order_by("code").first())
        if town_government is not None:
            return town_government
    return Organisation.objects.filter(code=DISTRICT_UNIT_CODE, is_active=True).first()


def escalate_event(actor: Actor, event: Event, *, reason: str, version: int | None = None) -> Event:
    """上报升级: one level up (grid → workstation → town → district); the next level's unit leads."""
    _require(actor, perms.ESCALATE_EVENT.code, event)
    _check_state(event, OPEN_STATES, "escalate")
    reason = _text(reason, "reason", max_length=200)
    new_level = NEXT_LEVEL.get(Level(event.level)) if event.level in Level.values else None
    if new_level is None:
        raise ConflictError("top_level", "the event is already held at the district", level=event.level)
    unit = _unit_for_level(event, new_level)
    fields: dict[str, Any] = {"level": new_level}
    if unit is not None:
        fields["lead_unit"] = unit
    # A new level brings a new deadline for the running clock (so an overdue event escalates once per level).
    now = clock.now()
    accept_minutes, resolve_minutes, warn_percent, basis = _limits(event.rule)
    if event.state in ACCEPT_PHASE:
        fields["accept_due"], fields["warn_at"] = _deadline(now, accept_minutes, warn_percent, event.time_basis or basis)
    elif event.state in RESOLVE_PHASE:
        fields["resolve_due"], fields["warn_at"] = _deadline(now, resolve_minutes, warn_percent, event.time_basis or basis)
    if event.state in (*ACCEPT_PHASE, *RESOLVE_PHASE):
        fields.update(warned=False, overdue=False, overdue_since=None)
    old_level = event.level
    with transaction.atomic():
        _write(actor, event, "escalate", to_state=event.state, version=version, note=reason, fields=fields,
               data={"level": [old_level, new_level], "unit": unit.code if unit else None},
               changes={"level": [old_level, new_level], "unit": unit.code if unit else None})
        if unit is not None and event.state in (State.DISPATCHED, State.IN_PROGRESS):
            _set_tasks(event, unit, _assisting(event, unit), event.resolve_due, now, restart=False)
        _notify(event, "escalated", _("Event {number} was escalated").format(number=event.number), actor=actor,
                units=[unit.pk if unit else None], workstation=True)
    return event


def supervise_event(actor: Actor, event: Event, *, note: str, due: datetime | None = None,
                    version: int | None = None) -> Event:
    """督办: a mark of attention from above, with a note and an optional deadline."""
    _require(actor, perms.SUPERVISE_EVENT.code, event)
    _check_state(event, NOT_FINAL, "supervise")
    note = _text(note, "note", max_length=200)
    if due is not None and (not isinstance(due, datetime) or due.tzinfo is None):
        raise ValidationFailed("invalid_due", "the deadline needs a date, a time and a time zone", field="due")
    with transaction.atomic():
        _write(actor, event, "supervise", to_state=event.state, version=version, note=note,
               fields={"supervised": True, "supervise_note": note, "supervise_due": due, "supervise_lapsed": False},
               data={"due": due.isoformat() if due else None}, changes={"due": due.isoformat() if due else None})
        _notify(event, "supervised", _("Event {number} is supervised").format(number=event.number), actor=actor,
                units=[event.lead_unit_id], workstation=True)
    return event


def park_event(actor: Actor, event: Event, *, reason: str, review_on: date, version: int | None = None) -> Event:
    """挂账: set aside with a reason until the review date (the sweep brings it back)."""
    _require(actor, perms.PARK_EVENT.code, event)
    _check_state(event, PARKABLE, "park")
    reason = _text(reason, "reason", max_length=200)
    if not isinstance(review_on, date) or isinstance(review_on, datetime) or review_on <= local_day(clock.now()):
        raise ValidationFailed("review_date_not_future", "the review date must be after today", field="review_on")
    with transaction.atomic():
        _write(actor, event, "park", to_state=State.PARKED, version=version, note=reason,
               fields={"parked_reason": reason, "parked_until": review_on, "parked_from_state": event.state},
               data={"review_on": review_on.isoformat()}, changes={"review_on": review_on.isoformat()})
        _notify(event, "parked", _("Event {number} was parked").format(number=event.number), actor=actor,
                units=[event.lead_unit_id], workstation=True)
    return event


def unpark_event(actor: Actor, event: Event, *, note: str = "", version: int | None = None) -> Event:
    _require(actor, perms.PARK_EVENT.code, event)
    _check_state(event, (State.PARKED,), "unpark")
    note = _text(note, "note", max_length=2000, required=False)
    back = event.parked_from_state if event.parked_from_state in PARKABLE else State.ACCEPTED
    with transaction.atomic():
        _write(actor, event, "unpark", to_state=back, version=version, note=note,
               fields={"parked_reason": "", "parked_until": None, "parked_from_state": ""})
        _notify(event, "unparked", _("Event {number} is back from parking").format(number=event.number), actor=actor,
                units=[event.lead_unit_id], workstation=True)
    return event


# --- extensions ------------------------------------------------------------------------------


def request_extension(actor: Actor, event: Event, *, reason: str, new_due: datetime) -> Extension:
    """延期申请 by the lead unit."""
    _require_unit(actor, event, event.lead_unit_id)
    _check_state(event, (State.DISPATCHED, State.IN_PROGRESS), "request_extension")
    reason = _text(reason, "reason", max_length=200)
    if not isinstance(new_due, datetime) or new_due.tzinfo is None:
        raise ValidationFailed("invalid_due", "the new deadline needs a date, a time and a time zone", field="new_due")
    if new_due <= max(event.resolve_due or clock.now(), clock.now()):
        raise ValidationFailed("new_due_not_later", "the new deadline must be later than the current one", field="new_due")
    user = _user(actor)
    if user is None:
        raise PermissionDeniedError("permission_denied", "an extension is asked for by a person")
    with transaction.atomic():
        if Extension.objects.select_for_update().filter(event=event, decision=Extension.Decision.PENDING).exists():
            raise ConflictError("extension_pending", "an extension request is already waiting for a decision")
        extension = Extension.objects.create(event=event, requested_by=user, reason=reason, new_due=new_due,
                                             created_at=clock.now())
        _note_only(actor, event, "request_extension", note=reason, data={"new_due": new_due.isoformat()},
                   changes={"new_due": new_due.isoformat()})
        _notify(event, "extension_requested", _("More time was asked for event {number}").format(number=event.number),
                actor=actor, workstation=True)
    return extension


def decide_extension(actor: Actor, extension: Extension, *, approve: bool, note: str = "") -> Extension:
    """The dispatcher approves (the deadline moves) or refuses."""
    event = extension.event
    _require(actor, perms.TRIAGE_EVENT.code, event)
    note = _text(note, "note", max_length=2000, required=False)
    now = clock.now()
    decision = Extension.Decision.APPROVED if approve else Extension.Decision.REFUSED
    with transaction.atomic():
        rows = Extension.objects.filter(pk=extension.pk, decision=Extension.Decision.PENDING).update(
            decision=decision, decided_by=_user(actor), decided_at=now)
        if rows == 0:
            raise ConflictError("already_decided", "this request was already decided")
        data = {"approved": bool(approve), "new_due": extension.new_due.isoformat()}
        if approve:
            event.refresh_from_db()
            if event.state not in (*RESOLVE_PHASE, State.PARKED):
                raise IllegalTransition(event.state, "decide_extension")
            start = event.dispatched_at or now
            percent = _limits(event.rule)[2]
            span = max(0.0, (extension.new_due - start).total_seconds())
            warn_at = start + timedelta(seconds=span * percent / 100)
            _write(actor, event, "decide_extension", to_state=event.state, version=None, note=note,
                   fields={"resolve_due": extension.new_due, "warn_at": warn_at, "warned": warn_at <= now and event.warned,
                           "overdue": False, "overdue_since": None},
                   data=data, changes=data)
            Task.objects.filter(event=event, is_lead=True).update(due=extension.new_due)
        else:
            _note_only(actor, event, "decide_extension", note=note, data=data, changes=data)
        _notify(event, "extension_decided",
                (_("More time was granted for event {number}") if approve else _("More time was refused for event {number}"))
                .format(number=event.number), actor=actor, units=[event.lead_unit_id])
    extension.refresh_from_db()
    return extension


# --- attachments -----------------------------------------------------------------------------


def add_attachment(actor: Actor, event: Event, *, upload: UploadedFile, stage: str = "report") -> Attachment:
    """A photo or a PDF, checked by its content (not its name) and size-limited by ``uploads.clean_upload``;
    images are re-encoded without their metadata (EXIF GPS …). The event's own location is kept."""
    user = _user(actor)
    if not _is_system(actor):
        is_reporter = user is not None and event.reporter_id == user.pk
        if not is_reporter and not policy.can(actor, perms.VIEW_EVENT.code, event):
            raise NotFoundError("not_found", "no such event")
    if stage not in ATTACHMENT_STAGES:
        raise ValidationFailed("invalid_stage", f"unknown stage {stage!r}", field="stage")
    if event.state in FINAL_STATES:
        raise IllegalTransition(event.state, "attach")
    upload.seek(0)
    clean = clean_upload(upload)  # type by content, size limit, image metadata dropped
    data = clean.read()
    content_type = clean.content_type or "application/octet-stream"
    ext = (clean.name or "file.bin").rsplit(".", 1)[-1]
    is_image = content_type.startswith("image/")
    original = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = (original or clean.name or f"file.{ext}")[:120]
    attachment = Attachment(event=event, name=name, content_type=content_type, size=len(data), is_image=is_image,
                            stage=stage, uploaded_by=user, created_at=clock.now())
    attachment.file.save(f"{uuid.uuid4().hex}.{ext}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            attachment.save(force_insert=True)
            _note_only(actor, event, "attach", data={"attachment": attachment.pk, "stage": stage},
                       changes={"name": name, "content_type": content_type, "size": len(data), "stage": stage})
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


# --- the sweep -------------------------------------------------------------------------------


def _phase_due_q(field_accept: str, field_resolve: str, now: datetime) -> Q:
    return (Q(state__in=ACCEPT_PHASE, **{f"{field_accept}__lte": now})
            | Q(state__in=RESOLVE_PHASE, **{f"{field_resolve}__lte": now}))


def mark_warned(event_id: int, now: datetime) -> bool:
    """Yellow: the warning time of the current deadline has come. True when this call set the flag.

    The flag is set with a conditional update on the flag and the state (not on ``version``), so it never
    makes a person's concurrent action stale."""
    q = Q(state__in=(*ACCEPT_PHASE, *RESOLVE_PHASE), warn_at__lte=now)
    with transaction.atomic():
        if not Event.objects.filter(q, pk=event_id, warned=False).update(warned=True):
            return False
        event = Event.objects.select_related("event_type").get(pk=event_id)
        _timeline(event, "system", "warn", event.state, event.state, "", {"warn_at": event.warn_at.isoformat() if event.warn_at else None}, now)
        audit.record("system", "pingan.event.warn", event, changes={"state": event.state})
        _notify(event, "warning", _("Event {number} is close to its deadline").format(number=event.number),
                units=[event.lead_unit_id], workstation=True)
    return True


def mark_overdue(event_id: int, now: datetime) -> bool:
    """Red: the current deadline (accept in reported/accepted, resolve while handled) has passed.
    True when this call set the flag."""
    q = _phase_due_q("accept_due", "resolve_due", now)
    with transaction.atomic():
        if not Event.objects.filter(q, pk=event_id, overdue=False).update(overdue=True, overdue_since=now):
            return False
        event = Event.objects.get(pk=event_id)
        _timeline(event, "system", "overdue", event.state, event.state, "", {}, now)
        audit.record("system", "pingan.event.overdue", event, changes={"state": event.state})
        _notify(event, "overdue", _("Event {number} is overdue").format(number=event.number),
                units=[event.lead_unit_id], workstation=True)
    return True


def supervision_lapsed_q(now: datetime) -> Q:
    """Supervised events, not closed, whose supervision deadline has come and is not yet marked."""
    return Q(state__in=NOT_FINAL, supervised=True, supervise_lapsed=False, supervise_due__lte=now)


def mark_supervision_lapsed(event_id: int, now: datetime) -> bool:
    """督办 deadline passed: the supervised event is still not closed when its supervision deadline comes.
    Marked once per supervision (a new ``supervise_event`` clears the mark); the lead unit, the workstation
    and the supervisor's organisation are told. True when this call set the mark."""
    with transaction.atomic():
        if not Event.objects.filter(supervision_lapsed_q(now), pk=event_id).update(supervise_lapsed=True):
            return False
        event = Event.objects.get(pk=event_id)
        due = event.supervise_due.isoformat() if event.supervise_due else None
        _timeline(event, "system", "supervision_lapsed", event.state, event.state, "", {"due": due}, now)
        audit.record("system", "pingan.event.supervision_lapsed", event, changes={"state": event.state, "due": due})
        supervisor = (Transition.objects.filter(event=event, action="supervise").order_by("-at", "-id")
                      .values_list("actor__organisation_id", flat=True).first())
        _notify(event, "supervision_lapsed",
                _("Event {number} has passed its supervision deadline").format(number=event.number),
                units=[event.lead_unit_id, supervisor], workstation=True)
    return True


def expire_idempotency_keys(now: datetime, *, batch: int = 5000) -> int:
    """Drop the Idempotency-Keys older than ``PINGAN_IDEMPOTENCY_DAYS`` (a retry after that makes a new
    event), in batches so no statement holds many rows; one audit entry counts them. Returns how many."""
    before = now - timedelta(days=int(getattr(settings, "PINGAN_IDEMPOTENCY_DAYS", 7)))
    dropped = 0
    while True:
        ids = list(IdempotencyKey.objects.filter(created_at__lt=before).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        dropped += IdempotencyKey.objects.filter(id__in=ids).delete()[0]
    if dropped:
        audit.record("system", "pingan.idempotency.expired", changes={"count": dropped, "before": before.isoformat()})
    return dropped

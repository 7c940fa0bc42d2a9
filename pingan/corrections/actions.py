"""Every change of a correction subject's state is one function here.

Each action checks the permission and scope with the access policy (``actor`` may be a string naming a system
channel — ``"system"``, ``"demo"``, ``"test"`` — which skips the checks), validates, writes in one transaction with
a conditional update where a state moves (a concurrent writer gets 409 ``illegal_transition``), records one audit
entry ``pingan.<thing>.<verb>`` (persons masked), and queues notifications for after the commit.

Tracking is driven through its actions with the system actor ``"corrections"`` once this module has checked
its own permission: correction officers do not hold ``tracking.manage_target``, so they can switch monitoring
only through an authorisation here, never directly.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from pingan.accounts import actions as account_actions
from pingan.accounts import permissions as account_perms
from pingan.accounts import policy
from pingan.accounts.models import ObjectGrant, Organisation, OrgKind, Person, User
from pingan.core import audit, clock, counters, personal
from pingan.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
    clean_text,
)
from pingan.corrections import followcode, phoneplan, places, positions, screening
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    LIVE_AUTHORISATION_STATES,
    OPEN_KINDS,
    OPEN_SUBJECT_STATES,
    OUTCOMES,
    REVOCABLE_TYPES,
    TERMINATION_REASONS,
    AuthorisationPeriod,
    AuthorisationState,
    CheckIn,
    Colour,
    CorrectionType,
    CurfewWindow,
    EndReason,
    Ground,
    IssuedCode,
    Level,
    LevelChange,
    LostContact,
    MonitoringAuthorisation,
    PhoneCheck,
    PhoneCheckPlan,
    PhoneCheckState,
    PhoneCheckVerdict,
    ProhibitionOrder,
    Record,
    RecordKind,
    Scan,
    ScanResult,
    Subject,
    SubjectSequence,
    SubjectState,
    Transfer,
    VoiceVerdict,
)
from pingan.events.errors import RateLimited
from pingan.geo.models import Area
from pingan.tracking import actions as tracking_actions
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, AlertState, Target, Zone

SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEM = "corrections"          # the actor this module uses for tracking's actions
Actor = Any

INTAKE_DAYS = 10                # 社区矫正法 art. 21: report within ten days of the decision taking effect
MAX_PERIOD_MONTHS = 3           # art. 29: each authorisation period at most three months
REVOKE_AFTER_WARNINGS = 3       # a proposal to revoke after this many warnings (or a serious violation)
REMINDERS = (("reminded_7d_at", dt.timedelta(days=7)), ("reminded_1d_at", dt.timedelta(days=1)))
FIX_INTERVAL_S = 1800           # a monitored subject's device reports at least every 30 minutes
REPLAY_SLACK_M = 300.0          # a second scanner may see the same code this far away …
REPLAY_SPEED_MS = 120 / 3.6     # … plus what 120 km/h covers in the time between the scans

#: who holds which permission on a subject because they supervise it (object grants)
OFFICER_GRANTS = (perms.VIEW_SUBJECT.code, perms.VIEW_IDENTITY.code, perms.MANAGE_SUBJECT.code)


# --- helpers -------------------------------------------------------------------------------------


def _user(actor: Actor) -> User | None:
    return actor if getattr(actor, "is_authenticated", False) else None


def _name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else getattr(_user(actor), "username", "")


def _system(actor: Actor) -> bool:
    return isinstance(actor, str)


def _require(actor: Actor, perm: str, subject: Subject | None = None) -> None:
    """The permission (on the subject); a subject the actor may not see at all is 404, not 403."""
    if _system(actor):
        return
    if subject is not None and not policy.can(actor, perms.VIEW_SUBJECT.code, subject) \
            and not policy.can(actor, perm, subject):
        raise NotFoundError("not_found", "no such subject")
    policy.require(actor, perm, subject)




def local_today() -> dt.date:
    return clock.now().astimezone(SHANGHAI).date()


def day_end(day: dt.date) -> dt.datetime:
    """The first moment after ``day`` (Asia/Shanghai), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same local time ``months`` calendar months later (the day clamped to the month's last)."""
    local = moment.astimezone(SHANGHAI)
    month = local.month - 1 + months
    year, month = local.year + month // 12, month % 12 + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last)).astimezone(dt.UTC)


def _moved(subject: Subject, allowed: Iterable[str], action: str, **values: Any) -> None:
    """Move the subject's state with a conditional update (409 when someone else moved it first)."""
    allowed = tuple(allowed)
    if subject.state not in allowed or not Subject.objects.filter(pk=subject.pk, state__in=allowed).update(
            **values, updated_at=clock.now()):
        current = Subject.objects.filter(pk=subject.pk).values_list("state", flat=True).first()
        raise ConflictError("illegal_transition", f"cannot {action} a subject who is {current}", state=current)
    for name, value in values.items():
        setattr(subject, name, value)


def _later(kind: str, text: str, users: Iterable[User | None]) -> None:
    from pingan.events.notify import notify

    recipients = [u for u in users if u is not None]
    if recipients:
        transaction.on_commit(lambda: notify(None, kind, text, recipients))


def holders(perm: str, obj: Any) -> list[User]:
    """Active users who hold ``perm`` on ``obj`` through a role (the policy decides, for each candidate)."""
    return policy.holders(perm, obj)


def procurators(subject: Subject) -> list[User]:
    """Who supervises the supervision (检察监督): users who may see the subject but neither manage it nor approve
    its monitoring."""
    return [u for u in holders(perms.VIEW_SUBJECT.code, subject)
            if not policy.can(u, perms.MANAGE_SUBJECT.code, subject) and not policy.can(u, perms.APPROVE_MONITORING.code, subject)]


def _grant(user: User, perm: str, obj: Any, *, reason: str, by: Actor) -> None:
    ctype = ContentType.objects.get_for_model(type(obj))
    if ObjectGrant.objects.filter(user=user, permission=perm, content_type=ctype, object_id=str(obj.pk)).exists():
        return
    grant = ObjectGrant.objects.create(user=user, permission=perm, content_type=ctype, object_id=str(obj.pk),
                                       reason=reason[:200], granted_by=_user(by))
    audit.record(by, "pingan.grant.created", grant,
                 changes={"user": user.username, "permission": perm, "object": f"{ctype.model}:{obj.pk}"})


def _revoke(user: User, subject: Subject, *, by: Actor) -> None:
    for obj, codes in ((subject, OFFICER_GRANTS), (subject.person, (account_perms.VIEW_PERSON_IDENTITY.code,))):
        ctype = ContentType.objects.get_for_model(type(obj))
        rows = ObjectGrant.objects.filter(user=user, permission__in=codes, content_type=ctype, object_id=str(obj.pk),
                                          reason__startswith="supervising officer")
        removed = list(rows.values_list("permission", flat=True))
        if removed:
            rows.delete()
            audit.record(by, "pingan.grant.revoked", subject,
                         changes={"user": user.username, "permissions": removed, "object": f"{ctype.model}:{obj.pk}"})


def _supervise(officer: User, subject: Subject, *, by: Actor) -> None:
    reason = f"supervising officer of {subject.number}"
    for code in OFFICER_GRANTS:
        _grant(officer, code, subject, reason=reason, by=by)
    _grant(officer, account_perms.VIEW_PERSON_IDENTITY.code, subject.person, reason=reason, by=by)


def _check_officer(officer: User | None, subject: Subject) -> None:
    """The supervising officer must be an active user whose own role reaches the subject (before any grant)."""
    if officer is None or not officer.is_active or not policy.can(officer, perms.MANAGE_SUBJECT.code, subject):
        raise ValidationFailed("officer_out_of_scope", "the supervising officer must be a correction officer who "
                               "reaches the subject's area or judicial office", field="officer")


def _office(org: Organisation | None) -> Organisation:
    if org is None or org.kind != OrgKind.JUDICIAL_OFFICE or not org.is_active:
        raise ValidationFailed("not_a_judicial_office", "the organisation must be an active judicial office",
                               field="judicial_office")
    return org


def _district_of(area: Area) -> Area:
    node = area
    while node.parent_id is not None and node.level != "district":
        node = Area.objects.get(pk=node.parent_id)
    return node


def _next_number(now: dt.datetime) -> str:
    year = now.astimezone(SHANGHAI).year
    return f"JZ-{year}-{counters.count_up(SubjectSequence, 'year', year):06d}"


def _update_target(subject: Subject, **values: Any) -> None:
    """Move or seal the subject's tracking target (owned by corrections)."""
    tracking_actions.update_target(SYSTEM, Target.objects.get(pk=subject.target_id), owner="corrections", **values)


# --- subjects ------------------------------------------------------------------------------------


@dataclass
class SubjectInput:
    correction_type: str
    decision_body: str
    decision_number: str
    decision_effective_on: dt.date
    supervision_start: dt.date
    supervision_end: dt.date
    judicial_office: Organisation | None
    officer: User | None
    area: Area | None
    phone: str
    person: Person | None = None
    person_input: account_actions.PersonInput | None = None
    level: str = Level.ORDINARY
    is_minor: bool = False
    offence_on: dt.date | None = None
    permitted_area: Area | None = None
    home_lon: float | None = None
    home_lat: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _minor(person: Person, data: SubjectInput) -> bool:
    if data.offence_on is not None and person.birth_date is not None:
        b, o = person.birth_date, data.offence_on
        age = o.year - b.year - ((o.month, o.day) < (b.month, b.day))
        return age < 18
    return bool(data.is_minor)


def _clean_subject(data: SubjectInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if data.correction_type not in CorrectionType.values:
        errors["correction_type"] = "one of " + ", ".join(CorrectionType.values)
    if data.level not in Level.values:
        errors["level"] = "one of " + ", ".join(Level.values)
    today = local_today()
    if data.decision_effective_on > today:
        errors["decision_effective_on"] = "the decision must have taken effect"
    if data.supervision_start < data.decision_effective_on:
        errors["supervision_start"] = "supervision starts on or after the decision takes effect"
    if data.supervision_end <= data.supervision_start:
        errors["supervision_end"] = "supervision ends after it starts"
    if data.offence_on is not None and data.offence_on > data.decision_effective_on:
        errors["offence_on"] = "the offence comes before the decision"
    if data.area is None:
        errors["area"] = "the residence area is required"
    phone = ""
    try:
        phone = personal.normalize_phone(data.phone or "")
    except ValueError as exc:
        errors["phone"] = str(exc)
    if (data.home_lon is None) != (data.home_lat is None):
        errors["home"] = "give both home_lon and home_lat, or neither"
    elif data.home_lon is not None:
        try:
            positions.check_lonlat(data.home_lon, data.home_lat, None)  # type: ignore[arg-type]
        except ValidationFailed as exc:
            errors["home"] = exc.message
    if data.permitted_area is not None and data.area is not None \
            and not data.area.code.startswith(data.permitted_area.code):
        errors["permitted_area"] = "the permitted area must contain the residence area"
    if errors:
        raise ValidationFailed("invalid_subject", "; ".join(f"{k}: {v}" for k, v in errors.items()), fields=errors)
    return {
        "correction_type": data.correction_type, "level": data.level, "phone": phone,
        "decision_body": clean_text(data.decision_body, "decision_body", max_length=120),
        "decision_number": clean_text(data.decision_number, "decision_number", max_length=60),
        "decision_effective_on": data.decision_effective_on, "offence_on": data.offence_on,
        "supervision_start": data.supervision_start, "supervision_end": data.supervision_end,
        "home_lon": data.home_lon, "home_lat": data.home_lat,
    }


def register_subject(actor: Actor, data: SubjectInput) -> Subject:
    """A new subject, pending intake: its tracking target (owned by corrections, unmonitored, in the residence
    area and the judicial office), its scan and check-in devices, the permitted-area zone, and the supervising
    officer's grants. Intake is due within ten days of the decision taking effect."""
    _require(actor, perms.MANAGE_SUBJECT.code)
    values = _clean_subject(data)
    office = _office(data.judicial_office)
    area = data.area
    assert area is not None
    permitted = data.permitted_area or _district_of(area)
    officer = data.officer
    if officer is None:
        raise ValidationFailed("required", "a supervising officer is required", field="officer")
    now = clock.now()
    with transaction.atomic():
        person = data.person
        if person is None:
            if data.person_input is None:
                raise ValidationFailed("required", "a person or the person's details are required", field="person")
            # Officers register persons only as part of a subject (they hold no accounts.add_person): the
            # person's audit entry names the module and the officer; the subject's scope is checked below.
            who = actor if _system(actor) else f"{SYSTEM}:{actor.username}"[:150]
            person_input = data.person_input
            if not person_input.area_code:
                person_input = account_actions.PersonInput(**{**person_input.__dict__, "area_code": area.code})
            person = account_actions.register_person(who, person_input)
        elif not _system(actor) and not policy.can(actor, account_perms.VIEW_PERSON.code, person):
            raise ValidationFailed("unknown_person", "no such person", field="person")
        if Subject.objects.filter(person=person, state__in=OPEN_SUBJECT_STATES).exists():
            raise ConflictError("already_in_correction", "this person is already a correction subject")
        if Subject.objects.filter(person=person, decision_number=values["decision_number"]).exists():
            raise ConflictError("duplicate_decision", "this decision is registered for this person already")
        is_minor = _minor(person, data)
        number = _next_number(now)
        label = number if is_minor else f"{personal.mask_name(person.name)} {number}"[:80]  # a minor's: no name at all
        target = tracking_actions.create_target(SYSTEM, kind="person", label=label, area=area, organisation=office,
                                                person=person, interval_s=FIX_INTERVAL_S, owner="corrections",
                                                monitored=False)
        subject = Subject.objects.create(
            number=number, person=person, judicial_office=office, officer=officer, area=area,
            permitted_area=permitted, is_minor=is_minor, state=SubjectState.PENDING,
            intake_due=values["decision_effective_on"] + dt.timedelta(days=INTAKE_DAYS), target=target,
            handle=secrets.token_hex(10), created_at=now, updated_at=now, **values)
        if not _system(actor) and not policy.can(actor, perms.MANAGE_SUBJECT.code, subject):
            raise PermissionDeniedError("out_of_scope", "the subject's area or judicial office is outside your scope")
        _check_officer(officer, subject)
        _supervise(officer, subject, by=actor)
        positions.ensure_devices(target)
        sync_level_group(subject)
        _join_permitted_zone(subject)
        audit.record(actor, "pingan.subject.registered", subject, changes={
            "person": person.audit_repr(), "correction_type": subject.correction_type, "level": subject.level,
            "judicial_office": office.code, "officer": officer.username,
            "area": area.code, "permitted_area": permitted.code, "is_minor": is_minor,
            "intake_due": subject.intake_due.isoformat(), "phone": personal.mask_phone(subject.phone)})
    _later("corrections.registered", _("New correction subject {number}: intake due by {due}").format(
        number=subject.number, due=subject.intake_due.isoformat()), [subject.officer])
    return subject


def _polygon_rings(area: Area) -> list[list[list[float]]]:
    geometry = area.geometry
    if geometry.geom_type != "Polygon":
        geometry = geometry.convex_hull  # several parts: their hull (never alerts inside the area)
    return [[[x, y] for x, y in geometry.exterior.coords], *[[[x, y] for x, y in ring.coords] for ring in geometry.interiors]]


def _permitted_zone(area: Area) -> Zone:
    name = f"permitted {area.code}"
    zone = Zone.objects.filter(owner="corrections", kind="inclusion", name=name, is_active=True).first()
    if zone is None:
        zone = tracking_actions.create_zone(SYSTEM, name=name, kind="inclusion", shape="polygon",
                                            coords=_polygon_rings(area), area=area, owner="corrections")
    return zone


def _join_permitted_zone(subject: Subject) -> None:
    zone = Zone.objects.select_for_update().get(pk=_permitted_zone(subject.permitted_area).pk)
    members = list(zone.targets.all())
    if subject.target not in members:
        tracking_actions.set_zone_members(SYSTEM, zone, targets=[*members, subject.target])


def _leave_zones(subject: Subject) -> None:
    """Take the subject's target out of the shared permitted-area zone; deactivate its own zones."""
    target = subject.target
    for zone in Zone.objects.filter(owner="corrections", is_active=True, targets=target).distinct():
        if zone.name.startswith("permitted "):
            others = [t for t in zone.targets.all() if t.pk != target.pk]
            tracking_actions.set_zone_members(SYSTEM, zone, targets=others)
        else:
            tracking_actions.deactivate_zone(SYSTEM, zone)


def reveal_subject(actor: Actor, subject: Subject, *, purpose: str = "") -> dict[str, Any]:
    """The subject's identity in full, through the accounts reveal (audited there as
    ``pingan.person.identity_viewed``) plus ``pingan.subject.identity_viewed`` here. A minor's identity is shown
    only to the supervising officer (and to holders of ``accounts.view_sealed``)."""
    _require(actor, perms.VIEW_IDENTITY.code, subject)
    purpose = clean_text(purpose, "purpose", max_length=200)
    if subject.is_minor and not _system(actor) and actor.pk != subject.officer_id \
            and not policy.has_perm(actor, account_perms.VIEW_SEALED.code):
        raise PermissionDeniedError("minor_restricted", "a minor's identity is shown only to the supervising officer")
    if not _system(actor) and not policy.can(actor, account_perms.VIEW_PERSON_IDENTITY.code, subject.person):
        raise PermissionDeniedError("permission_denied", "you may not see this person's identity")
    with transaction.atomic():
        person = account_actions.reveal_person(actor, subject.person, purpose=f"{subject.number}: {purpose}")
        audit.record(actor, "pingan.subject.identity_viewed", subject, changes={"purpose": purpose})
    return {"name": person.name, "id_number": person.id_number or "", "phone": subject.phone,
            "person_phone": person.phone, "address": person.address}


def link_user(actor: Actor, subject: Subject, user: User) -> Subject:
    """The subject's own login (role ``correction_subject``), for the phone page: follow code and check-in."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if not subject.is_open:
        raise ConflictError("illegal_transition", "the subject's correction has ended", state=subject.state)
    if not policy.has_perm(user, perms.OWN_FOLLOW_CODE.code) or not user.is_active:
        raise ValidationFailed("not_a_subject_login", "the login must hold the role correction_subject", field="user")
    if Subject.objects.filter(user=user).exclude(pk=subject.pk).exists():
        raise ConflictError("login_in_use", "this login belongs to another subject")
    with transaction.atomic():
        previous = subject.user.username if subject.user else None
        Subject.objects.filter(pk=subject.pk).update(user=user, updated_at=clock.now())
        subject.user = user
        audit.record(actor, "pingan.subject.user_linked", subject, changes={"user": [previous, user.username]})
    return subject


def record_intake(actor: Actor, subject: Subject, *, at: dt.datetime | None = None, note: str = "") -> Subject:
    """入矫: the subject reported in at the judicial office. Late when after the tenth day."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    now = clock.now()
    at = at or now
    if at > now + dt.timedelta(minutes=5):
        raise ValidationFailed("in_future", "the intake cannot be in the future", field="at")
    if at.astimezone(SHANGHAI).date() < subject.decision_effective_on:
        raise ValidationFailed("before_decision", "the intake cannot come before the decision took effect", field="at")
    late = at >= day_end(subject.intake_due)
    note = clean_text(note, "note", max_length=500, required=False)
    with transaction.atomic():
        _moved(subject, (SubjectState.PENDING,), "take in", state=SubjectState.IN_CORRECTION, intake_at=at,
               intake_late=late)
        audit.record(actor, "pingan.subject.intake_recorded", subject,
                     changes={"state": [SubjectState.PENDING, SubjectState.IN_CORRECTION], "at": at.isoformat(),
                              "late": late, "note": note[:200]})
    return subject


def alert_intake_overdue(subject_id: int, now: dt.datetime) -> bool:
    """The intake deadline passed without intake: tell the officer, once (the sweep calls this)."""
    with transaction.atomic():
        subject = Subject.objects.select_related("officer").filter(pk=subject_id).first()
        if subject is None or now < day_end(subject.intake_due):
            return False
        if not Subject.objects.filter(pk=subject_id, state=SubjectState.PENDING, intake_alerted_at__isnull=True).update(
                intake_alerted_at=now):
            return False
        audit.record("system", "pingan.subject.intake_overdue", subject, changes={"intake_due": subject.intake_due.isoformat()})
        _later("corrections.intake_overdue", _("Subject {number} has not reported in: the deadline was {due}").format(
            number=subject.number, due=subject.intake_due.isoformat()), [subject.officer])
    return True


def change_level(actor: Actor, subject: Subject, *, level: str, reason: str) -> LevelChange:
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if level not in Level.values:
        raise ValidationFailed("invalid_level", "level must be one of " + ", ".join(Level.values), field="level")
    reason = clean_text(reason, "reason", max_length=1000)
    if level == subject.level:
        raise ValidationFailed("same_level", "the subject is at this level already", field="level")
    with transaction.atomic():
        before = subject.level
        _moved(subject, (SubjectState.IN_CORRECTION,), "change the level of", level=level)
        change = LevelChange.objects.create(subject=subject, from_level=before, to_level=level, reason=reason,
                                            by=_user(actor), at=clock.now())
        sync_level_group(subject)
        audit.record(actor, "pingan.subject.level_changed", subject, changes={"level": [before, level], "reason": reason[:200]})
    return change


def transfer_subject(actor: Actor, subject: Subject, *, to_office: Organisation | None, to_officer: User | None,
                     reason: str, area: Area | None = None) -> Transfer:
    """To another judicial office (and, when the residence moves, another area): the supervising officer changes,
    the old officer's grants go, the new one's come, and the tracking target follows."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    office = _office(to_office)
    reason = clean_text(reason, "reason", max_length=1000)
    if to_officer is None:
        raise ValidationFailed("required", "the new supervising officer is required", field="to_officer")
    if office.pk == subject.judicial_office_id:
        raise ValidationFailed("same_office", "the subject is at this judicial office already", field="to_office")
    new_area = area or subject.area
    if not new_area.code.startswith(subject.permitted_area.code):
        permitted = _district_of(new_area)
    else:
        permitted = subject.permitted_area
    with transaction.atomic():
        before = (subject.judicial_office, subject.officer, subject.area)
        old_permitted = subject.permitted_area
        _moved(subject, OPEN_SUBJECT_STATES, "transfer", judicial_office=office, officer=to_officer, area=new_area,
               permitted_area=permitted)
        _check_officer(to_officer, subject)
        if before[1].pk != to_officer.pk:
            _revoke(before[1], subject, by=actor)
        _supervise(to_officer, subject, by=actor)
        _update_target(subject, organisation=office, area=new_area)
        sync_level_group(subject)
        on_leave = LeaveRequest.objects.filter(subject=subject, suspended=True).exists()
        _leave_permitted_if_changed(subject, permitted, join=not on_leave)
        moved_leaves = _transfer_leaves(actor, subject, from_office=before[0], to_office=office,
                                        permitted_changed=permitted.pk != old_permitted.pk)
        transfer = Transfer.objects.create(subject=subject, from_office=before[0], to_office=office, from_officer=before[1],
                                           to_officer=to_officer, from_area=before[2], to_area=new_area, reason=reason,
                                           by=_user(actor), at=clock.now())
        audit.record(actor, "pingan.subject.transferred", subject, changes={
            "judicial_office": [before[0].code, office.code], "officer": [before[1].username, to_officer.username],
            "area": [before[2].code, new_area.code], "reason": reason[:200]})
    text = _("Subject {number} is transferred to {office}").format(number=subject.number, office=office.name)
    _later("corrections.transferred", text, [before[1], to_officer])
    for leave in moved_leaves:
        _later("corrections.leave_transferred", _(
            "Leave request of subject {number} ({destination}, {start} – {end}) awaits the decision of {office} after "
            "a transfer").format(number=subject.number, destination=leave.destination, start=_local(leave.starts_at),
                                 end=_local(leave.ends_at), office=office.name), leave_approvers(leave))
    return transfer


def _leave_permitted_if_changed(subject: Subject, permitted: Area, *, join: bool = True) -> None:
    """After a transfer, the target belongs to the permitted-area zone of its (possibly new) permitted area only
    (and to none while a leave suspends the boundary: ``join=False``; the leave's end restores it)."""
    target = subject.target
    for zone in Zone.objects.filter(owner="corrections", is_active=True, targets=target, name__startswith="permitted "):
        if zone.name != f"permitted {permitted.code}" or not join:
            tracking_actions.set_zone_members(SYSTEM, zone, targets=[t for t in zone.targets.all() if t.pk != target.pk])
    if join:
        _join_permitted_zone(subject)


# --- records -------------------------------------------------------------------------------------


def _hours(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("invalid_hours", "hours must be a number", field="hours") from None
    if not hours.is_finite() or hours <= 0 or hours > 999:
        raise ValidationFailed("invalid_hours", "hours must be more than 0 and at most 999", field="hours")
    return hours.quantize(Decimal("0.1"))


def add_record(actor: Actor, subject: Subject, *, kind: str, text: str, occurred_on: dt.date | None = None,
               hours: Any = None, serious: bool = False) -> Record:
    """An entry of the file. Community service needs its hours. A proposal to revoke needs either at least three
    warnings or a serious violation, and applies to probation, parole and temporary service outside prison
    (管制 has none); it is copied to the procurators (社区矫正法 art. 46)."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if kind not in RecordKind.values:
        raise ValidationFailed("invalid_kind", "kind must be one of " + ", ".join(RecordKind.values), field="kind")
    text = clean_text(text, "text", max_length=4000)
    occurred_on = occurred_on or local_today()
    if occurred_on > local_today():
        raise ValidationFailed("in_future", "the date cannot be in the future", field="occurred_on")
    if occurred_on < subject.decision_effective_on:
        raise ValidationFailed("before_decision", "the date comes before the decision took effect", field="occurred_on")
    amount = _hours(hours)
    if kind == RecordKind.COMMUNITY_SERVICE and amount is None:
        raise ValidationFailed("required", "community service needs its hours", field="hours")
    if kind not in (RecordKind.COMMUNITY_SERVICE, RecordKind.EDUCATION) and amount is not None:
        raise ValidationFailed("invalid_hours", "only education and community service have hours", field="hours")
    if subject.state != SubjectState.IN_CORRECTION and not (kind == RecordKind.LOST_CONTACT and subject.is_open):
        raise ConflictError("illegal_transition", f"cannot add a record for a subject who is {subject.state}",
                            state=subject.state)
    if kind == RecordKind.REVOKE_PROPOSAL:
        if subject.correction_type not in REVOCABLE_TYPES:
            raise ValidationFailed("not_revocable", "control (管制) cannot be revoked", field="kind")
        warnings = Record.objects.filter(subject=subject, kind=RecordKind.WARNING).count()
        if warnings < REVOKE_AFTER_WARNINGS and not serious:
            raise ValidationFailed("grounds_missing", f"a proposal to revoke needs {REVOKE_AFTER_WARNINGS} warnings "
                                   f"(there are {warnings}) or a serious violation", field="serious", warnings=warnings)
        if Record.objects.filter(subject=subject, kind=RecordKind.REVOKE_PROPOSAL, is_open=True).exists():
            raise ConflictError("proposal_pending", "a proposal to revoke is pending already")
    with transaction.atomic():
        record = Record.objects.create(subject=subject, kind=kind, occurred_on=occurred_on, text=text, hours=amount,
                                       serious=bool(serious), is_open=kind in OPEN_KINDS, created_by=_user(actor),
                                       created_by_name=_name(actor)[:150], created_at=clock.now())
        audit.record(actor, f"pingan.subject.record_{kind}", subject, changes={
            "record": record.pk, "kind": kind, "occurred_on": occurred_on.isoformat(),
            "hours": str(amount) if amount is not None else None, "serious": bool(serious)})
    if kind == RecordKind.REVOKE_PROPOSAL:
        _later("corrections.revoke_proposed", _("A proposal to revoke is filed for subject {number}").format(
            number=subject.number), [subject.officer, *procurators(subject)])
    elif kind in (RecordKind.WARNING, RecordKind.LOST_CONTACT) and _user(actor) != subject.officer:
        _later(f"corrections.{kind}", _("Subject {number}: {what}").format(
            number=subject.number, what=RecordKind(kind).label), [subject.officer])
    return record


def close_record(actor: Actor, record: Record, *, outcome: str, note: str = "") -> Record:
    """Close an open warning (rectified), lost contact (contact restored) or proposal to revoke (the decision)."""
    subject = record.subject
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    allowed = OUTCOMES.get(record.kind, ())
    if outcome not in allowed:
        raise ValidationFailed("invalid_outcome", f"outcome must be one of {', '.join(allowed) or 'none'}", field="outcome")
    note = clean_text(note, "note", max_length=1000, required=False)
    with transaction.atomic():
        if not Record.objects.filter(pk=record.pk, is_open=True).update(is_open=False, outcome=outcome, outcome_note=note,
                                                                          closed_at=clock.now(), closed_by=_user(actor)):
            raise ConflictError("illegal_transition", "this record is not open")
        record.refresh_from_db()
        audit.record(actor, "pingan.subject.record_closed", subject,
                     changes={"record": record.pk, "kind": record.kind, "outcome": outcome})
        if record.kind == RecordKind.LOST_CONTACT:  # the officer restored contact: the open spell ends
            regain_contact(subject, clock.now(), source="officer")
    return record


# --- restrictions ----------------------------------------------------------------------------------


@dataclass
class ZoneInput:
    name: str
    shape: str
    coords: Any
    radius_m: float = 0
    width_m: float = 0
    ring_m: float = 0
    fast: bool = False


def add_prohibition_order(actor: Actor, subject: Subject, *, text: str, starts_on: dt.date | None = None,
                          ends_on: dt.date | None = None, zones: Sequence[ZoneInput] = ()) -> ProhibitionOrder:
    """A court prohibition order (禁止令) with its forbidden zones: exclusion zones in tracking, owned by
    corrections, applying to this subject only (alerts while monitoring is authorised)."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    text = clean_text(text, "text", max_length=4000)
    starts_on = starts_on or subject.supervision_start
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed("bad_range", "the order ends after it starts", field="ends_on")
    if not subject.is_open:
        raise ConflictError("illegal_transition", "the subject's correction has ended", state=subject.state)
    schedule = {"dates": [[starts_on.isoformat(), (ends_on or subject.supervision_end).isoformat()]]}
    with transaction.atomic():
        order = ProhibitionOrder.objects.create(subject=subject, text=text, starts_on=starts_on, ends_on=ends_on,
                                                created_by=_user(actor), created_at=clock.now())
        made = []
        for i, z in enumerate(zones):
            made.append(tracking_actions.create_zone(
                SYSTEM, name=clean_text(z.name, f"zones[{i}].name", max_length=80), kind="exclusion", shape=z.shape,
                coords=z.coords, radius_m=z.radius_m, width_m=z.width_m, ring_m=z.ring_m, fast=z.fast,
                schedule=schedule, area=subject.area, organisation=subject.judicial_office, targets=[subject.target],
                owner="corrections"))
        order.zones.set(made)
        audit.record(actor, "pingan.subject.prohibition_added", subject,
                     changes={"order": order.pk, "zones": [z.pk for z in made], "starts_on": starts_on.isoformat(),
                              "ends_on": ends_on.isoformat() if ends_on else None})
    return order


def add_curfew(actor: Actor, subject: Subject, *, start: dt.time, end: dt.time, weekdays: Sequence[int] = (),
               radius_m: float = 200) -> CurfewWindow:
    """Hours at home (e.g. 22:00–06:00): an inclusion circle around the home point on that schedule."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if subject.home_lon is None or subject.home_lat is None:
        raise ValidationFailed("no_home", "the subject's home point is needed for a curfew", field="home")
    days = sorted(set(int(d) for d in weekdays))
    if any(d < 1 or d > 7 for d in days):
        raise ValidationFailed("invalid_weekdays", "weekdays are 1 (Monday) to 7 (Sunday)", field="weekdays")
    if not (math.isfinite(radius_m) and 50 <= radius_m <= 5000):
        raise ValidationFailed("out_of_range", "the radius is 50–5,000 m", field="radius_m")
    if start == end:
        raise ValidationFailed("bad_range", "a curfew window needs a start and a different end", field="end")
    if not subject.is_open:
        raise ConflictError("illegal_transition", "the subject's correction has ended", state=subject.state)
    schedule: dict[str, Any] = {"windows": [[start.strftime("%H:%M"), end.strftime("%H:%M")]],
                                "dates": [[subject.supervision_start.isoformat(), subject.supervision_end.isoformat()]]}
    if days:
        schedule["weekdays"] = days
    with transaction.atomic():
        zone = tracking_actions.create_zone(
            SYSTEM, name=f"curfew {subject.number} {start:%H%M}-{end:%H%M}", kind="inclusion", shape="circle",
            coords=[subject.home_lon, subject.home_lat], radius_m=float(radius_m), schedule=schedule, area=subject.area,
            organisation=subject.judicial_office, targets=[subject.target], owner="corrections")
        curfew = CurfewWindow.objects.create(subject=subject, start=start, end=end, weekdays=days, radius_m=float(radius_m),
                                             zone=zone, created_by=_user(actor), created_at=clock.now())
        audit.record(actor, "pingan.subject.curfew_added", subject,
                     changes={"curfew": curfew.pk, "zone": zone.pk, "window": schedule["windows"][0], "weekdays": days})
    return curfew


def register_subject_device(actor: Actor, subject: Subject, *, uid: str, name: str = "", crs: str = "wgs84") -> tuple[Any, str]:
    """A locating device (a phone app or a bracelet) for the subject's target; returns it with its key (shown
    once). It reports only while monitoring is authorised."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if not subject.is_open:
        raise ConflictError("illegal_transition", "the subject's correction has ended", state=subject.state)
    if uid.startswith("rx"):
        raise ValidationFailed("invalid_uid", "device ids starting with rx are reserved", field="uid")
    with transaction.atomic():
        device, key = tracking_actions.register_device(SYSTEM, subject.target, uid=uid, name=name, crs=crs)
        audit.record(actor, "pingan.subject.device_registered", subject, changes={"device": device.uid})
    return device, key


# --- release and termination --------------------------------------------------------------------


def _close_file(actor: Actor, subject: Subject, *, state: str, reason: str, on: dt.date, note: str) -> Subject:
    now = clock.now()
    with transaction.atomic():
        before = subject.state
        live_leaves = _live_leaves(subject)  # their approvers are found before the file closes (and maybe seals)
        values: dict[str, Any] = {"state": state, "ended_on": on, "end_reason": reason, "end_note": note,
                                  "archived_at": now}
        if subject.is_minor:
            values["sealed"] = True  # 犯罪记录封存: a minor's file is sealed once it is closed
        _moved(subject, (SubjectState.IN_CORRECTION,) if state == SubjectState.RELEASED else OPEN_SUBJECT_STATES,
               "release" if state == SubjectState.RELEASED else "terminate", **values)
        for authorisation in MonitoringAuthorisation.objects.filter(subject=subject, state__in=LIVE_AUTHORISATION_STATES):
            _end(actor, authorisation, state=AuthorisationState.ENDED, reason=f"subject {state}", switch=False)
        tracking_actions.set_monitoring(SYSTEM, Target.objects.get(pk=subject.target_id), on=False, reason=f"subject {state}",
                                        owner="corrections")
        _end_leaves_with_file(actor, subject, live_leaves, state=state, now=now)
        _leave_zones(subject)
        sync_level_group(subject)
        IssuedCode.objects.filter(subject=subject).delete()
        if subject.is_minor:
            _update_target(subject, sealed=True)
            _revoke(subject.officer, subject, by=actor)
        audit.record(actor, f"pingan.subject.{state}", subject, changes={
            "state": [before, state], "reason": reason, "on": on.isoformat(), "sealed": bool(values.get("sealed"))})
    _later(f"corrections.{state}", _("Subject {number}: correction ended ({reason})").format(
        number=subject.number, reason=EndReason(reason).label), [subject.officer])
    return subject


def release_subject(actor: Actor, subject: Subject, *, on: dt.date | None = None, note: str = "") -> Subject:
    """解矫: the term is over. Stops all monitoring, ends live authorisations, archives the file (sealed for a
    minor)."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    on = on or local_today()
    if on < subject.supervision_end:
        raise ValidationFailed("term_not_over", f"the term ends on {subject.supervision_end.isoformat()}; end it early "
                               "with terminate", field="on")
    if on > local_today():
        raise ValidationFailed("in_future", "the release date cannot be in the future", field="on")
    return _close_file(actor, subject, state=SubjectState.RELEASED, reason=EndReason.TERM_COMPLETED, on=on,
                       note=clean_text(note, "note", max_length=1000, required=False))


def terminate_subject(actor: Actor, subject: Subject, *, reason: str, on: dt.date | None = None, note: str = "") -> Subject:
    """终止: the correction ends early (revoked, committed to prison, a new sentence, death)."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if reason not in TERMINATION_REASONS:
        raise ValidationFailed("invalid_reason", "reason must be one of " + ", ".join(TERMINATION_REASONS), field="reason")
    on = on or local_today()
    if on > local_today():
        raise ValidationFailed("in_future", "the date cannot be in the future", field="on")
    return _close_file(actor, subject, state=SubjectState.TERMINATED, reason=reason, on=on,
                       note=clean_text(note, "note", max_length=1000, required=reason != EndReason.DEATH))


# --- monitoring authorisations (社区矫正法 art. 29) ------------------------------------------------


def _check_approver(approver: User | None, subject: Subject) -> User:
    if approver is None or not approver.is_active or not policy.can(approver, perms.APPROVE_MONITORING.code, subject):
        raise ValidationFailed("approver_not_authorised", "the approver must hold corrections.approve_monitoring for "
                               "this subject (the head of the county justice bureau)", field="approver")
    return approver


def _check_period(starts_at: dt.datetime, ends_at: dt.datetime, subject: Subject) -> None:
    if ends_at <= starts_at:
        raise ValidationFailed("bad_range", "the period ends after it starts", field="ends_at")
    if ends_at > add_months(starts_at, MAX_PERIOD_MONTHS):
        raise ValidationFailed("period_too_long", f"a period is at most {MAX_PERIOD_MONTHS} months", field="ends_at",
                               latest=add_months(starts_at, MAX_PERIOD_MONTHS).isoformat())
    if ends_at > day_end(subject.supervision_end):
        raise ValidationFailed("beyond_supervision", "monitoring cannot outlast the supervision", field="ends_at")


def _monitor(subject: Subject, on: bool, reason: str) -> None:
    tracking_actions.set_monitoring(SYSTEM, Target.objects.get(pk=subject.target_id), on=on, reason=reason,
                                    owner="corrections")


def grant_authorisation(actor: Actor, subject: Subject, *, ground: str, facts: str, approver: User | None,
                        ends_at: dt.datetime, starts_at: dt.datetime | None = None) -> MonitoringAuthorisation:
    """Record the approval to monitor electronically: one of the five grounds, the facts, the approver (who holds
    ``corrections.approve_monitoring``), a period of at most three months. From its start the subject's target is
    monitored (the ``corrections.authorisations`` job starts one that begins later)."""
    if not _system(actor) and not policy.can(actor, perms.APPROVE_MONITORING.code, subject):
        _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if ground not in Ground.values:
        raise ValidationFailed("invalid_ground", "the ground must be one of " + ", ".join(Ground.values), field="ground")
    facts = clean_text(facts, "facts", max_length=4000)
    approver = _check_approver(approver, subject)
    now = clock.now()
    starts_at = starts_at or now
    if starts_at < now - dt.timedelta(minutes=5):
        raise ValidationFailed("in_past", "an authorisation cannot start in the past", field="starts_at")
    _check_period(starts_at, ends_at, subject)
    if subject.state != SubjectState.IN_CORRECTION:
        raise ConflictError("illegal_transition", f"cannot monitor a subject who is {subject.state}", state=subject.state)
    if MonitoringAuthorisation.objects.filter(subject=subject, state__in=LIVE_AUTHORISATION_STATES).exists():
        raise ConflictError("authorisation_exists", "the subject has a live authorisation; renew or end it")
    active = starts_at <= now
    try:
        with transaction.atomic():
            authorisation = MonitoringAuthorisation.objects.create(
                subject=subject, ground=ground, facts=facts, approver=approver, requested_by=_user(actor),
                state=AuthorisationState.ACTIVE if active else AuthorisationState.APPROVED, starts_at=starts_at,
                ends_at=ends_at, created_at=now)
            AuthorisationPeriod.objects.create(authorisation=authorisation, number=1, starts_at=starts_at, ends_at=ends_at,
                                               approver=approver, created_by=_user(actor), created_at=now)
            if active:
                _monitor(subject, True, f"authorisation {authorisation.pk}")
            audit.record(actor, "pingan.authorisation.granted", authorisation, changes={
                "subject": subject.number, "ground": ground, "approver": approver.username,
                "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "state": authorisation.state})
    except IntegrityError:
        raise ConflictError("authorisation_exists", "the subject has a live authorisation; renew or end it") from None
    _later("corrections.authorisation_granted", _("Electronic monitoring of subject {number} approved until {end}").format(
        number=subject.number, end=_local(ends_at)), [subject.officer, *procurators(subject)])
    return authorisation


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def renew_authorisation(actor: Actor, authorisation: MonitoringAuthorisation, *, assessment: str, approver: User | None,
                        ends_at: dt.datetime) -> AuthorisationPeriod:
    """After an assessment, another period of at most three months from the end of the current one."""
    subject = authorisation.subject
    if not _system(actor) and not policy.can(actor, perms.APPROVE_MONITORING.code, subject):
        _require(actor, perms.MANAGE_SUBJECT.code, subject)
    assessment = clean_text(assessment, "assessment", max_length=4000)
    approver = _check_approver(approver, subject)
    if authorisation.state != AuthorisationState.ACTIVE:
        raise ConflictError("illegal_transition", f"cannot renew an authorisation that is {authorisation.state}",
                            state=authorisation.state)
    start = authorisation.ends_at
    _check_period(start, ends_at, subject)
    now = clock.now()
    with transaction.atomic():
        if not MonitoringAuthorisation.objects.filter(pk=authorisation.pk, state=AuthorisationState.ACTIVE,
                                                      ends_at=start).update(ends_at=ends_at):
            raise ConflictError("illegal_transition", "the authorisation was changed by someone else")
        number = authorisation.periods.count() + 1
        period = AuthorisationPeriod.objects.create(authorisation=authorisation, number=number, starts_at=start,
                                                    ends_at=ends_at, approver=approver, assessment=assessment,
                                                    created_by=_user(actor), created_at=now)
        authorisation.ends_at = ends_at
        audit.record(actor, "pingan.authorisation.renewed", authorisation, changes={
            "subject": subject.number, "period": number, "approver": approver.username, "starts_at": start.isoformat(),
            "ends_at": ends_at.isoformat()})
    _later("corrections.authorisation_renewed", _("Electronic monitoring of subject {number} renewed until {end}").format(
        number=subject.number, end=_local(ends_at)), [subject.officer, *procurators(subject)])
    return period


def _end(actor: Actor, authorisation: MonitoringAuthorisation, *, state: str, reason: str, switch: bool = True) -> bool:
    now = clock.now()
    before = authorisation.state
    if not MonitoringAuthorisation.objects.filter(pk=authorisation.pk, state__in=LIVE_AUTHORISATION_STATES).update(
            state=state, ended_at=now, end_reason=reason[:200]):
        return False
    authorisation.state, authorisation.ended_at, authorisation.end_reason = state, now, reason[:200]
    if switch and before == AuthorisationState.ACTIVE:
        _monitor(authorisation.subject, False, f"authorisation {authorisation.pk} {state}")
    audit.record(actor, f"pingan.authorisation.{state}", authorisation,
                 changes={"subject": authorisation.subject.number, "state": [before, state], "reason": reason[:200]})
    return True


def end_authorisation(actor: Actor, authorisation: MonitoringAuthorisation, *, reason: str) -> MonitoringAuthorisation:
    """End monitoring before the period is over (the ground has gone): monitoring stops at once."""
    subject = authorisation.subject
    if not _system(actor) and not policy.can(actor, perms.APPROVE_MONITORING.code, subject):
        _require(actor, perms.MANAGE_SUBJECT.code, subject)
    reason = clean_text(reason, "reason", max_length=200)
    with transaction.atomic():
        if not _end(actor, authorisation, state=AuthorisationState.ENDED, reason=reason):
            raise ConflictError("illegal_transition", f"the authorisation is {authorisation.state} already",
                                state=authorisation.state)
    _later("corrections.authorisation_ended", _("Electronic monitoring of subject {number} ended").format(
        number=subject.number), [subject.officer])
    return authorisation


def start_authorisation(authorisation_id: int, now: dt.datetime) -> bool:
    """An approved authorisation whose start has come: monitoring on (the job calls this, once)."""
    with transaction.atomic():
        if not MonitoringAuthorisation.objects.filter(pk=authorisation_id, state=AuthorisationState.APPROVED,
                                                      starts_at__lte=now, ends_at__gt=now).update(
                state=AuthorisationState.ACTIVE):
            return False
        authorisation = MonitoringAuthorisation.objects.select_related("subject").get(pk=authorisation_id)
        _monitor(authorisation.subject, True, f"authorisation {authorisation_id}")
        audit.record("system", "pingan.authorisation.started", authorisation,
                     changes={"subject": authorisation.subject.number, "state": ["approved", "active"]})
    return True


def expire_authorisation(authorisation_id: int, now: dt.datetime) -> bool:
    """The period is over and was not renewed: monitoring off; no device fix is accepted afterwards."""
    with transaction.atomic():
        authorisation = MonitoringAuthorisation.objects.select_related("subject", "subject__officer").filter(
            pk=authorisation_id, state__in=LIVE_AUTHORISATION_STATES, ends_at__lte=now).first()
        if authorisation is None:
            return False
        if not _end("system", authorisation, state=AuthorisationState.EXPIRED, reason="period over"):
            return False
        subject = authorisation.subject
        _later("corrections.authorisation_expired", _("Electronic monitoring of subject {number} expired").format(
            number=subject.number), [subject.officer])
    return True


def remind_expiry(period_id: int, field_name: str, now: dt.datetime) -> bool:
    """Tell the officer that the authorisation ends in 7 days or in 1 day (once each per period)."""
    ahead = dict(REMINDERS)[field_name]
    with transaction.atomic():
        period = AuthorisationPeriod.objects.select_related("authorisation", "authorisation__subject",
                                                            "authorisation__subject__officer").filter(pk=period_id).first()
        if period is None or period.authorisation.ends_at != period.ends_at:
            return False  # a later period has been added: it is the one that expires
        if period.authorisation.state != AuthorisationState.ACTIVE or not now >= period.ends_at - ahead:
            return False
        # The 1-day reminder also stands for a 7-day one not sent yet (a period shorter than 7 days, a worker down).
        marks = {name: now for name, before in REMINDERS if before >= ahead}
        if not AuthorisationPeriod.objects.filter(pk=period_id, **{f"{field_name}__isnull": True}).update(**marks):
            return False
        subject = period.authorisation.subject
        audit.record("system", "pingan.authorisation.reminded", period.authorisation,
                     changes={"subject": subject.number, "period": period.number, "ahead_days": ahead.days})
        _later("corrections.authorisation_ending", _(
            "Electronic monitoring of subject {number} ends on {end}: renew it after an assessment, or let it end").format(
            number=subject.number, end=_local(period.ends_at)), [subject.officer])
    return True


# --- follow code, scans and check-ins ------------------------------------------------------------


def own_subject(user: Actor) -> Subject:
    """The subject whose login this is (role correction_subject, own scope)."""
    policy.require(user, perms.OWN_FOLLOW_CODE.code)
    subject = Subject.objects.filter(user=user).select_related("target").first() if _user(user) else None
    if subject is None or not policy.can(user, perms.OWN_FOLLOW_CODE.code, subject):
        raise NotFoundError("no_subject", "this login belongs to no correction subject")
    if not subject.is_open:
        raise ConflictError("illegal_transition", "the correction has ended", state=subject.state)
    return subject


@dataclass(frozen=True)
class CodeOut:
    token: str
    short: str
    window_start: dt.datetime
    refresh_at: dt.datetime
    expires_at: dt.datetime


def issue_code(user: Actor) -> CodeOut:
    """The subject's current follow code (one per window; the same one when asked again in the window)."""
    subject = own_subject(user)
    now = clock.now()
    window = followcode.window_of(now.timestamp())
    key = followcode.keys()[0]
    kid = followcode.kid(key)
    stamp = dt.datetime.fromtimestamp
    existing = IssuedCode.objects.filter(subject=subject, window=window).first()
    old_key = followcode.key_for(existing.kid) if existing is not None else None
    if existing is not None and old_key is not None:
        # Still signed with a key that verifies (the first one, or an older one after a rotation): the code the
        # phone shows stays the same for the whole window.
        token, short = followcode.encode(old_key, handle=subject.handle, window=window, nonce=existing.nonce)
    else:
        for _attempt in range(5):
            nonce = secrets.token_hex(6)
            token, short = followcode.encode(key, handle=subject.handle, window=window, nonce=nonce)
            if not IssuedCode.objects.filter(short=short, expires_at__gt=now).exclude(subject=subject).exists():
                break
        values = {"nonce": nonce, "short": short, "kid": kid, "issued_at": now,
                  "expires_at": stamp(followcode.expires(window), tz=dt.UTC)}
        try:
            with transaction.atomic():
                if existing is not None:
                    IssuedCode.objects.filter(pk=existing.pk).update(**values)
                else:
                    IssuedCode.objects.create(subject=subject, window=window, **values)
        except IntegrityError:  # the phone asked twice at once: the other request's code stands
            existing = IssuedCode.objects.get(subject=subject, window=window)
            old_key = followcode.key_for(existing.kid) or key
            token, short = followcode.encode(old_key, handle=subject.handle, window=window, nonce=existing.nonce)
    return CodeOut(token=token, short=short, window_start=stamp(followcode.window_start(window), tz=dt.UTC),
                   refresh_at=stamp(followcode.window_start(window + 1), tz=dt.UTC),
                   expires_at=stamp(followcode.expires(window), tz=dt.UTC))


ACTIONS = {Colour.GREEN: "let_pass", Colour.YELLOW: "let_pass_and_note", Colour.RED: "stop_and_report"}


def advice(colour: str) -> tuple[str, str]:
    """What the checkpoint does: an action code and the sentence to show."""
    texts = {
        Colour.GREEN: _("Normal: let the person pass."),
        Colour.YELLOW: _("Attention: let the person pass; the judicial office is told of this scan."),
        Colour.RED: _("Stop and report: keep the person here politely and call the judicial office or the police at once."),
    }
    return ACTIONS[Colour(colour)], texts[Colour(colour)]


def status(subject: Subject) -> tuple[str, list[str]]:
    """The subject's colour with its reasons. Red: lost contact (a record or a tracking alert), a pending proposal
    to revoke, or an escalated alert. Yellow: strict level, an open warning, an active alert, or not yet taken in.
    Green otherwise."""
    red, yellow = [], []
    open_records = set(Record.objects.filter(subject=subject, is_open=True).values_list("kind", flat=True))
    alerts = list(Alert.objects.filter(target_id=subject.target_id,
                                       state__in=(*ACTIVE_ALERT_STATES, AlertState.ESCALATED)).values_list("rule", "state"))
    if RecordKind.LOST_CONTACT in open_records or any(r == "lost_contact" for r, s in alerts if s in ACTIVE_ALERT_STATES):
        red.append("lost_contact")
    if RecordKind.REVOKE_PROPOSAL in open_records:
        red.append("revoke_proposal_pending")
    if any(s == AlertState.ESCALATED for _r, s in alerts):
        red.append("escalated_alert")
    if red:
        return Colour.RED, red
    if subject.level == Level.STRICT:
        yellow.append("strict_level")
    if RecordKind.WARNING in open_records:
        yellow.append("open_warning")
    if alerts:
        yellow.append("active_alert")
    if subject.state == SubjectState.PENDING:
        yellow.append("pending_intake")
    return (Colour.YELLOW, yellow) if yellow else (Colour.GREEN, [])


@dataclass
class ScanOut:
    valid: bool
    reason: str = ""
    colour: str = ""
    action: str = ""
    advice: str = ""
    repeat: bool = False
    scan_id: int | None = None
    at: dt.datetime | None = None
    subject: Subject | None = None      # only for callers who may see the subject (never for a checkpoint)
    reasons: list[str] = field(default_factory=list)


def _rate_limit_typed(scanner: User) -> None:
    limit = int(getattr(settings, "PINGAN_FOLLOWCODE_TYPED_PER_MINUTE", 10))
    bucket = int(clock.now().timestamp() // 60)
    key = f"pingan:corrections:typed:{scanner.pk}:{bucket}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        count = 1
    if count > limit:
        raise RateLimited("rate_limited", "too many typed codes; wait a minute or scan the QR code", limit=limit)


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _find(code: str, now: dt.datetime, scanner: User) -> tuple[Subject, str, bool]:
    """The subject, the code's nonce and whether it was typed; raise CodeError with the reason otherwise."""
    if followcode.looks_like_token(code):
        decoded = followcode.decode(code)
        followcode.check_window(decoded.window, now.timestamp())
        subject = Subject.objects.filter(handle=decoded.handle).first()
        if subject is None:
            raise followcode.CodeError("unknown_subject")
        if not subject.is_open:
            raise followcode.CodeError("not_in_correction")
        if not IssuedCode.objects.filter(subject=subject, window=decoded.window, nonce=decoded.nonce).exists():
            raise followcode.CodeError("not_issued")  # signed, yet never handed out: a leaked key
        return subject, decoded.nonce, False
    _rate_limit_typed(scanner)
    short = followcode.normalise_short(code)
    live = list(IssuedCode.objects.filter(short=short, expires_at__gt=now).select_related("subject")[:2])
    if len(live) != 1:
        if not live and IssuedCode.objects.filter(short=short).exists():
            raise followcode.CodeError("expired")
        raise followcode.CodeError("unknown_code" if not live else "ambiguous")
    issued = live[0]
    followcode.check_window(issued.window, now.timestamp())
    return issued.subject, issued.nonce, True


def verify_code(scanner: Actor, code: str, *, lon: float, lat: float, accuracy_m: float | None = None,
                expected_subject: Subject | None = None) -> ScanOut:
    """A checkpoint (or an officer) scans or types a follow code. The answer is the subject's colour and what to
    do, never the identity (unless the scanner may see the subject anyway). Every scan is stored and audited; an
    accepted one is also a fix of the subject's target (source ``scan``), authorisation or not.

    Refusals (``valid: False``, with ``reason``): ``malformed``, ``unknown_key`` / ``bad_signature`` / ``not_issued``
    (forged), ``expired``, ``not_yet_valid``, ``unknown_code`` (typed), ``not_in_correction``, ``other_subject``
    (not the subject the officer expected), ``replayed``. The same scanner scanning the same code again is a
    repeat, answered as before without a second fix. Another scanner presenting the same code is a replay only
    when the two scans are farther apart than a person could travel between them (300 m plus 120 km/h × the time
    between): two gates of one building pass, a photo of the code sent across town does not."""
    policy.require(scanner, perms.SCAN_FOLLOW_CODE.code)
    positions.check_lonlat(lon, lat, accuracy_m)
    code = clean_text(code, "code", max_length=200)
    now = clock.now()
    subject: Subject | None = None
    nonce, typed, reason = "", not followcode.looks_like_token(code), ""
    try:
        subject, nonce, typed = _find(code, now, scanner)
        if not subject.is_open:
            raise followcode.CodeError("not_in_correction")
        if expected_subject is not None and expected_subject.pk != subject.pk:
            raise followcode.CodeError("other_subject")
    except followcode.CodeError as exc:
        reason = exc.reason
    earlier = None
    if not reason and subject is not None:
        earlier = Scan.objects.filter(subject=subject, nonce=nonce, result=ScanResult.ACCEPTED).order_by("at", "id").first()
        if earlier is not None and earlier.scanner_id != scanner.pk:
            elapsed = max(0.0, (now - earlier.at).total_seconds())
            if _distance_m((earlier.lon, earlier.lat), (lon, lat)) > REPLAY_SLACK_M + REPLAY_SPEED_MS * elapsed:
                reason = "replayed"
    with transaction.atomic():
        if reason:
            scan = Scan.objects.create(subject=subject if reason in ("replayed", "not_in_correction", "other_subject") else None,
                                       scanner=scanner, at=now, lon=lon, lat=lat, accuracy_m=accuracy_m or 10, typed=typed,
                                       nonce=nonce, result=ScanResult.REJECTED, reason=reason)
            audit.record(scanner, "pingan.followcode.rejected", scan.subject,
                         object_type="" if scan.subject else "corrections.scan", object_id="" if scan.subject else str(scan.pk),
                         changes={"scan": scan.pk, "reason": reason, "typed": typed})
            if reason == "replayed" and subject is not None:
                _later("corrections.code_replayed", _("A follow code of subject {number} was presented again far away: "
                                                      "possible misuse").format(number=subject.number), [subject.officer])
            return ScanOut(valid=False, reason=reason, scan_id=scan.pk, at=now)
        assert subject is not None
        colour, reasons = status(subject)
        repeat = earlier is not None and earlier.scanner_id == scanner.pk
        fix_id = None if repeat else positions.record(subject.target, source="scan", lon=lon, lat=lat,
                                                      accuracy_m=accuracy_m, at=now)
        scan = Scan.objects.create(subject=subject, scanner=scanner, at=now, lon=lon, lat=lat, accuracy_m=accuracy_m or 10,
                                   typed=typed, nonce=nonce, result=ScanResult.ACCEPTED, colour=colour, repeat=repeat,
                                   fix_id=fix_id)
        audit.record(scanner, "pingan.followcode.scanned", subject,
                     changes={"scan": scan.pk, "colour": colour, "typed": typed, "repeat": repeat})
        if colour != Colour.GREEN and not repeat:
            _later("corrections.scanned", _("Subject {number} was scanned at a checkpoint: {colour}").format(
                number=subject.number, colour=Colour(colour).label), [subject.officer])
    action, text = advice(colour)
    sees = policy.can(scanner, perms.VIEW_SUBJECT.code, subject)
    return ScanOut(valid=True, colour=colour, action=action, advice=text, repeat=repeat, scan_id=scan.pk, at=now,
                   subject=subject if sees else None, reasons=reasons if sees else [])


def check_in(user: Actor, *, lon: float, lat: float, accuracy_m: float | None = None,
             mock_location: bool = False) -> CheckIn:
    """The subject's daily check-in from the phone page: a report and a fix (source ``checkin``), with or
    without a monitoring authorisation. ``mock_location`` is the phone's mock-location flag (a faked position
    is flagged by the screening check ``faked``)."""
    subject = own_subject(user)
    if subject.state != SubjectState.IN_CORRECTION:
        raise ConflictError("illegal_transition", "check-ins start after the intake", state=subject.state)
    positions.check_lonlat(lon, lat, accuracy_m)
    now = clock.now()
    with transaction.atomic():
        fix_id = positions.record(subject.target, source="checkin", lon=lon, lat=lat, accuracy_m=accuracy_m, at=now,
                                  mock=bool(mock_location))
        row = CheckIn.objects.create(subject=subject, at=now, day=now.astimezone(SHANGHAI).date(), lon=lon, lat=lat,
                                     accuracy_m=accuracy_m or 10, fix_id=fix_id)
        audit.record(user, "pingan.subject.checked_in", subject, changes={"check_in": row.pk, "fix": fix_id})
    return row


def purge_codes(now: dt.datetime) -> int:
    """Issued codes a day past their expiry are no longer needed (scans keep the nonce they saw)."""
    deleted, _rows = IssuedCode.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
    return deleted


def subjects_due_for_intake_alert(now: dt.datetime) -> list[int]:
    today = now.astimezone(SHANGHAI).date()
    return list(Subject.objects.filter(state=SubjectState.PENDING, intake_alerted_at__isnull=True,
                                       intake_due__lt=today).values_list("id", flat=True)[:500])



# --- Leave and boundary (请假外出, 社区矫正法实施办法 art. 26–27) ------------------------------------

from pingan.corrections.models import (  # noqa: E402
    LIVE_LEAVE_STATES,
    LeaveLevel,
    LeaveRequest,
    LeaveState,
    LeaveStep,
)
from pingan.tracking import pipeline as tracking_pipeline  # noqa: E402
from pingan.tracking.engine import Effect  # noqa: E402

LEAVE_LATE_RULE = "leave_late_return"
LEAVE_START_SLACK = dt.timedelta(minutes=5)   # a leave may be asked for "now"


def leave_level(days: int) -> str:
    """The approval level the rule asks for: up to PINGAN_CORRECTIONS_LEAVE_OFFICE_MAX_DAYS days the judicial
    office, longer the county justice bureau."""
    return LeaveLevel.OFFICE if days <= settings.PINGAN_CORRECTIONS_LEAVE_OFFICE_MAX_DAYS else LeaveLevel.BUREAU


@dataclass
class LeaveInput:
    destination: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    dest_lon: float | None = None
    dest_lat: float | None = None
    radius_km: float = 10.0


def _aware(moment: dt.datetime) -> dt.datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)).astimezone(dt.UTC)


def _clean_leave(subject: Subject, data: LeaveInput) -> dict[str, Any]:
    destination = clean_text(data.destination, "destination", max_length=200)
    reason = clean_text(data.reason, "reason", max_length=1000)
    starts_at, ends_at = _aware(data.starts_at), _aware(data.ends_at)
    now = clock.now()
    if ends_at <= starts_at:
        raise ValidationFailed("bad_range", "the leave ends after it starts", field="ends_at")
    if starts_at < now - LEAVE_START_SLACK:
        raise ValidationFailed("in_past", "a leave cannot start in the past", field="starts_at")
    longest = int(settings.PINGAN_CORRECTIONS_LEAVE_MAX_DAYS)
    if ends_at - starts_at > dt.timedelta(days=longest):
        raise ValidationFailed("leave_too_long", f"a leave is at most {longest} days at a time", field="ends_at",
                               max_days=longest)
    if ends_at > day_end(subject.supervision_end):
        raise ValidationFailed("beyond_supervision", "a leave cannot outlast the supervision", field="ends_at")
    if (data.dest_lon is None) != (data.dest_lat is None):
        raise ValidationFailed("invalid_destination", "give both dest_lon and dest_lat, or neither", field="dest_lon")
    if data.dest_lon is not None:
        positions.check_lonlat(data.dest_lon, data.dest_lat, None)  # type: ignore[arg-type]
    radius = data.radius_km
    if not isinstance(radius, int | float) or not math.isfinite(radius) or not 0.1 <= radius <= 200:
        raise ValidationFailed("out_of_range", "the destination radius must be 0.1–200 km", field="radius_km")
    return {"destination": destination, "reason": reason, "starts_at": starts_at, "ends_at": ends_at,
            "dest_lon": data.dest_lon, "dest_lat": data.dest_lat, "radius_km": float(radius)}


def _leave_step(leave: LeaveRequest, action: str, actor: Actor, *, note: str = "", level: str = "") -> LeaveStep:
    return LeaveStep.objects.create(leave=leave, action=action, level=level, actor=_user(actor),
                                    actor_name=_name(actor)[:150], at=clock.now(), note=note)


def leave_approvers(leave: LeaveRequest, stage: str | None = None) -> list[User]:
    """Who decides the leave at ``stage`` (default: its current one): at the judicial office its heads (the
    bureau heads only when the office has none), at the bureau the heads of the justice bureau."""
    subject = leave.subject
    stage = stage or leave.stage or leave.level
    bureau = holders(perms.APPROVE_LONG_LEAVE.code, subject)
    if stage == LeaveLevel.BUREAU:
        return bureau
    office = [u for u in holders(perms.APPROVE_LEAVE.code, subject) if u not in bureau]
    return office or bureau


def _leave_text(template: str, leave: LeaveRequest) -> str:
    return template.format(number=leave.subject.number, destination=leave.destination,
                           start=_local(leave.starts_at), end=_local(leave.ends_at), days=leave.days)


def request_leave(actor: Actor, subject: Subject, data: LeaveInput) -> LeaveRequest:
    """A request to leave the permitted area: destination (text, optionally a point and a radius), dates and
    reason, by the supervising officer or by the subject from their own login. At most
    PINGAN_CORRECTIONS_LEAVE_MAX_DAYS days (``leave_too_long``); the level that approves follows from its length.
    No two live leaves of one subject overlap (``leave_overlaps``)."""
    _require(actor, perms.REQUEST_LEAVE.code, subject)
    if subject.state != SubjectState.IN_CORRECTION:
        raise ConflictError("illegal_transition", f"cannot ask leave for a subject who is {subject.state}",
                            state=subject.state)
    values = _clean_leave(subject, data)
    now = clock.now()
    with transaction.atomic():
        Subject.objects.select_for_update().filter(pk=subject.pk).first()  # one request at a time per subject
        if LeaveRequest.objects.filter(subject=subject, state__in=LIVE_LEAVE_STATES, starts_at__lt=values["ends_at"],
                                       ends_at__gt=values["starts_at"]).exists():
            raise ConflictError("leave_overlaps", "the subject has another leave in this period")
        leave = LeaveRequest(subject=subject, state=LeaveState.PENDING, requested_by=_user(actor),
                             requested_by_name=_name(actor)[:150], created_at=now, **values)
        leave.level = leave_level(leave.days)
        leave.stage = LeaveLevel.OFFICE
        leave.save()
        _leave_step(leave, "requested", actor, note=values["reason"][:500], level=leave.level)
        audit.record(actor, "pingan.leave.requested", leave, changes={
            "subject": subject.number, "destination": leave.destination, "starts_at": leave.starts_at.isoformat(),
            "ends_at": leave.ends_at.isoformat(), "days": leave.days, "level": leave.level})
    text = _leave_text(_("Leave request of subject {number}: {destination}, {start} – {end} ({days} days)"), leave)
    officer = [] if _user(actor) is not None and actor.pk == subject.officer_id else [subject.officer]
    _later("corrections.leave_requested", text, [*officer, *leave_approvers(leave)])
    return leave


def _leave_decider(actor: Actor, leave: LeaveRequest) -> str:
    """The level at which ``actor`` may decide this pending leave: ``bureau`` (decides any leave), ``office``
    (decides leave up to the office's limit, and forwards longer leave to the bureau)."""
    if _system(actor):
        return LeaveLevel.BUREAU
    subject = leave.subject
    long_ok = policy.can(actor, perms.APPROVE_LONG_LEAVE.code, subject)
    short_ok = policy.can(actor, perms.APPROVE_LEAVE.code, subject)
    if not long_ok and not short_ok:
        _require(actor, perms.APPROVE_LEAVE.code, subject)  # 404 when the subject is hidden, else 403
    if long_ok:
        return LeaveLevel.BUREAU
    if leave.stage == LeaveLevel.BUREAU:
        raise PermissionDeniedError("bureau_approval_required", "the leave is with the county justice bureau",
                                    level=leave.level)
    return LeaveLevel.OFFICE


def _pending(leave: LeaveRequest, action: str, **values: Any) -> None:
    if not LeaveRequest.objects.filter(pk=leave.pk, state=LeaveState.PENDING, stage=leave.stage).update(**values):
        current = LeaveRequest.objects.filter(pk=leave.pk).values_list("state", flat=True).first()
        raise ConflictError("illegal_transition", f"cannot {action} a leave that is {current}", state=current)
    for name, value in values.items():
        setattr(leave, name, value)


def approve_leave(actor: Actor, leave: LeaveRequest, *, note: str = "") -> LeaveRequest:
    """Approve a pending leave at the actor's level. A leave the judicial office may approve is approved by its
    head (or a bureau head); a longer one approved by the office's head is forwarded to the bureau (``stage``
    becomes ``bureau``) and approved there. An approved leave whose start has come starts at once."""
    decider = _leave_decider(actor, leave)
    note = clean_text(note, "note", max_length=500, required=False)
    if leave.state != LeaveState.PENDING:
        raise ConflictError("illegal_transition", f"cannot approve a leave that is {leave.state}", state=leave.state)
    now = clock.now()
    if leave.ends_at <= now:
        raise ConflictError("leave_expired", "the leave's period is over; it can only be refused or cancelled")
    forward = decider == LeaveLevel.OFFICE and leave.level == LeaveLevel.BUREAU
    with transaction.atomic():
        if forward:
            _pending(leave, "forward", stage=LeaveLevel.BUREAU)
            _leave_step(leave, "forwarded", actor, note=note, level=LeaveLevel.OFFICE)
            audit.record(actor, "pingan.leave.forwarded", leave, changes={"subject": leave.subject.number,
                                                                          "stage": [LeaveLevel.OFFICE, LeaveLevel.BUREAU]})
        else:
            _pending(leave, "approve", state=LeaveState.APPROVED, stage="", approver=_user(actor), decided_at=now)
            _leave_step(leave, "approved", actor, note=note, level=decider)
            audit.record(actor, "pingan.leave.approved", leave, changes={
                "subject": leave.subject.number, "state": [LeaveState.PENDING, LeaveState.APPROVED], "level": decider})
            if leave.starts_at <= now:
                _start_leave(leave, now)
    subject = leave.subject
    if forward:
        _later("corrections.leave_forwarded", _leave_text(_(
            "Leave of subject {number} ({days} days, {destination}) awaits the justice bureau's approval"), leave),
            [subject.officer, *leave_approvers(leave, LeaveLevel.BUREAU)])
    else:
        _later("corrections.leave_approved", _leave_text(_(
            "Leave of subject {number} approved: {destination}, {start} – {end}"), leave),
            [subject.officer, subject.user, leave.requested_by])
    return leave


def refuse_leave(actor: Actor, leave: LeaveRequest, *, note: str) -> LeaveRequest:
    """Refuse a pending leave, with the reason (the office head at the office stage, the bureau at any)."""
    decider = _leave_decider(actor, leave)
    note = clean_text(note, "note", max_length=500)
    if leave.state != LeaveState.PENDING:
        raise ConflictError("illegal_transition", f"cannot refuse a leave that is {leave.state}", state=leave.state)
    with transaction.atomic():
        _pending(leave, "refuse", state=LeaveState.REFUSED, stage="", approver=_user(actor), decided_at=clock.now())
        _leave_step(leave, "refused", actor, note=note, level=decider)
        audit.record(actor, "pingan.leave.refused", leave, changes={
            "subject": leave.subject.number, "state": [LeaveState.PENDING, LeaveState.REFUSED], "note": note[:200]})
    subject = leave.subject
    _later("corrections.leave_refused", _leave_text(_("Leave of subject {number} refused: {destination}"), leave),
           [subject.officer, subject.user, leave.requested_by])
    return leave


def cancel_leave(actor: Actor, leave: LeaveRequest, *, note: str = "") -> LeaveRequest:
    """Withdraw a leave before it starts (pending or approved), by the officer or the subject."""
    subject = leave.subject
    _require(actor, perms.REQUEST_LEAVE.code, subject)
    note = clean_text(note, "note", max_length=500, required=False)
    before = leave.state
    with transaction.atomic():
        if before not in (LeaveState.PENDING, LeaveState.APPROVED) or not LeaveRequest.objects.filter(
                pk=leave.pk, state=before, started_at__isnull=True).update(state=LeaveState.CANCELLED, stage=""):
            current = LeaveRequest.objects.filter(pk=leave.pk).values_list("state", flat=True).first()
            raise ConflictError("illegal_transition", f"cannot cancel a leave that is {current}", state=current)
        leave.state, leave.stage = LeaveState.CANCELLED, ""
        _leave_step(leave, "cancelled", actor, note=note)
        audit.record(actor, "pingan.leave.cancelled", leave, changes={"subject": subject.number,
                                                                      "state": [before, LeaveState.CANCELLED]})
    waiting = leave_approvers(leave) if before == LeaveState.PENDING else ([leave.approver] if leave.approver else [])
    _later("corrections.leave_cancelled", _leave_text(_("Leave of subject {number} cancelled: {destination}"), leave),
           [subject.officer, *waiting])
    return leave


def report_return(actor: Actor, leave: LeaveRequest, *, note: str = "") -> LeaveRequest:
    """销假: the subject reported back to the judicial office (recorded by the officer). The boundary rule applies
    again at once; a return after the overdue alert is recorded as such (the alert stays for its handling)."""
    subject = leave.subject
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    note = clean_text(note, "note", max_length=500, required=False)
    before = leave.state
    now = clock.now()
    with transaction.atomic():
        if before not in (LeaveState.ON_LEAVE, LeaveState.OVERDUE) or not LeaveRequest.objects.filter(
                pk=leave.pk, state=before).update(state=LeaveState.RETURNED, returned_at=now):
            current = LeaveRequest.objects.filter(pk=leave.pk).values_list("state", flat=True).first()
            raise ConflictError("illegal_transition", f"cannot report the return of a leave that is {current}",
                                state=current)
        leave.state, leave.returned_at = LeaveState.RETURNED, now
        _restore_boundary(leave)
        _leave_step(leave, "returned", actor, note=note)
        audit.record(actor, "pingan.leave.returned", leave, changes={
            "subject": subject.number, "state": [before, LeaveState.RETURNED], "late": before == LeaveState.OVERDUE})
    _later("corrections.leave_returned", _leave_text(_("Subject {number} has reported back from leave ({destination})"),
                                                     leave), [leave.approver])
    return leave


# leave and the subject's lifecycle (transfer, release, termination) ---------------------------------
#
# A transfer (art. 27) moves the subject's pending leave requests to the new judicial office: the request stays,
# its stage goes back to the office (the new office's heads decide it from the start; a bureau head decides any
# stage anyway), the new approvers are told. An approved leave stands (the new officer may cancel it before its
# start); a leave in force goes on, its zone rebuilt around the new permitted area when that changed. Release and
# termination end every live leave: a request not yet in force is cancelled, a leave in force (or overdue) is
# closed — its zone goes, the job raises no late-return alert afterwards, and an active one is cleared. Every
# change is a step of the leave and an audit entry, like the other steps.


def _transfer_leaves(actor: Actor, subject: Subject, *, from_office: Organisation, to_office: Organisation,
                     permitted_changed: bool) -> list[LeaveRequest]:
    """The subject's live leaves follow a transfer (inside its transaction); returns the pending requests, whose
    new approvers are then told."""
    note = f"{from_office.name} → {to_office.name}"
    pending: list[LeaveRequest] = []
    for leave in LeaveRequest.objects.select_for_update(of=("self",)).select_related("subject").filter(
            subject=subject, state__in=LIVE_LEAVE_STATES).order_by("starts_at", "pk"):
        leave.subject = subject
        changes: dict[str, Any] = {"subject": subject.number, "state": leave.state,
                                   "judicial_office": [from_office.code, to_office.code]}
        if leave.state == LeaveState.PENDING:
            before_stage = leave.stage
            _pending(leave, "transfer", stage=LeaveLevel.OFFICE)
            changes["stage"] = [before_stage, LeaveLevel.OFFICE]
            pending.append(leave)
        elif leave.suspended and leave.zone_id is not None and permitted_changed:
            old_zone = Zone.objects.get(pk=leave.zone_id)
            tracking_actions.deactivate_zone(SYSTEM, old_zone)
            zone = tracking_actions.create_zone(SYSTEM, name=f"leave {leave.pk}", kind="inclusion", shape="polygon",
                                                coords=_leave_rings(subject, leave), area=subject.permitted_area,
                                                owner="corrections", targets=[Target.objects.get(pk=subject.target_id)])
            LeaveRequest.objects.filter(pk=leave.pk).update(zone=zone)
            leave.zone = zone
            changes["zone"] = [old_zone.pk, zone.pk]
        _leave_step(leave, "transferred", actor, note=note, level=LeaveLevel.OFFICE if leave in pending else "")
        audit.record(actor, "pingan.leave.transferred", leave, changes=changes)
    return pending


def _live_leaves(subject: Subject) -> list[tuple[LeaveRequest, list[User]]]:
    """The subject's live leaves, each with whom to tell when it ends with the file (before the file closes)."""
    out = []
    for leave in LeaveRequest.objects.select_for_update(of=("self",)).select_related("subject", "approver").filter(
            subject=subject, state__in=LIVE_LEAVE_STATES).order_by("starts_at", "pk"):
        waiting = leave_approvers(leave) if leave.state == LeaveState.PENDING else []
        out.append((leave, [*waiting, *([leave.approver] if leave.approver else [])]))
    return out


def _end_leaves_with_file(actor: Actor, subject: Subject, live: list[tuple[LeaveRequest, list[User]]], *,
                          state: str, now: dt.datetime) -> None:
    """Release or termination (inside its transaction, after the subject's state moved): a leave not yet in force
    is cancelled; a leave in force or overdue is closed, its zone deactivated (the subject does not rejoin the
    permitted area: the file is closed) and an active late-return alert cleared."""
    note = f"correction ended: subject {state}"
    for leave, recipients in live:
        before = leave.state
        leave.subject = subject
        if before == LeaveState.PENDING or (before == LeaveState.APPROVED and leave.started_at is None):
            if not LeaveRequest.objects.filter(pk=leave.pk, state=before, started_at__isnull=True).update(
                    state=LeaveState.CANCELLED, stage=""):
                continue
            leave.state, leave.stage, action = LeaveState.CANCELLED, "", "cancelled"
            text = _leave_text(_("Leave of subject {number} cancelled: {destination}"), leave)
        else:
            if not LeaveRequest.objects.filter(pk=leave.pk, state=before).update(state=LeaveState.CLOSED):
                continue
            leave.state, action = LeaveState.CLOSED, "closed"
            _restore_boundary(leave)
            if before == LeaveState.OVERDUE:
                _clear_alert(subject, LEAVE_LATE_RULE, now)
            text = _leave_text(_("Leave of subject {number} ({destination}) ended with the correction"), leave)
        _leave_step(leave, action, actor, note=note)
        audit.record(actor, f"pingan.leave.{action}", leave, changes={
            "subject": subject.number, "state": [before, leave.state], "reason": f"subject {state}"})
        _later(f"corrections.leave_{action}", text, recipients)


# the boundary during a leave ------------------------------------------------------------------------


def _leave_rings(subject: Subject, leave: LeaveRequest) -> list[list[list[float]]]:
    """The area allowed during the leave as a tracking zone's rings: ``places.leave_area`` (the convex hull of the
    permitted area and the destination circle, so that the way there and back is inside too)."""
    hull = places.leave_area(subject.permitted_area, leave)
    assert hull is not None  # only called for a leave with a destination point
    return [[[x, y] for x, y in hull.exterior.coords]]


def _start_leave(leave: LeaveRequest, now: dt.datetime) -> bool:
    """An approved leave's start has come: the subject leaves the permitted-area zone and, with a destination
    point, joins an inclusion zone of its own for the leave (permitted area and destination)."""
    if not LeaveRequest.objects.filter(pk=leave.pk, state=LeaveState.APPROVED, started_at__isnull=True).update(
            state=LeaveState.ON_LEAVE, started_at=now):
        return False
    leave.state, leave.started_at = LeaveState.ON_LEAVE, now
    subject = leave.subject
    if leave.ends_at > now and subject.is_open:
        target = Target.objects.get(pk=subject.target_id)
        zone = Zone.objects.select_for_update().get(pk=_permitted_zone(subject.permitted_area).pk)
        tracking_actions.set_zone_members(SYSTEM, zone, targets=[t for t in zone.targets.all() if t.pk != target.pk])
        allowed = None
        if leave.dest_lon is not None:
            allowed = tracking_actions.create_zone(SYSTEM, name=f"leave {leave.pk}", kind="inclusion", shape="polygon",
                                                   coords=_leave_rings(subject, leave), area=subject.permitted_area,
                                                   owner="corrections", targets=[target])
        LeaveRequest.objects.filter(pk=leave.pk).update(suspended=True, zone=allowed)
        leave.suspended, leave.zone = True, allowed
    _leave_step(leave, "started", "system")
    audit.record("system", "pingan.leave.started", leave, changes={
        "subject": subject.number, "state": [LeaveState.APPROVED, LeaveState.ON_LEAVE], "suspended": leave.suspended})
    return True


def _restore_boundary(leave: LeaveRequest) -> None:
    """The boundary rule applies again: the leave's zone goes, the subject rejoins the permitted-area zone."""
    if not LeaveRequest.objects.filter(pk=leave.pk, suspended=True).update(suspended=False):
        return
    leave.suspended = False
    if leave.zone_id is not None:
        tracking_actions.deactivate_zone(SYSTEM, Zone.objects.get(pk=leave.zone_id))
    subject = Subject.objects.select_related("permitted_area", "target").get(pk=leave.subject_id)
    if subject.is_open:
        _join_permitted_zone(subject)


def start_leave(leave_id: int, now: dt.datetime) -> bool:
    """The job: an approved leave whose start has come (once)."""
    with transaction.atomic():
        leave = LeaveRequest.objects.select_related("subject", "subject__permitted_area").filter(
            pk=leave_id, state=LeaveState.APPROVED, starts_at__lte=now).first()
        return leave is not None and _start_leave(leave, now)


def end_leave_window(leave_id: int, now: dt.datetime) -> bool:
    """The job: the leave's end has come, the boundary rule applies again (whether or not the subject has
    reported back)."""
    with transaction.atomic():
        leave = LeaveRequest.objects.select_related("subject").filter(pk=leave_id, suspended=True,
                                                                      ends_at__lte=now).first()
        if leave is None:
            return False
        _restore_boundary(leave)
        if not leave.suspended:
            _leave_step(leave, "ended", "system")
            audit.record("system", "pingan.leave.ended", leave, changes={"subject": leave.subject.number,
                                                                         "suspended": [True, False]})
    return True


def mark_leave_overdue(leave_id: int, now: dt.datetime) -> bool:
    """The job: past the end plus PINGAN_CORRECTIONS_LEAVE_GRACE_HOURS without 销假 — the leave is overdue and a
    ``leave_late_return`` alert is raised, once."""
    grace = dt.timedelta(hours=float(settings.PINGAN_CORRECTIONS_LEAVE_GRACE_HOURS))
    with transaction.atomic():
        leave = LeaveRequest.objects.select_related("subject", "subject__officer").filter(
            pk=leave_id, state=LeaveState.ON_LEAVE, overdue_at__isnull=True, ends_at__lte=now - grace,
            subject__state=SubjectState.IN_CORRECTION).first()  # a released subject is not overdue
        if leave is None or not LeaveRequest.objects.filter(pk=leave.pk, state=LeaveState.ON_LEAVE,
                                                            overdue_at__isnull=True).update(
                state=LeaveState.OVERDUE, overdue_at=now):
            return False
        leave.state, leave.overdue_at = LeaveState.OVERDUE, now
        _restore_boundary(leave)
        subject = leave.subject
        tracking_pipeline.apply_effects([Effect("raise", subject.target_id, LEAVE_LATE_RULE, None, now.timestamp(),
                                                severity="alarm", detail={"leave": leave.pk, "reason": "late_return",
                                                                          "ends_at": leave.ends_at.isoformat()})], now)
        _leave_step(leave, "overdue", "system")
        audit.record("system", "pingan.leave.overdue", leave, changes={
            "subject": subject.number, "state": [LeaveState.ON_LEAVE, LeaveState.OVERDUE],
            "ends_at": leave.ends_at.isoformat()})
        _later("corrections.leave_overdue", _leave_text(_(
            "Subject {number} has not reported back from leave ({destination}); it ended {end}"), leave),
            [subject.officer, leave.approver])
    return True


def leave_in_force(subject: Subject, at: dt.datetime) -> LeaveRequest | None:
    """The approved leave whose window contains ``at`` (started or about to be started by the job)."""
    return places.leave_in_force(subject, at)


# --- Carrier feed -----------------------------------------------------------------------------------

from pingan.corrections import carrier  # noqa: E402


@dataclass
class CarrierResult:
    accepted: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)


def ingest_carrier(actor: Actor, rows: Sequence[Any], *, feed: carrier.CarrierFeed | None = None) -> CarrierResult:
    """A batch from a carrier's gateway: each row on its own is turned into a position by the feed (default
    the JSON gateway's format), its phone matched to a subject in correction, and stored as a position of the
    subject's target (source ``carrier``, fix type ``cell``; the screening checks run on it). A bad row comes back
    with its index, code and message; good rows are kept. A phone that matches no subject in correction answers
    ``unknown_phone`` whoever else it may belong to."""
    if not _system(actor):
        policy.require(actor, perms.INGEST_CARRIER.code)
    feed = feed or carrier.GatewayFeed()
    limit = int(settings.PINGAN_CORRECTIONS_CARRIER_BATCH_MAX)
    if len(rows) > limit:
        raise ValidationFailed("too_many_rows", f"at most {limit} rows per batch", limit=limit)
    result = CarrierResult()
    for index, raw in enumerate(rows):
        try:
            row = feed.parse(raw)
            subject = carrier.subject_for_phone(row.phone)
            with transaction.atomic():
                positions.record(subject.target, source="carrier", fix_type="cell", lon=row.lon, lat=row.lat,
                                 accuracy_m=row.accuracy_m, at=row.t)
            result.accepted += 1
        except carrier.RowProblem as exc:
            result.errors.append({"index": index, "code": exc.code, "message": exc.message})
        except ValidationFailed as exc:
            result.errors.append({"index": index, "code": exc.code, "message": exc.message})
    audit.record(actor, "pingan.carrier.ingested", None, object_type="corrections.carrier", object_id=feed.name,
                 changes={"accepted": result.accepted, "rejected": result.rejected,
                          "codes": sorted({e["code"] for e in result.errors})})
    return result


# Phone checks ---------------------------------------------------------------------------------------
# 智能电话核查 (docs/modules/corrections.md, "Phone checks"): the plan by level (``phoneplan``), the call through
# the telephony adapter (``telephony``), the network position as a ``phonecheck`` fix, the comparison with
# where the subject should be, and the alerts.

PHONE_MISSED = "phone_check_missed"
PHONE_VOICE = "phone_check_voice"
PHONE_POSITION = "phone_check_position"
PHONE_FAILED = "phone_check_failed"
STALE_CALL = dt.timedelta(minutes=10)   # a check still "calling" after this was interrupted (a worker died)
FIRST_CALL_GRACE = dt.timedelta(minutes=15)  # a planned first call this late may still be made after the hours


def phone_check_attempts() -> int:
    """Calls per check: the first and the retries (PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES, default 2)."""
    return 1 + max(0, int(getattr(settings, "PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES", 2)))


def phone_check_retry_after() -> dt.timedelta:
    return dt.timedelta(minutes=max(1, int(getattr(settings, "PINGAN_CORRECTIONS_PHONE_CHECK_RETRY_MINUTES", 5))))


def _raise_alert(subject: Subject, rule: str, now: dt.datetime, *, severity: str = "alarm",
                 refs: Sequence[int] = (), detail: dict[str, Any] | None = None) -> int | None:
    """Open (or add evidence to) the subject's alert of ``rule``; inside the caller's transaction. Returns the
    alert's id."""
    from pingan.tracking import pipeline
    from pingan.tracking.engine import Effect

    pipeline.apply_effects([Effect("raise", subject.target_id, rule, None, now.timestamp(), refs=tuple(refs),
                                   severity=severity, detail=detail or {})], now)
    return Alert.objects.filter(target_id=subject.target_id, rule=rule, zone_key=0,
                                state__in=ACTIVE_ALERT_STATES).values_list("pk", flat=True).first()


def _clear_alert(subject: Subject, rule: str, now: dt.datetime) -> None:
    """The alert's condition is over (re-armed, like the pipeline's ``clear``); the alert stays for its handling."""
    from pingan.tracking import pipeline
    from pingan.tracking.engine import Effect

    pipeline.apply_effects([Effect("clear", subject.target_id, rule, None, now.timestamp())], now)


def plan_phone_checks(subject_id: int, day: dt.date, now: dt.datetime) -> int:
    """Draw the subject's planned checks of ``day`` (idempotent; the job calls this for today and tomorrow).
    Checks whose time has passed are not created; after a level change, the checks still to come are redrawn.
    Returns how many checks were created."""
    with transaction.atomic():
        subject = Subject.objects.filter(pk=subject_id, state=SubjectState.IN_CORRECTION).first()
        if subject is None:
            return 0
        plan = PhoneCheckPlan.objects.select_for_update().filter(subject=subject, day=day).first()
        if plan is not None and plan.level == subject.level:
            return 0
        wanted = [t for t in phoneplan.times(subject.handle, subject.level, day) if t > now]
        stale = PhoneCheck.objects.filter(subject=subject, day=day, planned=True, state=PhoneCheckState.SCHEDULED,
                                          attempts=0, scheduled_at__gt=now).exclude(scheduled_at__in=wanted)
        dropped = stale.count()
        stale.delete()
        have = set(PhoneCheck.objects.filter(subject=subject, day=day, planned=True).values_list("scheduled_at", flat=True))
        made = [PhoneCheck(subject=subject, scheduled_at=t, due_at=t, day=day, planned=True, created_at=now)
                for t in wanted if t not in have]
        PhoneCheck.objects.bulk_create(made)
        if plan is None:
            try:
                with transaction.atomic():
                    PhoneCheckPlan.objects.create(subject=subject, day=day, level=subject.level, planned_at=now)
            except IntegrityError:  # another worker planned this day at the same moment
                return 0
        else:
            PhoneCheckPlan.objects.filter(pk=plan.pk).update(level=subject.level, planned_at=now)
        if made or dropped:
            audit.record("system", "pingan.phonecheck.planned", subject,
                         changes={"day": day.isoformat(), "level": subject.level, "checks": len(made), "dropped": dropped})
    return len(made)


def subjects_to_plan(day: dt.date, *, limit: int = 500) -> list[int]:
    """Subjects in correction whose checks of ``day`` are not drawn yet at their current level."""
    from django.db.models import Exists, OuterRef

    drawn = PhoneCheckPlan.objects.filter(subject=OuterRef("pk"), day=day, level=OuterRef("level"))
    return list(Subject.objects.filter(state=SubjectState.IN_CORRECTION).filter(~Exists(drawn))
                .order_by("pk").values_list("pk", flat=True)[:limit])


def start_phone_check(actor: Actor, subject: Subject) -> PhoneCheck:
    """An officer checks the subject now (day or night: the officer decides); the call is placed at once, the
    retries, if any, by the job."""
    _require(actor, perms.MANAGE_SUBJECT.code, subject)
    if subject.state != SubjectState.IN_CORRECTION:
        raise ConflictError("illegal_transition", "phone checks are for subjects in correction", state=subject.state)
    now = clock.now()
    with transaction.atomic():
        check = PhoneCheck.objects.create(subject=subject, scheduled_at=now, due_at=now,
                                          day=now.astimezone(SHANGHAI).date(), planned=False,
                                          requested_by=_user(actor), created_at=now)
        audit.record(actor, "pingan.phonecheck.started", subject, changes={"check": check.pk})
    run_phone_check(check.pk, now)
    check.refresh_from_db()
    return check


def due_phone_checks(now: dt.datetime, *, limit: int = 200) -> list[int]:
    return list(PhoneCheck.objects.filter(state=PhoneCheckState.SCHEDULED, due_at__lte=now)
                .order_by("due_at", "pk").values_list("pk", flat=True)[:limit])


def interrupted_phone_checks(now: dt.datetime) -> int:
    """Checks left ``calling`` by a worker that stopped: back to scheduled (the attempt counts) or finished."""
    done = 0
    for check_id in PhoneCheck.objects.filter(state=PhoneCheckState.CALLING, due_at__lt=now - STALE_CALL)\
            .values_list("pk", flat=True)[:200]:
        from pingan.corrections.telephony import CallResult

        done += _finish_call(check_id, CallResult(answered=False, error="interrupted"), now)
    return done


def run_phone_check(check_id: int, now: dt.datetime | None = None) -> bool:
    """Place the call of a due check (one attempt). The state moves scheduled → calling by a conditional
    update, so a check is called by one worker at a time; the provider is called outside any transaction."""
    from pingan.corrections import telephony

    now = now or clock.now()
    check = PhoneCheck.objects.select_related("subject").filter(pk=check_id).first()
    if check is None:
        return False
    subject = check.subject
    late_first_call = check.planned and check.attempts == 0 and not phoneplan.in_window(now) \
        and now - check.scheduled_at > FIRST_CALL_GRACE
    if subject.state != SubjectState.IN_CORRECTION or late_first_call:
        # The correction ended, or the planned time passed while no worker ran and the call hours are over:
        # no call (never at night); the check is marked failed without an alert. (Retries of a call made in
        # the hours follow within minutes, whatever the time.)
        reason = "subject not in correction" if subject.state != SubjectState.IN_CORRECTION else "outside the call hours"
        return bool(PhoneCheck.objects.filter(pk=check_id, state=PhoneCheckState.SCHEDULED).update(
            state=PhoneCheckState.FAILED, verdict=PhoneCheckVerdict.FAILED, error=reason, finished_at=now))
    if not PhoneCheck.objects.filter(pk=check_id, state=PhoneCheckState.SCHEDULED, due_at__lte=now).update(
            state=PhoneCheckState.CALLING, attempts=F("attempts") + 1, due_at=now):
        return False
    PhoneCheck.objects.filter(pk=check_id, started_at__isnull=True).update(started_at=now)
    try:
        chosen = telephony.provider()
        PhoneCheck.objects.filter(pk=check_id).update(provider=getattr(chosen, "name", "")[:20])
        result = chosen.call(subject.phone, reference=check.reference)
    except Exception as exc:  # a provider that raises is an error like any other: retried, then failed
        result = telephony.CallResult(answered=False, error=f"{type(exc).__name__}: {exc}"[:200])
    return _finish_call(check_id, result, now)


def _finish_call(check_id: int, result: Any, now: dt.datetime) -> bool:
    """Record one attempt's outcome: a retry, or the final state with its verdict and alerts."""
    with transaction.atomic():
        check = PhoneCheck.objects.select_for_update().select_related("subject", "subject__permitted_area")\
            .filter(pk=check_id, state=PhoneCheckState.CALLING).first()
        if check is None:
            return False
        subject = check.subject
        check.provider_ref = str(result.provider_ref or "")[:80]
        fields = ["provider_ref", "state", "due_at", "error", "finished_at", "answered", "verdict", "alert"]
        if result.error or not result.answered:
            check.error = str(result.error or "")[:200]
            if check.attempts < phone_check_attempts():
                check.state, check.due_at = PhoneCheckState.SCHEDULED, now + phone_check_retry_after()
                check.save(update_fields=fields)
                return True
            check.finished_at = now
            if result.error:
                check.state, check.verdict = PhoneCheckState.FAILED, PhoneCheckVerdict.FAILED
                check.alert_id = _raise_alert(subject, PHONE_FAILED, now, severity="warning", detail={
                    "check": check.pk, "attempts": check.attempts, "reason": check.error[:100]})
            else:
                check.state, check.verdict, check.answered = PhoneCheckState.MISSED, PhoneCheckVerdict.MISSED, False
                check.alert_id = _raise_alert(subject, PHONE_MISSED, now, detail={
                    "check": check.pk, "attempts": check.attempts})
            check.save(update_fields=fields)
            audit.record("system", f"pingan.phonecheck.{check.state}", subject,
                         changes={"check": check.pk, "attempts": check.attempts, "error": check.error[:100]})
            _later(f"corrections.{PHONE_FAILED if result.error else PHONE_MISSED}", _(
                "Phone check of subject {number}: {what}").format(
                number=subject.number, what=PhoneCheckVerdict(check.verdict).label), [subject.officer])
            return True
        check.state, check.answered, check.finished_at, check.error = PhoneCheckState.ANSWERED, True, now, ""
        check.voice = result.voice if result.voice in VoiceVerdict.values else VoiceVerdict.UNKNOWN
        fields += ["voice", "lon", "lat", "accuracy_m", "fix_id", "expected_area", "leave", "outside_m", "home_m"]
        outside = False
        if result.lon is not None and result.lat is not None:
            accuracy = float(result.accuracy_m if result.accuracy_m is not None else 1000.0)
            check.lon, check.lat, check.accuracy_m = float(result.lon), float(result.lat), accuracy
            try:
                check.fix_id = positions.record(subject.target, source="phonecheck", lon=check.lon, lat=check.lat,
                                                accuracy_m=accuracy, at=now, fix_type="cell")
            except ValidationFailed as exc:  # the provider's position is unusable: the call still counts
                check.error = f"position refused: {exc.code}"[:200]
            # where the subject may be now: the permitted area, and the destination during an approved leave
            where_allowed = places.allowed(subject, now)
            check.expected_area, check.leave = where_allowed.area, where_allowed.leave
            if where_allowed.unbounded:  # leave without a destination point: nothing to compare with
                check.outside_m = None
            else:
                check.outside_m = round(where_allowed.distance_outside_m(check.lon, check.lat), 1)
            if subject.home_lon is not None and subject.home_lat is not None:
                check.home_m = round(_distance_m((subject.home_lon, subject.home_lat), (check.lon, check.lat)), 1)
            outside = check.outside_m is not None and check.outside_m > accuracy
        refs = (check.fix_id,) if check.fix_id else ()
        where = {"lon": check.lon, "lat": check.lat} if check.lon is not None else {}
        alert_id = None
        if check.voice == VoiceVerdict.MISMATCH:
            alert_id = _raise_alert(subject, PHONE_VOICE, now, refs=refs, detail={"check": check.pk, **where})
        if outside:
            position_alert = _raise_alert(subject, PHONE_POSITION, now, refs=refs, detail={
                "check": check.pk, "outside_m": check.outside_m, "accuracy_m": check.accuracy_m,
                **({"leave": check.leave_id} if check.leave_id else {}), **where})
            alert_id = alert_id or position_alert
        check.verdict = (PhoneCheckVerdict.VOICE_MISMATCH if check.voice == VoiceVerdict.MISMATCH
                         else PhoneCheckVerdict.POSITION_MISMATCH if outside else PhoneCheckVerdict.OK)
        check.alert_id = alert_id
        check.save(update_fields=fields)
        _clear_alert(subject, PHONE_MISSED, now)  # the subject answers again
        regain_contact(subject, now, source="phonecheck")
        audit.record("system", "pingan.phonecheck.answered", subject, changes={
            "check": check.pk, "voice": check.voice, "verdict": check.verdict, "outside_m": check.outside_m,
            "leave": check.leave_id, "fix": check.fix_id})
        if check.verdict != PhoneCheckVerdict.OK:
            _later(f"corrections.{check.verdict}", _("Phone check of subject {number}: {what}").format(
                number=subject.number, what=PhoneCheckVerdict(check.verdict).label), [subject.officer])
    return True


# Lost contact -----------------------------------------------------------------------------------------
# 失联 (docs/modules/corrections.md, "Lost contact"): no position from any source and no answered phone check
# for PINGAN_CORRECTIONS_LOST_CONTACT_HOURS → the ``corrections_lost_contact`` alarm and an open
# ``lost_contact`` record, once until contact is regained.

LOST_CONTACT_RULE = "corrections_lost_contact"


def lost_contact_after() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "PINGAN_CORRECTIONS_LOST_CONTACT_HOURS", 24)))


def last_contact(subject: Subject) -> dt.datetime | None:
    """The subject's last sign of life: the latest position of the target (any source), the last answered
    phone check, or the intake."""
    from pingan.tracking.models import LatestPosition

    moments = [subject.intake_at,
               LostContact.objects.filter(subject=subject, regained_at__isnull=False)
               .order_by("-regained_at").values_list("regained_at", flat=True).first(),
               LatestPosition.objects.filter(target_id=subject.target_id).values_list("device_time", flat=True).first(),
               PhoneCheck.objects.filter(subject=subject, state=PhoneCheckState.ANSWERED)
               .order_by("-finished_at").values_list("finished_at", flat=True).first()]
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def subjects_out_of_contact(now: dt.datetime, *, limit: int = 500) -> list[int]:
    """Subjects in correction with no sign of life since the cut-off and no open lost-contact spell."""
    from django.db.models import Exists, OuterRef

    from pingan.tracking.models import LatestPosition

    cutoff = now - lost_contact_after()
    return list(Subject.objects.filter(state=SubjectState.IN_CORRECTION, intake_at__lt=cutoff)
                .filter(~Exists(LostContact.objects.filter(subject=OuterRef("pk"), regained_at__isnull=True)))
                .filter(~Exists(LostContact.objects.filter(subject=OuterRef("pk"), regained_at__gte=cutoff)))
                .filter(~Exists(LatestPosition.objects.filter(target_id=OuterRef("target_id"), device_time__gte=cutoff)))
                .filter(~Exists(PhoneCheck.objects.filter(subject=OuterRef("pk"), state=PhoneCheckState.ANSWERED,
                                                          finished_at__gte=cutoff)))
                .order_by("pk").values_list("pk", flat=True)[:limit])


def detect_lost_contact(subject_id: int, now: dt.datetime) -> bool:
    """Open the lost-contact spell (the alarm and the record), once until contact is regained."""
    from pingan.tracking.models import LatestPosition

    with transaction.atomic():
        subject = Subject.objects.select_related("officer").filter(pk=subject_id, state=SubjectState.IN_CORRECTION).first()
        if subject is None:
            return False
        last = last_contact(subject)
        if last is None or last >= now - lost_contact_after():
            return False
        try:
            with transaction.atomic():
                spell = LostContact.objects.create(subject=subject, last_contact_at=last, detected_at=now)
        except IntegrityError:  # open already
            return False
        hours = lost_contact_after().total_seconds() / 3600
        record = add_record(SYSTEM, subject, kind=RecordKind.LOST_CONTACT, occurred_on=now.astimezone(SHANGHAI).date(),
                            text=_("No position and no answered phone check since {since} (more than {hours:g} hours)")
                            .format(since=_local(last), hours=hours))
        latest = dict(LatestPosition.objects.filter(target_id=subject.target_id).values("lon", "lat").first() or {})
        spell.record = record
        spell.alert_id = _raise_alert(subject, LOST_CONTACT_RULE, now, detail={
            "since": last.timestamp(), "hours": hours, "record": record.pk, **latest})
        spell.save(update_fields=["record", "alert"])
        audit.record("system", "pingan.subject.lost_contact", subject,
                     changes={"since": last.isoformat(), "record": record.pk, "alert": spell.alert_id})
    return True


def regain_contact(subject: Subject, now: dt.datetime, source: str) -> bool:
    """A new position or an answered check ends the open spell: the alert is marked re-armed (its condition is
    over; it stays for the officer to handle) and the officer is told to close the record with its outcome."""
    with transaction.atomic():
        spell = LostContact.objects.filter(subject=subject, regained_at__isnull=True).first()
        if spell is None or not LostContact.objects.filter(pk=spell.pk, regained_at__isnull=True).update(
                regained_at=now, regained_by=source[:20]):
            return False
        _clear_alert(subject, LOST_CONTACT_RULE, now)
        audit.record("system", "pingan.subject.contact_regained", subject, changes={"source": source, "spell": spell.pk})
        _later("corrections.contact_regained", _(
            "Subject {number} is in contact again ({source}): close the lost-contact record with its outcome").format(
            number=subject.number, source=source), [subject.officer])
    return True


def open_spells_regained(now: dt.datetime, *, limit: int = 500) -> list[int]:
    """Subjects whose open spell has a newer sign of life than its last contact (a device fix through tracking,
    which the screening checks do not see)."""
    from django.db.models import Exists, OuterRef

    from pingan.tracking.models import LatestPosition

    newer_fix = LatestPosition.objects.filter(target_id=OuterRef("subject__target_id"),
                                              device_time__gt=OuterRef("last_contact_at"))
    newer_call = PhoneCheck.objects.filter(subject=OuterRef("subject_id"), state=PhoneCheckState.ANSWERED,
                                           finished_at__gt=OuterRef("last_contact_at"))
    return list(LostContact.objects.filter(regained_at__isnull=True).filter(Exists(newer_fix) | Exists(newer_call))
                .values_list("subject_id", flat=True)[:limit])


@screening.check
def contact_regained(position: screening.Position) -> None:
    """Any position corrections records ends an open lost-contact spell."""
    if not LostContact.objects.filter(subject__target_id=position.target.pk, regained_at__isnull=True,
                                      last_contact_at__lt=position.at).exists():
        return
    subject = Subject.objects.filter(target_id=position.target.pk).first()
    if subject is not None:
        regain_contact(subject, clock.now(), source=position.source)


# Faked positions ------------------------------------------------------------------------------------
# (docs/modules/corrections.md, "Faked positions"): the phone's mock-location flag, an impossible jump from the
# previous position, a check-in far from the phone's network position → ``fake_position`` (warning).

FAKE_RULE = "fake_position"
FAKE_SPEED_KMH = 200.0                       # faster than this between two positions, beyond both accuracies
NETWORK_WINDOW = dt.timedelta(minutes=30)    # a carrier / phone-check position this recent …
NETWORK_MIN_M = 2000.0                       # … farther than max(this, 2 × its accuracy) from a check-in


def _fake_speed_kmh() -> float:
    return float(getattr(settings, "PINGAN_CORRECTIONS_FAKE_SPEED_KMH", FAKE_SPEED_KMH))


def faked_kinds(position: screening.Position) -> list[dict[str, Any]]:
    """What is wrong with this position (empty: plausible)."""
    from pingan.tracking.models import Fix

    found: list[dict[str, Any]] = []
    if position.mock:
        found.append({"kind": "mock_location"})
    earlier = Fix.objects.filter(target_id=position.target.pk, device_time__lte=position.at)
    if position.fix_id is not None:
        earlier = earlier.exclude(pk=position.fix_id)
    previous = earlier.order_by("-device_time", "-pk").values("lon", "lat", "accuracy_m", "device_time", "pk").first()
    if previous is not None:
        gap_m = _distance_m((previous["lon"], previous["lat"]), (position.lon, position.lat)) \
            - previous["accuracy_m"] - position.accuracy_m
        seconds = (position.at - previous["device_time"]).total_seconds()
        if gap_m > 0 and (seconds <= 0 or gap_m / seconds * 3.6 > _fake_speed_kmh()):
            found.append({"kind": "impossible_jump", "from_fix": previous["pk"], "gap_m": round(gap_m),
                          "seconds": round(seconds), "speed_kmh": round(gap_m / seconds * 3.6) if seconds > 0 else -1})
    if position.source == "checkin":
        network = Fix.objects.filter(target_id=position.target.pk, source__in=("carrier", "phonecheck"),
                                     device_time__gte=position.at - NETWORK_WINDOW, device_time__lte=position.at)\
            .order_by("-device_time", "-pk").values("lon", "lat", "accuracy_m", "pk").first()
        if network is not None:
            distance = _distance_m((network["lon"], network["lat"]), (position.lon, position.lat))
            if distance > max(NETWORK_MIN_M, 2 * network["accuracy_m"]):
                found.append({"kind": "far_from_network", "network_fix": network["pk"], "distance_m": round(distance),
                              "network_accuracy_m": network["accuracy_m"]})
    return found


@screening.check
def faked(position: screening.Position) -> None:
    """Flag a faked position: each finding raises (or adds evidence to) the subject's ``fake_position`` alert."""
    findings = faked_kinds(position)
    if not findings:
        return
    subject = Subject.objects.filter(target_id=position.target.pk).first()
    if subject is None:
        return
    now = clock.now()
    with transaction.atomic():
        detail: dict[str, Any] = {}
        for finding in findings:
            detail.update(finding)
        detail["kind"] = ",".join(f["kind"] for f in findings)
        _raise_alert(subject, FAKE_RULE, now, severity="warning", refs=(position.fix_id,) if position.fix_id else (),
                     detail={**detail, "source": position.source, "lon": position.lon, "lat": position.lat})
        audit.record("system", "pingan.subject.position_flagged", subject,
                     changes={"fix": position.fix_id, "source": position.source,
                              "kinds": [f["kind"] for f in findings]})


# Core areas and reverse warnings --------------------------------------------------------------------------
#
# A core area (核心区) drives one tracking exclusion zone owned by corrections (fast: no dwell) whose members are
# target groups: one group per management level, kept in sync with each subject's level below, or groups chosen
# by the bureau. Its warnings are tracking alerts on that zone (``zone_exclusion`` from device fixes,
# ``corearea_possible`` from the screening check in ``coreareas``); the verification workflow wraps tracking's
# alert actions after this module's own check (the subject's officers act; procurators read).

LEVEL_GROUP_PREFIX = "corrections-level-"
WARNING_RULES = ("zone_exclusion", "corearea_possible")
DISMISS_REASONS = {"authorised": "authorised", "position_error": "position_error", "other": "other"}
AUTO_ESCALATION_NOTE = "escalated automatically: verification ran past its limit"


def level_group(level: str) -> Any:
    """The tracking target group of a management level (created when missing)."""
    from pingan.tracking.models import TargetGroup

    found = TargetGroup.objects.filter(code=LEVEL_GROUP_PREFIX + level).first()
    if found is not None:
        return found
    return tracking_actions.ensure_group(SYSTEM, code=LEVEL_GROUP_PREFIX + level, name=f"corrections level {level}")


def sync_level_group(subject: Subject) -> None:
    """The subject's target is in the group of its level while the file is open, and in no other level's group."""
    target = Target.objects.get(pk=subject.target_id)
    keep = [g for g in target.groups.all() if not g.code.startswith(LEVEL_GROUP_PREFIX)]
    wanted = [*keep, level_group(subject.level)] if subject.state in OPEN_SUBJECT_STATES else keep
    tracking_actions.update_target(SYSTEM, target, owner="corrections", groups=wanted)


@dataclass
class CoreAreaInput:
    name: str
    coords: Any
    area: Area | None = None
    shape: str = "polygon"
    radius_m: float = 0.0
    description: str = ""
    schedule: dict[str, Any] | None = None
    applies_to: str = "all"
    levels: Sequence[str] = ()
    groups: Sequence[Any] = ()
    police_post: Organisation | None = None
    verify_minutes: int | None = None
    buffer_m: float = 50.0


def _members(applies_to: str, levels: Sequence[str], groups: Sequence[Any]) -> tuple[list[str], list[Any]]:
    from pingan.corrections.models import AppliesTo

    if applies_to not in AppliesTo.values:
        raise ValidationFailed("invalid_applies_to", "applies_to must be one of " + ", ".join(AppliesTo.values),
                               field="applies_to")
    if applies_to == AppliesTo.ALL:
        return [], [level_group(level) for level in Level.values]
    if applies_to == AppliesTo.LEVELS:
        levels = list(dict.fromkeys(levels))
        if not levels or any(level not in Level.values for level in levels):
            raise ValidationFailed("invalid_level", "levels must be some of " + ", ".join(Level.values), field="levels")
        return levels, [level_group(level) for level in levels]
    if not groups:
        raise ValidationFailed("required", "name at least one target group", field="groups")
    return [], list(groups)


def _police_post(org: Organisation | None) -> Organisation | None:
    if org is not None and (org.kind != OrgKind.POLICE_STATION or not org.is_active):
        raise ValidationFailed("not_a_police_post", "the police post must be an active police station", field="police_post")
    return org


def _verify_minutes(value: int | None) -> int:
    minutes = int(settings.PINGAN_CORRECTIONS_VERIFY_MINUTES if value is None else value)
    if not 1 <= minutes <= 24 * 60:
        raise ValidationFailed("out_of_range", "verification takes 1 minute to 24 hours", field="verify_minutes")
    return minutes


def _buffer(value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 2000:
        raise ValidationFailed("out_of_range", "the border tolerance is 0–2,000 m", field="buffer_m")
    return float(value)


def _core_changed() -> None:
    from pingan.corrections import coreareas

    coreareas.invalidate()  # this transaction's own positions see the change …
    transaction.on_commit(coreareas.invalidate)  # … and everyone's after the commit


def create_core_area(actor: Actor, data: CoreAreaInput) -> Any:
    """A core area and its tracking exclusion zone (owner corrections, fast), for all subjects, some levels or
    some groups, on a schedule (None: always)."""
    from pingan.corrections.models import CoreArea

    _require(actor, perms.MANAGE_CORE_AREA.code)
    name = clean_text(data.name, "name", max_length=70)
    description = clean_text(data.description, "description", max_length=2000, required=False)
    if data.area is None:
        raise ValidationFailed("required", "the core area's area is required", field="area")
    levels, groups = _members(data.applies_to, data.levels, data.groups)
    police_post = _police_post(data.police_post)
    minutes = _verify_minutes(data.verify_minutes)
    buffer_m = _buffer(data.buffer_m)
    now = clock.now()
    with transaction.atomic():
        zone = tracking_actions.create_zone(SYSTEM, name=f"core {name}", kind="exclusion", shape=data.shape,
                                            coords=data.coords, radius_m=data.radius_m, fast=True, schedule=data.schedule,
                                            area=data.area, groups=groups, organisation=police_post, owner="corrections")
        core = CoreArea.objects.create(name=name, description=description, area=data.area, zone=zone,
                                       schedule=data.schedule, applies_to=data.applies_to, levels=levels,
                                       police_post=police_post, verify_minutes=minutes, buffer_m=buffer_m,
                                       created_by=_user(actor), created_at=now, updated_at=now)
        if data.applies_to == "groups":
            core.groups.set(groups)
        if not _system(actor) and not policy.can(actor, perms.MANAGE_CORE_AREA.code, core):
            raise PermissionDeniedError("out_of_scope", "the core area's area is outside your scope")
        audit.record(actor, "pingan.corearea.created", core, changes={
            "name": name, "area": data.area.code, "applies_to": data.applies_to, "levels": levels,
            "groups": [g.code for g in groups], "schedule": data.schedule, "verify_minutes": minutes,
            "police_post": police_post.code if police_post else None, "zone": zone.pk})
        _core_changed()
    return core


_UNSET: Any = object()


def _core_require(actor: Actor, core: Any) -> None:
    if _system(actor):
        return
    if not policy.can(actor, perms.MANAGE_CORE_AREA.code, core):
        if policy.has_perm(actor, perms.MANAGE_CORE_AREA.code):
            raise NotFoundError("not_found", "no such core area")
        raise PermissionDeniedError("permission_denied", f"not allowed: {perms.MANAGE_CORE_AREA.code}")


def _core_bump(core: Any, version: int | None, **values: Any) -> None:
    from pingan.corrections.models import CoreArea

    expected = core.version if version is None else version
    if not CoreArea.objects.filter(pk=core.pk, version=expected).update(**values, version=F("version") + 1,
                                                                        updated_at=clock.now()):
        current = CoreArea.objects.filter(pk=core.pk).values_list("version", flat=True).first()
        raise ConflictError("stale_version", "the core area was changed by someone else", version=current)
    for name, value in values.items():
        setattr(core, name, value)
    core.version = expected + 1


def update_core_area(actor: Actor, core: Any, *, version: int | None = None, name: str | None = None,
                     description: str | None = None, schedule: Any = _UNSET, applies_to: str | None = None,
                     levels: Sequence[str] | None = None, groups: Sequence[Any] | None = None,
                     police_post: Any = _UNSET, verify_minutes: int | None = None, buffer_m: float | None = None) -> Any:
    """Change a core area's schedule, whom it applies to, its police post, its time limit or its tolerance."""
    _core_require(actor, core)
    if not core.is_active:
        raise ConflictError("illegal_transition", "this core area is no longer active")
    values: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    if name is not None:
        values["name"] = clean_text(name, "name", max_length=70)
    if description is not None:
        values["description"] = clean_text(description, "description", max_length=2000, required=False)
    if schedule is not _UNSET:
        values["schedule"] = schedule
    if police_post is not _UNSET:
        values["police_post"] = _police_post(police_post)
    if verify_minutes is not None:
        values["verify_minutes"] = _verify_minutes(verify_minutes)
    if buffer_m is not None:
        values["buffer_m"] = _buffer(buffer_m)
    members = None
    if applies_to is not None or levels is not None or groups is not None:
        target_kind = applies_to or core.applies_to
        members = _members(target_kind, levels if levels is not None else core.levels,
                           groups if groups is not None else list(core.groups.all()))
        values["applies_to"] = target_kind
        values["levels"] = members[0]
    with transaction.atomic():
        _core_bump(core, version, **values)
        zone = Zone.objects.get(pk=core.zone_id)
        if "schedule" in values or "name" in values:
            tracking_actions.set_zone_schedule(SYSTEM, zone, schedule=core.schedule,
                                               name=f"core {core.name}" if "name" in values else None)
        if members is not None:
            tracking_actions.set_zone_members(SYSTEM, zone, groups=members[1])
            core.groups.set(members[1] if core.applies_to == "groups" else [])
            changes["groups"] = [g.code for g in members[1]]
        for key, value in values.items():
            changes[key] = getattr(value, "code", value)
        audit.record(actor, "pingan.corearea.updated", core, changes=changes)
        _core_changed()
    return core


def deactivate_core_area(actor: Actor, core: Any, *, version: int | None = None) -> Any:
    """The core area no longer applies (its zone is deactivated; open warnings stay to be verified)."""
    _core_require(actor, core)
    if not core.is_active:
        raise ConflictError("illegal_transition", "this core area is no longer active")
    with transaction.atomic():
        _core_bump(core, version, is_active=False)
        tracking_actions.deactivate_zone(SYSTEM, Zone.objects.get(pk=core.zone_id))
        audit.record(actor, "pingan.corearea.deactivated", core, changes={"is_active": [True, False]})
        _core_changed()
    return core


def warning_subject(alert: Alert) -> Subject:
    found = Subject.objects.select_related("officer").filter(target_id=alert.target_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such warning")
    return found


def is_warning(alert: Alert) -> bool:
    from pingan.corrections.models import CoreArea

    return bool(alert.zone_id) and CoreArea.objects.filter(zone_id=alert.zone_id or 0).exists()


def _warning_require(actor: Actor, alert: Alert, perm: str) -> Subject:
    """A core-area warning the actor may see (404 otherwise) and act on with ``perm`` on its subject (403)."""
    if not is_warning(alert):
        raise NotFoundError("not_found", "no such warning")
    subject = warning_subject(alert)
    if _system(actor):
        return subject
    if not policy.can(actor, perms.VIEW_SUBJECT.code, subject):
        raise NotFoundError("not_found", "no such warning")
    policy.require(actor, perm, subject)
    return subject


def start_verifying(actor: Actor, alert: Alert, *, note: str = "", version: int | None = None) -> Alert:
    """The officer has seen the warning and is verifying (tracking: acknowledged)."""
    _warning_require(actor, alert, perms.MANAGE_SUBJECT.code)
    return tracking_actions.acknowledge_alert(actor, alert, note=note, version=version)


def record_finding(actor: Actor, alert: Alert, *, method: str, text: str) -> Any:
    """What verifying found, and how (phoned the subject or the officer, on site, other): a step of the alert."""
    from pingan.corrections.models import VerifyMethod

    _warning_require(actor, alert, perms.MANAGE_SUBJECT.code)
    if method not in VerifyMethod.values:
        raise ValidationFailed("invalid_method", "method must be one of " + ", ".join(VerifyMethod.values), field="method")
    text = clean_text(text, "text", max_length=480)
    label = str(VerifyMethod(method).label)
    return tracking_actions.note_alert(actor, alert, note=f"{label}: {text}", data={"method": method, "found": text})


def dismiss_warning(actor: Actor, alert: Alert, *, reason: str, note: str = "", version: int | None = None) -> Alert:
    """Verified, nothing wrong: an authorised visit, a position error, or another reason (then the note says it)."""
    _warning_require(actor, alert, perms.MANAGE_SUBJECT.code)
    if reason not in DISMISS_REASONS:
        raise ValidationFailed("invalid_reason", "reason must be one of " + ", ".join(DISMISS_REASONS), field="reason")
    return tracking_actions.dismiss_alert(actor, alert, reason=DISMISS_REASONS[reason], note=note, version=version)


def escalate_warning(actor: Actor, alert: Alert, *, note: str = "", version: int | None = None) -> Alert:
    """Verified, something is wrong (or not verifiable): a police event in the closed loop, located at the warning's
    place and routed to its area; the police post is told and may then see the alert."""
    _warning_require(actor, alert, perms.MANAGE_SUBJECT.code)
    alert = tracking_actions.escalate_alert(actor, alert, note=note, version=version,
                                            event_type=settings.PINGAN_CORRECTIONS_EVENT_TYPE)
    _tell_post_escalated(alert)
    return alert


def _tell_post_escalated(alert: Alert) -> None:
    from pingan.corrections import coreareas
    from pingan.corrections.models import CoreArea

    core = CoreArea.objects.filter(zone_id=alert.zone_id or 0).first()
    if core is None:
        return
    alert = Alert.objects.select_related("place", "event").get(pk=alert.pk)
    text = _("Core-area warning {number} ({area}) is escalated to you: event {event}.").format(
        number=alert.number, area=core.name, event=alert.event.number if alert.event else "")
    _later("corrections.corearea_escalated", text, coreareas.police_recipients(alert, core))


def warnings_due(now: dt.datetime) -> list[int]:
    """Core-area warnings still open or being verified past their deadline (for the job)."""
    from pingan.corrections.models import CoreArea

    zones = CoreArea.objects.values_list("zone_id", flat=True)
    return list(Alert.objects.filter(state__in=ACTIVE_ALERT_STATES, verify_by__lte=now, zone_id__in=zones)
                .order_by("verify_by").values_list("id", flat=True)[:500])


def auto_escalate(alert_id: int, now: dt.datetime) -> bool:
    """A verification that ran past its limit escalates by itself, once (a concurrent handler wins: 409 skipped)."""
    alert = Alert.objects.filter(pk=alert_id, state__in=ACTIVE_ALERT_STATES, verify_by__lte=now).first()
    if alert is None or not is_warning(alert):
        return False
    try:
        alert = tracking_actions.escalate_alert(SYSTEM, alert, note=AUTO_ESCALATION_NOTE, version=alert.version,
                                                event_type=settings.PINGAN_CORRECTIONS_EVENT_TYPE)
    except ConflictError:
        return False
    _tell_post_escalated(alert)
    return True

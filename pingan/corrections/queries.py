"""Read paths of 如燕, always through the access policy: a subject is found only when the caller may see it
(404 otherwise, never confirming it exists); its file (records, authorisations, scans) follows it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet

from pingan.accounts import permissions as account_perms
from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind, RoleAssignment, User
from pingan.core import audit, clock
from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    OPEN_SUBJECT_STATES,
    AuthorisationState,
    CheckIn,
    CoreArea,
    LeaveLevel,
    LeaveRequest,
    LeaveState,
    MonitoringAuthorisation,
    PhoneCheck,
    Record,
    Scan,
    Subject,
    SubjectState,
)
from pingan.geo.models import Area
from pingan.tracking import permissions as tracking_perms
from pingan.tracking import queries as tracking_queries
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, AlertState, AlertStep, Fix, LatestPosition
from pingan.tracking.queries import MAX_TRACK_FIXES

SHANGHAI = ZoneInfo("Asia/Shanghai")

RELATED = ("person", "judicial_office", "officer", "area", "permitted_area", "target", "user")


def active_user(username: str, field: str) -> User:
    """The active user with this username, for a form or body field (the action checks what they may do)."""
    username = (username or "").strip()
    if not username:
        raise ValidationFailed("required", f"{field} is required", field=field)
    found = User.objects.filter(username=username, is_active=True).first()
    if found is None:
        raise ValidationFailed("unknown_user", f"no active user {username!r}", field=field)
    return found


def subjects(user: Any, *, state: str = "", level: str = "", office: str = "", area: str = "") -> QuerySet[Subject]:
    qs = policy.restrict(user, perms.VIEW_SUBJECT.code, Subject.objects.select_related(*RELATED))
    if state:
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    if level:
        qs = qs.filter(level=level)
    if office:
        qs = qs.filter(judicial_office__code=office)
    if area:
        qs = qs.filter(area__code__startswith=area)
    return qs.order_by("-id")


def subject(user: Any, subject_id: int, perm: str = perms.VIEW_SUBJECT.code) -> Subject:
    """The subject when the caller may see it (or, with ``perm``, act on it); 404 otherwise."""
    found = Subject.objects.select_related(*RELATED).filter(pk=subject_id).first()
    if found is None or not (policy.can(user, perms.VIEW_SUBJECT.code, found) or policy.can(user, perm, found)):
        raise NotFoundError("not_found", "no such subject")
    return found


def records(subject: Subject, *, kind: str = "") -> QuerySet[Record]:
    qs = Record.objects.filter(subject=subject).select_related("created_by", "closed_by")
    return qs.filter(kind=kind) if kind else qs


def record(user: Any, record_id: int) -> Record:
    found = Record.objects.select_related("subject").filter(pk=record_id).first()
    if found is None or not policy.can(user, perms.VIEW_SUBJECT.code, found.subject):
        raise NotFoundError("not_found", "no such record")
    return found


def authorisations(subject: Subject) -> QuerySet[MonitoringAuthorisation]:
    return MonitoringAuthorisation.objects.filter(subject=subject).select_related("approver").prefetch_related("periods")


def authorisation(user: Any, authorisation_id: int) -> MonitoringAuthorisation:
    found = MonitoringAuthorisation.objects.select_related("subject", "subject__target").filter(pk=authorisation_id).first()
    if found is None or not (policy.can(user, perms.VIEW_SUBJECT.code, found.subject)
                             or policy.can(user, perms.APPROVE_MONITORING.code, found.subject)):
        raise NotFoundError("not_found", "no such authorisation")
    return found


def scans(subject: Subject) -> QuerySet[Scan]:
    return Scan.objects.filter(subject=subject).select_related("scanner")


# Leave and boundary ------------------------------------------------------------------------------


LEAVE_RELATED = ("subject", "subject__person", "subject__officer", "subject__judicial_office", "requested_by", "approver")


def leaves(subject: Subject) -> QuerySet[LeaveRequest]:
    return LeaveRequest.objects.filter(subject=subject).select_related(*LEAVE_RELATED).prefetch_related("steps")


def visible_leaves(user: Any, *, state: str = "") -> QuerySet[LeaveRequest]:
    """Leaves of the subjects the caller sees, or may decide leave for."""
    seen = policy.restrict(user, perms.VIEW_SUBJECT.code, Subject.objects.all()).values("pk")
    decided = policy.restrict(user, perms.APPROVE_LEAVE.code, Subject.objects.all()).values("pk")
    qs = LeaveRequest.objects.filter(Q(subject__in=seen) | Q(subject__in=decided)).select_related(*LEAVE_RELATED)
    if state:
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    return qs.prefetch_related("steps").order_by("starts_at", "id")


def leaves_to_decide(user: Any) -> QuerySet[LeaveRequest]:
    """Pending leaves the caller may decide now: any stage for a head of the justice bureau, the judicial
    office's stage for a head of a judicial office."""
    long_subjects = policy.restrict(user, perms.APPROVE_LONG_LEAVE.code, Subject.objects.all()).values("pk")
    short_subjects = policy.restrict(user, perms.APPROVE_LEAVE.code, Subject.objects.all()).values("pk")
    pending = LeaveRequest.objects.filter(state=LeaveState.PENDING)
    ids = set(pending.filter(subject__in=long_subjects).values_list("pk", flat=True)) | set(
        pending.filter(subject__in=short_subjects, stage=LeaveLevel.OFFICE).values_list("pk", flat=True))
    return (LeaveRequest.objects.filter(pk__in=ids).select_related(*LEAVE_RELATED).prefetch_related("steps")
            .order_by("starts_at", "id"))


def leave(user: Any, leave_id: int) -> LeaveRequest:
    """A leave the caller may see: through its subject (the justice roles, the subject's own login), or as an
    approver of the subject; 404 otherwise."""
    found = LeaveRequest.objects.select_related(*LEAVE_RELATED, "subject__permitted_area", "subject__target",
                                                "subject__user").filter(pk=leave_id).first()
    if found is None or not any(policy.can(user, code, found.subject) for code in (
            perms.VIEW_SUBJECT.code, perms.APPROVE_LEAVE.code, perms.APPROVE_LONG_LEAVE.code, perms.REQUEST_LEAVE.code)):
        raise NotFoundError("not_found", "no such leave")
    return found


# Phone checks ---------------------------------------------------------------------------------------


def phone_checks(user: Any, *, subject: Subject | None = None, day: Any = None, office: str = "", level: str = "",
                 verdict: str = "", state: str = "") -> QuerySet[PhoneCheck]:
    """Phone checks of the subjects the caller may see (the subject's own scope and grants decide)."""
    visible = policy.restrict(user, perms.VIEW_SUBJECT.code, Subject.objects.all()).values("pk")
    qs = PhoneCheck.objects.filter(subject__in=visible).select_related(
        "subject", "subject__person", "subject__judicial_office", "subject__officer", "expected_area", "alert",
        "requested_by", "leave")
    if subject is not None:
        qs = qs.filter(subject=subject)
    if day is not None:
        qs = qs.filter(day=day)
    if office:
        qs = qs.filter(subject__judicial_office__code=office)
    if level:
        qs = qs.filter(subject__level=level)
    if verdict:
        qs = qs.filter(verdict__in=[v for v in verdict.split(",") if v])
    if state:
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    return qs.order_by("-scheduled_at", "-id")


def phone_check(user: Any, check_id: int) -> PhoneCheck:
    found = phone_checks(user).filter(pk=check_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such phone check")
    return found


# -- pages: dashboard, file, track ---------------------------------------------------------------------

EXPIRY_AHEAD = dt.timedelta(days=7)   # the reminder job's first reminder (actions.REMINDERS)
VERIFY_SOON = dt.timedelta(minutes=5)  # a verification this close to its limit is about to run late


def expiring_authorisations(user: Any, *, within: dt.timedelta = EXPIRY_AHEAD) -> QuerySet[MonitoringAuthorisation]:
    """Authorisations in force whose current period ends within ``within``, for the subjects the user sees."""
    now = clock.now()
    qs = policy.restrict(user, perms.VIEW_SUBJECT.code, MonitoringAuthorisation.objects.select_related("subject", "subject__person", "approver"))
    return qs.filter(state=AuthorisationState.ACTIVE, ends_at__lte=now + within).order_by("ends_at")


def intake_overdue(user: Any) -> QuerySet[Subject]:
    """Subjects still pending intake after the tenth day (社区矫正法 art. 21)."""
    today = clock.now().astimezone(SHANGHAI).date()
    return subjects(user, state=SubjectState.PENDING).filter(intake_due__lt=today).order_by("intake_due")


def counts(user: Any) -> dict[str, list[dict[str, Any]]]:
    """Subjects in the user's scope by state, by level (open files) and by judicial office (open files)."""
    qs = subjects(user).order_by()
    open_qs = qs.filter(state__in=OPEN_SUBJECT_STATES)
    return {
        "state": _rows(qs.values("state").annotate(n=Count("id")).order_by("state")),
        "level": _rows(open_qs.values("level").annotate(n=Count("id")).order_by("level")),
        "office": _rows(open_qs.values("judicial_office__code", "judicial_office__name").annotate(n=Count("id"))
                       .order_by("judicial_office__code")),
    }


def _rows(qs: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in qs]


def corrections_alerts(user: Any, subject_ids: Any = None) -> QuerySet[Alert]:
    """Tracking alerts on the targets of subjects the user sees (owner corrections), through both policies:
    the user must hold ``tracking.view_alert`` on the alert and ``corrections.view_subject`` on its subject."""
    if not policy.has_perm(user, tracking_perms.VIEW_ALERT.code):
        return Alert.objects.none()
    visible = subjects(user).order_by()
    if subject_ids is not None:
        visible = visible.filter(pk__in=subject_ids)
    return tracking_queries.alerts(user).filter(target__owner="corrections",
                                                target_id__in=visible.values("target_id"))


def open_alerts(user: Any) -> QuerySet[Alert]:
    return corrections_alerts(user).filter(state__in=(*ACTIVE_ALERT_STATES, AlertState.ESCALATED)).order_by("verify_by", "id")


def verifications_due(user: Any, *, within: dt.timedelta = VERIFY_SOON) -> QuerySet[Alert]:
    """Alerts still being verified whose limit (``verify_by``) is within ``within`` (or past)."""
    return corrections_alerts(user).filter(state__in=ACTIVE_ALERT_STATES,
                                           verify_by__lte=clock.now() + within).order_by("verify_by", "id")


def latest_positions(user: Any, subject_list: list[Subject]) -> dict[int, LatestPosition]:
    """The latest positions of these subjects' targets that the user may see (tracking's policy)."""
    if not policy.has_perm(user, tracking_perms.VIEW_TARGET.code):
        return {}
    rows = policy.restrict(user, tracking_perms.VIEW_TARGET.code,
                           LatestPosition.objects.filter(target_id__in=[s.target_id for s in subject_list]))
    return {p.target_id: p for p in rows}


def can_view_track(user: Any, subject: Subject) -> bool:
    """Who may play back a subject's track: a role that plays back tracks (``tracking.view_track``) and sees the
    subject (``corrections.view_subject``); a minor's only the supervising officer."""
    if not policy.has_perm(user, tracking_perms.VIEW_TRACK.code) or not policy.can(user, perms.VIEW_SUBJECT.code, subject):
        return False
    return not subject.is_minor or getattr(user, "pk", None) == subject.officer_id


def track(user: Any, subject: Subject, start: dt.datetime, end: dt.datetime) -> list[Fix]:
    """The subject's positions in [start, end] (device time order), every read audited as
    ``pingan.subject.track_viewed``; 403 for those who may see the file but not the track."""
    if not can_view_track(user, subject):
        raise PermissionDeniedError("permission_denied", "you may not play back this subject's track")
    if end <= start:
        raise ValidationFailed("bad_range", "the end must be after the start")
    if end - start > dt.timedelta(days=31):
        raise ValidationFailed("bad_range", "a track spans at most 31 days")
    fixes = list(Fix.objects.filter(target_id=subject.target_id, device_time__gte=start, device_time__lte=end)
                 .order_by("device_time")[:MAX_TRACK_FIXES])
    audit.record(user, "pingan.subject.track_viewed", subject,
                 changes={"from": start.isoformat(), "to": end.isoformat(), "fixes": len(fixes)})
    return fixes


def check_ins(subject: Subject) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(subject=subject)


# Core areas and reverse warnings ----------------------------------------------------------------------


def core_areas(user: Any, *, active: bool | None = None) -> QuerySet[CoreArea]:
    qs = policy.restrict(user, perms.MANAGE_CORE_AREA.code,
                         CoreArea.objects.select_related("area", "zone", "police_post").prefetch_related("groups"))
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("name", "id")


def core_area(user: Any, core_id: int) -> CoreArea:
    found = core_areas(user).filter(pk=core_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such core area")
    return found


def warnings(user: Any, *, state: str = "", core_area_id: int | None = None, late: bool | None = None,
             since_id: int | None = None) -> QuerySet[Alert]:
    """Core-area warnings of the subjects the user may see (the supervising officer, justice roles of the area,
    procurators), newest first. ``state``: ``active`` (open or being verified), ``recent``, or states by comma."""
    subjects_seen = policy.restrict(user, perms.VIEW_SUBJECT.code, Subject.objects.all()).values("target_id")
    qs = Alert.objects.filter(zone__core_area__isnull=False, target_id__in=subjects_seen).select_related(
        "target", "zone", "zone__core_area", "place", "event")
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_ALERT_STATES)
    elif state and state != "recent":
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    if core_area_id:
        qs = qs.filter(zone__core_area__id=core_area_id)
    if late is not None:
        qs = qs.filter(late=late)
    if since_id:
        qs = qs.filter(pk__gt=since_id)
    return qs.order_by("-raised_at", "-id")


def warning_subjects(user: Any, alerts: list[Alert]) -> tuple[dict[int, Subject], set[int]]:
    """The subjects of these warnings by target id, and the ids of those the user may act on
    (``corrections.manage_subject``): two queries (three with the user's object grants) for any number of
    warnings, so a queue does not look up each row's subject."""
    target_ids = {a.target_id for a in alerts}
    if not target_ids:
        return {}, set()
    by_target = {s.target_id: s for s in Subject.objects.select_related("person", "officer", "judicial_office", "area")
                 .filter(target_id__in=target_ids)}
    manageable = set(policy.restrict(user, perms.MANAGE_SUBJECT.code, Subject.objects.filter(
        pk__in=[s.pk for s in by_target.values()])).values_list("pk", flat=True)) if by_target else set()
    return by_target, manageable


def warning(user: Any, alert_id: int) -> Alert:
    found = warnings(user).filter(pk=alert_id).first()
    if found is None:
        raise NotFoundError("not_found", "no such warning")
    return found


def warning_steps(alert: Alert) -> QuerySet[AlertStep]:
    return alert.steps.select_related("actor").order_by("at", "id")


def warning_figures(user: Any, start: Any, end: Any, group_by: str = "town") -> list[dict[str, Any]]:
    """Warnings raised in [start, end) by town (of the subject's residence), officer or day (Asia/Shanghai):
    raised, verified in time (dismissed or escalated by a person before the deadline), verified late, dismissed,
    escalated by a person, escalated automatically, still open. Restricted to the subjects the user may see."""
    from collections import defaultdict
    from zoneinfo import ZoneInfo

    from pingan.core.errors import ValidationFailed

    if group_by not in ("town", "officer", "day"):
        raise ValidationFailed("invalid_group", "group_by must be town, officer or day", field="group_by")
    rows = list(warnings(user).filter(raised_at__gte=start, raised_at__lt=end).values(
        "id", "state", "verify_by", "raised_at", "target_id"))
    ids = [r["id"] for r in rows]
    final: dict[int, tuple[str, Any, bool]] = {}
    for step in AlertStep.objects.filter(alert_id__in=ids, action__in=("dismissed", "escalated")).order_by("at", "id") \
            .values("alert_id", "action", "at", "actor_id"):
        final.setdefault(step["alert_id"], (step["action"], step["at"], step["actor_id"] is not None))
    subjects_by_target = {s["target_id"]: s for s in Subject.objects.filter(
        target_id__in={r["target_id"] for r in rows}).values("target_id", "area__code", "officer__username")}
    towns: dict[str, str] = {}
    shanghai = ZoneInfo("Asia/Shanghai")
    keys = ("raised", "verified_in_time", "verified_late", "dismissed", "escalated_by_person",
            "escalated_automatically", "open")
    out: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for r in rows:
        subject_row: dict[str, Any] = dict(subjects_by_target.get(r["target_id"]) or {})
        if group_by == "day":
            key = r["raised_at"].astimezone(shanghai).date().isoformat()
        elif group_by == "officer":
            key = subject_row.get("officer__username", "")
        else:
            key = (subject_row.get("area__code") or "")[:9]
        bucket = out[key]
        bucket["raised"] += 1
        done = final.get(r["id"])
        if r["state"] in ACTIVE_ALERT_STATES or done is None:
            bucket["open"] += 1
            continue
        action, at, by_person = done
        if action == "dismissed":
            bucket["dismissed"] += 1
        else:
            bucket["escalated_by_person" if by_person else "escalated_automatically"] += 1
        if by_person:
            bucket["verified_in_time" if at <= r["verify_by"] else "verified_late"] += 1
    if group_by == "town":
        towns = dict(Area.objects.filter(code__in=list(out)).values_list("code", "name"))
    result = []
    for key in sorted(out):
        label = towns.get(key, key) if group_by == "town" else key
        result.append({"key": key, "label": label, **out[key]})
    return result


# -- pages: the rest of the lifecycle (transfer, authorisations) -------------------------------------------


def judicial_offices() -> QuerySet[Organisation]:
    """Active judicial offices: where a subject may be transferred to (names of offices are not personal data)."""
    return Organisation.objects.filter(kind=OrgKind.JUDICIAL_OFFICE, is_active=True).order_by("code")


def correction_officers(user: Any) -> list[User]:
    """Active users whose role lets them manage subjects (the candidates for a transfer's new officer), for a user
    who may see staff (``accounts.view_staff``); the transfer itself checks that the officer reaches the subject."""
    if not policy.has_perm(user, account_perms.VIEW_STAFF.code):
        return []
    users = {a.user for a in RoleAssignment.objects.filter(is_active=True, user__is_active=True)
             .select_related("user", "user__organisation", "role")
             if perms.MANAGE_SUBJECT.code in (a.role.permissions or [])}
    return sorted(users, key=lambda u: u.username)

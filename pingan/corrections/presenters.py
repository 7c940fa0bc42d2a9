"""What the API shows of a subject: masked identity, the file, the restrictions and the monitoring state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, overload

from django.db.models import QuerySet

from pingan.accounts import policy
from pingan.core import personal
from pingan.corrections import actions
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    LIVE_AUTHORISATION_STATES,
    AuthorisationPeriod,
    MonitoringAuthorisation,
    PhoneCheck,
    Record,
    RecordKind,
    Scan,
    Subject,
    SubjectState,
)

NEXT = {
    SubjectState.PENDING: ["intake", "transfer", "terminate", "records"],
    SubjectState.IN_CORRECTION: ["level", "transfer", "records", "authorise", "release", "terminate"],
}


def subject_row(s: Subject) -> dict[str, Any]:
    return {
        "id": s.pk, "number": s.number, "name": personal.mask_name(s.person.name),
        "correction_type": s.correction_type, "level": s.level, "state": s.state, "is_minor": s.is_minor,
        "judicial_office": s.judicial_office.code, "judicial_office_name": s.judicial_office.name,
        "officer": s.officer.username, "officer_name": str(s.officer), "area": s.area.code, "area_name": s.area.name,
        "supervision_start": s.supervision_start, "supervision_end": s.supervision_end, "intake_due": s.intake_due,
        "intake_at": s.intake_at, "intake_late": s.intake_late, "monitored": s.target.monitored,
        "archived_at": s.archived_at,
    }


def subject_detail(s: Subject, user: Any) -> dict[str, Any]:
    colour, reasons = actions.status(s)
    live = MonitoringAuthorisation.objects.filter(subject=s, state__in=LIVE_AUTHORISATION_STATES).first()
    manage = policy.can(user, perms.MANAGE_SUBJECT.code, s)
    return {
        **subject_row(s),
        "id_number": personal.mask_id_number(s.person.id_number or ""), "phone": personal.mask_phone(s.phone),
        "decision_body": s.decision_body, "decision_number": s.decision_number,
        "decision_effective_on": s.decision_effective_on, "permitted_area": s.permitted_area.code,
        "ended_on": s.ended_on, "end_reason": s.end_reason, "has_home": s.home_lon is not None,
        "has_login": s.user_id is not None, "colour": colour, "reasons": reasons,
        "prohibitions": [{"id": p.pk, "text": p.text, "starts_on": p.starts_on, "ends_on": p.ends_on,
                          "zones": [z.pk for z in p.zones.all()]} for p in s.prohibitions.all()],
        "curfews": [{"id": c.pk, "start": c.start.strftime("%H:%M"), "end": c.end.strftime("%H:%M"),
                     "weekdays": c.weekdays, "radius_m": c.radius_m} for c in s.curfews.all()],
        "authorisation": authorisation_row(live) if live else None,
        "counts": {k: s.records.filter(kind=k).count() for k in RecordKind.values},
        "community_service_hours": float(sum(r.hours or 0 for r in s.records.filter(kind=RecordKind.COMMUNITY_SERVICE))),
        "can": NEXT.get(SubjectState(s.state), []) if manage else [],
        "can_reveal": policy.can(user, perms.VIEW_IDENTITY.code, s),
    }


def record_row(r: Record) -> dict[str, Any]:
    return {"id": r.pk, "kind": r.kind, "occurred_on": r.occurred_on, "text": r.text,
            "hours": float(r.hours) if r.hours is not None else None, "serious": r.serious, "is_open": r.is_open,
            "outcome": r.outcome, "outcome_note": r.outcome_note, "closed_at": r.closed_at, "by": r.created_by_name,
            "created_at": r.created_at}


def period_row(p: AuthorisationPeriod) -> dict[str, Any]:
    return {"number": p.number, "starts_at": p.starts_at, "ends_at": p.ends_at, "approver": p.approver.username,
            "assessment": p.assessment, "reminded_7d_at": p.reminded_7d_at, "reminded_1d_at": p.reminded_1d_at}


def authorisation_row(a: MonitoringAuthorisation) -> dict[str, Any]:
    return {"id": a.pk, "subject_id": a.subject_id, "ground": a.ground, "facts": a.facts, "state": a.state,
            "starts_at": a.starts_at, "ends_at": a.ends_at, "approver": a.approver.username, "ended_at": a.ended_at,
            "end_reason": a.end_reason, "periods": [period_row(p) for p in a.periods.all()]}


def scan_row(s: Scan) -> dict[str, Any]:
    return {"id": s.pk, "at": s.at, "result": s.result, "reason": s.reason, "colour": s.colour, "typed": s.typed,
            "repeat": s.repeat, "lon": s.lon, "lat": s.lat, "scanner": s.scanner.username, "fix_id": s.fix_id}


def scan_out(out: actions.ScanOut) -> dict[str, Any]:
    subject = out.subject
    return {"valid": out.valid, "reason": out.reason, "colour": out.colour, "action": out.action, "advice": out.advice,
            "repeat": out.repeat, "scan_id": out.scan_id, "at": out.at, "reasons": out.reasons,
            "subject": {"id": subject.pk, "number": subject.number, "name": personal.mask_name(subject.person.name)}
            if subject is not None else None}


# Leave and boundary ------------------------------------------------------------------------------

from pingan.corrections.models import LeaveLevel, LeaveRequest, LeaveState  # noqa: E402


def leave_actions(leave: LeaveRequest, user: Any) -> list[str]:
    """What the caller may do with the leave now (the actions check again)."""
    subject = leave.subject
    can: list[str] = []
    if leave.state == LeaveState.PENDING:
        long_ok = policy.can(user, perms.APPROVE_LONG_LEAVE.code, subject)
        if long_ok or (leave.stage == LeaveLevel.OFFICE and policy.can(user, perms.APPROVE_LEAVE.code, subject)):
            can += ["approve", "refuse"]
    if leave.state in (LeaveState.PENDING, LeaveState.APPROVED) and leave.started_at is None \
            and policy.can(user, perms.REQUEST_LEAVE.code, subject):
        can.append("cancel")
    if leave.state in (LeaveState.ON_LEAVE, LeaveState.OVERDUE) and policy.can(user, perms.MANAGE_SUBJECT.code, subject):
        can.append("return")
    return can


def leave_row(leave: LeaveRequest, user: Any) -> dict[str, Any]:
    s = leave.subject
    return {
        "id": leave.pk, "subject_id": s.pk, "subject_number": s.number, "subject_name": personal.mask_name(s.person.name),
        "judicial_office": s.judicial_office.name, "officer": s.officer.username,
        "destination": leave.destination, "dest_lon": leave.dest_lon, "dest_lat": leave.dest_lat,
        "radius_km": leave.radius_km, "starts_at": leave.starts_at, "ends_at": leave.ends_at, "days": leave.days,
        "reason": leave.reason, "state": leave.state, "state_label": str(LeaveState(leave.state).label),
        "level": leave.level, "level_label": str(LeaveLevel(leave.level).label), "stage": leave.stage,
        "requested_by": leave.requested_by_name, "approver": leave.approver.username if leave.approver else None,
        "decided_at": leave.decided_at, "started_at": leave.started_at, "returned_at": leave.returned_at,
        "overdue_at": leave.overdue_at, "suspended": leave.suspended,
        "steps": [{"action": st.action, "level": st.level, "by": st.actor_name, "at": st.at, "note": st.note}
                  for st in leave.steps.all()],
        "can": leave_actions(leave, user),
    }


# Phone checks ---------------------------------------------------------------------------------------


def phone_check_row(c: PhoneCheck) -> dict[str, Any]:
    s = c.subject
    return {
        "id": c.pk, "subject_id": s.pk, "subject_number": s.number, "subject_name": personal.mask_name(s.person.name),
        "level": s.level, "judicial_office": s.judicial_office.code, "officer": s.officer.username,
        "scheduled_at": c.scheduled_at, "planned": c.planned,
        "requested_by": c.requested_by.username if c.requested_by else None, "state": c.state,
        "attempts": c.attempts, "due_at": c.due_at if c.state == "scheduled" else None,
        "started_at": c.started_at, "finished_at": c.finished_at, "answered": c.answered, "voice": c.voice,
        "lon": c.lon, "lat": c.lat, "accuracy_m": c.accuracy_m, "fix_id": c.fix_id,
        "expected_area": c.expected_area.code if c.expected_area else None,
        "expected_area_name": c.expected_area.name if c.expected_area else None,
        "leave_id": c.leave_id, "leave_destination": c.leave.destination if c.leave_id and c.leave else "",
        "outside_m": c.outside_m, "home_m": c.home_m, "verdict": c.verdict,
        "alert_id": c.alert_id, "alert_number": c.alert.number if c.alert else None,
        "provider": c.provider, "provider_ref": c.provider_ref, "error": c.error,
    }


# Core areas and reverse warnings ----------------------------------------------------------------------

from pingan.corrections.models import CoreArea, VerifyMethod  # noqa: E402
from pingan.tracking.actions import RULE_LABELS  # noqa: E402
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, AlertStep  # noqa: E402


def core_area_row(c: CoreArea) -> dict[str, Any]:
    zone = c.zone
    return {
        "id": c.pk, "name": c.name, "description": c.description, "area": c.area.code, "area_name": c.area.name,
        "zone_id": zone.pk, "shape": zone.shape, "coords": zone.coords, "radius_m": zone.radius_m,
        "schedule": c.schedule, "applies_to": c.applies_to, "levels": list(c.levels or []),
        "groups": [g.code for g in c.groups.all()],
        "police_post": c.police_post.code if c.police_post else None,
        "police_post_name": c.police_post.name if c.police_post else "",
        "verify_minutes": c.verify_minutes, "buffer_m": c.buffer_m, "is_active": c.is_active,
        "version": c.version, "updated_at": c.updated_at,
    }


def _subject_of(alert: Alert) -> Subject | None:
    return Subject.objects.select_related("person", "officer", "judicial_office", "area").filter(
        target_id=alert.target_id).first()


def warning_row(a: Alert, user: Any, subject: Subject | None = None, can_act: bool | None = None) -> dict[str, Any]:
    """A warning as its officers see it: the subject by file number and masked name (never the full identity).
    For a list, ``warning_rows`` finds every row's subject and ``can_act`` at once."""
    subject = subject if subject is not None else _subject_of(a)
    try:
        core: CoreArea | None = a.zone.core_area if a.zone is not None else None  # select_related by queries.warnings
    except CoreArea.DoesNotExist:
        core = None
    return {
        "id": a.pk, "number": a.number, "rule": a.rule, "rule_label": str(RULE_LABELS.get(a.rule, a.rule)),
        "severity": a.severity, "state": a.state, "version": a.version,
        "core_area_id": core.pk if core else None, "core_area": core.name if core else "",
        "subject_id": subject.pk if subject else None, "subject_number": subject.number if subject else "",
        "subject_name": personal.mask_name(subject.person.name) if subject and not subject.is_minor else "",
        "officer": subject.officer.username if subject else "", "town": subject.area.code[:9] if subject else "",
        "raised_at": a.raised_at, "verify_by": a.verify_by, "late": a.late, "first_at": a.first_at,
        "last_at": a.last_at, "lon": a.lon, "lat": a.lat, "place": a.place.name if a.place_id and a.place else "",
        "source": str(a.detail.get("source", "device")), "share": a.detail.get("share"),
        "accuracy_m": a.detail.get("accuracy_m"), "dismiss_reason": a.dismiss_reason,
        "event": a.event.number if a.event_id and a.event else None,
        "active": a.state in ACTIVE_ALERT_STATES,
        "can_act": bool(subject) and (can_act if can_act is not None
                                      else policy.can(user, perms.MANAGE_SUBJECT.code, subject)),
    }


def warning_rows(alerts: Iterable[Alert], user: Any) -> list[dict[str, Any]]:
    """Warnings as rows, in a fixed number of queries whatever their number (the alerts come from
    ``queries.warnings``, which joins zone, core area, place and event)."""
    from pingan.corrections import queries

    alerts = list(alerts)
    subjects, manageable = queries.warning_subjects(user, alerts)
    rows = []
    for a in alerts:
        subject = subjects.get(a.target_id)
        rows.append(warning_row(a, user, subject, can_act=subject is not None and subject.pk in manageable))
    return rows


class WarningPage(Sequence[dict[str, Any]]):
    """A queryset of warnings presented a page at a time (for ``@paginate``: ``len`` counts in the database,
    a slice presents only its rows, through ``warning_rows``)."""

    def __init__(self, alerts: QuerySet[Alert], user: Any) -> None:
        self.alerts, self.user = alerts, user

    def __len__(self) -> int:
        return self.alerts.count()

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return warning_rows(self.alerts[index], self.user)
        return warning_rows([self.alerts[index]], self.user)[0]


def step_row(s: AlertStep) -> dict[str, Any]:
    method = (s.data or {}).get("method", "")
    return {"action": s.action, "from_state": s.from_state, "to_state": s.to_state,
            "actor": s.actor.username if s.actor else s.actor_name, "at": s.at, "note": s.note,
            "method": method, "method_label": str(VerifyMethod(method).label) if method in VerifyMethod.values else "",
            "data": {k: v for k, v in (s.data or {}).items() if isinstance(v, str | int | float | bool | None)}}


def warning_detail(a: Alert, user: Any) -> dict[str, Any]:
    from pingan.corrections import queries

    return {**warning_row(a, user), "steps": [step_row(s) for s in queries.warning_steps(a)]}

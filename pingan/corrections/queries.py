"""Read paths of 如燕, always through the access policy: a subject is found only when the caller may see it
(404 otherwise, never confirming it exists); its file (records, authorisations, scans) follows it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from pingan.accounts import policy
from pingan.core.errors import NotFoundError
from pingan.corrections import permissions as perms
from pingan.corrections.models import MonitoringAuthorisation, PhoneCheck, Record, Scan, Subject

RELATED = ("person", "judicial_office", "officer", "area", "permitted_area", "target", "user")


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

from django.db.models import Q  # noqa: E402

from pingan.corrections.models import LeaveLevel, LeaveRequest, LeaveState  # noqa: E402

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
        "requested_by")
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

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

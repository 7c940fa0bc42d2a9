"""Read paths of 如燕, always through the access policy: a subject is found only when the caller may see it
(404 otherwise, never confirming it exists); its file (records, authorisations, scans) follows it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from pingan.accounts import policy
from pingan.core.errors import NotFoundError
from pingan.corrections import permissions as perms
from pingan.corrections.models import MonitoringAuthorisation, Record, Scan, Subject

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


# Core areas and reverse warnings ----------------------------------------------------------------------

from pingan.corrections.models import CoreArea  # noqa: E402
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, AlertStep  # noqa: E402


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
    from pingan.geo.models import Area

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

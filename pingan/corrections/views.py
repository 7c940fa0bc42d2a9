"""Pages of 如燕. Parse, call a query or an action, render; access is asked of the policy (a page the user may
not open answers 403, a subject the user may not see answers 404, never confirming it exists). Identities are
masked; a full view goes through ``actions.reveal_subject`` (audited), a track through ``queries.track``
(audited). Other pieces of 如燕 add their pages below in their own headed sections."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind
from pingan.core import clock, personal
from pingan.core.errors import DomainError, NotFoundError, PermissionDeniedError
from pingan.corrections import actions, presenters, queries
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    FINAL_PHONE_CHECK_STATES,
    OUTCOMES,
    TERMINATION_REASONS,
    AppliesTo,
    AuthorisationState,
    CheckIn,
    Colour,
    CorrectionType,
    EndReason,
    Ground,
    LeaveRequest,
    LeaveState,
    Level,
    PhoneCheck,
    PhoneCheckState,
    PhoneCheckVerdict,
    RecordKind,
    RecordOutcome,
    Subject,
    SubjectState,
    VerifyMethod,
    VoiceVerdict,
)
from pingan.geo import queries as geo_queries
from pingan.geo.models import Area
from pingan.tracking import permissions as tracking_perms
from pingan.tracking import presenters as tracking_presenters
from pingan.tracking.models import ACTIVE_ALERT_STATES, AlertState, Severity
from pingan.tracking.views import map_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


# Dashboard, file, scanner, phone page ===============================================================

LIST_PAGE = 50
DASHBOARD_ROWS = 20

#: what a page tells the user when an action refuses (the domain's messages are for developers)
REFUSALS = {
    "required": gettext_lazy("Fill in the required field."),
    "too_long": gettext_lazy("The text is too long."),
    "same_level": gettext_lazy("The subject is at this level already."),
    "invalid_level": gettext_lazy("Choose a management level."),
    "invalid_kind": gettext_lazy("Choose the kind of record."),
    "invalid_hours": gettext_lazy("Hours must be a number above 0 (only education and community service have hours)."),
    "in_future": gettext_lazy("The date cannot be in the future."),
    "before_decision": gettext_lazy("The date comes before the decision took effect."),
    "not_revocable": gettext_lazy("Control (管制) cannot be revoked."),
    "grounds_missing": gettext_lazy("A proposal to revoke needs three warnings or a serious violation."),
    "proposal_pending": gettext_lazy("A proposal to revoke is pending already."),
    "illegal_transition": gettext_lazy("This action does not apply to the subject in its current state."),
    "minor_restricted": gettext_lazy("A minor's identity is shown only to the supervising officer."),
    "permission_denied": gettext_lazy("You may not do this."),
    "invalid_date": gettext_lazy("Enter a valid date."),
    "out_of_range": gettext_lazy("The position is not valid."),
    "not_finite": gettext_lazy("The position is not valid."),
    "rate_limited": gettext_lazy("Too many typed codes: wait a minute or scan the QR code."),
    # the rest of the lifecycle: authorisations, transfer, release and termination, restrictions, records
    "invalid_datetime": gettext_lazy("Enter a valid date and time."),
    "invalid_time": gettext_lazy("Enter a valid time (hh:mm)."),
    "invalid_number": gettext_lazy("Enter a number."),
    "invalid_ground": gettext_lazy("Choose one of the five grounds of article 29."),
    "approver_not_authorised": gettext_lazy(
        "The approver must be the head of the justice bureau, who may approve monitoring of this subject."),
    "unknown_user": gettext_lazy("No such active user."),
    "unknown_area": gettext_lazy("No area with this code."),
    "in_past": gettext_lazy("An authorisation cannot start in the past."),
    "bad_range": gettext_lazy("The end must come after the start."),
    "period_too_long": gettext_lazy("A period of monitoring is at most three months."),
    "beyond_supervision": gettext_lazy("Monitoring cannot last beyond the end of the supervision."),
    "authorisation_exists": gettext_lazy("The subject has a live authorisation already: renew it or end it."),
    "not_a_judicial_office": gettext_lazy("Choose an active judicial office."),
    "same_office": gettext_lazy("The subject is at this judicial office already."),
    "officer_out_of_scope": gettext_lazy(
        "The new supervising officer must be a correction officer who reaches the subject's judicial office or area."),
    "confirm_required": gettext_lazy("Tick the box to confirm: this stops all monitoring and archives the file."),
    "term_not_over": gettext_lazy("The term is not over yet: release is possible from its last day; end it early with termination."),
    "invalid_reason": gettext_lazy("Choose the reason for termination."),
    "invalid_outcome": gettext_lazy("Choose an outcome that fits this record."),
    "no_home": gettext_lazy("A curfew needs the subject's home point, which the file does not have."),
    "invalid_weekdays": gettext_lazy("Weekdays are Monday to Sunday."),
    "out_of_range:radius_m": gettext_lazy(
        "The radius is out of range: a curfew circle is 50–5,000 m, a forbidden zone at most 200 km."),
    "invalid_geometry": gettext_lazy("The zone's centre is not a valid position."),
    "invalid_uid": gettext_lazy("A device id has letters, digits, - _ . only, and may not start with rx."),
    "unknown_crs": gettext_lazy("Choose the coordinate system the device sends."),
    "duplicate_device": gettext_lazy("A device with this id is registered already."),
}

#: why a checkpoint scan is refused, in words
SCAN_REASONS = {
    "malformed": gettext_lazy("Not a follow code."),
    "unknown_key": gettext_lazy("The code is signed with a key no longer in use: ask for the current code."),
    "bad_signature": gettext_lazy("Forged code: the signature does not match."),
    "not_issued": gettext_lazy("Forged code: it was never issued."),
    "expired": gettext_lazy("Expired code: ask the person to show the current code."),
    "not_yet_valid": gettext_lazy("The code is not valid yet: check the phone's clock."),
    "unknown_code": gettext_lazy("No such code: check what was typed."),
    "ambiguous": gettext_lazy("The short code is ambiguous: scan the QR code instead."),
    "unknown_subject": gettext_lazy("No such code."),
    "not_in_correction": gettext_lazy("This person's correction has ended."),
    "other_subject": gettext_lazy("This is another subject's code."),
    "replayed": gettext_lazy("Replayed code: it was just shown somewhere else. Stop and report."),
}

COLOUR_WORDS = {
    Colour.GREEN: gettext_lazy("Pass"),
    Colour.YELLOW: gettext_lazy("Pass, note"),
    Colour.RED: gettext_lazy("Stop, report"),
}

STATUS_REASONS = {
    "lost_contact": gettext_lazy("lost contact"), "revoke_proposal_pending": gettext_lazy("proposal to revoke pending"),
    "escalated_alert": gettext_lazy("alert escalated"), "strict_level": gettext_lazy("strict level"),
    "open_warning": gettext_lazy("open warning"), "active_alert": gettext_lazy("active alert"),
    "pending_intake": gettext_lazy("not yet taken in"),
}


def require_perm(request: HttpRequest, perm: str) -> None:
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied


def visible_subject(request: HttpRequest, subject_id: int, *also: str) -> Subject:
    """The subject when the user may see it (or holds one of ``also`` on it, like the API's approver); 404
    otherwise."""
    for perm in also or (perms.VIEW_SUBJECT.code,):
        try:
            return queries.subject(request.user, subject_id, perm)
        except NotFoundError:
            continue
    raise Http404


def refusal(exc: DomainError) -> str:
    field = exc.details.get("field")
    said = REFUSALS.get(f"{exc.code}:{field}") or REFUSALS.get(exc.code)
    text = str(said) if said is not None else exc.message
    return f"{text} ({field})" if field and said is not None else text


def local(moment: dt.datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else ""


def _date(raw: str) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise DomainError("invalid_date", "not a date") from None


def _float(raw: Any) -> float | None:
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value


def alert_row(alert: Any) -> dict[str, Any]:
    row = tracking_presenters.alert_row(alert)
    late = bool(row["late"] or (alert.state in ACTIVE_ALERT_STATES and alert.verify_by < clock.now()))
    return row | {"severity_label": Severity(alert.severity).label, "state_label": AlertState(alert.state).label,
                  "late": late, "minutes_left": max(0, int((alert.verify_by - clock.now()).total_seconds() // 60))}


def subject_row(s: Subject) -> dict[str, Any]:
    row = presenters.subject_row(s)
    return row | {"type_label": CorrectionType(s.correction_type).label, "level_label": Level(s.level).label,
                  "state_label": SubjectState(s.state).label}


# -- dashboard ---------------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The correction dashboard: subjects on the map, counts, open alerts, verifications about to run late,
    authorisations about to expire, overdue intakes."""
    require_perm(request, perms.VIEW_SUBJECT.code)
    user = request.user
    open_subjects = list(queries.subjects(user, state=f"{SubjectState.PENDING},{SubjectState.IN_CORRECTION}")[:500])
    latest = queries.latest_positions(user, open_subjects)
    points = [{"id": s.pk, "label": s.target.label, "lon": p.lon, "lat": p.lat, "t": p.device_time.isoformat(),
               "url": reverse("corrections:subject", args=[s.pk]), "colour": actions.status(s)[0], "monitored": s.target.monitored}
              for s in open_subjects if (p := latest.get(s.target_id)) is not None]
    counts = queries.counts(user)
    states = dict(SubjectState.choices)
    levels = dict(Level.choices)
    can_alerts = policy.has_perm(user, tracking_perms.VIEW_ALERT.code)
    return render(request, "corrections/dashboard.html", {
        "points": points, "can_see_positions": policy.has_perm(user, tracking_perms.VIEW_TARGET.code),
        "by_state": [{"label": states.get(r["state"], r["state"]), "code": r["state"], "n": r["n"]} for r in counts["state"]],
        "by_level": [{"label": levels.get(r["level"], r["level"]), "code": r["level"], "n": r["n"]} for r in counts["level"]],
        "by_office": counts["office"], "total_open": len(open_subjects),
        "can_alerts": can_alerts,
        "alerts": [alert_row(a) for a in queries.open_alerts(user)[:DASHBOARD_ROWS]] if can_alerts else [],
        "due": [alert_row(a) for a in queries.verifications_due(user)[:DASHBOARD_ROWS]] if can_alerts else [],
        "expiring": list(queries.expiring_authorisations(user)[:DASHBOARD_ROWS]),
        "overdue": [subject_row(s) for s in queries.intake_overdue(user)[:DASHBOARD_ROWS]],
        "watermark": True, **map_settings(request),
    })


# -- subjects ------------------------------------------------------------------------------------------


@login_required
@require_GET
def subject_list(request: HttpRequest) -> HttpResponse:
    require_perm(request, perms.VIEW_SUBJECT.code)
    filters = {k: request.GET.get(k, "").strip() for k in ("state", "level", "office")}
    qs = queries.subjects(request.user, **filters)
    page = Paginator(qs, LIST_PAGE).get_page(request.GET.get("page"))
    return render(request, "corrections/subjects.html", {
        "page": page, "rows": [subject_row(s) for s in page.object_list], "filters": filters,
        "states": SubjectState.choices, "levels": Level.choices, "watermark": True,
        "can_manage": policy.has_perm(request.user, perms.MANAGE_SUBJECT.code),
    })


def file_context(request: HttpRequest, subject: Subject, **extra: Any) -> dict[str, Any]:
    user = request.user
    detail = presenters.subject_detail(subject, user)
    now = clock.now().astimezone(SHANGHAI)
    can_alerts = policy.has_perm(user, tracking_perms.VIEW_ALERT.code)
    today = now.date()
    latest = queries.latest_positions(user, [subject]).get(subject.target_id)
    records = list(queries.records(subject)[:200])
    return {
        "s": subject, "d": detail, "type_label": CorrectionType(subject.correction_type).label,
        "level_label": Level(subject.level).label, "state_label": SubjectState(subject.state).label,
        "colour_label": Colour(detail["colour"]).label,
        "status_reasons": [str(STATUS_REASONS.get(r, r)) for r in detail["reasons"]],
        "records": records, "authorisations": list(queries.authorisations(subject)),
        "record_rows": [{"r": r, "outcomes": [(code, RecordOutcome(code).label) for code in OUTCOMES.get(r.kind, ())]
                         if r.is_open else []} for r in records],
        "level_changes": list(subject.level_changes.select_related("by").order_by("-at")[:50]),
        "transfers": list(subject.transfers.select_related("from_office", "to_office").order_by("-at")[:20]),
        "scans": list(queries.scans(subject)[:50]), "check_ins": list(queries.check_ins(subject)[:50]),
        "alerts": [alert_row(a) for a in queries.corrections_alerts(user, [subject.pk]).order_by("-id")[:50]]
        if can_alerts else [],
        # a minor's identity only for the supervising officer: nobody else is offered the form
        "can_reveal": detail["can_reveal"] and (not subject.is_minor or getattr(user, "pk", None) == subject.officer_id),
        "can_alerts": can_alerts, "can_manage": bool(detail["can"]), "can_track": queries.can_view_track(user, subject),
        "record_kinds": RecordKind.choices, "levels": [c for c in Level.choices if c[0] != subject.level],
        "grounds": dict(Ground.choices), "auth_states": dict(AuthorisationState.choices),
        "record_labels": dict(RecordKind.choices), "level_labels": dict(Level.choices),
        "today": today.isoformat(),
        "latest": ({"t": latest.device_time, "lon": latest.lon, "lat": latest.lat, "accuracy_m": latest.accuracy_m}
                   if latest else None),
        "track_from": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "track_to": (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "watermark": True, "identity": None, **map_settings(request), **lifecycle_context(request, subject, detail),
        **extra,
    }


@login_required
@require_GET
def subject_file(request: HttpRequest, subject_id: int) -> HttpResponse:
    subject = visible_subject(request, subject_id)
    # a device key just registered is shown on this one page, then forgotten (the page is not cached)
    new_key = request.session.pop(DEVICE_KEY_SESSION.format(subject_id=subject.pk), None)
    response = render(request, "corrections/subject.html", file_context(request, subject, new_device_key=new_key))
    if new_key:
        patch_cache_control(response, no_store=True, private=True)
    return response


@login_required
@require_POST
def subject_reveal(request: HttpRequest, subject_id: int) -> HttpResponse:
    """The identity in full, for a stated purpose (audited by the action); HTMX swaps in the identity card."""
    subject = visible_subject(request, subject_id)
    try:
        identity = actions.reveal_subject(request.user, subject, purpose=request.POST.get("purpose", ""))
    except DomainError as exc:
        if request.htmx:  # type: ignore[attr-defined]  # htmx swaps only 2xx: the refusal is shown in the card
            return render(request, "corrections/partials/identity.html", {"s": subject, "error": refusal(exc)})
        if exc.status == 403:
            raise PermissionDenied(refusal(exc)) from exc
        messages.error(request, refusal(exc))
        return redirect("corrections:subject", subject_id=subject.pk)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "corrections/partials/identity.html", {"s": subject, "identity": identity})
    return render(request, "corrections/subject.html", file_context(request, subject, identity=identity))


def _act(request: HttpRequest, subject_id: int, run: Any, *, may: tuple[str, ...] = (perms.MANAGE_SUBJECT.code,),
         done: str | None = None) -> HttpResponse:
    """Run an officer's form action; errors go back to the file as a message (403 / 404 stay what they are).

    A user who sees the subject but holds none of ``may`` on it (the procurator) is refused before the form is
    even parsed, so a bad form never hides the 403; the action checks again. After a success that leaves the
    subject out of the user's sight (a transfer to another town, a minor's file sealed on release) the user goes
    to the list instead of a file that would answer 404."""
    subject = visible_subject(request, subject_id, *may)
    if not any(policy.can(request.user, code, subject) for code in may):
        raise PermissionDenied
    try:
        run(subject)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, refusal(exc))
    else:
        messages.success(request, done or _("Done."))
        fresh = Subject.objects.select_related(*queries.RELATED).get(pk=subject.pk)
        if not policy.can(request.user, perms.VIEW_SUBJECT.code, fresh):
            return redirect("corrections:subjects")
    return redirect("corrections:subject", subject_id=subject.pk)


@login_required
@require_POST
def subject_intake(request: HttpRequest, subject_id: int) -> HttpResponse:
    return _act(request, subject_id, lambda s: actions.record_intake(request.user, s, note=request.POST.get("note", "")))


@login_required
@require_POST
def subject_level(request: HttpRequest, subject_id: int) -> HttpResponse:
    return _act(request, subject_id, lambda s: actions.change_level(
        request.user, s, level=request.POST.get("level", ""), reason=request.POST.get("reason", "")))


@login_required
@require_POST
def subject_record(request: HttpRequest, subject_id: int) -> HttpResponse:
    post = request.POST
    return _act(request, subject_id, lambda s: actions.add_record(
        request.user, s, kind=post.get("kind", ""), text=post.get("text", ""), occurred_on=_date(post.get("occurred_on", "")),
        hours=post.get("hours", "").strip() or None, serious=post.get("serious") == "on"))


# -- the rest of the lifecycle: authorisations, transfer, release and termination, restrictions --------------
#
# Each form is a thin POST view: parse the form (a value that cannot be parsed is refused like the action's own
# refusals), call the action, go back to the file with a message. Times typed in datetime-local fields are
# Asia/Shanghai.

#: the session key under which a new device key waits for the one page that shows it
DEVICE_KEY_SESSION = "corrections.device_key.{subject_id}"

WEEKDAYS = ((1, gettext_lazy("Mon")), (2, gettext_lazy("Tue")), (3, gettext_lazy("Wed")), (4, gettext_lazy("Thu")),
            (5, gettext_lazy("Fri")), (6, gettext_lazy("Sat")), (7, gettext_lazy("Sun")))
CRS_CHOICES = (("wgs84", "WGS-84 / GPS"), ("cgcs2000", "CGCS2000"), ("gcj02", gettext_lazy("GCJ-02 (AMap, Tencent)")),
               ("bd09", gettext_lazy("BD-09 (Baidu)")))
MONITORING = (perms.MANAGE_SUBJECT.code, perms.APPROVE_MONITORING.code)  # who may grant, renew, end (the action's rule)


def _parse_moment(raw: str, field: str) -> dt.datetime:
    """A required datetime-local value (Asia/Shanghai wall time) as an aware UTC datetime."""
    from pingan.core.errors import ValidationFailed

    if not (raw or "").strip():
        raise ValidationFailed("required", f"{field} is required", field=field)
    moment = _moment(raw)
    if moment is None:
        raise ValidationFailed("invalid_datetime", "not a date and time", field=field)
    return moment.astimezone(dt.UTC)


def _parse_time(raw: str, field: str) -> dt.time:
    from pingan.core.errors import ValidationFailed

    raw = (raw or "").strip()
    if not raw:
        raise ValidationFailed("required", f"{field} is required", field=field)
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("invalid_time", "not a time", field=field) from None


def _parse_number(raw: str, field: str) -> float:
    from pingan.core.errors import ValidationFailed

    value = _float(raw)
    if value is None:
        raise ValidationFailed("invalid_number", "not a number", field=field)
    return value


def _confirmed(post: Any) -> None:
    from pingan.core.errors import ValidationFailed

    if post.get("confirm") != "on":
        raise ValidationFailed("confirm_required", "tick the box to confirm", field="confirm")


def _of_subject(obj: Any, subject: Subject) -> Any:
    """An authorisation or record found by id must belong to the file it is posted on (404 otherwise)."""
    if obj.subject_id != subject.pk:
        raise Http404
    return obj


def _found(find: Any, user: Any, obj_id: int) -> Any:
    try:
        return find(user, obj_id)
    except NotFoundError:
        raise Http404 from None


def _local_input(moment: dt.datetime) -> str:
    """A moment as a datetime-local value (Asia/Shanghai, to the minute)."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def lifecycle_context(request: HttpRequest, subject: Subject, detail: dict[str, Any]) -> dict[str, Any]:
    """What the file's lifecycle forms need: each is offered only to who holds the action's permission on the
    subject and only in the states where the action applies (the action decides again)."""
    user = request.user
    now = clock.now()
    manage = policy.can(user, perms.MANAGE_SUBJECT.code, subject)
    monitoring = manage or policy.can(user, perms.APPROVE_MONITORING.code, subject)
    in_correction = subject.state == SubjectState.IN_CORRECTION
    latest_end = actions.day_end(subject.supervision_end)
    live = [a for a in queries.authorisations(subject).filter(state__in=(AuthorisationState.APPROVED,
                                                                        AuthorisationState.ACTIVE))]
    can_grant = monitoring and in_correction and not live
    approvers = actions.holders(perms.APPROVE_MONITORING.code, subject) if monitoring and (can_grant or live) else []
    live_rows = [{"a": a, "renew_to": _local_input(min(actions.add_months(a.ends_at, actions.MAX_PERIOD_MONTHS), latest_end))
                  if a.state == AuthorisationState.ACTIVE else ""} for a in live]
    can = detail["can"] if manage else []
    return {
        "can_grant": can_grant, "can_change_monitoring": monitoring, "approvers": approvers,
        "me": getattr(user, "username", ""), "ground_choices": Ground.choices,
        "grant_start": _local_input(now), "grant_end": _local_input(min(actions.add_months(now, actions.MAX_PERIOD_MONTHS),
                                                                          latest_end)),
        "live_authorisations": live_rows if monitoring else [],
        "can_transfer": "transfer" in can, "offices": [o for o in queries.judicial_offices() if o.pk != subject.judicial_office_id],
        "officers": queries.correction_officers(user) if "transfer" in can else [],
        "can_release": "release" in can, "release_from": subject.supervision_end,
        "term_over": actions.local_today() >= subject.supervision_end,
        "can_terminate": "terminate" in can,
        "termination_reasons": [(code, EndReason(code).label) for code in TERMINATION_REASONS],
        "can_restrict": manage and subject.is_open, "weekdays": WEEKDAYS, "crs_choices": CRS_CHOICES,
        "devices": [d for d in subject.target.devices.order_by("uid") if not d.uid.startswith("rx")],
        "can_close_records": manage,
    }


@login_required
@require_POST
def subject_grant(request: HttpRequest, subject_id: int) -> HttpResponse:
    """社区矫正法 art. 29: monitoring on one of the five grounds, approved by the head of the justice bureau."""
    post = request.POST
    return _act(request, subject_id, lambda s: actions.grant_authorisation(
        request.user, s, ground=post.get("ground", ""), facts=post.get("facts", ""),
        approver=queries.active_user(post.get("approver", ""), "approver"),
        starts_at=_parse_moment(post["starts_at"], "starts_at") if post.get("starts_at", "").strip() else None,
        ends_at=_parse_moment(post.get("ends_at", ""), "ends_at")), may=MONITORING, done=_("Monitoring authorised."))


@login_required
@require_POST
def subject_renew(request: HttpRequest, subject_id: int, authorisation_id: int) -> HttpResponse:
    post = request.POST
    return _act(request, subject_id, lambda s: actions.renew_authorisation(
        request.user, _of_subject(_found(queries.authorisation, request.user, authorisation_id), s),
        assessment=post.get("assessment", ""), approver=queries.active_user(post.get("approver", ""), "approver"),
        ends_at=_parse_moment(post.get("ends_at", ""), "ends_at")), may=MONITORING, done=_("Monitoring renewed."))


@login_required
@require_POST
def subject_end_authorisation(request: HttpRequest, subject_id: int, authorisation_id: int) -> HttpResponse:
    return _act(request, subject_id, lambda s: actions.end_authorisation(
        request.user, _of_subject(_found(queries.authorisation, request.user, authorisation_id), s),
        reason=request.POST.get("reason", "")), may=MONITORING, done=_("Monitoring ended."))


@login_required
@require_POST
def subject_transfer(request: HttpRequest, subject_id: int) -> HttpResponse:
    """社区矫正法 art. 27: to another judicial office and officer (and, when given, another residence area)."""
    post = request.POST

    def run(s: Subject) -> Any:
        code = post.get("area", "").strip()
        area = geo_queries.area_by_code(code, "area") if code else None
        return actions.transfer_subject(
            request.user, s, to_office=Organisation.objects.filter(code=post.get("to_office", "")).first(),
            to_officer=queries.active_user(post.get("to_officer", ""), "to_officer"), reason=post.get("reason", ""), area=area)

    return _act(request, subject_id, run, done=_("Subject transferred."))


@login_required
@require_POST
def subject_release(request: HttpRequest, subject_id: int) -> HttpResponse:
    """解矫 (confirmed): all monitoring stops and the file is archived."""
    post = request.POST

    def run(s: Subject) -> Any:
        _confirmed(post)
        return actions.release_subject(request.user, s, on=_date(post.get("on", "")), note=post.get("note", ""))

    return _act(request, subject_id, run, done=_("Released: monitoring stopped and the file archived."))


@login_required
@require_POST
def subject_terminate(request: HttpRequest, subject_id: int) -> HttpResponse:
    """终止 (confirmed): all monitoring stops and the file is archived."""
    post = request.POST

    def run(s: Subject) -> Any:
        _confirmed(post)
        return actions.terminate_subject(request.user, s, reason=post.get("reason", ""), on=_date(post.get("on", "")),
                                         note=post.get("note", ""))

    return _act(request, subject_id, run, done=_("Correction terminated: monitoring stopped and the file archived."))


@login_required
@require_POST
def subject_prohibition(request: HttpRequest, subject_id: int) -> HttpResponse:
    """A court prohibition order; a forbidden zone as a circle (WGS-84 centre and radius) when a centre is given."""
    post = request.POST

    def run(s: Subject) -> Any:
        zones = []
        if post.get("lon", "").strip() or post.get("lat", "").strip():
            zones.append(actions.ZoneInput(
                name=post.get("zone_name", "").strip() or _("forbidden zone"), shape="circle",
                coords=[_parse_number(post.get("lon", ""), "lon"), _parse_number(post.get("lat", ""), "lat")],
                radius_m=_parse_number(post.get("radius_m", ""), "radius_m")))
        return actions.add_prohibition_order(request.user, s, text=post.get("text", ""),
                                             starts_on=_date(post.get("starts_on", "")),
                                             ends_on=_date(post.get("ends_on", "")), zones=zones)

    return _act(request, subject_id, run, done=_("Prohibition order added."))


@login_required
@require_POST
def subject_curfew(request: HttpRequest, subject_id: int) -> HttpResponse:
    from pingan.core.errors import ValidationFailed

    post = request.POST

    def run(s: Subject) -> Any:
        raw_days = post.getlist("weekdays")
        if not all(d.strip().isdigit() for d in raw_days):
            raise ValidationFailed("invalid_weekdays", "weekdays are 1 to 7", field="weekdays")
        return actions.add_curfew(request.user, s, start=_parse_time(post.get("start", ""), "start"),
                                  end=_parse_time(post.get("end", ""), "end"), weekdays=[int(d) for d in raw_days],
                                  radius_m=_parse_number(post.get("radius_m", "") or "200", "radius_m"))

    return _act(request, subject_id, run, done=_("Curfew added."))


@login_required
@require_POST
def subject_device(request: HttpRequest, subject_id: int) -> HttpResponse:
    """A locating device; its key goes to the session for the one page that shows it (never to a cookie or the
    message, never again)."""
    post = request.POST

    def run(s: Subject) -> Any:
        device, key = actions.register_subject_device(request.user, s, uid=post.get("uid", "").strip(),
                                                      name=post.get("name", ""), crs=post.get("crs", "wgs84"))
        request.session[DEVICE_KEY_SESSION.format(subject_id=s.pk)] = {"uid": device.uid, "key": key}
        return device

    return _act(request, subject_id, run, done=_("Device registered."))


@login_required
@require_POST
def subject_close_record(request: HttpRequest, subject_id: int, record_id: int) -> HttpResponse:
    """Close an open warning, lost contact or proposal to revoke with an outcome of its kind."""
    post = request.POST
    return _act(request, subject_id, lambda s: actions.close_record(
        request.user, _of_subject(_found(queries.record, request.user, record_id), s), outcome=post.get("outcome", ""),
        note=post.get("note", "")), done=_("Record closed."))


# -- the checkpoint scanner -------------------------------------------------------------------------------


def scan_result(out: actions.ScanOut) -> dict[str, Any]:
    subject = out.subject
    return {
        "valid": out.valid, "colour": out.colour, "word": str(COLOUR_WORDS.get(Colour(out.colour), "")) if out.colour else "",
        "advice": out.advice, "repeat": out.repeat, "reason": out.reason,
        "reason_text": str(SCAN_REASONS.get(out.reason, out.reason)) if out.reason else "", "at": out.at,
        "subject": ({"number": subject.number, "name": personal.mask_name(subject.person.name)} if subject else None),
        "reasons": [str(STATUS_REASONS.get(r, r)) for r in out.reasons],
    }


@login_required
@require_http_methods(["GET", "POST"])
def scanner(request: HttpRequest) -> HttpResponse:
    """The checkpoint scanner: the camera (jsQR) or a typed short code, the scanner's position from the
    browser (or typed), and the answer shown big. HTMX posts the form and swaps in the answer."""
    require_perm(request, perms.SCAN_FOLLOW_CODE.code)
    result: dict[str, Any] | None = None
    error = ""
    status = 200
    if request.method == "POST":
        post = request.POST
        lon, lat = _float(post.get("lon")), _float(post.get("lat"))
        accuracy = _float(post.get("accuracy_m"))
        code = post.get("code", "").strip()
        if not code:
            error, status = _("Scan the QR code or type the 8-character code."), 422
        elif lon is None or lat is None:
            error, status = _("The checkpoint's position is needed: allow location, or type it."), 422
        else:
            try:
                result = scan_result(actions.verify_code(request.user, code, lon=lon, lat=lat, accuracy_m=accuracy))
            except DomainError as exc:
                if exc.status == 403:
                    raise PermissionDenied from exc
                error, status = refusal(exc), exc.status
    context = {"result": result, "error": error}
    if request.htmx:  # type: ignore[attr-defined]
        # htmx swaps only successful answers: a refusal is an answer to show, so it comes as 200 here
        return render(request, "corrections/partials/scan_result.html", context)
    return render(request, "corrections/scan.html", context, status=status)


# -- the subject's phone page ------------------------------------------------------------------------------


def qr_svg(text: str) -> str:
    """The follow code as an inline SVG (the ``qrcode`` package; alphanumeric mode for the base32 token)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4,
                       image_factory=SvgPathImage)
    qr.add_data(text)
    qr.make(fit=True)
    return str(qr.make_image().to_string(encoding="unicode"))


def own_subject(request: HttpRequest) -> Subject:
    require_perm(request, perms.OWN_FOLLOW_CODE.code)
    try:
        return actions.own_subject(request.user)
    except NotFoundError:
        raise Http404 from None
    except DomainError as exc:  # the correction has ended
        raise Http404 from exc


def code_context(request: HttpRequest) -> dict[str, Any]:
    code = actions.issue_code(request.user)
    seconds = max(1.0, (code.refresh_at - clock.now()).total_seconds() + 0.5)
    return {"code": code, "svg": qr_svg(code.token), "short": f"{code.short[:4]} {code.short[4:]}",
            "refresh_in": round(seconds, 1), "expires_local": local(code.expires_at)}


@login_required
@require_GET
def my_page(request: HttpRequest) -> HttpResponse:
    """The subject's own page: the follow code (QR and short code, refreshed before it changes) and the daily
    check-in."""
    subject = own_subject(request)
    today = clock.now().astimezone(SHANGHAI).date()
    checked = CheckIn.objects.filter(subject=subject, day=today).order_by("-at").first()
    return render(request, "corrections/me.html", {
        "subject": subject, "checked": checked, "can_check_in": subject.state == SubjectState.IN_CORRECTION,
        **code_context(request),
    })


@login_required
@require_GET
def my_code(request: HttpRequest) -> HttpResponse:
    """The code card alone (HTMX refreshes it each window)."""
    own_subject(request)
    return render(request, "corrections/partials/code.html", code_context(request))


@login_required
@require_POST
def my_check_in(request: HttpRequest) -> HttpResponse:
    own_subject(request)
    lon, lat = _float(request.POST.get("lon")), _float(request.POST.get("lat"))
    if lon is None or lat is None:
        messages.error(request, _("Your position is needed for the check-in: allow location on this page."))
        return redirect("corrections:me")
    try:
        row = actions.check_in(request.user, lon=lon, lat=lat, accuracy_m=_float(request.POST.get("accuracy_m")))
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("Checked in at {time}.").format(time=local(row.at)))
    return redirect("corrections:me")


# Leave and boundary ==============================================================================

LEAVE_ACTIONS = ("approve", "refuse", "cancel", "return")
OPEN_LEAVE = ",".join((LeaveState.PENDING, LeaveState.APPROVED, LeaveState.ON_LEAVE, LeaveState.OVERDUE))


def _leave_refusal(exc: DomainError) -> str:
    """What to tell the user when a leave action is refused (the domain's messages are for developers)."""
    said = {
        "leave_too_long": _("A leave is at most %(days)s days at a time.") % {"days": exc.details.get("max_days", 30)},
        "bad_range": _("The leave must end after it starts."),
        "in_past": _("A leave cannot start in the past."),
        "beyond_supervision": _("A leave cannot go beyond the end of supervision."),
        "leave_overlaps": _("There is another leave in this period."),
        "leave_expired": _("The leave's period is over: it can only be refused or cancelled."),
        "illegal_transition": _("This action does not apply to the leave in its current state."),
        "bureau_approval_required": _("This leave is longer than the judicial office may approve: the justice bureau decides."),
        "required": _("Please fill in the required fields."),
        "invalid_destination": _("Give both coordinates of the destination, or neither."),
        "out_of_range": _("A value is out of range."),
    }
    return str(said.get(exc.code, exc.message))


def _moment(value: str) -> dt.datetime | None:
    """A datetime-local field (Beijing time)."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def _leave_input(post: Any) -> actions.LeaveInput | None:
    starts_at, ends_at = _moment(post.get("starts_at", "")), _moment(post.get("ends_at", ""))
    if starts_at is None or ends_at is None:
        return None
    return actions.LeaveInput(destination=post.get("destination", ""), starts_at=starts_at, ends_at=ends_at,
                              reason=post.get("reason", ""), dest_lon=_float(post.get("dest_lon", "")),
                              dest_lat=_float(post.get("dest_lat", "")),
                              radius_km=_float(post.get("radius_km", "")) or 10.0)


def _create_leave(request: HttpRequest, subject: Subject) -> bool:
    data = _leave_input(request.POST)
    if data is None:
        messages.error(request, _("Give the start and end of the leave."))
        return False
    try:
        actions.request_leave(request.user, subject, data)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, _leave_refusal(exc))
        return False
    messages.success(request, _("The leave request was sent for approval."))
    return True


def _form_defaults() -> dict[str, str]:
    from pingan.core import clock

    start = (clock.now().astimezone(SHANGHAI) + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    return {"starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + dt.timedelta(days=2, hours=10)).strftime("%Y-%m-%dT%H:%M")}


@login_required
@require_http_methods(["GET"])
def leave_queue(request: HttpRequest) -> HttpResponse:
    """Leave approvals: the requests the caller may decide now, and the open leaves of the subjects the caller
    sees."""
    user = request.user
    if not any(policy.has_perm(user, code) for code in (perms.VIEW_SUBJECT.code, perms.APPROVE_LEAVE.code,
                                                         perms.APPROVE_LONG_LEAVE.code)):
        raise PermissionDenied
    to_decide = [presenters.leave_row(x, user) for x in queries.leaves_to_decide(user)[:200]]
    decided = {row["id"] for row in to_decide}
    open_rows = [presenters.leave_row(x, user) for x in queries.visible_leaves(user, state=OPEN_LEAVE)[:200]
                 if x.pk not in decided]
    return render(request, "corrections/leave.html", {"to_decide": to_decide, "open": open_rows, "watermark": True})


@login_required
@require_http_methods(["GET", "POST"])
def subject_leave(request: HttpRequest, subject_id: int) -> HttpResponse:
    """A subject's leave history, and the request form for those who may ask leave for the subject."""
    try:
        subject = queries.subject(request.user, subject_id, perms.REQUEST_LEAVE.code)
    except NotFoundError:
        raise Http404 from None
    if request.method == "POST" and _create_leave(request, subject):
        return redirect("corrections:subject-leave", subject_id=subject.pk)
    return render(request, "corrections/subject_leave.html", {
        "subject": presenters.subject_row(subject), "leaves": [presenters.leave_row(x, request.user)
                                                                for x in queries.leaves(subject)],
        "can_request": policy.can(request.user, perms.REQUEST_LEAVE.code, subject) and subject.state == "in_correction",
        "form": request.POST if request.method == "POST" else _form_defaults(), "watermark": True,
        "form_action": request.path})


@login_required
@require_http_methods(["GET", "POST"])
def my_leave(request: HttpRequest) -> HttpResponse:
    """The subject's own leave page (linked from the phone page): the form and the subject's requests."""
    try:
        subject = actions.own_subject(request.user)
    except PermissionDeniedError:
        raise PermissionDenied from None
    except DomainError:
        raise Http404 from None
    if request.method == "POST" and _create_leave(request, subject):
        return redirect("corrections:my-leave")
    return render(request, "corrections/my_leave.html", {
        "leaves": [presenters.leave_row(x, request.user) for x in queries.leaves(subject)],
        "can_request": subject.state == "in_correction",
        "form": request.POST if request.method == "POST" else _form_defaults(), "form_action": request.path})


@login_required
@require_POST
def leave_act(request: HttpRequest, leave_id: int, action: str) -> HttpResponse:
    """Approve, refuse, cancel, report the return; back to ``next`` (a local page) or to the queue."""
    if action not in LEAVE_ACTIONS:
        raise Http404
    try:
        leave: LeaveRequest = queries.leave(request.user, leave_id)
    except NotFoundError:
        raise Http404 from None
    note = request.POST.get("note", "")
    try:
        if action == "approve":
            actions.approve_leave(request.user, leave, note=note)
        elif action == "refuse":
            actions.refuse_leave(request.user, leave, note=note)
        elif action == "cancel":
            actions.cancel_leave(request.user, leave, note=note)
        else:
            actions.report_return(request.user, leave, note=note)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, _leave_refusal(exc))
    else:
        messages.success(request, _("Done."))
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return redirect(back)
    return redirect("corrections:leave")


# Phone checks ---------------------------------------------------------------------------------------
# The schedule and results of smart phone checks (智能电话核查), and the "check now" button.

RESULTS_LIMIT = 200
PROBLEMS_DAYS = 7


def _labelled(check: PhoneCheck, user: Any) -> dict[str, Any]:
    from pingan.corrections import presenters

    row = presenters.phone_check_row(check)
    return row | {
        "state_label": PhoneCheckState(check.state).label,
        "verdict_label": PhoneCheckVerdict(check.verdict).label if check.verdict else "",
        "voice_label": VoiceVerdict(check.voice).label if check.voice else "",
        "level_label": Level(check.subject.level).label,
        "office_name": check.subject.judicial_office.name,
    }


@login_required
@require_GET
def phone_checks(request: HttpRequest) -> HttpResponse:
    """The day's schedule per subject (today by default), the missed and failed checks of the last week, and
    the results, filtered by office, level and verdict."""
    user = request.user
    if not policy.has_perm(user, perms.VIEW_SUBJECT.code):
        raise PermissionDenied
    today = actions.local_today()
    try:
        day = dt.date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else today
    except ValueError:
        day = today
    office, level, verdict = (request.GET.get(k, "").strip() for k in ("office", "level", "verdict"))
    if level not in Level.values:
        level = ""
    if verdict not in PhoneCheckVerdict.values:
        verdict = ""
    manageable = set(policy.restrict(user, perms.MANAGE_SUBJECT.code, Subject.objects.filter(
        state=SubjectState.IN_CORRECTION)).values_list("pk", flat=True))
    schedule: dict[int, dict[str, Any]] = {}
    for check in queries.phone_checks(user, day=day, office=office, level=level).order_by("scheduled_at", "id"):
        entry = schedule.setdefault(check.subject_id, {
            "subject": check.subject, "checks": [],
            "can_start": check.subject_id in manageable})
        entry["checks"].append(_labelled(check, user))
    since = today - dt.timedelta(days=PROBLEMS_DAYS)
    problems = [_labelled(c, user) for c in queries.phone_checks(
        user, state=f"{PhoneCheckState.MISSED},{PhoneCheckState.FAILED}", office=office, level=level).filter(day__gte=since)[:RESULTS_LIMIT]]
    results = [_labelled(c, user) for c in queries.phone_checks(user, verdict=verdict, office=office, level=level)
               .filter(state__in=FINAL_PHONE_CHECK_STATES)[:RESULTS_LIMIT]]
    offices = Organisation.objects.filter(
        pk__in=queries.subjects(user).values("judicial_office")).order_by("code")
    subjects = list(queries.subjects(user, state=SubjectState.IN_CORRECTION, office=office, level=level)
                    .filter(pk__in=manageable)[:500])
    return render(request, "corrections/phone_checks.html", {
        "day": day, "today": today, "schedule": sorted(schedule.values(), key=lambda e: e["subject"].number),
        "problems": problems, "results": results, "offices": offices, "levels": Level.choices,
        "verdicts": PhoneCheckVerdict.choices, "filters": {"office": office, "level": level, "verdict": verdict,
                                                           "day": day.isoformat()},
        "startable": subjects, "problems_days": PROBLEMS_DAYS, "watermark": True,
    })


@login_required
@require_POST
def start_phone_check(request: HttpRequest) -> HttpResponse:
    """The "check now" button (``subject``: the subject's id): the call is placed at once; back to the schedule
    (or ``next``)."""
    raw = str(request.POST.get("subject", ""))
    if not raw.isdigit():
        raise Http404
    subject_id = int(raw)
    try:
        subject = queries.subject(request.user, subject_id)
        check = actions.start_phone_check(request.user, subject)
    except NotFoundError:
        raise Http404 from None
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, _("The check could not be started: this subject is not in correction.")
                       if exc.code == "illegal_transition" else exc.message)
    else:
        messages.success(request, _("Phone check of {number}: {state}{verdict}").format(
            number=subject.number, state=PhoneCheckState(check.state).label,
            verdict=f" — {PhoneCheckVerdict(check.verdict).label}" if check.verdict else ""))
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return redirect(back)
    return redirect("corrections:phone-checks")


# Core areas and reverse warnings ==================================================================
#
# The warning queue (/corrections/warnings/): open warnings newest first, each with a countdown to its deadline,
# the audible alarm for warnings that arrive while the page is open (warnings.js polls the API), and the
# verification panel (start verifying, record what was found, dismiss with a reason, escalate; the steps so far),
# which calls /api/v1/corrections/warnings/{id}/…; without JavaScript, a warning's page (/corrections/warnings/<id>/)
# renders the same panel and its forms post to warning_act (PRG). The core-area page (/corrections/core-areas/) lists, creates,
# changes and deactivates core areas for holders of corrections.manage_core_area.

DISMISS_CHOICES = (("authorised", "authorised visit"), ("position_error", "position error"), ("other", "other"))
WARNING_QUEUE_LIMIT = 200


def _require_perm(request: HttpRequest, perm: str) -> None:
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied


def _warning_labels() -> dict[str, Any]:
    from pingan.tracking.models import AlertState, Severity

    return {
        "state": {k: str(v) for k, v in AlertState.choices}, "severity": {k: str(v) for k, v in Severity.choices},
        "method": {k: str(v) for k, v in VerifyMethod.choices},
        "reason": {"authorised": _("authorised visit"), "position_error": _("position error"), "other": _("other")},
        "step": {"raised": _("raised"), "acknowledged": _("verification started"), "noted": _("found"),
                 "dismissed": _("dismissed"), "escalated": _("escalated"), "closed": _("closed"),
                 "late": _("verification late"), "cleared": _("condition cleared")},
        "overdue": _("overdue"), "new": _("New core-area warning"), "done": _("Done."),
        "failed": _("The action failed"), "stale": _("Someone else changed this warning first; it is shown as it is now."),
        "offline": _("Cannot reach the server; retrying."),
        "note_required": _("Write the reason: a note is required for this reason."),
        "text_required": _("Write what was found."),
    }


def _queue_row(row: dict[str, Any]) -> dict[str, Any]:
    from pingan.tracking.models import AlertState

    left = int((row["verify_by"] - clock.now()).total_seconds())
    return row | {"seconds_left": left, "state_label": AlertState(row["state"]).label, "raised_local": row["raised_at"].astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"),
                  "verify_by_iso": row["verify_by"].isoformat()}


@login_required
@require_GET
def warning_queue(request: HttpRequest) -> HttpResponse:
    _require_perm(request, perms.VIEW_SUBJECT.code)
    return _warning_page(request, None)


@login_required
@require_GET
def warning_page(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The queue with one warning's verification panel filled in by the server, and its forms posting to
    ``warning_act``: verification works without JavaScript (warnings.js takes the forms over when it runs)."""
    try:
        alert = queries.warning(request.user, alert_id)
    except NotFoundError:
        raise Http404 from None
    return _warning_page(request, alert)


def _warning_page(request: HttpRequest, alert: Any) -> HttpResponse:
    user = request.user
    labels = _warning_labels()
    waiting = [_queue_row(r) for r in presenters.warning_rows(queries.warnings(user, state="active")[:WARNING_QUEUE_LIMIT], user)]
    recent = [_queue_row(r) for r in presenters.warning_rows(queries.warnings(user, state="dismissed,escalated,closed")[:20], user)]
    last_id = queries.warnings(user).order_by("-id").values_list("id", flat=True).first() or 0
    can_act = policy.has_perm(user, perms.MANAGE_SUBJECT.code)
    return render(request, "corrections/warnings.html", {
        "waiting": waiting, "recent": recent, "last_id": last_id, "poll_ms": 3000, "labels": labels,
        "methods": VerifyMethod.choices, "reasons": [(k, labels["reason"][k]) for k, _v in DISMISS_CHOICES],
        "can_act": can_act, "watermark": True,
        "selected": _selected_warning(alert, user, labels, can_act) if alert is not None else None,
    })


def _selected_warning(alert: Any, user: Any, labels: dict[str, Any], can_act: bool) -> dict[str, Any]:
    """The panel's warning: its facts, its steps in words, and which of the four forms apply in its state (as
    warnings.js decides them)."""
    w = _queue_row(presenters.warning_detail(alert, user))
    active = w["state"] in ACTIVE_ALERT_STATES
    where = w["place"] or "—"
    if w["lat"] is not None and w["lon"] is not None:
        where += f" ({w['lat']:.5f}, {w['lon']:.5f})"
    if w["accuracy_m"]:
        where += f" ±{round(float(w['accuracy_m']))} m"
    act = can_act and w["can_act"]
    return w | {
        "where": where, "verify_by_local": local(w["verify_by"]), "is_late": active and w["seconds_left"] <= 0,
        "steps": [s | {"label": labels["step"].get(s["action"], s["action"]),
                       "at_local": s["at"].astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S")} for s in w["steps"]],
        "forms": {"verify": act and w["state"] == AlertState.OPEN,
                  "found": act and (active or w["state"] == AlertState.ESCALATED),
                  "dismiss": act and active, "escalate": act and active},
    }


WARNING_STEPS = ("verify", "found", "dismiss", "escalate")

#: what the verification forms tell the user when the action refuses (before the file's REFUSALS)
WARNING_REFUSALS = {
    "stale_version": gettext_lazy("Someone else changed this warning first; it is shown as it is now."),
    "illegal_transition": gettext_lazy("This step does not apply to the warning in its current state."),
    "required:text": gettext_lazy("Write what was found."),
    "required:note": gettext_lazy("Write the reason: a note is required for this reason."),
    "invalid_method": gettext_lazy("Choose how it was verified."),
    "invalid_reason": gettext_lazy("Choose a reason for dismissing the warning."),
    "no_position": gettext_lazy("A warning without a position cannot open an event."),
}


def _warning_refusal(exc: DomainError) -> str:
    said = WARNING_REFUSALS.get(f"{exc.code}:{exc.details.get('field')}") or WARNING_REFUSALS.get(exc.code)
    return str(said) if said is not None else refusal(exc)


def _version(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else -1  # a mangled version never matches: stale, not silently ignored


@login_required
@require_POST
def warning_act(request: HttpRequest, alert_id: int, step: str) -> HttpResponse:
    """A verification step posted as a plain form (the same actions as ``POST /api/v1/corrections/warnings/{id}/
    {step}``), then back to the warning's page with a message (PRG). 404 for a warning the user does not see,
    403 for one the user sees but may not act on (the procurator)."""
    if step not in WARNING_STEPS:
        raise Http404
    try:
        alert = queries.warning(request.user, alert_id)
    except NotFoundError:
        raise Http404 from None
    post, user = request.POST, request.user
    version = _version(post.get("version", ""))
    try:
        if step == "verify":
            alert = actions.start_verifying(user, alert, note=post.get("note", ""), version=version)
            done = _("Verification started.")
        elif step == "found":
            actions.record_finding(user, alert, method=post.get("method", ""), text=post.get("text", ""))
            done = _("What was found is recorded.")
        elif step == "dismiss":
            alert = actions.dismiss_warning(user, alert, reason=post.get("reason", ""), note=post.get("note", ""),
                                            version=version)
            done = _("Warning dismissed.")
        else:
            alert = actions.escalate_warning(user, alert, note=post.get("note", ""), version=version)
            done = _("Warning escalated to the police: event {event}.").format(
                event=alert.event.number if alert.event else "")
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, f"{alert.number}: {_warning_refusal(exc)}")
    else:
        messages.success(request, f"{alert.number}: {done}")
    return redirect(reverse("corrections:warning", kwargs={"alert_id": alert.pk}) + f"#w{alert.pk}")


# -- core areas --------------------------------------------------------------------------------------------


def _core_form_values(post: Any) -> dict[str, Any]:
    """The core-area form: shape (polygon rings as JSON, or a circle: lon, lat, radius), schedule (dates and a
    daily window, both optional), whom it applies to, police post, minutes, tolerance."""
    from pingan.core.errors import ValidationFailed

    values: dict[str, Any] = {}
    shape = post.get("shape", "polygon")
    if shape == "circle":
        try:
            values["coords"] = [float(post.get("lon", "")), float(post.get("lat", ""))]
            values["radius_m"] = float(post.get("radius_m", "") or 0)
        except ValueError:
            raise ValidationFailed("invalid_geometry", _("Give the circle's centre and radius as numbers."),
                                   field="coords") from None
    else:
        try:
            values["coords"] = json.loads(post.get("coords", "") or "null")
        except json.JSONDecodeError:
            raise ValidationFailed("invalid_geometry", _("The polygon must be JSON: [[[lon, lat], …]]."),
                                   field="coords") from None
    values["shape"] = "circle" if shape == "circle" else "polygon"
    schedule: dict[str, Any] = {}
    if post.get("date_from") and post.get("date_to"):
        schedule["dates"] = [[post["date_from"], post["date_to"]]]
    if post.get("window_from") and post.get("window_to"):
        schedule["windows"] = [[post["window_from"], post["window_to"]]]
    values["schedule"] = schedule or None
    values["applies_to"] = post.get("applies_to", AppliesTo.ALL)
    values["levels"] = post.getlist("levels")
    post_code = post.get("police_post", "")
    values["police_post"] = Organisation.objects.filter(code=post_code).first() if post_code else None
    minutes = post.get("verify_minutes", "")
    values["verify_minutes"] = int(minutes) if minutes.isdigit() else None
    try:
        values["buffer_m"] = float(post.get("buffer_m", "") or 50)
    except ValueError:
        values["buffer_m"] = -1.0
    return values


@login_required
@require_http_methods(["GET", "POST"])
def core_area_list(request: HttpRequest) -> HttpResponse:
    _require_perm(request, perms.MANAGE_CORE_AREA.code)
    if request.method == "POST":
        try:
            values = _core_form_values(request.POST)
            area = geo_queries.area_by_code(request.POST.get("area", ""), "area")
            actions.create_core_area(request.user, actions.CoreAreaInput(
                name=request.POST.get("name", ""), description=request.POST.get("description", ""), area=area, **values))
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied from exc
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Core area saved."))
            return redirect("corrections:core_areas")
    rows = [presenters.core_area_row(c) for c in queries.core_areas(request.user)]
    for row in rows:
        schedule = row["schedule"] or {}
        row["dates"] = (schedule.get("dates") or [["", ""]])[0]
        row["window"] = (schedule.get("windows") or [["", ""]])[0]
    return render(request, "corrections/core_areas.html", {
        "rows": rows, "levels": Level.choices, "applies": AppliesTo.choices,
        "posts": Organisation.objects.filter(kind=OrgKind.POLICE_STATION, is_active=True).order_by("code"),
        "towns": Area.objects.filter(level__in=["district", "town"]).order_by("code"), "watermark": True,
        "default_minutes": actions._verify_minutes(None),
    })


@login_required
@require_POST
def core_area_edit(request: HttpRequest, core_id: int) -> HttpResponse:
    _require_perm(request, perms.MANAGE_CORE_AREA.code)
    try:
        core = queries.core_area(request.user, core_id)
    except NotFoundError:
        raise Http404 from None
    version = request.POST.get("version", "")
    try:
        if request.POST.get("deactivate"):
            actions.deactivate_core_area(request.user, core, version=int(version) if version.isdigit() else None)
        else:
            values = _core_form_values(request.POST)
            actions.update_core_area(
                request.user, core, version=int(version) if version.isdigit() else None,
                name=request.POST.get("name") or None, schedule=values["schedule"], applies_to=values["applies_to"],
                levels=values["levels"], police_post=values["police_post"], verify_minutes=values["verify_minutes"],
                buffer_m=values["buffer_m"])
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Core area saved."))
    return redirect("corrections:core_areas")



"""Pages of 如燕. Parse, call a query or an action, render; access is asked of the policy (a list the user may
not open answers 403, a subject or leave the user may not see answers 404)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core.errors import DomainError, NotFoundError, PermissionDeniedError
from pingan.corrections import actions, presenters, queries
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    FINAL_PHONE_CHECK_STATES,
    LeaveRequest,
    LeaveState,
    Level,
    PhoneCheck,
    PhoneCheckState,
    PhoneCheckVerdict,
    Subject,
    SubjectState,
    VoiceVerdict,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
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


def _number(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


def _leave_input(post: Any) -> actions.LeaveInput | None:
    starts_at, ends_at = _moment(post.get("starts_at", "")), _moment(post.get("ends_at", ""))
    if starts_at is None or ends_at is None:
        return None
    return actions.LeaveInput(destination=post.get("destination", ""), starts_at=starts_at, ends_at=ends_at,
                              reason=post.get("reason", ""), dest_lon=_number(post.get("dest_lon", "")),
                              dest_lat=_number(post.get("dest_lat", "")),
                              radius_km=_number(post.get("radius_km", "")) or 10.0)


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

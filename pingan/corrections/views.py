"""Pages of 如燕. Parse, call a query or an action, render; access is asked of the policy (a list the user may
not open answers 403, a subject the user may not see 404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core.errors import DomainError, NotFoundError
from pingan.corrections import actions, queries
from pingan.corrections import permissions as perms
from pingan.corrections.models import (
    FINAL_PHONE_CHECK_STATES,
    Level,
    PhoneCheck,
    PhoneCheckState,
    PhoneCheckVerdict,
    Subject,
    SubjectState,
    VoiceVerdict,
)

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

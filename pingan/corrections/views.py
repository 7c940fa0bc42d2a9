"""Pages of 如燕. Parse, call a query or an action, render; access is asked of the policy (a page the user may not
open answers 403, an object the user may not see 404)."""

from __future__ import annotations

# Core areas and reverse warnings ----------------------------------------------------------------------
#
# The warning queue (/corrections/warnings/): open warnings newest first, each with a countdown to its deadline,
# the audible alarm for warnings that arrive while the page is open (warnings.js polls the API), and the
# verification panel (start verifying, record what was found, dismiss with a reason, escalate; the steps so far),
# which calls /api/v1/corrections/warnings/{id}/…. The core-area page (/corrections/core-areas/) lists, creates,
# changes and deactivates core areas for holders of corrections.manage_core_area.
import json
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind
from pingan.core import clock
from pingan.core.errors import DomainError, NotFoundError
from pingan.corrections import actions, presenters, queries
from pingan.corrections import permissions as perms
from pingan.corrections.models import AppliesTo, Level, VerifyMethod
from pingan.geo.models import Area

SHANGHAI = ZoneInfo("Asia/Shanghai")
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
    user = request.user
    waiting = [_queue_row(presenters.warning_row(a, user)) for a in queries.warnings(user, state="active")[:WARNING_QUEUE_LIMIT]]
    recent = [_queue_row(presenters.warning_row(a, user))
              for a in queries.warnings(user, state="dismissed,escalated,closed")[:20]]
    last_id = queries.warnings(user).order_by("-id").values_list("id", flat=True).first() or 0
    return render(request, "corrections/warnings.html", {
        "waiting": waiting, "recent": recent, "last_id": last_id, "poll_ms": 3000, "labels": _warning_labels(),
        "methods": VerifyMethod.choices, "reasons": [(k, _warning_labels()["reason"][k]) for k, _v in DISMISS_CHOICES],
        "can_act": policy.has_perm(user, perms.MANAGE_SUBJECT.code), "watermark": True,
    })


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
            area = Area.objects.filter(code=request.POST.get("area", "")).first()
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



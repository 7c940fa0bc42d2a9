"""Pages of tracking: the alert queue (live, with an audible alarm), an alert with its steps, the live map of
latest positions, and a target with its devices, alerts and track playback. Parse, call a query or an
action, render; access is asked of the policy (a list the user may not open answers 403, a single target or
alert the user may not see answers 404). The pages' scripts read positions, zones, alerts and tracks from the
API, so a track is only ever read through ``queries.track`` (which audits every read)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from pingan.accounts import policy
from pingan.accounts.permissions import VIEW_AREA
from pingan.core import clock
from pingan.core.errors import DomainError, NotFoundError
from pingan.geo import queries as geo_queries
from pingan.tracking import actions, presenters, queries
from pingan.tracking import permissions as perms
from pingan.tracking.models import ACTIVE_ALERT_STATES, Alert, AlertState, DismissReason, Severity, TargetKind

ACTIONS = ("acknowledge", "dismiss", "escalate", "close", "note")
QUEUE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.ESCALATED)  # still need someone
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUE_LIMIT = 200
RECENT_LIMIT = 20
STEP_LABELS = {
    "raised": gettext_lazy("raised"), "acknowledged": gettext_lazy("acknowledged"), "dismissed": gettext_lazy("dismissed"),
    "escalated": gettext_lazy("escalated"), "closed": gettext_lazy("closed"), "noted": gettext_lazy("note added"),
    "late": gettext_lazy("verification late"), "cleared": gettext_lazy("condition cleared"),
}


def require_perm(request: HttpRequest, perm: str) -> None:
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied


def visible_alert(request: HttpRequest, alert_id: int) -> Alert:
    try:
        return queries.alert(request.user, alert_id)
    except NotFoundError:
        raise Http404 from None


def map_settings(request: HttpRequest) -> dict[str, Any]:
    """Tiles (optional: sites may be offline) and the viewer's own areas, outlined so that a map without
    tiles still has something to find one's way by."""
    roots = geo_queries.root_areas(request.user) if policy.has_perm(request.user, VIEW_AREA.code) else []
    return {"tile_url": settings.PINGAN_TILE_URL, "tile_attribution": settings.PINGAN_TILE_ATTRIBUTION,
            "root_codes": ",".join(a.code for a in roots[:20])}


def labels() -> dict[str, Any]:
    """Display names the pages' scripts need for rows they draw themselves."""
    return {"severity": {k: str(v) for k, v in Severity.choices}, "state": {k: str(v) for k, v in AlertState.choices},
            "reason": {k: str(v) for k, v in DismissReason.choices}, "kind": {k: str(v) for k, v in TargetKind.choices}}


def queue_row(alert: Alert, user: Any) -> dict[str, Any]:
    row = presenters.alert_row(alert)
    return row | {"actions": presenters.alert_actions(alert, user),
                  "severity_label": Severity(alert.severity).label, "state_label": AlertState(alert.state).label,
                  "dismiss_reason_label": DismissReason(alert.dismiss_reason).label if alert.dismiss_reason else "",
                  "active": alert.state in ACTIVE_ALERT_STATES}


# -- the alert queue --------------------------------------------------------------------------------


@login_required
@require_GET
def alert_queue(request: HttpRequest) -> HttpResponse:
    require_perm(request, perms.VIEW_ALERT.code)
    user = request.user
    rank = {s: i for i, s in enumerate(QUEUE_STATES)}
    waiting = [queue_row(a, user) for a in queries.alerts(user, state=",".join(s.value for s in QUEUE_STATES))[:QUEUE_LIMIT]]
    waiting.sort(key=lambda r: (rank[r["state"]], r["severity"] != Severity.ALARM, r["verify_by"], r["id"]))
    recent = [queue_row(a, user) for a in queries.alerts(user, state=f"{AlertState.DISMISSED.value},{AlertState.CLOSED.value}")
              .order_by("-id")[:RECENT_LIMIT]]
    last_id = queries.alerts(user).order_by("-id").values_list("id", flat=True).first() or 0
    return render(request, "tracking/alerts.html", {
        "waiting": waiting, "recent": recent, "last_id": last_id, "reasons": DismissReason.choices,
        "active_count": sum(1 for r in waiting if r["active"]), "labels": labels(), "watermark": True,
        "poll_ms": 4000, "template_row": template_row(),
        "can_handle": policy.has_perm(user, perms.HANDLE_ALERT.code),
    })


def template_row() -> dict[str, Any]:
    """An empty row with every action, rendered into a <template> that the queue's script fills in for the
    alerts that arrive while the page is open (it keeps the actions the API offers for each)."""
    return {"id": 0, "number": "", "rule": "", "rule_label": "", "severity": "", "severity_label": "", "state": "",
            "state_label": "", "target_id": 0, "target_label": "", "zone_name": None, "place": None, "raised_at": None,
            "verify_by": None, "seconds_left": 0, "late": False, "version": 0, "active": True, "actions": list(ACTIONS),
            "event_id": None, "event_number": None, "dismiss_reason_label": ""}


# -- one alert ----------------------------------------------------------------------------------------


@login_required
@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = visible_alert(request, alert_id)
    return render(request, "tracking/alert.html", alert_context(request, alert))


def alert_context(request: HttpRequest, alert: Alert) -> dict[str, Any]:
    zone = queries.zones(request.user).filter(pk=alert.zone_id).first() if alert.zone_id else None
    steps = [presenters.step_row(s) | {"label": STEP_LABELS.get(s.action, s.action),
                                       "to_state_label": AlertState(s.to_state).label if s.to_state else "",
                                       "reason_label": (DismissReason(s.data["reason"]).label
                                                        if s.data.get("reason") in DismissReason.values else "")}
             for s in queries.steps(alert)]
    return {
        "alert": alert, "a": queue_row(alert, request.user), "steps": steps, "reasons": DismissReason.choices,
        "zone": ({"id": zone.pk, "name": zone.name, "kind": zone.kind, "shape": zone.shape, "coords": zone.coords,
                  "radius_m": zone.radius_m, "width_m": zone.width_m} if zone else None),
        "point": ({"lon": alert.lon, "lat": alert.lat} if alert.lon is not None and alert.lat is not None else None),
        "can_see_target": policy.can(request.user, perms.VIEW_TARGET.code, alert.target),
        "watermark": True, "labels": labels(), **map_settings(request),
    }


def _version(post: Any) -> int | None:
    raw = str(post.get("version", ""))
    return int(raw) if raw.isdigit() else None


def run_action(request: HttpRequest, alert: Alert, action: str) -> None:
    user, post, version = request.user, request.POST, _version(request.POST)
    note = post.get("note", "").strip()
    if action == "acknowledge":
        actions.acknowledge_alert(user, alert, note=note, version=version)
    elif action == "dismiss":
        actions.dismiss_alert(user, alert, reason=post.get("reason", ""), note=note, version=version)
    elif action == "escalate":
        actions.escalate_alert(user, alert, note=note, version=version)
    elif action == "close":
        actions.close_alert(user, alert, note=note, version=version)
    elif action == "note":
        actions.note_alert(user, alert, note=note)
    else:  # pragma: no cover — the view admits only ACTIONS
        raise Http404


def refusal(exc: DomainError) -> str:
    """What to tell the user when an action is refused (the domain's messages are for developers)."""
    said = {
        "stale_version": _("Someone else changed this alert first; it is shown as it is now."),
        "illegal_transition": _("This action does not apply to the alert in its current state."),
        "required": _("Write what was found: a note is required for this reason."),
        "invalid_reason": _("Choose a reason."),
        "too_long": _("The note is too long (at most 500 characters)."),
        "no_position": _("An alert without a position cannot open an event."),
    }
    return str(said.get(exc.code, exc.message))


@login_required
@require_POST
def alert_act(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    """The alert page's (and the queue's, without JavaScript) action forms; the queue's script calls the
    API instead. Back to ``next`` (a local page) or to the alert."""
    if action not in ACTIONS:
        raise Http404
    alert = visible_alert(request, alert_id)
    try:
        run_action(request, alert, action)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("Done."))
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return redirect(back)
    return redirect("tracking:alert", alert_id=alert.pk)


# -- the live map ------------------------------------------------------------------------------------


@login_required
@require_GET
def live_map(request: HttpRequest) -> HttpResponse:
    require_perm(request, perms.VIEW_TARGET.code)
    return render(request, "tracking/map.html", {"watermark": True, "refresh_ms": 15000, **map_settings(request)})


# -- a target ----------------------------------------------------------------------------------------


@login_required
@require_GET
def target_detail(request: HttpRequest, target_id: int) -> HttpResponse:
    try:
        target = queries.target(request.user, target_id)
    except NotFoundError:
        raise Http404 from None
    now = clock.now().astimezone(SHANGHAI)
    alerts = ([queue_row(a, request.user) for a in queries.alerts(request.user, target_id=target.pk)[:50]]
              if policy.has_perm(request.user, perms.VIEW_ALERT.code) else [])
    return render(request, "tracking/target.html", {
        "target": target, "t": presenters.target_row(target), "devices": queries.devices(request.user, target),
        "alerts": alerts, "can_track": policy.can(request.user, perms.VIEW_TRACK.code, target),
        # the inputs hold minutes: the period ends at the next full minute, so it includes the newest fix
        "track_from": (now - dt.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
        "track_to": (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "watermark": True, **map_settings(request),
    })

"""Pages of the closed loop: inboxes, the report form, the event page with its actions, the events map
and the Excel export. Parse, call an action or a query, render; access is asked of the policy."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind
from pingan.accounts.permissions import VIEW_AREA
from pingan.core import audit, clock
from pingan.core.errors import DomainError, NotFoundError, ValidationFailed
from pingan.events import actions, exports, notify, presenters, queries
from pingan.events import permissions as ep
from pingan.events.models import Event, EventType, Priority, ResolutionMethod, State
from pingan.events.uploads import clean_upload
from pingan.geo import queries as geo_queries

BOXES: list[tuple[str, Any]] = [
    ("to_accept", gettext_lazy("To accept")),
    ("to_handle", gettext_lazy("To handle")),
    ("to_verify", gettext_lazy("To verify")),
    ("returned", gettext_lazy("Sent back")),
    ("overdue", gettext_lazy("Overdue")),
    ("supervised", gettext_lazy("Supervised")),
    ("parked", gettext_lazy("Parked")),
    ("mine", gettext_lazy("Reported by me")),
]
FILTER_KEYS = ("state", "type", "area", "from", "to", "overdue", "unit")
DISPATCH_KINDS = (OrgKind.DEPARTMENT, OrgKind.POLICE_STATION, OrgKind.JUDICIAL_OFFICE, OrgKind.WORKSTATION,
                  OrgKind.MEDIATION_COMMITTEE, OrgKind.TOWN_GOVERNMENT, OrgKind.COMMITTEE)


def require_perm(request: HttpRequest, perm: str) -> None:
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied


def visible_event(request: HttpRequest, event_id: int) -> Event:
    """The event when the viewer may see it; 404 otherwise (don't confirm it exists)."""
    event = Event.objects.select_related("event_type", "event_type__parent", "area", "lead_unit", "reporter",
                                         "village", "town", "workstation").filter(pk=event_id).first()
    if event is None or not policy.can(request.user, ep.VIEW_EVENT.code, event):
        raise Http404
    return event


def _date(raw: str) -> dt.date | None:
    try:
        return parse_date(raw) if raw else None
    except ValueError:
        return None


def filters_from(request: HttpRequest) -> dict[str, Any]:
    """The list filters from the query string, as ``queries.filtered`` takes them (bad dates are ignored)."""
    get = request.GET
    overdue = get.get("overdue", "")
    return {
        "state": get.get("state", "").strip(), "type": get.get("type", "").strip(), "area": get.get("area", "").strip(),
        "date_from": _date(get.get("from", "")), "date_to": _date(get.get("to", "")),
        "overdue": True if overdue in ("1", "true", "on") else (False if overdue in ("0", "false") else None),
        "unit": get.get("unit", "").strip(), "box": get.get("box", "").strip(),
    }


# -- inboxes ----------------------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    require_perm(request, ep.VIEW_EVENT.code)
    box = request.GET.get("box", "")
    if box and box not in dict(BOXES):
        box = ""
    filters = filters_from(request) | {"box": box}
    counts = queries.inbox_counts(request.user)
    tabs = [{"box": code, "label": label, "count": counts.get(code, 0), "active": code == box} for code, label in BOXES]
    try:
        qs = queries.filtered(request.user, **filters)
    except DomainError as exc:
        messages.error(request, exc.message)
        qs = queries.filtered(request.user, box=box)
    qs = qs.select_related("event_type", "event_type__parent", "area", "lead_unit")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "events/inbox.html", {
        "tabs": tabs, "box": box, "page": page, "filters": {k: request.GET.get(k, "") for k in FILTER_KEYS},
        "states": State.choices, "types": EventType.objects.filter(is_active=True, parent__isnull=True).order_by("order"),
        "can_export": policy.has_perm(request.user, ep.EXPORT_EVENTS.code),
        "can_report": policy.has_perm(request.user, ep.REPORT_EVENT.code),
        "query": request.GET.urlencode(),
    })


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """The filtered list as an Excel file (formula-like cells neutralised). Recorded in the audit log."""
    require_perm(request, ep.EXPORT_EVENTS.code)
    filters = filters_from(request)
    try:
        queries.filtered(request.user, **filters)
    except DomainError:
        filters = {"box": filters["box"]}
    events = list(
        policy.restrict(request.user, ep.EXPORT_EVENTS.code, queries.filtered(request.user, **filters))
        .select_related("event_type", "event_type__parent", "area", "lead_unit")[:50_000]
    )
    body = exports.export_events(events)
    audit.record(request.user, "pingan.event.exported", changes={
        "count": len(events), "filters": {k: str(v) for k, v in filters.items() if v not in ("", None)}})
    response = HttpResponse(body, content_type=exports.XLSX_CONTENT_TYPE)
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="events-{stamp}.xlsx"'
    return response


# -- report -----------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ReportForm(forms.Form):
    event_type = forms.ChoiceField(label=gettext_lazy("Type"))
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    description = forms.CharField(label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 4}),
                                  max_length=5000)
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    lon = forms.FloatField(min_value=-180, max_value=180, widget=forms.HiddenInput,
                           error_messages={"required": gettext_lazy("Pick the place on the map.")})
    lat = forms.FloatField(min_value=-90, max_value=90, widget=forms.HiddenInput,
                           error_messages={"required": gettext_lazy("Pick the place on the map.")})
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    idempotency_key = forms.CharField(max_length=80, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[Any] = []
        types = list(EventType.objects.filter(is_active=True).select_related("parent").order_by("order", "code"))
        for top in (t for t in types if t.parent_id is None):
            children = [(c.code, c.name) for c in types if c.parent_id == top.pk]
            choices.append((top.name, [(top.code, top.name), *children]) if children else (top.code, top.name))
        field = self.fields["event_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


@login_required
def report(request: HttpRequest) -> HttpResponse:
    require_perm(request, ep.REPORT_EVENT.code)
    if request.method == "POST":
        form = ReportForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                photos = request.FILES.getlist("photos")[:9]
                for photo in photos:  # refuse a bad file before the event exists
                    clean_upload(photo)
                event = actions.report_event(request.user, actions.ReportInput(
                    event_type=d["event_type"], title=d["title"], description=d["description"], lon=d["lon"], lat=d["lat"],
                    address=d["address"], priority=d["priority"], source="grid_patrol",
                ), idempotency_key=d["idempotency_key"], client_ip=request.META.get("REMOTE_ADDR"))
                for photo in photos:
                    actions.add_attachment(request.user, event, upload=photo, stage="report")
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Event %(number)s reported.") % {"number": event.number})
                if policy.can(request.user, ep.VIEW_EVENT.code, event):
                    return redirect("events:detail", event_id=event.pk)
                return redirect("events:report")
    else:
        initial = {"idempotency_key": uuid.uuid4().hex, "priority": Priority.NORMAL}
        for key in ("lon", "lat"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
        form = ReportForm(initial=initial)
    return render(request, "events/report.html", {"form": form, **map_settings(request)})


def map_settings(request: HttpRequest) -> dict[str, Any]:
    """Tiles (optional: sites may be offline) and the viewer's own areas, outlined so there is something
    to find one's way by on a map without tiles."""
    roots = geo_queries.root_areas(request.user) if policy.has_perm(request.user, VIEW_AREA.code) else []
    return {"tile_url": settings.PINGAN_TILE_URL, "tile_attribution": settings.PINGAN_TILE_ATTRIBUTION,
            "root_codes": ",".join(a.code for a in roots[:20])}


# -- the event page and its actions -----------------------------------------------------------------


def event_context(request: HttpRequest, event: Event) -> dict[str, Any]:
    event_dict = presenters.event_detail(event, request.user)
    allowed = event_dict["actions"]
    return {
        "event": event, "e": event_dict, "allowed": allowed,
        "timeline": presenters.timeline_rows(queries.timeline(event)),
        "units": (Organisation.objects.filter(is_active=True, kind__in=DISPATCH_KINDS).order_by("kind", "code")
                  if "dispatch" in allowed else []),
        "methods": ResolutionMethod.choices,
        "pending_extension": presenters.pending_extension(event) if "extension-decide" in allowed else None,
        "today": actions.local_day(clock.now()), "watermark": True,
        "duplicates": (policy.restrict(request.user, ep.VIEW_EVENT.code, actions.possible_duplicates(event))[:10]
                       if "merge" in allowed else []),
    }


@login_required
@require_GET
def detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = visible_event(request, event_id)
    return render(request, "events/detail.html", event_context(request, event))


def _version(post: Any) -> int | None:
    raw = post.get("version", "")
    return int(raw) if str(raw).isdigit() else None


def _datetime(raw: str) -> dt.datetime:
    value = parse_datetime(raw or "")
    if value is None:
        day = parse_date(raw or "")
        if day is None:
            raise ValidationFailed("bad_date", _("Enter a date."))
        value = dt.datetime.combine(day, dt.time(17, 30))
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return value


def run_action(request: HttpRequest, event: Event, action: str) -> None:  # noqa: C901 — one branch per action
    """Parse the action's form and call its action function (which checks everything again)."""
    user, post, version = request.user, request.POST, _version(request.POST)
    note = post.get("note", "").strip()
    reason = post.get("reason", "").strip()
    if action == "accept":
        actions.accept_event(user, event, note=note, version=version)
    elif action == "reject":
        actions.reject_event(user, event, reason=reason, version=version)
    elif action == "merge":
        into = Event.objects.filter(number=post.get("into", "").strip()).first()
        if into is None or not policy.can(user, ep.VIEW_EVENT.code, into):
            raise ValidationFailed("unknown_event", _("No such event to merge into."))
        actions.merge_event(user, event, into=into, version=version)
    elif action == "dispatch":
        lead = Organisation.objects.filter(code=post.get("lead_unit", ""), is_active=True).first()
        if lead is None:
            raise ValidationFailed("unknown_unit", _("Choose the lead unit."))
        assisting = list(Organisation.objects.filter(code__in=post.getlist("assisting_units"), is_active=True)
                         .exclude(pk=lead.pk))
        actions.dispatch_event(user, event, lead_unit=lead, assisting_units=assisting, note=note, version=version)
    elif action == "return":
        actions.return_event(user, event, reason=reason, version=version)
    elif action == "start":
        actions.start_event(user, event, version=version)
    elif action == "progress":
        photos = request.FILES.getlist("photos")[:9]
        for photo in photos:
            clean_upload(photo)
        actions.add_progress(user, event, note=note)
        for photo in photos:
            actions.add_attachment(user, event, upload=photo, stage="progress")
    elif action == "complete-task":
        task = presenters.own_open_task(user, event)
        if task is None:
            raise NotFoundError("no_task", _("Your unit has no open task on this event."))
        actions.complete_task(user, task, note=note)
    elif action == "resolve":
        actions.resolve_event(user, event, result=post.get("result", "").strip(), measures=post.get("measures", "").strip(),
                              method=post.get("method", ""), version=version)
    elif action == "verify":
        actions.verify_event(user, event, note=note, version=version)
    elif action == "rework":
        actions.rework_event(user, event, reason=reason, version=version)
    elif action == "close":
        raw = post.get("satisfaction", "")
        if not raw.isdigit():
            raise ValidationFailed("bad_satisfaction", _("Choose the satisfaction (1–5)."))
        actions.close_event(user, event, satisfaction=int(raw), note=note, version=version)
    elif action == "escalate":
        actions.escalate_event(user, event, reason=reason, version=version)
    elif action == "supervise":
        due = _datetime(post["due"]) if post.get("due") else None
        actions.supervise_event(user, event, note=note, due=due, version=version)
    elif action == "reopen":
        actions.reopen_event(user, event, reason=reason, version=version)
    elif action == "park":
        review_on = parse_date(post.get("review_on", "") or "")
        if review_on is None:
            raise ValidationFailed("bad_date", _("Enter the review date."))
        actions.park_event(user, event, reason=reason, review_on=review_on, version=version)
    elif action == "unpark":
        actions.unpark_event(user, event, note=note, version=version)
    elif action == "extension-request":
        actions.request_extension(user, event, reason=reason, new_due=_datetime(post.get("new_due", "")))
    elif action == "extension-decide":
        extension = presenters.pending_extension(event)
        if extension is None:
            raise NotFoundError("no_extension", _("There is no pending extension request."))
        actions.decide_extension(user, extension, approve=post.get("approve") == "1", note=note)
    else:  # pragma: no cover — the URL only admits known actions
        raise Http404


@login_required
@require_POST
def act(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    if action not in presenters.ACTIONS:
        raise Http404
    event = visible_event(request, event_id)
    error = None
    try:
        run_action(request, event, action)
    except ValueError:
        error = _("Some of the values could not be read.")
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        if exc.status == 404:
            raise Http404 from exc
        error = exc.message if exc.code not in ("illegal_transition", "stale_version") else (
            _("Someone else changed this event first; it is shown as it is now.") if exc.code == "stale_version"
            else _("This action does not apply to the event in its current state."))
    event = visible_event(request, event_id)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "events/partials/event_body.html", event_context(request, event) | {"error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Done."))
    return redirect("events:detail", event_id=event.pk)


# -- the events map ---------------------------------------------------------------------------------


@login_required
@require_GET
def events_map(request: HttpRequest) -> HttpResponse:
    require_perm(request, ep.VIEW_EVENT.code)
    return render(request, "events/map.html", {
        "states": State.choices, "types": EventType.objects.filter(is_active=True, parent__isnull=True).order_by("order"),
        "filters": {k: request.GET.get(k, "") for k in FILTER_KEYS},
        "can_report": policy.has_perm(request.user, ep.REPORT_EVENT.code), **map_settings(request),
    })


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """The user's own in-app notifications, newest first; POST marks the ticked ones (or all) read."""
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
        count = notify.mark_read(request.user, ids if request.POST.get("all") != "1" else None)
        messages.success(request, _("%(count)d marked read.") % {"count": count})
        return redirect("events:notifications")
    page = Paginator(notify.all_for(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "events/notifications.html", {"page": page, "unread": notify.unread_for(request.user).count()})

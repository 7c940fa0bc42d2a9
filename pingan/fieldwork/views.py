"""Field-work pages: parse, call an action or a query, render. Access is asked of the policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pingan.accounts import actions as account_actions
from pingan.accounts import policy
from pingan.core.errors import DomainError, NotFoundError, PermissionDeniedError
from pingan.fieldwork import actions, forms, queries
from pingan.fieldwork import permissions as fp
from pingan.fieldwork.models import Patrol, Place, PlaceKind, Visit


def _require(request: HttpRequest, perm: str) -> None:
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied


def _call(request: HttpRequest, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Run an action: refusals become 403/404; validation and conflicts come back as a message."""
    try:
        return fn(*args, **kwargs), None
    except PermissionDeniedError:
        raise PermissionDenied from None
    except NotFoundError:
        raise Http404 from None
    except DomainError as exc:
        return None, exc.message


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _page(request: HttpRequest, rows: Any, size: int = 50) -> Any:
    return Paginator(rows, size).get_page(request.GET.get("page"))


def _form_errors(form: Any) -> str:
    return "; ".join(f"{form.fields[k].label if k in form.fields else ''} {' '.join(v)}".strip()
                     for k, v in form.errors.items())


# --- patrols ---------------------------------------------------------------------------------


@login_required
def patrol(request: HttpRequest) -> HttpResponse:
    """The grid worker's patrol page: start, add positions, report on the way, end."""
    _require(request, fp.PATROL.code)
    current = queries.open_patrol(request.user)
    recent = queries.patrols(request.user, worker_id=request.user.pk)[:10] \
        if policy.has_perm(request.user, fp.VIEW_FIELDWORK.code) else []
    return render(request, "fieldwork/patrol.html", {
        "current": current,
        "events": queries.patrol_events(request.user, current) if current else [],
        "start_form": forms.PatrolStartForm(user=request.user),
        "end_form": forms.PatrolEndForm(),
        "report_form": forms.ReportForm(),
        "recent": recent,
    })


@login_required
@require_POST
def patrol_start(request: HttpRequest) -> HttpResponse:
    _require(request, fp.PATROL.code)
    form = forms.PatrolStartForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("fieldwork:patrol")
    _patrol, error = _call(request, actions.start_patrol, request.user, form.cleaned_data["grid"])
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Patrol started."))
    return redirect("fieldwork:patrol")


@login_required
@require_POST
def patrol_point(request: HttpRequest, patrol_id: int) -> HttpResponse:
    """Add the current position (the page posts it from navigator.geolocation)."""
    patrol = get_object_or_404(Patrol, pk=patrol_id)
    form = forms.PointForm(request.POST)
    if not form.is_valid():
        if _wants_json(request):
            return JsonResponse({"code": "invalid_point", "message": _form_errors(form)}, status=422)
        messages.error(request, _form_errors(form))
        return redirect("fieldwork:patrol")
    d = form.cleaned_data
    updated, error = _call(request, actions.add_patrol_point, request.user, patrol, d["lon"], d["lat"], d.get("crs") or "wgs84")
    if _wants_json(request):
        if error:
            return JsonResponse({"message": error}, status=409)
        return JsonResponse({"points": len(updated.track), "distance_m": updated.distance_m})
    if error:
        messages.error(request, error)
    return redirect("fieldwork:patrol")


@login_required
@require_POST
def patrol_end(request: HttpRequest, patrol_id: int) -> HttpResponse:
    patrol = get_object_or_404(Patrol, pk=patrol_id)
    form = forms.PatrolEndForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("fieldwork:patrol")
    _ended, error = _call(request, actions.end_patrol, request.user, patrol, form.cleaned_data["notes"],
                          places_checked=form.cleaned_data["places_checked"])
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Patrol ended."))
    return redirect("fieldwork:patrol")


@login_required
@require_POST
def patrol_report(request: HttpRequest, patrol_id: int) -> HttpResponse:
    patrol = get_object_or_404(Patrol, pk=patrol_id)
    form = forms.ReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("fieldwork:patrol")
    event, error = _call(request, actions.report_on_patrol, request.user, patrol, form.report_input(actions.SOURCE_PATROL),
                         idempotency_key=request.POST.get("idempotency_key") or None)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Event %(number)s reported.") % {"number": event.number})
    return redirect("fieldwork:patrol")


@login_required
def patrols(request: HttpRequest) -> HttpResponse:
    """Patrols in the user's scope (for supervisors)."""
    _require(request, fp.VIEW_FIELDWORK.code)
    grid = request.GET.get("grid", "").strip()
    page = _page(request, queries.patrols(request.user, grid_code=grid))
    return render(request, "fieldwork/patrols.html", {"page": page, "grid": grid})


# --- visits ----------------------------------------------------------------------------------


@login_required
def visits(request: HttpRequest) -> HttpResponse:
    """The visit register of a workstation: the form, the list, repeat visitors flagged."""
    _require(request, fp.VIEW_FIELDWORK.code)
    can_record = policy.has_perm(request.user, fp.RECORD_VISIT.code)
    form = forms.VisitForm(request.POST or None, user=request.user,
                           initial={"person_id": request.GET.get("person") or None}) if can_record else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            person: Any = d["person_id"] or account_actions.PersonInput(
                name=d["name"], id_number=d["id_number"] or None, phone=d["phone"], address=d["address"])
            visit, error = _call(request, actions.register_visit, request.user, d["workstation"], person, d["matter"],
                                 d["departments"], category=d["category"], outcome=d["outcome"])
            if not error:
                messages.success(request, _("Visit registered."))
                return redirect("fieldwork:visit", visit_id=visit.pk)
            messages.error(request, error)
    workstation = request.GET.get("workstation") or ""
    rows = queries.visits(request.user, workstation_id=int(workstation) if workstation.isdigit() else None)
    page = _page(request, rows.prefetch_related("departments"))
    counts = queries.visit_counts(request.user, sorted({v.visitor_id for v in page.object_list}))
    for v in page.object_list:
        v.person_visits = counts.get(v.visitor_id, 1)
    return render(request, "fieldwork/visits.html", {"page": page, "form": form, "watermark": True})


@login_required
def visit_detail(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = get_object_or_404(Visit.objects.select_related("workstation", "visitor", "event", "received_by"), pk=visit_id)
    if not policy.can(request.user, fp.VIEW_FIELDWORK.code, visit):
        raise Http404
    count, history = queries.repeat_visits(request.user, visit.visitor_id)
    can_open = visit.event_id is None and policy.can(request.user, fp.RECORD_VISIT.code, visit)
    form = forms.ReportForm(initial={"title": visit.matter[:60], "description": visit.matter,
                                     "lon": visit.workstation.lon, "lat": visit.workstation.lat,
                                     "address": visit.workstation.address}) if can_open else None
    return render(request, "fieldwork/visit_detail.html", {
        "visit": visit, "count": count, "history": history, "form": form, "watermark": True,
    })


@login_required
@require_POST
def visit_event(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = get_object_or_404(Visit, pk=visit_id)
    form = forms.ReportForm(request.POST)
    if not form.is_valid():
        if not policy.can(request.user, fp.VIEW_FIELDWORK.code, visit):
            raise Http404
        messages.error(request, _form_errors(form))
        return redirect("fieldwork:visit", visit_id=visit.pk)
    event, error = _call(request, actions.open_event_from_visit, request.user, visit,
                         form.report_input(actions.SOURCE_VISIT), idempotency_key=request.POST.get("idempotency_key") or None)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Event %(number)s opened.") % {"number": event.number})
    return redirect("fieldwork:visit", visit_id=visit.pk)


# --- places and inspections ------------------------------------------------------------------


@login_required
def places(request: HttpRequest) -> HttpResponse:
    _require(request, fp.VIEW_FIELDWORK.code)
    can_inspect = policy.has_perm(request.user, fp.INSPECT.code)
    form = forms.PlaceForm(request.POST or None) if can_inspect else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            place, error = _call(request, actions.register_place, request.user, name=d["name"], kind=d["kind"], lon=d["lon"],
                                 lat=d["lat"], crs=d.get("crs") or "wgs84", address=d["address"], enterprise=d["enterprise"])
            if not error:
                messages.success(request, _("Place registered."))
                return redirect("fieldwork:place", place_id=place.pk)
            messages.error(request, error)
    kind, q = request.GET.get("kind", ""), request.GET.get("q", "").strip()
    page = _page(request, queries.places(request.user, kind=kind, q=q))
    return render(request, "fieldwork/places.html", {"page": page, "form": form, "kind": kind, "q": q,
                                                     "kinds": PlaceKind.choices})


@login_required
def place_detail(request: HttpRequest, place_id: int) -> HttpResponse:
    place = get_object_or_404(Place.objects.select_related("area", "enterprise"), pk=place_id)
    if not policy.can(request.user, fp.VIEW_FIELDWORK.code, place):
        raise Http404
    can_inspect = policy.can(request.user, fp.INSPECT.code, place)
    form = forms.InspectionForm(request.POST or None) if can_inspect else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            inspection, error = _call(request, actions.record_inspection, request.user, place, findings=d["findings"],
                                      hazard=d["hazard"], hazard_level=d["hazard_level"])
            if not error:
                if inspection.event:
                    messages.success(request, _("Inspection recorded; hazard event %(number)s opened.")
                                     % {"number": inspection.event.number})
                else:
                    messages.success(request, _("Inspection recorded."))
                return redirect("fieldwork:place", place_id=place.pk)
            messages.error(request, error)
    rows = queries.inspections(request.user, place_id=place.pk)[:100]
    return render(request, "fieldwork/place_detail.html", {"place": place, "rows": rows, "form": form})


@login_required
def inspections(request: HttpRequest) -> HttpResponse:
    _require(request, fp.VIEW_FIELDWORK.code)
    hazard = request.GET.get("hazard") == "1"
    page = _page(request, queries.inspections(request.user, hazard=True if hazard else None))
    return render(request, "fieldwork/inspections.html", {"page": page, "hazard": hazard})


# --- joint enforcement -----------------------------------------------------------------------


@login_required
def enforcement(request: HttpRequest) -> HttpResponse:
    _require(request, fp.VIEW_FIELDWORK.code)
    can_enforce = policy.has_perm(request.user, fp.ENFORCE.code)
    form = forms.JointEnforcementForm(request.POST or None, user=request.user) if can_enforce else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            from pingan.events.models import Event

            d = form.cleaned_data
            numbers = form.numbers()
            ids = list(Event.objects.filter(number__in=numbers).values_list("pk", flat=True))
            error: str | None
            if len(ids) != len(set(numbers)):
                error = _("An event number was not found.")
            else:
                try:
                    _action, error = _call(request, actions.record_joint_enforcement, request.user,
                                           workstation=d["workstation"], departments=d["departments"],
                                           findings=d["findings"], address=d["address"], events=ids)
                except Http404:
                    error = _("An event number was not found.")
            if not error:
                messages.success(request, _("Joint enforcement recorded."))
                return redirect("fieldwork:enforcement")
            messages.error(request, error)
    page = _page(request, queries.joint_enforcements(request.user))
    return render(request, "fieldwork/enforcement.html", {"page": page, "form": form})

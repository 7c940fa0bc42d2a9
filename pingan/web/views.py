"""Pages: parse, call an action or a query, render. Access is asked of the policy, never coded here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from pingan.accounts import actions as account_actions
from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.accounts import queries as account_queries
from pingan.accounts.models import ApiToken, Person
from pingan.core import queries as core_queries
from pingan.core.errors import DomainError
from pingan.geo import queries as geo_queries
from pingan.geo.models import Area


def require_perm(request: HttpRequest, perm: str, obj: Any = None) -> None:
    """403 for a missing permission; 404 for an object outside scope (don't confirm it exists)."""
    if obj is None:
        if not policy.has_perm(request.user, perm):
            raise_forbidden()
    elif not policy.can(request.user, perm, obj):
        raise Http404


def raise_forbidden() -> None:
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return JsonResponse({"status": "ok", "database": connection.vendor})
    except Exception as exc:  # a health check reports, it does not raise
        return JsonResponse({"status": "error", "error": type(exc).__name__}, status=503)


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """What django-axes answers while (username, address) is paused: JSON for the API, a page otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "message": "too many failed attempts; try again later"}, status=429)
    return render(request, "web/locked_out.html", status=429)


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roots = geo_queries.root_areas(request.user) if policy.has_perm(request.user, p.VIEW_AREA.code) else []
    return render(request, "web/home.html", {"roots": roots, "tile_url": settings.PINGAN_TILE_URL,
                                             "tile_attribution": settings.PINGAN_TILE_ATTRIBUTION})


@login_required
def areas(request: HttpRequest) -> HttpResponse:
    require_perm(request, p.VIEW_AREA.code)
    roots = geo_queries.root_areas(request.user)
    if len(roots) == 1:
        return redirect("web:area", code=roots[0].code)
    return render(request, "web/areas.html", {"roots": roots})


@login_required
def area_detail(request: HttpRequest, code: str) -> HttpResponse:
    area = get_object_or_404(Area.objects.select_related("parent"), code=code)
    require_perm(request, p.VIEW_AREA.code, area)
    children = geo_queries.visible_areas(request.user).filter(parent=area).defer("geometry_wkb").order_by("code")
    ancestors = list(Area.objects.filter(code__in=[code[:n] for n in range(1, len(code))]).order_by("code").only("code", "name"))
    responsible = account_queries.responsible_for(request.user, area)
    return render(request, "web/area_detail.html", {
        "area": area, "children": children, "ancestors": ancestors, **responsible,
        "tile_url": settings.PINGAN_TILE_URL, "tile_attribution": settings.PINGAN_TILE_ATTRIBUTION,
    })


@login_required
def persons(request: HttpRequest) -> HttpResponse:
    require_perm(request, p.VIEW_PERSON.code)
    q = request.GET.get("q", "").strip()
    page = Paginator(account_queries.visible_persons(request.user, q), 50).get_page(request.GET.get("page"))
    rows = [account_queries.masked_person(x) for x in page.object_list]
    return render(request, "web/persons.html", {"page": page, "rows": rows, "q": q, "watermark": True})


@login_required
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.select_related("area"), pk=person_id)
    require_perm(request, p.VIEW_PERSON.code, person)
    can_reveal = policy.can(request.user, p.VIEW_PERSON_IDENTITY.code, person)
    return render(request, "web/person_detail.html", {
        "person": account_queries.masked_person(person), "area": person.area, "can_reveal": can_reveal, "watermark": True,
    })


@login_required
@require_POST
def person_reveal(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.select_related("area"), pk=person_id)
    require_perm(request, p.VIEW_PERSON.code, person)
    try:
        account_actions.reveal_person(request.user, person, purpose=request.POST.get("purpose", ""))
    except DomainError:
        raise_forbidden()
    template = "web/partials/person_fields.html" if request.htmx else "web/person_detail.html"  # type: ignore[attr-defined]
    return render(request, template, {"person": account_queries.full_person(person), "area": person.area,
                                      "can_reveal": False, "revealed": True, "watermark": True})


@login_required
def organisations(request: HttpRequest) -> HttpResponse:
    require_perm(request, p.VIEW_ORGANISATION.code)
    kind = request.GET.get("kind", "")
    page = Paginator(account_queries.organisations(request.user, kind), 100).get_page(request.GET.get("page"))
    return render(request, "web/organisations.html", {"page": page, "kind": kind})


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    require_perm(request, p.VIEW_AUDIT.code)
    filters = {k: request.GET.get(k, "").strip() for k in ("action", "actor", "object_type", "object_id", "request_id")}
    page = Paginator(core_queries.search_audit(request.user, **filters), 50).get_page(request.GET.get("page"))
    return render(request, "web/audit.html", {"page": page, "filters": filters})


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    created = None
    if request.method == "POST":
        scopes = request.POST.getlist("scopes") or ["read"]
        try:
            _token, created = account_actions.issue_token(
                request.user, user=request.user, name=request.POST.get("name", ""), scopes=scopes,
                days=int(request.POST.get("days") or settings.PINGAN_API_TOKEN_DAYS),
            )
        except (DomainError, ValueError) as exc:
            messages.error(request, str(exc))
    return render(request, "web/tokens.html", {"tokens": account_queries.own_tokens(request.user), "created": created})


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    account_actions.revoke_token(request.user, token)
    messages.success(request, _("Token revoked."))
    return redirect("web:tokens")

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status
from ninja.pagination import paginate

from pingan.accounts import actions, policy, queries
from pingan.accounts import permissions as p
from pingan.accounts.models import ApiToken, Person, Role
from pingan.accounts.schemas import (
    ErrorOut,
    MeOut,
    OrganisationOut,
    PersonIn,
    PersonOut,
    RevealIn,
    RoleOut,
    TokenCreated,
    TokenOut,
    TokenRequest,
)
from pingan.core.errors import DomainError, NotFoundError

router = Router(tags=["accounts"])


@router.post("/auth/token", auth=None, response={201: TokenCreated, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut})
def create_token(request: HttpRequest, body: TokenRequest) -> Any:
    """Exchange a username and password for a personal API token (shown once). Failed attempts are
    throttled per (username, address)."""
    user = authenticate(request, username=body.username, password=body.password)
    if getattr(request, "axes_locked_out", False):
        return Status(403, {"code": "locked_out", "message": "too many failed attempts; try again later"})
    if user is None:
        return Status(401, {"code": "bad_credentials", "message": "wrong username or password"})
    token, plain = actions.issue_token(user, user=user, name=body.name, scopes=body.scopes, days=body.days)
    return Status(201, {"token": plain, "id": token.pk, "name": token.name, "scopes": token.scopes, "expires_at": token.expires_at})


@router.get("/auth/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest) -> Any:
    return list(queries.own_tokens(request.user))


@router.delete("/auth/tokens/{token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    token = ApiToken.objects.filter(pk=token_id, user_id=request.user.pk or 0).first()
    if token is None:
        raise NotFoundError("not_found", "no such token")
    actions.revoke_token(request.user, token)
    return Status(204, None)


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> Any:
    user = request.user
    reaches = policy.reaches(user)
    assignments = user.assignments.filter(is_active=True).select_related("role", "area", "organisation")  # type: ignore[union-attr]
    perms = sorted({perm for r in reaches for perm in r.permissions})
    return {
        "username": user.username,
        "display_name": getattr(user, "display_name", ""),
        "assignments": [
            {"role": a.role.code, "area_code": a.area.code if a.area else None,
             "organisation_code": a.organisation.code if a.organisation else None}
            for a in assignments
        ],
        "permissions": perms,
    }


@router.get("/roles", response=list[RoleOut])
def list_roles(request: HttpRequest) -> Any:
    policy.require(request.user, p.VIEW_ORGANISATION.code)
    return list(Role.objects.order_by("code"))


@router.get("/organisations", response=list[OrganisationOut])
@paginate
def list_organisations(request: HttpRequest, kind: str = "") -> Any:
    policy.require(request.user, p.VIEW_ORGANISATION.code)
    return [
        {
            "id": o.pk, "code": o.code, "name": o.name, "name_en": o.name_en, "kind": o.kind,
            "parent_code": o.parent.code if o.parent else None, "area_code": o.area.code if o.area else None,
            "address": o.address, "phone": o.phone, "lon": o.lon, "lat": o.lat,
        }
        for o in queries.organisations(request.user, kind)
    ]


@router.get("/persons", response=list[PersonOut])
@paginate
def list_persons(request: HttpRequest, q: str = "") -> Any:
    """Persons in the caller's scope, masked. ``q`` matches a full name or ID number exactly."""
    policy.require(request.user, p.VIEW_PERSON.code)
    return [queries.masked_person(x) for x in queries.visible_persons(request.user, q)]


@router.post("/persons", response={201: PersonOut, 422: ErrorOut, 403: ErrorOut})
def register_person(request: HttpRequest, body: PersonIn) -> Any:
    person = actions.register_person(request.user, actions.PersonInput(**body.dict()))
    return Status(201, queries.masked_person(person))


def _person(request: HttpRequest, person_id: int) -> Person:
    person = get_object_or_404(Person.objects.select_related("area"), pk=person_id)
    if not policy.can(request.user, p.VIEW_PERSON.code, person):
        raise NotFoundError("not_found", "no such person")
    return person


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request: HttpRequest, person_id: int) -> Any:
    return queries.masked_person(_person(request, person_id))


@router.post("/persons/{person_id}/reveal", response={200: PersonOut, 403: ErrorOut})
def reveal_person(request: HttpRequest, person_id: int, body: RevealIn) -> Any:
    """The person's identity in full, for roles that need it. Every call is audited."""
    person = _person(request, person_id)
    try:
        actions.reveal_person(request.user, person, purpose=body.purpose)
    except DomainError as exc:
        return Status(403, {"code": exc.code, "message": exc.message})
    return Status(200, queries.full_person(person))

"""Every change to people, organisations, roles and tokens goes through a function here."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.accounts.models import ApiToken, Gender, Organisation, Person, Role, RoleAssignment, User
from pingan.core import audit, clock, personal
from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.geo.models import Area

TOKEN_PREFIX = "pa_"  # noqa: S105  (a public marker, not a secret)
TOKEN_SCOPES = ("read", "write")


def _system(actor: Any) -> bool:
    return actor is None or isinstance(actor, str)


# --- users and roles -------------------------------------------------------------------------


def create_user(
    actor: Any,
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    organisation: Organisation | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a login. ``actor`` is a user with admin rights, or a string naming a system
    channel (``"cli"``, ``"demo"``) for set-up commands."""
    if not _system(actor) and not getattr(actor, "is_superuser", False):
        raise PermissionDeniedError()
    if User.objects.filter(username=username).exists():
        raise ValidationFailed("username_taken", f"user {username!r} exists")
    user = User(username=username, display_name=display_name, organisation=organisation)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationFailed("weak_password", "; ".join(exc.messages)) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.is_superuser = user.is_staff = is_superuser
    with transaction.atomic():
        user.save()
        audit.record(actor, "pingan.user.created", user, changes={"username": username, "superuser": is_superuser})
    return user


def assign_role(
    actor: Any, user: User, role: Role, *, area: Area | None = None, organisation: Organisation | None = None
) -> RoleAssignment:
    if not _system(actor) and not getattr(actor, "is_superuser", False):
        raise PermissionDeniedError()
    if role.scope == "area" and area is None:
        raise ValidationFailed("area_required", f"role {role.code} needs an area")
    if role.scope == "organisation" and organisation is None:
        raise ValidationFailed("organisation_required", f"role {role.code} needs an organisation")
    with transaction.atomic():
        assignment, _created = RoleAssignment.objects.get_or_create(
            user=user, role=role, area=area, organisation=organisation, defaults={"is_active": True}
        )
        audit.record(
            actor,
            "pingan.role.assigned",
            assignment,
            changes={"user": user.username, "role": role.code, "area": area.code if area else None},
        )
    user.__dict__.pop("_pingan_reaches", None)
    return assignment


# --- persons ---------------------------------------------------------------------------------


@dataclass
class PersonInput:
    name: str
    id_number: str | None = None
    phone: str = ""
    address: str = ""
    area_code: str | None = None


def _clean_person(data: PersonInput) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name or len(name) > 60:
        errors["name"] = "name is required (at most 60 characters)"
    id_number = personal.normalize_id_number(data.id_number) if data.id_number else None
    if id_number and (why := personal.id_number_error(id_number)):
        errors["id_number"] = why
    phone = ""
    if data.phone:
        try:
            phone = personal.normalize_phone(data.phone)
        except ValueError as exc:
            errors["phone"] = str(exc)
    area = None
    if data.area_code:
        area = Area.objects.filter(code=data.area_code).first()
        if area is None:
            errors["area_code"] = f"unknown area {data.area_code}"
    if errors:
        raise ValidationFailed("invalid_person", "; ".join(f"{k}: {v}" for k, v in errors.items()), fields=errors)
    values: dict[str, Any] = {"name": name, "id_number": id_number, "phone": phone, "address": data.address.strip(), "area": area}
    if id_number:
        values["birth_date"] = personal.birth_date_from_id(id_number)
        values["gender"] = Gender.MALE if int(id_number[16]) % 2 else Gender.FEMALE
    return values


def masked_person_changes(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": personal.mask_name(values.get("name") or ""),
        "id_number": personal.mask_id_number(values.get("id_number") or ""),
        "phone": personal.mask_phone(values.get("phone") or ""),
        "address": personal.mask_address(values.get("address") or ""),
        "area": values["area"].code if values.get("area") else None,
    }


def register_person(actor: Any, data: PersonInput) -> Person:
    """Add a person to the registry, or return the existing record with the same ID number."""
    if not _system(actor):
        policy.require(actor, p.ADD_PERSON.code)
    values = _clean_person(data)
    if not _system(actor) and values["area"] is not None:
        allowed = policy.restrict(actor, p.ADD_PERSON.code, Area.objects.filter(pk=values["area"].pk))
        if not allowed.exists():
            raise PermissionDeniedError("area_out_of_scope", "the area is outside your scope")
    with transaction.atomic():
        if values["id_number"]:
            existing = Person.objects.select_for_update().filter(id_number=values["id_number"]).first()
            if existing is not None:
                return existing
        person = Person.objects.create(**values)
        audit.record(actor, "pingan.person.registered", person, changes=masked_person_changes(values))
    return person


def reveal_person(actor: Any, person: Person, *, purpose: str = "") -> Person:
    """The full identity of a person, for roles that need it; every call is audited."""
    policy.require(actor, p.VIEW_PERSON_IDENTITY.code, person)
    audit.record(
        actor,
        "pingan.person.identity_viewed",
        person,
        changes={"fields": ["name", "id_number", "phone", "address"], "purpose": purpose[:200]},
    )
    return person


# --- API tokens ------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    actor: Any, *, user: User, name: str, scopes: list[str] | None = None, days: int | None = None
) -> tuple[ApiToken, str]:
    """A new personal API token; returns (record, plain token). The plain token is never stored."""
    if actor != user and not getattr(actor, "is_superuser", False):
        raise PermissionDeniedError()
    scopes = list(scopes or ["read"])
    bad = [s for s in scopes if s not in TOKEN_SCOPES]
    if bad:
        raise ValidationFailed("invalid_scope", f"unknown scopes: {', '.join(bad)}")
    days = days or settings.PINGAN_API_TOKEN_DAYS
    if not 1 <= days <= 366:
        raise ValidationFailed("invalid_expiry", "a token lives between 1 and 366 days")
    name = name.strip()[:60] or "token"
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=plain[:10],
            token_hash=hash_token(plain),
            scopes=scopes,
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
        audit.record(actor, "pingan.token.issued", token, changes={"name": name, "scopes": scopes, "days": days})
    return token, plain


def revoke_token(actor: Any, token: ApiToken) -> ApiToken:
    if token.user_id != getattr(actor, "pk", None) and not getattr(actor, "is_superuser", False):
        raise NotFoundError("not_found", "no such token")
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = clock.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor, "pingan.token.revoked", token)
    return token


def authenticate_token(plain: str) -> tuple[User, ApiToken] | None:
    """The user behind a bearer token, or None when it is unknown, expired or revoked."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    # token_hash is unique: no ordering needed (first() would add one to every authenticated request)
    token = next(iter(ApiToken.objects.select_related("user").filter(token_hash=hash_token(plain)).order_by()[:1]), None)
    now = clock.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token

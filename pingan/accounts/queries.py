from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.accounts.models import ApiToken, Organisation, Person, User
from pingan.core import personal
from pingan.geo.models import Area


def visible_persons(user: Any, q: str = "") -> QuerySet[Person]:
    qs = policy.restrict(user, p.VIEW_PERSON.code, Person.objects.select_related("area"))
    if q:
        # Search on exact identifiers only: a masked list must not become an oracle by substring.
        qs = qs.filter(Q(id_number=personal.normalize_id_number(q)) | Q(name=q.strip()))
    return qs.order_by("id")


def masked_person(person: Person) -> dict[str, Any]:
    return {
        "id": person.pk,
        "name": personal.mask_name(person.name),
        "id_number": personal.mask_id_number(person.id_number or ""),
        "phone": personal.mask_phone(person.phone),
        "address": personal.mask_address(person.address),
        "gender": person.gender,
        "area_code": person.area.code if person.area_id and person.area else None,
        "masked": True,
    }


def full_person(person: Person) -> dict[str, Any]:
    """Unmasked — only after ``actions.reveal_person`` (which checks and audits)."""
    return {
        "id": person.pk,
        "name": person.name,
        "id_number": person.id_number or "",
        "phone": person.phone,
        "address": person.address,
        "gender": person.gender,
        "area_code": person.area.code if person.area_id and person.area else None,
        "masked": False,
    }


def organisations(user: Any, kind: str = "") -> QuerySet[Organisation]:
    qs = policy.restrict(user, p.VIEW_ORGANISATION.code, Organisation.objects.select_related("parent", "area"))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.filter(is_active=True).order_by("kind", "code")


def responsible_for(user: Any, area: Area) -> dict[str, list[Any]]:
    """Organisations covering an area (and its ancestors) and the staff assigned to it."""
    ancestors = [area.code[:n] for n in range(1, len(area.code) + 1)]
    orgs = organisations(user).filter(Q(areas__code__in=ancestors) | Q(area__code__in=ancestors)).distinct()
    staff: QuerySet[User] = User.objects.none()
    if policy.has_perm(user, p.VIEW_STAFF.code):
        staff = (
            User.objects.filter(is_active=True, assignments__is_active=True, assignments__area__code__in=ancestors)
            .select_related("organisation")
            .distinct()
            .order_by("username")
        )
    return {"organisations": list(orgs), "staff": list(staff)}


def own_tokens(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")

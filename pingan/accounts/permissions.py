"""The permission codes known to Pingan. Modules add theirs with :func:`register` at import time.

A *scoped* permission reaches only as far as the role's scope (area subtree, organisation, own
records); an unscoped one, once held, reaches the whole district (a directory, the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Permission:
    code: str
    label: str | Promise
    scoped: bool = True


_known: dict[str, Permission] = {}


def register(code: str, label: str | Promise, *, scoped: bool = True) -> Permission:
    perm = Permission(code, label, scoped)
    _known[code] = perm
    return perm


_default_grants: dict[str, set[str]] = {}


def grant_by_default(grants: dict[str, list[str]]) -> None:
    """Modules say which default roles get their permissions; ``ensure_default_roles`` (demo, tests)
    and each module's data migration apply them. Grants are only ever added, never removed."""
    for role, codes in grants.items():
        _default_grants.setdefault(role, set()).update(codes)


def default_grants(role: str) -> set[str]:
    return set(_default_grants.get(role, ()))


def get(code: str) -> Permission:
    try:
        return _known[code]
    except KeyError:
        raise KeyError(f"unknown permission {code!r}; register it in the module's permissions") from None


def known() -> dict[str, Permission]:
    return dict(_known)


VIEW_AREA = register("geo.view_area", _("See areas and the map"))
CHANGE_AREA = register("geo.change_area", _("Import and change areas"), scoped=False)
VIEW_ORGANISATION = register("accounts.view_organisation", _("See the organisation directory"), scoped=False)
VIEW_STAFF = register("accounts.view_staff", _("See who is responsible for an area"), scoped=False)
VIEW_PERSON = register("accounts.view_person", _("See persons (masked)"))
VIEW_PERSON_IDENTITY = register("accounts.view_person_identity", _("See a person's identity in full (audited)"))
ADD_PERSON = register("accounts.add_person", _("Register and edit persons"))
VIEW_SEALED = register("accounts.view_sealed", _("See sealed records"))
VIEW_AUDIT = register("core.view_audit", _("Search the audit log"), scoped=False)

"""Idempotent set-up of 如燕's role and grants: the role of the head of the county justice bureau, and the
corrections permissions of the default roles (what migrations 0002, 0004 and 0007 do; tests and the demo call it again
after a flush)."""

from __future__ import annotations

from typing import Any

from pingan.corrections.permissions import CORE_AREA_GRANTS, GRANTS, HEAD_ROLE


def ensure_roles(apps: Any = None) -> None:
    """With ``apps`` (a migration's registry) or the live models."""
    if apps is None:
        from django.apps import apps as live

        apps = live
    Role = apps.get_model("accounts", "Role")
    code, name, name_en, scope, permissions, description = HEAD_ROLE
    Role.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en, "scope": scope,
                                                    "permissions": list(permissions), "description": description})
    _add(Role, GRANTS)
    ensure_leave_roles(apps)
    ensure_core_area_grants(apps)


def _add(Role: Any, grants: dict[str, list[str]]) -> None:
    for role in Role.objects.filter(code__in=grants):
        current = list(role.permissions or [])
        added = [c for c in grants[role.code] if c not in current]
        if added:
            role.permissions = current + added
            role.save(update_fields=["permissions"])


# Leave and boundary, carrier feed ----------------------------------------------------------------


def ensure_leave_roles(apps: Any = None) -> None:
    """The judicial-office head and carrier-gateway roles, and the leave and carrier grants (migration 0004)."""
    from pingan.corrections.permissions import LEAVE_GRANTS, LEAVE_ROLES

    if apps is None:
        from django.apps import apps as live

        apps = live
    Role = apps.get_model("accounts", "Role")
    for code, name, name_en, scope, permissions, description in LEAVE_ROLES:
        Role.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en, "scope": scope,
                                                        "permissions": list(permissions), "description": description})
    _add(Role, LEAVE_GRANTS)


def ensure_core_area_grants(apps: Any = None) -> None:
    """Core areas and reverse warnings: corrections.manage_core_area for the head of the bureau and the district
    admin (migration 0007)."""
    if apps is None:
        from django.apps import apps as live

        apps = live
    _add(apps.get_model("accounts", "Role"), CORE_AREA_GRANTS)

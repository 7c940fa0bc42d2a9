"""Idempotent set-up of the default roles and departments (used by migrations' data step, the demo,
and tests)."""

from __future__ import annotations

from django.db import transaction

from pingan.accounts import defaults, permissions
from pingan.accounts.models import Organisation, Role
from pingan.core import audit


def ensure_default_roles() -> dict[str, Role]:
    roles = {}
    with transaction.atomic():
        for code, name, name_en, scope, perms, description in defaults.ROLES:
            wanted = sorted(set(perms) | permissions.default_grants(code))
            role, created = Role.objects.get_or_create(
                code=code,
                defaults={"name": name, "name_en": name_en, "scope": scope, "permissions": wanted, "description": description},
            )
            if created:
                audit.record("setup", "pingan.role.created", role, changes={"permissions": wanted, "scope": scope})
            elif missing := [c for c in wanted if c not in role.permissions]:
                role.permissions = [*role.permissions, *missing]
                role.save(update_fields=["permissions"])
                audit.record("setup", "pingan.role.granted", role, changes={"added": missing})
            roles[code] = role
    return roles


def ensure_departments() -> dict[str, Organisation]:
    orgs: dict[str, Organisation] = {}
    with transaction.atomic():
        for code, name, name_en, kind, parent in defaults.DEPARTMENTS:
            org, created = Organisation.objects.get_or_create(
                code=code,
                defaults={"name": name, "name_en": name_en, "kind": kind, "parent": orgs.get(parent) if parent else None},
            )
            if created:
                audit.record("setup", "pingan.organisation.created", org)
            orgs[code] = org
    return orgs

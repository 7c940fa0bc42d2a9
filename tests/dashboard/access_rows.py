"""Access-table rows for the dashboard's routes, written by hand (not read from the policy).

``events.view_dashboard`` goes to the district admin, department staff, workstation staff, the
procurator and deputies (the default roles, migration events 0002); every other role gets 403, anonymous
users the login page (pages) or 401 (API). The routes take no object: the figures are scoped, not refused.
"""

from __future__ import annotations

import importlib
from typing import Any

from tests.web.access import ROLES, A, F, L, U, row

DASHBOARD = ("district_admin", "department_staff", "workstation_staff", "procurator", "deputy")


def only(roles: tuple[str, ...], ok: int = A) -> dict[str, object]:
    return {role: (ok if role in roles else F) for role in ROLES[1:]}


ROWS: dict[str, dict[str, object]] = {
    "dashboard:index": {"method": "GET", "kind": "dashboard", "cells": row(default=F, anonymous=L, **only(DASHBOARD))},
    "dashboard:export": {"method": "GET", "kind": "dashboard", "cells": row(default=F, anonymous=L, **only(DASHBOARD))},
    "api:dashboard_figures": {"method": "GET", "kind": "dashboard",
                              "cells": row(default=F, anonymous=U, **only(DASHBOARD))},
}


def _grant_defaults() -> None:
    """The roles' events permissions (migration events 0002), again: a transactional test earlier in the
    session may have flushed them."""
    from django.apps import apps

    importlib.import_module("pingan.events.migrations.0002_defaults").grant(apps)


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:
    if kind != "dashboard":
        return None
    _grant_defaults()
    return None, None


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind != "dashboard":
        return None
    return {}, {}

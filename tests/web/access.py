"""Shared pieces of the access table: personas, status letters, row builders.

Apps add their rows in ``tests/<app>/access_rows.py`` (see tests/web/test_access_table.py).
"""

from __future__ import annotations

from tests.conftest import GRID_A, TOWN_A

ROLES = [
    "anonymous", "district_admin", "department_staff", "workstation_staff", "grid_worker", "grid_worker_parttime",
    "liaison_cadre", "block_leader", "correction_officer", "police_officer", "checkpoint_staff", "procurator", "judge",
    "mediator", "deputy", "enterprise_safety_officer", "correction_subject", "public", "auditor",
]

# Where each persona's role reaches. "Inside" objects sit in GRID_A / TOWN_A; "outside" in TOWN_B.
PERSONA_AREA = {
    "district_admin": "330503", "department_staff": TOWN_A, "workstation_staff": "330503100201", "grid_worker": GRID_A,
    "grid_worker_parttime": GRID_A, "liaison_cadre": "330503100201", "block_leader": GRID_A, "correction_officer": TOWN_A,
    "police_officer": TOWN_A, "checkpoint_staff": TOWN_A, "procurator": "330503", "judge": "330503", "mediator": TOWN_A,
    "deputy": TOWN_A, "auditor": "330503",
}

A, D, F, H, L, U = 200, 302, 403, 404, 302, 401  # allowed, redirect, forbidden, hidden, to-login, unauthenticated


def row(**cells: object) -> dict[str, tuple[int, int]]:
    """Build a row: ``default=`` applies to every logged-in role; role=code or (inside, outside)."""
    default = cells.pop("default")
    anonymous = cells.pop("anonymous")
    out: dict[str, tuple[int, int]] = {}
    for role in ROLES:
        value = anonymous if role == "anonymous" else cells.get(role, default)
        out[role] = value if isinstance(value, tuple) else (value, value)  # type: ignore[assignment]
    return out


STAFF = ("district_admin", "department_staff", "workstation_staff", "grid_worker", "grid_worker_parttime",
         "liaison_cadre", "correction_officer", "police_officer", "procurator", "judge", "mediator")
VIEW_AREA = (*STAFF, "block_leader", "deputy")
VIEW_ORG = (*STAFF, "deputy", "enterprise_safety_officer")
IDENTITY = ("workstation_staff", "correction_officer", "police_officer", "judge")
# Roles whose area scope is the whole district (so "outside" is still inside for them).
DISTRICT_WIDE = ("district_admin", "procurator", "judge")


def allow(roles: tuple[str, ...], ok: int = A, scoped: bool = False, denied: int = F, hidden: int = H) -> dict[str, object]:
    cells: dict[str, object] = {}
    for role in ROLES[1:]:
        if role in roles:
            cells[role] = (ok, ok if (not scoped or role in DISTRICT_WIDE) else hidden)
        else:
            cells[role] = denied
    return cells



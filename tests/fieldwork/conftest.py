"""Fixtures for grid and workstation work: a workstation per town, departments, personas.

Event types are the default taxonomy of events migration 0002 (dispute-neighbour, hazard-fire …)."""

from __future__ import annotations

import pytest

from tests.conftest import X0, Y0

VILLAGE_A, VILLAGE_B = "330503100201", "330503101201"
# Points inside GRID_A (micro-grid …001) and GRID_B.
IN_A = (X0 + 0.02, Y0 + 0.05)
IN_A2 = (X0 + 0.021, Y0 + 0.05)  # about 95 m east of IN_A
IN_B = (X0 + 0.15, Y0 + 0.05)


@pytest.fixture
def workstations(tree):  # type: ignore[no-untyped-def]
    """Workstation A sits in village A1 (town A) and covers it; workstation B likewise in town B."""
    from pingan.accounts.models import Organisation

    out = []
    for code, village in (("ws-a", VILLAGE_A), ("ws-b", VILLAGE_B)):
        org = Organisation.objects.create(code=code, name=f"工作站{code}", kind="workstation", area=tree[village])
        org.areas.add(tree[village])
        out.append(org)
    return tuple(out)


@pytest.fixture
def departments(db):  # type: ignore[no-untyped-def]
    from pingan.accounts.setup import ensure_departments

    return ensure_departments()


@pytest.fixture
def staff(make_user, workstations):  # type: ignore[no-untyped-def]
    """Workstation staff of workstation A (area scope: village A1)."""
    return make_user("workstation_staff", area=VILLAGE_A)


@pytest.fixture
def worker(make_user):  # type: ignore[no-untyped-def]
    from tests.conftest import GRID_A

    return make_user("grid_worker", area=GRID_A)


def report(**overrides):  # type: ignore[no-untyped-def]
    """A ReportInput for a neighbour dispute at IN_A (override any field)."""
    from pingan.events.actions import ReportInput

    values = {"event_type": "dispute-neighbour", "title": "噪音扰民", "description": "楼上装修噪音", "lon": IN_A[0],
              "lat": IN_A[1]}
    values.update(overrides)
    return ReportInput(**values)

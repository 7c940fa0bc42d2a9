"""Fixtures of the closed loop: the default types, a workstation covering village A1, two departments, a town
government, personas, and helpers to report an event in GRID_A and drive it along the loop."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.cache import cache

from pingan.accounts.models import Organisation, OrgKind
from pingan.events import actions
from pingan.events.actions import ReportInput
from pingan.events.models import Event, Task
from tests.conftest import GRID_A, GRID_B, TOWN_A

VILLAGE_A = "330503100201"
IN_GRID_A = (120.32, 30.85)   # GRID_A, first micro-grid
IN_GRID_B = (120.45, 30.85)   # GRID_B
OUTSIDE = (121.50, 31.50)     # outside the test district
TYPE = "dispute-neighbour"

_defaults = importlib.import_module("pingan.events.migrations.0002_defaults")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def event_types(db, roles):  # type: ignore[no-untyped-def]
    """The default taxonomy and the events permissions of the default roles (migration events 0002; applied
    again here so the fixture also holds after a transactional test's flush)."""
    _defaults.install_types(django_apps)
    _defaults.grant(django_apps)
    from pingan.events.models import EventType

    return {t.code: t for t in EventType.objects.all()}


def report_input(lonlat: tuple[float, float] = IN_GRID_A, **overrides: Any) -> ReportInput:
    values: dict[str, Any] = {"event_type": TYPE, "title": "噪声扰民", "description": "楼下商铺夜间噪声", "lon": lonlat[0],
                              "lat": lonlat[1]}
    values.update(overrides)
    return ReportInput(**values)


def report_in_grid_a(actor: Any = "system", **overrides: Any) -> Event:
    """Report an event in GRID_A (by the system channel unless an actor is given)."""
    return actions.report_event(actor, report_input(IN_GRID_A, **overrides))


@dataclass
class World:
    workstation: Organisation
    department: Organisation
    department_b: Organisation
    town_government: Organisation
    committee: Organisation
    users: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["users"][name]
        except KeyError:
            raise AttributeError(name) from None

    def report(self, actor: Any = None, **overrides: Any) -> Event:
        return report_in_grid_a(actor if actor is not None else self.users["grid_a"], **overrides)

    def drive(self, event: Event, state: str, *, assisting: tuple[Organisation, ...] = ()) -> Event:
        """Take a freshly reported event along the happy path until it is in ``state``."""
        path = ["accepted", "dispatched", "in_progress", "resolved", "verified", "closed"]
        ws, dept, grid = self.users["ws"], self.users["dept"], self.users["grid_a"]
        steps: dict[str, Callable[[Event], Event]] = {
            "accepted": lambda e: actions.accept_event(ws, e),
            "dispatched": lambda e: actions.dispatch_event(ws, e, lead_unit=self.department, assisting_units=assisting),
            "in_progress": lambda e: actions.start_event(dept, e),
            "resolved": lambda e: actions.resolve_event(dept, e, result="已调解", measures="上门调解", method="mediated"),
            "verified": lambda e: actions.verify_event(grid, e),
            "closed": lambda e: actions.close_event(grid, e, satisfaction=5),
        }
        for step in path[: path.index(state) + 1]:
            if event.state == step:
                continue
            if step == "resolved":
                for task in Task.objects.filter(event=event, is_lead=False, state__in=["pending", "in_progress"]):
                    actions.complete_task(self.users["admin"], task, note="已配合")
            event = steps[step](event)
        return event


@pytest.fixture
def world(tree, make_user, event_types) -> World:  # type: ignore[no-untyped-def]
    village = tree[VILLAGE_A]
    workstation = Organisation.objects.create(code="ws-a", name="甲片区联动工作站", kind=OrgKind.WORKSTATION, area=village)
    workstation.areas.add(village)
    department = Organisation.objects.create(code="dept-a", name="甲局", kind=OrgKind.DEPARTMENT)
    department_b = Organisation.objects.create(code="dept-b", name="乙局", kind=OrgKind.DEPARTMENT)
    town_government = Organisation.objects.create(code="tg-a", name="甲镇人民政府", kind=OrgKind.TOWN_GOVERNMENT,
                                                  area=tree[TOWN_A])
    committee, _ = Organisation.objects.get_or_create(code="zfw", defaults={"name": "区委政法委", "kind": OrgKind.COMMITTEE})
    w = World(workstation, department, department_b, town_government, committee)
    w.users.update(
        ws=make_user("workstation_staff", area=VILLAGE_A, organisation="ws-a", username="ws"),
        dept=make_user("department_staff", area=TOWN_A, organisation="dept-a", username="dept"),
        dept_b=make_user("department_staff", area=TOWN_A, organisation="dept-b", username="dept_b"),
        town=make_user("department_staff", area=TOWN_A, organisation="tg-a", username="town"),
        grid_a=make_user("grid_worker", area=GRID_A, username="grid_a"),
        grid_b=make_user("grid_worker", area=GRID_B, username="grid_b"),
        admin=make_user("district_admin", username="admin"),
        public=make_user("public", username="citizen"),
        deputy=make_user("deputy", area=TOWN_A, username="deputy"),
    )
    return w

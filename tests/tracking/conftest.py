"""Fixtures of tracking: a monitored person in town A with a device, a 300 m exclusion circle inside town A,
and personas (an officer of town A, one of town B, the district admin, a gateway user with a token)."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps as django_apps

from pingan.core import clock
from pingan.tracking import actions, pipeline
from pingan.tracking.models import Device, Target, Zone
from tests.conftest import TOWN_A, TOWN_B

ZONE_CENTRE = (120.35, 30.85)       # in town A
FAR_AWAY = (120.32, 30.83)          # town A, kilometres from the zone
NEAR = (120.344, 30.85)             # town A, about 575 m west of the zone's centre (outside it and its buffer)
IN_TOWN_B = (120.45, 30.85)
START = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai

_events_defaults = importlib.import_module("pingan.events.migrations.0002_defaults")


@dataclass
class World:
    target: Target
    device: Device
    key: str
    zone: Zone
    admin: Any
    officer_a: Any
    officer_b: Any
    police_a: Any
    grid_worker: Any
    tree: dict[str, Any]

    def fixes(self, points: list[tuple[float, float]], *, start: dt.datetime = START, step_s: int = 60,
              **extra: Any) -> list[dict[str, Any]]:
        return [{"t": (start + dt.timedelta(seconds=i * step_s)).isoformat(), "lon": lon, "lat": lat, "accuracy": 5,
                 **extra} for i, (lon, lat) in enumerate(points)]

    def send(self, rows: list[dict[str, Any]], **kw: Any) -> pipeline.IngestResult:
        return pipeline.submit(rows, source="test", device=self.device, **kw)


@pytest.fixture
def frozen() -> Iterator[clock.FrozenClock]:
    c = clock.FrozenClock(START + dt.timedelta(hours=1))
    with clock.use_clock(c):
        yield c


@pytest.fixture
def world(tree, roles, make_user, frozen) -> World:  # type: ignore[no-untyped-def]
    _events_defaults.install_types(django_apps)
    _events_defaults.grant(django_apps)
    pipeline.reset_engine()
    target = actions.create_target("test", kind="person", label="王某", area=tree[TOWN_A], monitored=True,
                                   interval_s=600)
    device, key = actions.register_device("test", target, uid="phone-001")
    zone = actions.create_zone("test", name="核心区", kind="exclusion", shape="circle", coords=list(ZONE_CENTRE),
                               radius_m=300, area=tree[TOWN_A], applies_to_all=True)
    world = World(target=target, device=device, key=key, zone=zone, admin=make_user("district_admin"),
                  officer_a=make_user("correction_officer", area=TOWN_A),
                  officer_b=make_user("correction_officer", area=TOWN_B),
                  police_a=make_user("police_officer", area=TOWN_A), grid_worker=make_user("grid_worker", area=TOWN_A),
                  tree=tree)
    yield world
    pipeline.reset_engine()

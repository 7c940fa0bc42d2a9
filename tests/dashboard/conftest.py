"""Fixtures of the dashboard: the default event types and role permissions, a workstation covering
village A1, a frozen clock, and helpers to load history and to recount figures from the raw rows."""

from __future__ import annotations

import datetime as dt
import importlib
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps

from pingan.core.clock import FrozenClock, use_clock

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 18, 15, 0, tzinfo=SHANGHAI)  # a Wednesday afternoon
IN_TOWN_A = (120.32, 30.85)  # GRID_A, first micro-grid
IN_TOWN_B = (120.45, 30.85)  # GRID_B
MEASURES = ("reported", "repeats", "resolved", "resolved_on_time", "mediated", "closed", "rated", "satisfied")


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(NOW)) as frozen:
        assert isinstance(frozen, FrozenClock)
        yield frozen


@pytest.fixture
def setup(tree, roles):  # type: ignore[no-untyped-def]
    """Types, the roles' events permissions (migration events 0002, again after any flush), a workstation
    over village A1 and a department."""
    from pingan.accounts.models import Organisation, OrgKind

    defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
    defaults.install_types(django_apps)
    defaults.grant(django_apps)
    ws, _ = Organisation.objects.get_or_create(code="ws-a1", defaults={"name": "甲一片区工作站", "kind": OrgKind.WORKSTATION})
    ws.areas.set([tree["330503100201"]])
    dept, _ = Organisation.objects.get_or_create(code="dept-x", defaults={"name": "综合执法局", "kind": OrgKind.DEPARTMENT})
    return {"workstation": ws, "department": dept, "tree": tree}


def recount(first: dt.date, last: dt.date, **where: Any) -> dict[str, int]:
    """The range's figures counted in Python from every event row — independent of the SQL in rollup.py."""
    from pingan.events.models import Event, EventType

    disputes = {t.pk for t in EventType.objects.select_related("parent")
                if t.is_dispute or (t.parent is not None and t.parent.is_dispute)}
    out = dict.fromkeys(MEASURES, 0)

    def inside(moment: dt.datetime | None) -> bool:
        return moment is not None and first <= moment.astimezone(SHANGHAI).date() <= last

    for e in Event.objects.filter(**where):
        if inside(e.created_at):
            out["reported"] += 1
            out["repeats"] += e.repeat_count
        if inside(e.resolved_at) and e.state in ("resolved", "verified", "closed"):
            out["resolved"] += 1
            out["resolved_on_time"] += e.on_time is True
            out["mediated"] += e.resolution_method == "mediated" and e.event_type_id in disputes
        if inside(e.closed_at) and e.state == "closed":
            out["closed"] += 1
            out["rated"] += e.satisfaction is not None
            out["satisfied"] += e.satisfaction is not None and e.satisfaction >= 4
    return out


def rollup_sums(model: Any, first: dt.date, last: dt.date, **where: Any) -> dict[str, int]:
    rows = model.objects.filter(day__gte=first, day__lte=last, **where)
    return {m: sum(getattr(r, m) for r in rows) for m in MEASURES}

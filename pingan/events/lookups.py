"""Per-process caches of what every report reads and hardly ever changes: the active event types, the active
routing rules (with their areas, lead and assisting units) and which active workstations cover which area.

One snapshot holds all three, loaded in four queries. A change saved in this process (admin, actions,
fixtures: ``post_save``, ``post_delete`` and ``m2m_changed`` of ``EventType``, ``RoutingRule``,
``Organisation`` and its areas) drops it at once and again when that transaction commits; other processes
load a new one when theirs is older than ``PINGAN_EVENT_CONFIG_SECONDS`` (10 s). A queryset ``update()``
sends no signals: call :func:`clear` after one, or allow those seconds.

The instances are shared between requests and threads: read them, never change them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from pingan.accounts.models import Organisation, OrgKind
from pingan.events.models import EventType, RoutingRule


@dataclass(frozen=True)
class Snapshot:
    born: float
    types: dict[str, EventType]                       # active types by code, parent loaded
    rules: tuple[RoutingRule, ...]                    # active rules: area, lead unit, assisting units loaded
    workstations: dict[int, tuple[Organisation, ...]]  # area id → active workstations covering it, by code


_lock = threading.Lock()
_snapshot: Snapshot | None = None
_generation = 0


def max_age() -> float:
    return float(getattr(settings, "PINGAN_EVENT_CONFIG_SECONDS", 10.0))


def _load() -> Snapshot:
    types = {t.code: t for t in EventType.objects.filter(is_active=True).select_related("parent")}
    rules = tuple(
        RoutingRule.objects.filter(is_active=True)
        .select_related("area", "lead_unit").defer("area__geometry_wkb")
        .prefetch_related("assisting_units")
    )
    stations = {o.pk: o for o in Organisation.objects.filter(kind=OrgKind.WORKSTATION, is_active=True)}
    links = Organisation.areas.through.objects.filter(organisation__kind=OrgKind.WORKSTATION,
                                                      organisation__is_active=True).values_list(
        "area_id", "organisation_id")
    covering: dict[int, list[Organisation]] = {}
    for area_id, org_id in links:
        if org_id in stations:
            covering.setdefault(area_id, []).append(stations[org_id])
    for orgs in covering.values():
        orgs.sort(key=lambda org: org.code)
    return Snapshot(time.monotonic(), types, rules, {k: tuple(v) for k, v in covering.items()})


def snapshot() -> Snapshot:
    """The snapshot in force (a new one when this process changed the configuration or it is too old)."""
    global _snapshot
    held = _snapshot
    if held is not None and time.monotonic() - held.born < max_age():
        return held
    with _lock:
        held = _snapshot
        if held is not None and time.monotonic() - held.born < max_age():
            return held
        generation = _generation
    fresh = _load()  # outside the lock: a reload never makes other requests wait for it
    with _lock:
        if generation == _generation:  # not cleared meanwhile: keep it
            _snapshot = fresh
    return fresh


def clear() -> None:
    """Forget the snapshot (the next read loads a new one)."""
    global _snapshot, _generation
    with _lock:
        _snapshot = None
        _generation += 1


def event_type(code: str) -> EventType | None:
    """The active event type with this code."""
    return snapshot().types.get(code)


def rules() -> tuple[RoutingRule, ...]:
    return snapshot().rules


def workstation(village_id: int | None, area_ids: Iterable[int]) -> Organisation | None:
    """The active workstation covering the village (lowest code first), else one covering any of the areas."""
    covering = snapshot().workstations
    if village_id is not None and covering.get(village_id):
        return covering[village_id][0]
    found = [org for area_id in area_ids for org in covering.get(area_id, ())]
    return min(found, key=lambda org: org.code) if found else None


def _changed(sender: Any, **kwargs: Any) -> None:
    clear()
    # again once the change is visible to the other connections (a reload before the commit read the old rows)
    transaction.on_commit(clear, robust=True)


for _model in (EventType, RoutingRule, Organisation):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"pingan.events.lookups.save.{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"pingan.events.lookups.delete.{_model.__name__}")
for _through in (RoutingRule.assisting_units.through, Organisation.areas.through):
    m2m_changed.connect(_changed, sender=_through, dispatch_uid=f"pingan.events.lookups.m2m.{_through.__name__}")

"""Routing: which rule handles an event — (type, area, priority) → lead unit, assisting units, time limits.

The most specific active rule wins: first by type (the exact subtype beats its parent, which beats a rule
for any type), then by area (a deeper area beats a shallower one, which beats "anywhere"), then by
priority (a rule for the event's priority beats one for any), then by ``order`` and id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pingan.events import lookups
from pingan.events.models import EventType, RoutingRule

if TYPE_CHECKING:
    from pingan.events.models import Event
    from pingan.geo.models import Area


def candidates(event_type: EventType, area: Area, priority: str) -> list[RoutingRule]:
    """Every active rule that applies, most specific first (from the process's cached rules, see
    :mod:`pingan.events.lookups`)."""
    types = {None, event_type.pk}
    if event_type.parent_id:
        types.add(event_type.parent_id)
    code = area.code
    matching = [
        r for r in lookups.rules()
        if r.event_type_id in types and r.priority in ("", priority) and (r.area is None or code.startswith(r.area.code))
    ]

    def rank(rule: RoutingRule) -> tuple[int, int, int, int, int]:
        if rule.event_type_id is None:
            type_rank = 0
        elif rule.event_type_id == event_type.pk:
            type_rank = 2
        else:
            type_rank = 1
        area_rank = len(rule.area.code) if rule.area is not None else 0
        priority_rank = 1 if rule.priority else 0
        return (-type_rank, -area_rank, -priority_rank, rule.order, rule.pk)

    return sorted(matching, key=rank)


def match_for(event_type: EventType, area: Area, priority: str) -> RoutingRule | None:
    found = candidates(event_type, area, priority)
    return found[0] if found else None


def match(event: Event) -> RoutingRule | None:
    """The rule for an event (None: no rule applies; the defaults hold)."""
    return match_for(event.event_type, event.area, event.priority)

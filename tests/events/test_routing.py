"""Routing: the most specific active rule wins — type (subtype > parent > any), then area (deeper wins),
then priority, then order."""

from __future__ import annotations

from typing import Any

import pytest

from pingan.events import routing
from pingan.events.models import RoutingRule
from tests.events.conftest import TYPE, report_in_grid_a

VILLAGE_A = "330503100201"


@pytest.fixture
def rules(world, event_types, tree):  # type: ignore[no-untyped-def]
    def make(name: str, *, type_code: str | None = None, area: str | None = None, priority: str = "", order: int = 100,
             **extra: Any) -> RoutingRule:
        return RoutingRule.objects.create(name=name, event_type=event_types[type_code] if type_code else None,
                                          area=tree[area] if area else None, priority=priority, order=order, **extra)

    return make


def rule_for(event_types, tree, *, type_code: str = TYPE, area: str = "330503100201001001", priority: str = "normal"):  # type: ignore[no-untyped-def]
    return routing.match_for(event_types[type_code], tree[area], priority)


def test_without_any_rule_nothing_matches(world, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    assert rule_for(event_types, tree) is None


def test_the_exact_subtype_beats_its_parent_which_beats_any_type(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("any")
    assert rule_for(event_types, tree).name == "any"
    rules("parent", type_code="dispute")
    assert rule_for(event_types, tree).name == "parent"
    rules("exact", type_code=TYPE)
    assert rule_for(event_types, tree).name == "exact"
    assert rule_for(event_types, tree, type_code="dispute-wages").name == "parent"
    assert rule_for(event_types, tree, type_code="hazard-fire").name == "any"


def test_a_type_match_beats_a_deeper_area(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("parent type anywhere", type_code="dispute")
    rules("any type in the grid", area="330503100201001")
    assert rule_for(event_types, tree).name == "parent type anywhere"


def test_the_deeper_area_wins_and_areas_elsewhere_do_not_match(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("district", type_code=TYPE, area="330503")
    rules("town", type_code=TYPE, area="330503100")
    rules("other town", type_code=TYPE, area="330503101", order=1)
    assert rule_for(event_types, tree).name == "town"
    rules("village", type_code=TYPE, area=VILLAGE_A)
    assert rule_for(event_types, tree).name == "village"
    assert rule_for(event_types, tree, area="330503101201001001").name == "other town"


def test_an_area_match_beats_a_priority_match(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("urgent anywhere", type_code=TYPE, priority="urgent")
    rules("in the town", type_code=TYPE, area="330503100")
    assert rule_for(event_types, tree, priority="urgent").name == "in the town"


def test_a_rule_for_the_priority_beats_one_for_any_priority_and_others_do_not_match(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("any priority", type_code=TYPE)
    rules("urgent", type_code=TYPE, priority="urgent")
    assert rule_for(event_types, tree, priority="urgent").name == "urgent"
    assert rule_for(event_types, tree, priority="normal").name == "any priority"


def test_order_then_id_break_ties_and_inactive_rules_are_ignored(rules, event_types, tree) -> None:  # type: ignore[no-untyped-def]
    rules("second", type_code=TYPE, order=20)
    first = rules("first", type_code=TYPE, order=10)
    rules("later twin", type_code=TYPE, order=10)
    assert rule_for(event_types, tree).name == "first"
    first.is_active = False
    first.save()
    assert rule_for(event_types, tree).name == "later twin"
    assert [r.name for r in routing.candidates(event_types[TYPE], tree[VILLAGE_A], "normal")] == ["later twin", "second"]


def test_a_reported_event_takes_the_matching_rule_and_match_agrees(rules, world) -> None:  # type: ignore[no-untyped-def]
    rules("fallback", auto_dispatch=True)
    chosen = rules("dispute in the village", type_code="dispute", area=VILLAGE_A, lead_unit=world.department,
                   auto_dispatch=True)
    chosen.assisting_units.add(world.department_b)
    event = report_in_grid_a()
    assert event.rule == chosen and routing.match(event) == chosen
    assert event.lead_unit == world.department
    assert {t.unit.code for t in event.tasks.all()} == {"dept-a", "dept-b"}

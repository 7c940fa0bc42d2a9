"""The report path made cheap: what a report writes (number, timeline, audit, notifications after the commit),
in how few statements, and that the cached configuration (types, routing rules, workstations) follows every
change saved in this process at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from pingan.core import audit
from pingan.core.models import AuditEntry
from pingan.events import actions, lookups
from pingan.events.models import Event, EventSequence, Notification, RoutingRule, Task, Transition
from tests.events.conftest import IN_GRID_A, TYPE, VILLAGE_A, report_input

BASE = "/api/v1/events"


def as_user(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(client: Client, **overrides: Any) -> Any:
    body = {"event_type": TYPE, "title": "噪声扰民", "description": "楼下商铺夜间噪声", "lon": IN_GRID_A[0],
            "lat": IN_GRID_A[1], **overrides}
    return client.post(BASE, json.dumps(body), content_type="application/json")


@pytest.fixture
def wage_rule(world, event_types):  # type: ignore[no-untyped-def]
    """Auto-dispatch to dept-a with dept-b assisting."""
    rule = RoutingRule.objects.create(name="auto", event_type=event_types[TYPE], lead_unit=world.department,
                                      auto_dispatch=True, resolve_minutes=600)
    rule.assisting_units.add(world.department_b)
    return rule


@pytest.mark.parametrize("who", ["grid_a", "admin", "ws"])
@pytest.mark.parametrize("dispatched", [False, True])
def test_the_event_a_report_answers_with_is_the_event_as_read_back(world, event_types, who, dispatched) -> None:  # type: ignore[no-untyped-def]
    if dispatched:
        rule = RoutingRule.objects.create(name="auto", event_type=event_types[TYPE], lead_unit=world.department,
                                          auto_dispatch=True)
        rule.assisting_units.add(world.department_b)
    c = as_user(world.users[who])
    created = post(c, tags=["夜间"], address="甲一村12号")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == ("dispatched" if dispatched else "reported")
    assert body == c.get(f"{BASE}/{body['id']}").json()


def test_a_report_takes_a_handful_of_statements(world, wage_rule, django_capture_on_commit_callbacks,
                                                django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    """An auto-dispatched report by a grid worker over the API (before this work: over 40). Session, user and
    roles (3); the idempotency key (1); in the transaction the repeat check, the number, the event, the tasks,
    the key, the timeline, the audit chain's head and entries (8; PostgreSQL also takes the chain's lock; and
    a savepoint pair here); the answer's
    tasks and the worker's scope check on the new event (3); after the commit the recipients, and their
    notifications and messages (3, and a savepoint pair here)."""
    c = as_user(world.grid_a)
    post(c)  # warm: the cached configuration is loaded once per process
    budget = 22 + (connection.vendor == "postgresql")
    with django_assert_max_num_queries(budget), django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = c.post(BASE, json.dumps({"event_type": TYPE, "title": "t", "description": "d", "lon": IN_GRID_A[0],
                                            "lat": IN_GRID_A[1] + 0.01}), content_type="application/json",
                          headers={"Idempotency-Key": "one"})
    assert response.status_code == 201
    assert len(callbacks) == 1  # both notifications (dispatched, reported) in one callback


def test_both_notifications_of_an_auto_dispatch_are_written_after_the_commit_only(
        world, wage_rule, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    lead, helper = world.dept, world.dept_b  # of dept-a and dept-b
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = world.report()
    assert Notification.objects.count() == 0  # nothing before the commit
    for callback in callbacks:
        callback()
    rows = {(n.user_id, n.kind) for n in Notification.objects.filter(event=event)}
    assert rows == {(lead.pk, "dispatched"), (helper.pk, "dispatched"), (world.ws.pk, "reported")}
    assert world.grid_a.pk not in {u for u, _ in rows}  # never the actor


def test_an_auto_dispatch_still_writes_two_timeline_entries_two_audit_entries_and_the_tasks(world, wage_rule) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    entries = list(Transition.objects.filter(event=event).order_by("id").values_list("action", "actor_name"))
    assert entries == [("report", world.grid_a.username), ("dispatch", "system")]
    logged = list(AuditEntry.objects.filter(object_type="events.event", object_id=str(event.pk)).order_by("id").values_list("action", flat=True))
    assert logged == ["pingan.event.report", "pingan.event.dispatch"]
    assert audit.verify().ok
    tasks = list(Task.objects.filter(event=event).order_by("id").values_list("unit__code", "is_lead", "state"))
    assert tasks == [("dept-b", False, "pending"), ("dept-a", True, "pending")]


def test_the_days_counter_is_one_row_counted_up_and_a_rolled_back_report_leaves_no_event_with_its_number(world) -> None:  # type: ignore[no-untyped-def]
    first = world.report()
    with pytest.raises(RuntimeError), transaction.atomic():
        world.report()
        raise RuntimeError("the caller's transaction fails after the report")
    second = world.report()
    assert first.number.endswith("-000001") and second.number.endswith("-000002")
    assert EventSequence.objects.get().last == 2
    assert Event.objects.filter(number=second.number).count() == 1


def test_a_repeat_report_is_tagged_and_counted_from_the_one_nearby_query(world) -> None:  # type: ignore[no-untyped-def]
    original = world.report()
    repeat = world.report()
    assert "repeat" in repeat.tags
    assert Event.objects.get(pk=original.pk).repeat_count == 1
    assert Transition.objects.get(event=repeat, action="report").data["repeat_of"] == original.number


def test_a_rule_saved_in_this_process_applies_to_the_next_report_at_once(world, event_types) -> None:  # type: ignore[no-untyped-def]
    assert world.report().rule_id is None
    rule = RoutingRule.objects.create(name="r", event_type=event_types[TYPE], lead_unit=world.department)
    assert world.report(lon=IN_GRID_A[0] + 0.001).rule_id == rule.pk
    rule.auto_dispatch = True
    rule.save()
    dispatched = world.report(lon=IN_GRID_A[0] + 0.002)
    assert dispatched.state == "dispatched" and dispatched.lead_unit_id == world.department.pk
    rule.assisting_units.add(world.department_b)  # m2m: no save of the rule
    helped = world.report(lon=IN_GRID_A[0] + 0.003)
    assert set(Task.objects.filter(event=helped).values_list("unit__code", flat=True)) == {"dept-a", "dept-b"}
    rule.is_active = False
    rule.save()
    assert world.report(lon=IN_GRID_A[0] + 0.004).rule_id is None
    rule.delete()
    assert lookups.rules() == ()


def test_a_workstation_change_applies_to_the_next_report_at_once(world, tree) -> None:  # type: ignore[no-untyped-def]
    assert world.report().workstation_id == world.workstation.pk
    world.workstation.areas.remove(tree[VILLAGE_A])
    assert world.report(lon=IN_GRID_A[0] + 0.001).workstation_id is None
    world.workstation.areas.add(tree["330503100"])  # the town: covers the village's events as a fallback
    assert world.report(lon=IN_GRID_A[0] + 0.002).workstation_id == world.workstation.pk
    world.workstation.is_active = False
    world.workstation.save()
    assert world.report(lon=IN_GRID_A[0] + 0.003).workstation_id is None


def test_a_replayed_key_answers_with_the_event_as_it_is_now(world) -> None:  # type: ignore[no-untyped-def]
    c = as_user(world.grid_a)
    body = {"event_type": TYPE, "title": "t", "description": "d", "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]}
    first = c.post(BASE, json.dumps(body), content_type="application/json", headers={"Idempotency-Key": "k"}).json()
    actions.accept_event(world.ws, Event.objects.get(pk=first["id"]))
    again = c.post(BASE, json.dumps(body), content_type="application/json", headers={"Idempotency-Key": "k"})
    assert again.status_code == 201
    assert again.json()["id"] == first["id"] and again.json()["state"] == "accepted" and again.json()["version"] == 2


def test_only_the_instance_a_report_returns_is_marked_reported_now(world) -> None:  # type: ignore[no-untyped-def]
    event = actions.report_event(world.grid_a, report_input())
    assert event.reported_now is True
    assert Event.objects.get(pk=event.pk).reported_now is False

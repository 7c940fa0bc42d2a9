"""Random sequences of actions by random personas against the closed loop.

The machine keeps its own model of every event — state, level, lead unit, tasks — and of what each persona
may do, written out here by hand (not read from the policy or the actions). After every step it checks:

* an action succeeds exactly when the model says it is legal, and otherwise changes nothing;
* every success adds exactly one timeline entry and one audit entry per transition (a dissatisfied close is
  two: close, then the system's reopen); a refusal adds none;
* the grid worker of the other grid never succeeds at anything;
* after a sweep at the injected clock's time, a running event is overdue exactly when its deadline has passed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pingan.core.clock import FrozenClock, use_clock
from pingan.core.errors import DomainError
from pingan.core.models import AuditEntry
from pingan.events import actions
from pingan.events.models import Event, Task, Transition
from tests.events.conftest import report_input

SH = ZoneInfo("Asia/Shanghai")

PERSONAS = ("ws", "dept", "grid_in", "grid_out", "public")
# What each persona's roles hold (workstation staff, department staff of the lead unit dept-a, grid worker of
# GRID_A, grid worker of GRID_B, a member of the public), by hand from the role table of migration events 0002.
PERMS = {
    "ws": {"view", "report", "triage", "handle", "verify", "escalate", "park"},
    "dept": {"view", "handle", "escalate"},
    "grid_in": {"view", "report", "verify", "escalate"},
    "grid_out": {"view", "report", "verify", "escalate"},
    "public": {"view", "report"},
}
ORG = {"ws": "ws-a", "dept": "dept-a"}
# Every event is reported in GRID_A: the workstation (village A1), the department (town A) and the grid
# worker of GRID_A reach it by area; the public only what they reported; the other grid worker nothing.
AREA_REACH = {"ws", "dept", "grid_in"}

OPEN = {"reported", "accepted", "dispatched", "returned", "in_progress", "resolved", "verified"}
PARKABLE = {"accepted", "dispatched", "returned", "in_progress"}
RUNNING_DUE = {"reported": "accept_due", "dispatched": "resolve_due", "returned": "resolve_due",
               "in_progress": "resolve_due"}
LEVELS = ["workstation", "town", "district"]
LEVEL_UNIT = {"town": "tg-a", "district": "zfw"}

ACTIONS = ("accept", "reject", "dispatch", "dispatch_jointly", "return", "start", "progress", "complete_task",
           "resolve", "verify", "rework", "close", "escalate", "supervise", "reopen", "park", "unpark")

FORWARD = {"accept", "dispatch", "dispatch_jointly", "start", "progress", "complete_task", "resolve", "verify",
           "close", "reopen", "unpark"}


@dataclass
class Model:
    pk: int
    reporter: str
    state: str = "reported"
    level: str = "workstation"
    lead: str | None = None
    tasks: dict[str, list[Any]] = field(default_factory=dict)  # unit code → [is_lead, state]
    parked_from: str = ""
    entries: int = 1  # timeline entries (and audit entries) so far: the report


def reaches(persona: str, perm: str, m: Model) -> str | None:
    """None when the persona may use ``perm`` on the event, else the refusal's code."""
    if perm not in PERMS[persona]:
        return "permission_denied"
    if persona in AREA_REACH or (persona == "public" and m.reporter == "public"):
        return None
    return "not_found"


def verifier(persona: str, m: Model) -> str | None:
    if "verify" not in PERMS[persona]:
        return "permission_denied"
    if m.reporter == persona:
        return None
    return reaches(persona, "verify", m)


def set_tasks(m: Model, lead: str, assisting: list[str], restart: bool = True) -> None:
    wanted = {u: False for u in assisting if u != lead}
    wanted[lead] = True
    for unit, is_lead in wanted.items():
        task = m.tasks.get(unit)
        if task is None or restart or task[1] == "returned":
            m.tasks[unit] = [is_lead, "pending"]
        else:
            task[0] = is_lead
    for unit, task in m.tasks.items():
        if unit not in wanted:
            task[0] = False
            if task[1] != "done":
                task[1] = "returned"


def set_lead_task(m: Model, state: str) -> None:
    for task in m.tasks.values():
        if task[0]:
            task[1] = state


def assisting_units(m: Model, exclude: str | None) -> list[str]:
    return [u for u, (is_lead, state) in m.tasks.items() if not is_lead and state != "returned" and u != exclude]


def expect(persona: str, action: str, m: Model, satisfaction: int = 5) -> str:
    """The outcome the model predicts: "ok", or the refusal's code. Effects are applied by ``apply``."""
    s = m.state
    if action in ("accept", "reject"):
        return reaches(persona, "triage", m) or ("ok" if s == "reported" else "illegal_transition")
    if action in ("dispatch", "dispatch_jointly"):
        return reaches(persona, "triage", m) or ("ok" if s in ("accepted", "returned") else "illegal_transition")
    if action in ("return", "start", "resolve"):
        refusal = reaches(persona, "handle", m)
        if refusal:
            return refusal
        if ORG.get(persona) is None or ORG.get(persona) != m.lead:
            return "not_lead_unit"
        wanted = "in_progress" if action == "resolve" else "dispatched"
        if s != wanted:
            return "illegal_transition"
        if action == "resolve" and any(not lead and st_ in ("pending", "in_progress") for lead, st_ in m.tasks.values()):
            return "assisting_tasks_open"
        return "ok"
    if action == "progress":
        refusal = reaches(persona, "handle", m)
        if refusal:
            return refusal
        own = m.tasks.get(ORG.get(persona, ""))
        if own is None or own[1] == "returned":
            return "not_task_unit"
        return "ok" if s == "in_progress" else "illegal_transition"
    if action == "complete_task":  # always on the workstation's assisting task
        refusal = reaches(persona, "handle", m)
        if refusal:
            return refusal
        if ORG.get(persona) != "ws-a":
            return "not_task_unit"
        task = m.tasks["ws-a"]
        if task[0]:
            return "lead_task"
        if s not in ("dispatched", "in_progress") or task[1] not in ("pending", "in_progress"):
            return "illegal_transition"
        return "ok"
    if action in ("verify", "rework"):
        return verifier(persona, m) or ("ok" if s == "resolved" else "illegal_transition")
    if action == "close":
        return verifier(persona, m) or ("ok" if s == "verified" else "illegal_transition")
    if action == "escalate":
        refusal = reaches(persona, "escalate", m)
        if refusal:
            return refusal
        if s not in OPEN:
            return "illegal_transition"
        return "top_level" if m.level == "district" else "ok"
    if action == "supervise":
        return reaches(persona, "supervise", m) or "ok"
    if action == "reopen":
        return reaches(persona, "triage", m) or ("ok" if s == "closed" else "illegal_transition")
    if action == "park":
        return reaches(persona, "park", m) or ("ok" if s in PARKABLE else "illegal_transition")
    if action == "unpark":
        return reaches(persona, "park", m) or ("ok" if s == "parked" else "illegal_transition")
    raise AssertionError(action)


def apply(action: str, m: Model, satisfaction: int) -> None:
    """The model's effect of a successful action."""
    m.entries += 1
    if action == "accept":
        m.state = "accepted"
    elif action == "reject":
        m.state = "rejected"
    elif action in ("dispatch", "dispatch_jointly"):
        m.state, m.lead = "dispatched", "dept-a"
        set_tasks(m, "dept-a", ["ws-a"] if action == "dispatch_jointly" else [])
    elif action == "return":
        m.state = "returned"
        set_lead_task(m, "returned")
    elif action == "start":
        m.state = "in_progress"
        set_lead_task(m, "in_progress")
    elif action == "complete_task":
        m.tasks["ws-a"][1] = "done"
    elif action == "resolve":
        m.state = "resolved"
        set_lead_task(m, "done")
    elif action == "verify":
        m.state = "verified"
    elif action == "rework":
        m.state = "in_progress"
        set_lead_task(m, "in_progress")
    elif action == "close":
        m.state = "closed"
        if satisfaction <= 2:
            reopen(m)
            m.entries += 1
    elif action == "escalate":
        m.level = LEVELS[LEVELS.index(m.level) + 1]
        m.lead = LEVEL_UNIT[m.level]
        if m.state in ("dispatched", "in_progress"):
            set_tasks(m, m.lead, assisting_units(m, m.lead), restart=False)
    elif action == "reopen":
        reopen(m)
    elif action == "park":
        m.parked_from, m.state = m.state, "parked"
    elif action == "unpark":
        m.state, m.parked_from = m.parked_from, ""


def reopen(m: Model) -> None:
    assert m.lead is not None
    m.state = "dispatched"
    set_tasks(m, m.lead, assisting_units(m, m.lead))


def make_machine(world: Any) -> type[RuleBasedStateMachine]:
    users = {"ws": world.ws, "dept": world.dept, "grid_in": world.grid_a, "grid_out": world.grid_b,
             "public": world.public}
    orgs = {"dept-a": world.department, "ws-a": world.workstation}

    class ClosedLoop(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            cache.clear()
            self.clock = FrozenClock(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH))
            self._clock_cm = use_clock(self.clock)
            self._clock_cm.__enter__()
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.models: list[Model] = []

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
            self._clock_cm.__exit__(None, None, None)

        @precondition(lambda self: len(self.models) < 2)
        @rule(persona=st.sampled_from(["ws", "grid_in", "public"]))
        def report(self, persona: str) -> None:
            extra = {"reporter_name": "王小明", "reporter_phone": "13800138000"} if persona == "public" else {}
            event = actions.report_event(users[persona], report_input(**extra))
            self.models.append(Model(pk=event.pk, reporter=persona))

        @precondition(lambda self: bool(self.models))
        @rule(data=st.data(), persona=st.sampled_from(PERSONAS), action=st.sampled_from(ACTIONS),
              satisfaction=st.integers(1, 5))
        def act(self, data: st.DataObject, persona: str, action: str, satisfaction: int) -> None:
            if data.draw(st.integers(0, 7)) == 0:  # one step in eight: time passes and the sweep runs
                self._sweep(data.draw(st.integers(0, 3000)))
                return
            m = data.draw(st.sampled_from(self.models))
            # Random moves alone rarely get past triage: most of the time take a move the model calls legal,
            # preferring those that carry the event forward.
            bias = data.draw(st.integers(0, 7))
            if bias >= 2:
                legal = [(p, a) for p in PERSONAS for a in ACTIONS
                         if (a != "complete_task" or "ws-a" in m.tasks) and expect(p, a, m, satisfaction) == "ok"]
                forward = [(p, a) for p, a in legal if a in FORWARD]
                pool = forward if forward and bias <= 5 else legal
                if pool:
                    action = data.draw(st.sampled_from(sorted({a for _, a in pool})))
                    persona = data.draw(st.sampled_from([p for p, a in pool if a == action]))
            if action == "complete_task" and "ws-a" not in m.tasks:
                return
            expected = expect(persona, action, m, satisfaction)
            event = Event.objects.get(pk=m.pk)
            before = (event.state, event.version, (m.entries, m.entries))  # the invariant holds DB = model here
            outcome = "ok"
            try:
                self._do(users[persona], action, event, satisfaction)
            except DomainError as exc:
                outcome = exc.code
            note = f"{persona} {action} on {before[0]} (level {m.level}, lead {m.lead}, tasks {m.tasks})"
            assert outcome == expected, f"{note}: got {outcome}, expected {expected}"
            if persona == "grid_out":
                assert outcome != "ok", f"the outside grid worker succeeded: {note}"
            if outcome == "ok":
                apply(action, m, satisfaction)
                assert self._entries(m) == (m.entries, m.entries), f"timeline and audit entries after {note}"
            else:
                after = Event.objects.get(pk=m.pk)
                assert (after.state, after.version, self._entries(m)) == before, f"a refusal changed something: {note}"

        def _do(self, user: Any, action: str, event: Event, satisfaction: int) -> None:
            if action == "accept":
                actions.accept_event(user, event)
            elif action == "reject":
                actions.reject_event(user, event, reason="不予受理")
            elif action == "dispatch":
                actions.dispatch_event(user, event, lead_unit=orgs["dept-a"])
            elif action == "dispatch_jointly":
                actions.dispatch_event(user, event, lead_unit=orgs["dept-a"], assisting_units=[orgs["ws-a"]])
            elif action == "return":
                actions.return_event(user, event, reason="不属本单位")
            elif action == "start":
                actions.start_event(user, event)
            elif action == "progress":
                actions.add_progress(user, event, note="进展")
            elif action == "complete_task":
                actions.complete_task(user, Task.objects.get(event=event, unit=orgs["ws-a"]), note="配合完成")
            elif action == "resolve":
                actions.resolve_event(user, event, result="已处理", measures="现场处置", method="repaired")
            elif action == "verify":
                actions.verify_event(user, event)
            elif action == "rework":
                actions.rework_event(user, event, reason="未处理到位")
            elif action == "close":
                actions.close_event(user, event, satisfaction=satisfaction)
            elif action == "escalate":
                actions.escalate_event(user, event, reason="需上级协调")
            elif action == "supervise":
                actions.supervise_event(user, event, note="督办")
            elif action == "reopen":
                actions.reopen_event(user, event, reason="问题复发")
            elif action == "park":
                actions.park_event(user, event, reason="等待政策", review_on=dt.date(2026, 12, 31))
            elif action == "unpark":
                actions.unpark_event(user, event)

        def _sweep(self, minutes: int) -> None:
            """Time passes and the sweep marks what is overdue; the flag must agree with the clock."""
            now = self.clock.advance(minutes=minutes)
            for m in self.models:
                marked = actions.mark_overdue(m.pk, now)
                m.entries += int(marked)
                assert self._entries(m) == (m.entries, m.entries)
                event = Event.objects.get(pk=m.pk)
                due_field = RUNNING_DUE.get(event.state)
                if due_field is not None:
                    due = getattr(event, due_field)
                    assert event.overdue == (due is not None and due <= now), (
                        f"{event.state}: overdue {event.overdue}, due {due}, now {now}")

        @staticmethod
        def _entries(m: Model) -> tuple[int, int]:
            return (Transition.objects.filter(event_id=m.pk).count(),
                    AuditEntry.objects.filter(object_type="events.event", object_id=str(m.pk)).count())

        @invariant()
        def the_database_matches_the_model(self) -> None:
            if not self.models:
                return
            pks = [m.pk for m in self.models]
            rows = {pk: (state, level, lead) for pk, state, level, lead in
                    Event.objects.filter(pk__in=pks).values_list("pk", "state", "level", "lead_unit__code")}
            tasks: dict[int, dict[str, list[Any]]] = {pk: {} for pk in pks}
            for event_id, unit, is_lead, state in Task.objects.filter(event_id__in=pks).values_list(
                    "event_id", "unit__code", "is_lead", "state"):
                tasks[event_id][unit] = [is_lead, state]
            for m in self.models:
                assert rows[m.pk] == (m.state, m.level, m.lead)
                assert tasks[m.pk] == m.tasks

    return ClosedLoop


def test_random_actions_by_random_personas_keep_the_closed_loop_legal(world) -> None:  # type: ignore[no-untyped-def]
    machine = make_machine(world)
    current = settings.default
    run_state_machine_as_test(machine, settings=settings(current, max_examples=min(current.max_examples, 60),
                                                         stateful_step_count=18))

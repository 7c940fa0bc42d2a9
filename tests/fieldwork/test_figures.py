from __future__ import annotations

import datetime as dt

import pytest

from pingan.accounts.actions import PersonInput
from pingan.core import clock
from pingan.core.clock import FrozenClock
from pingan.fieldwork import actions, figures
from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, Visit
from tests.conftest import GRID_A, GRID_B, TOWN_A, TOWN_B
from tests.fieldwork.conftest import IN_A, IN_B, VILLAGE_B, report

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(make_user, workstations, departments):  # type: ignore[no-untyped-def]
    """Town A: 3 visits by 2 persons, 2 inspections (1 hazard, 1 on a patrol), 1 joint action, a patrol that
    checked 2 more places and reported 2 events found 4 and 10 minutes earlier. Town B: one of each."""
    ws_a, ws_b = workstations
    staff_a = make_user("workstation_staff", area="330503100201")
    staff_b = make_user("workstation_staff", area=VILLAGE_B)
    with clock.use_clock(FrozenClock(START)) as c:
        v = actions.register_visit(staff_a, ws_a, PersonInput(name="张三"), "欠薪")
        actions.register_visit(staff_a, ws_a, v.visitor_id, "欠薪")
        actions.register_visit(staff_a, ws_a, PersonInput(name="李四"), "咨询")
        actions.register_visit(staff_b, ws_b, PersonInput(name="王五"), "咨询")
        place_a = actions.register_place(staff_a, name="甲店", kind="shop", lon=IN_A[0], lat=IN_A[1])
        place_b = actions.register_place(staff_b, name="乙店", kind="shop", lon=IN_B[0], lat=IN_B[1])
        actions.record_inspection(staff_a, place_a, findings="隐患", hazard=True)
        actions.record_inspection(staff_b, place_b, findings="无")
        actions.record_joint_enforcement(staff_a, workstation=ws_a, departments=[departments["gaj"]], findings="x",
                                         address="甲镇")
        actions.record_joint_enforcement(staff_b, workstation=ws_b, departments=[departments["gaj"]], findings="x",
                                         address="乙镇")
        patrol = actions.start_patrol(staff_a, GRID_A)
        actions.add_patrol_point(staff_a, patrol, *IN_A)
        actions.record_inspection(staff_a, place_a, findings="无", patrol=patrol)
        c.advance(minutes=4)
        actions.report_on_patrol(staff_a, patrol, report())
        actions.add_patrol_point(staff_a, patrol, IN_A[0] + 0.01, IN_A[1])
        c.advance(minutes=10)
        actions.report_on_patrol(staff_a, patrol, report(lon=IN_A[0] + 0.01))
        actions.end_patrol(staff_a, patrol, places_checked=3)
        other = actions.start_patrol(staff_b, GRID_B)
        actions.end_patrol(staff_b, other)
    return {"staff_a": staff_a, "ws_a": ws_a}


def test_the_figures_count_town_a_from_the_raw_rows(world, make_user) -> None:
    admin = make_user("district_admin")
    town = figures.counts(admin, town_code=TOWN_A)
    assert town["visits"] == Visit.objects.filter(workstation=world["ws_a"]).count() == 3
    assert town["repeat_visitors"] == 1
    assert town["inspections"] == 2 and town["hazards"] == 1
    # one inspection off patrol + the patrol's declared 3 (which include its recorded inspection)
    assert town["places_checked"] == 1 + 3
    assert town["joint_enforcements"] == 1
    assert town["patrols"] == 1 and town["patrol_events"] == 2
    assert town["found_to_reported_minutes"] == 7.0  # median of 4 and 10


def test_the_figures_for_the_district_add_up_the_towns(world, make_user) -> None:
    admin = make_user("district_admin")
    total = figures.counts(admin)
    a, b = figures.counts(admin, town_code=TOWN_A), figures.counts(admin, town_code=TOWN_B)
    for key in ("visits", "inspections", "joint_enforcements", "patrols", "places_checked"):
        assert total[key] == a[key] + b[key], key
    assert total["visits"] == Visit.objects.count()
    assert total["inspections"] == Inspection.objects.count()
    assert total["joint_enforcements"] == JointEnforcement.objects.count()
    assert total["patrols"] == Patrol.objects.count()
    assert b["found_to_reported_minutes"] is None


def test_the_figures_follow_the_workstation_the_period_and_the_users_scope(world, make_user) -> None:
    admin = make_user("district_admin")
    by_ws = figures.counts(admin, workstation_id=world["ws_a"].pk)
    assert (by_ws["visits"], by_ws["inspections"], by_ws["patrols"]) == (3, 2, 1)
    later = figures.counts(admin, since=START + dt.timedelta(hours=1))
    assert later["visits"] == later["inspections"] == later["patrols"] == 0
    assert figures.counts(world["staff_a"]) == figures.counts(admin, town_code=TOWN_A)
    assert figures.counts(make_user("judge"))["visits"] == 0  # no fieldwork permission: nothing counted

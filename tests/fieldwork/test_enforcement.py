from __future__ import annotations

import pytest

from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.fieldwork import actions, queries
from pingan.fieldwork.models import JointEnforcement
from tests.conftest import TOWN_A
from tests.fieldwork.conftest import IN_A, IN_B, report


def test_a_joint_enforcement_action_records_departments_place_and_linked_events(staff, workstations, departments,
                                                                                worker) -> None:
    patrol = actions.start_patrol(worker, "330503100201001")
    event = actions.report_on_patrol(worker, patrol, report(event_type="market-unlicensed"))
    place = actions.register_place(staff, name="无证小作坊", kind="shop", lon=IN_A[0], lat=IN_A[1])
    action = actions.record_joint_enforcement(
        staff, workstation=workstations[0], departments=[departments["scjg"], departments["zhzf"], workstations[0]],
        findings="无证经营，已责令停业", place=place, events=[event.pk])
    assert sorted(d.code for d in action.departments.all()) == ["scjg", "zhzf"]  # the workstation itself is not a department
    assert action.address == place.name and list(action.events.all()) == [event]


def test_a_joint_action_needs_departments_an_address_and_findings(staff, workstations, departments) -> None:
    ws = workstations[0]
    with pytest.raises(ValidationFailed) as exc:
        actions.record_joint_enforcement(staff, workstation=ws, departments=[], findings="x", address="甲镇")
    assert exc.value.code == "departments_required"
    with pytest.raises(ValidationFailed) as exc:
        actions.record_joint_enforcement(staff, workstation=ws, departments=[departments["gaj"]], findings="x")
    assert exc.value.code == "invalid_address"
    with pytest.raises(ValidationFailed) as exc:
        actions.record_joint_enforcement(staff, workstation=ws, departments=[departments["gaj"]], findings="", address="a")
    assert exc.value.code == "invalid_findings"
    assert not JointEnforcement.objects.exists()


def test_joint_enforcement_stays_inside_the_workstations_in_scope(staff, workstations, departments, make_user) -> None:
    with pytest.raises(PermissionDeniedError):
        actions.record_joint_enforcement(staff, workstation=workstations[1], departments=[departments["gaj"]],
                                         findings="x", address="乙镇")
    police = make_user("police_officer", area=TOWN_A)
    mine = actions.record_joint_enforcement(police, workstation=workstations[0], departments=[departments["gaj"]],
                                            findings="夜查", address="甲镇")
    worker = make_user("grid_worker", area="330503100201001")
    with pytest.raises(PermissionDeniedError):
        actions.record_joint_enforcement(worker, workstation=workstations[0], departments=[departments["gaj"]],
                                         findings="x", address="甲镇")
    assert list(queries.joint_enforcements(staff)) == [mine]
    assert list(queries.joint_enforcements(make_user("workstation_staff", area="330503101201"))) == []


def test_an_event_outside_the_actors_scope_cannot_be_linked(staff, workstations, departments, make_user) -> None:
    from pingan.events.actions import report_event

    far = report_event("test", report(lon=IN_B[0], lat=IN_B[1]))
    with pytest.raises(NotFoundError):
        actions.record_joint_enforcement(staff, workstation=workstations[0], departments=[departments["gaj"]],
                                         findings="x", address="甲镇", events=[far.pk])

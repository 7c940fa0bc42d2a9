from __future__ import annotations

import pytest

from pingan.accounts.actions import PersonInput
from pingan.accounts.models import Person
from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.core.models import AuditEntry
from pingan.core.personal import id_check_digit
from pingan.fieldwork import actions, queries
from pingan.fieldwork.models import Visit, VisitOutcome
from tests.fieldwork.conftest import VILLAGE_B, report


def pid(stem: str) -> str:
    return stem + id_check_digit(stem)


def test_a_new_visitor_is_registered_in_the_person_registry_with_the_visit(staff, workstations, departments) -> None:
    visit = actions.register_visit(staff, workstations[0], PersonInput(name="张三", id_number=pid("33050319800101001")),
                                   "拖欠工资三个月", [departments["rsj"], departments["sfj"]], category="dispute")
    assert visit.visitor.name == "张三" and visit.received_by == staff
    assert visit.visitor.area.code == "330503100201"  # no residence given: the workstation's area
    assert sorted(d.code for d in visit.departments.all()) == ["rsj", "sfj"]
    entry = AuditEntry.objects.get(action="pingan.visit.registered", object_id=str(visit.pk))
    assert "张三" not in str(entry.changes)  # the visitor is masked in the audit log
    assert entry.changes["departments"] == ["rsj", "sfj"]


def test_repeat_visits_by_the_same_person_are_counted_and_listed(staff, workstations) -> None:
    ident = pid("33050319800101001")
    first = actions.register_visit(staff, workstations[0], PersonInput(name="张三", id_number=ident), "欠薪")
    second = actions.register_visit(staff, workstations[0], PersonInput(name="张三", id_number=ident), "欠薪未解决")
    third = actions.register_visit(staff, workstations[0], first.visitor_id, "第三次来访")
    other = actions.register_visit(staff, workstations[0], PersonInput(name="李四"), "咨询")
    assert first.visitor_id == second.visitor_id == third.visitor_id
    assert Person.objects.filter(id_number=ident).count() == 1
    count, listed = queries.repeat_visits(staff, first.visitor_id)
    assert count == 3 and [v.pk for v in listed] == [third.pk, second.pk, first.pk]
    assert queries.visit_counts(staff, [first.visitor_id, other.visitor_id]) == {first.visitor_id: 3, other.visitor_id: 1}
    assert [(r["visitor_id"], r["n"]) for r in queries.repeat_visitors(staff)] == [(first.visitor_id, 3)]


def test_a_visit_needs_a_matter_a_workstation_and_known_choices(staff, workstations, departments) -> None:
    ws = workstations[0]
    with pytest.raises(ValidationFailed) as exc:
        actions.register_visit(staff, ws, PersonInput(name="张三"), "   ")
    assert exc.value.code == "invalid_matter"
    with pytest.raises(ValidationFailed) as exc:
        actions.register_visit(staff, departments["gaj"], PersonInput(name="张三"), "事情")
    assert exc.value.code == "not_a_workstation"
    with pytest.raises(ValidationFailed) as exc:
        actions.register_visit(staff, ws, PersonInput(name="张三"), "事情", category="gossip")
    assert exc.value.code == "invalid_category"
    with pytest.raises(ValidationFailed) as exc:
        actions.register_visit(staff, ws, PersonInput(name="张三"), "事情", [999_999])
    assert exc.value.code == "unknown_organisation"
    assert not Visit.objects.exists() and not Person.objects.exists()


def test_visits_are_registered_only_at_a_workstation_in_scope_by_roles_that_receive_visitors(
        staff, workstations, make_user) -> None:
    with pytest.raises(PermissionDeniedError) as exc:
        actions.register_visit(staff, workstations[1], PersonInput(name="张三"), "事情")
    assert exc.value.code == "workstation_out_of_scope"
    worker = make_user("grid_worker", area="330503100201001")
    with pytest.raises(PermissionDeniedError):
        actions.register_visit(worker, workstations[0], PersonInput(name="张三"), "事情")


def test_a_person_the_staff_cannot_see_is_not_found_by_id(staff, workstations) -> None:
    stranger = Person.objects.create(name="王五", area=None)
    with pytest.raises(NotFoundError):
        actions.register_visit(staff, workstations[0], stranger.pk, "事情")


def test_visits_of_another_workstation_are_not_listed(staff, workstations, make_user) -> None:
    staff_b = make_user("workstation_staff", area=VILLAGE_B)
    mine = actions.register_visit(staff, workstations[0], PersonInput(name="张三"), "事情")
    theirs = actions.register_visit(staff_b, workstations[1], PersonInput(name="李四"), "事情")
    assert list(queries.visits(staff)) == [mine]
    assert list(queries.visits(staff_b)) == [theirs]
    admin = make_user("district_admin")
    assert set(queries.visits(admin)) == {mine, theirs}


def test_a_visit_opens_a_workstation_visit_event_with_the_visitor_as_party(staff, workstations) -> None:
    visit = actions.register_visit(staff, workstations[0], PersonInput(name="张三"), "邻居噪音")
    event = actions.open_event_from_visit(staff, visit, report(source="public"))
    visit.refresh_from_db()
    assert event.source == "workstation_visit"
    assert visit.event == event and visit.outcome == VisitOutcome.EVENT_OPENED
    assert list(event.persons.values_list("person_id", flat=True)) == [visit.visitor_id]
    with pytest.raises(ConflictError) as exc:
        actions.open_event_from_visit(staff, visit, report())
    assert exc.value.code == "event_exists"


def test_a_visit_outside_scope_opens_nothing(staff, workstations, make_user) -> None:
    from pingan.events.models import Event

    staff_b = make_user("workstation_staff", area=VILLAGE_B)
    visit = actions.register_visit(staff_b, workstations[1], PersonInput(name="李四"), "事情")
    with pytest.raises(NotFoundError):
        actions.open_event_from_visit(staff, visit, report())
    procurator = make_user("procurator")  # sees every visit, records none
    with pytest.raises(PermissionDeniedError):
        actions.open_event_from_visit(procurator, visit, report())
    assert not Event.objects.exists()


def test_a_visitor_the_staff_cannot_see_still_gets_an_event_but_not_as_a_party(staff, workstations) -> None:
    from pingan.accounts.actions import register_person

    outsider = register_person("test", PersonInput(name="赵六", id_number=pid("33050319700101001"), area_code=VILLAGE_B))
    visit = actions.register_visit(staff, workstations[0], PersonInput(name="赵六", id_number=outsider.id_number), "事情")
    assert visit.visitor == outsider
    event = actions.open_event_from_visit(staff, visit, report())
    assert event.source == "workstation_visit" and not event.persons.exists()

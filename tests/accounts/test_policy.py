from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType

from pingan.accounts import actions, policy
from pingan.accounts import permissions as p
from pingan.accounts.models import ObjectGrant, Person
from pingan.core.errors import PermissionDeniedError, ValidationFailed
from pingan.core.models import AuditEntry
from pingan.core.personal import id_check_digit
from tests.conftest import GRID_A, GRID_B, TOWN_A


def pid(stem: str) -> str:
    return stem + id_check_digit(stem)


@pytest.fixture
def people(tree):  # type: ignore[no-untyped-def]
    a = actions.register_person("test", actions.PersonInput(name="王小明", id_number=pid("33050319900101001"), phone="13812345678", area_code=GRID_A))
    b = actions.register_person("test", actions.PersonInput(name="李大红", id_number=pid("33050319850505002"), area_code=GRID_B))
    return a, b


def test_grid_worker_sees_only_persons_in_their_grid(make_user, people) -> None:  # type: ignore[no-untyped-def]
    worker = make_user("grid_worker", area=GRID_A)
    visible = list(policy.restrict(worker, p.VIEW_PERSON.code, Person.objects.all()))
    assert visible == [people[0]]
    assert policy.can(worker, p.VIEW_PERSON.code, people[0])
    assert not policy.can(worker, p.VIEW_PERSON.code, people[1])


def test_district_admin_sees_everyone_but_not_identities(make_user, people) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("district_admin")
    assert policy.restrict(admin, p.VIEW_PERSON.code, Person.objects.all()).count() == 2
    assert not policy.can(admin, p.VIEW_PERSON_IDENTITY.code, people[0])


def test_town_police_officer_may_reveal_inside_town_only_and_every_reveal_is_audited(make_user, people) -> None:  # type: ignore[no-untyped-def]
    officer = make_user("police_officer", area=TOWN_A)
    actions.reveal_person(officer, people[0], purpose="核实身份")
    entry = AuditEntry.objects.filter(action="pingan.person.identity_viewed").get()
    assert entry.actor_username == officer.username and entry.object_id == str(people[0].pk)
    assert "王" in entry.object_repr and "小明" not in entry.object_repr  # logged masked
    with pytest.raises(PermissionDeniedError):
        actions.reveal_person(officer, people[1])


def test_a_grant_reaches_one_object_outside_scope(make_user, people) -> None:  # type: ignore[no-untyped-def]
    officer = make_user("correction_officer", area=TOWN_A)
    assert not policy.can(officer, p.VIEW_PERSON.code, people[1])
    ObjectGrant.objects.create(user=officer, permission=p.VIEW_PERSON.code, object_id=str(people[1].pk),
                               content_type=ContentType.objects.get_for_model(Person), reason="supervising officer")
    officer._pingan_reaches = None
    assert policy.can(officer, p.VIEW_PERSON.code, people[1])


def test_a_grant_never_narrows_a_reach_of_everything(make_user, tree, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    from pingan.geo.models import Area

    admin = make_user("district_admin")
    town = tree["330503100"]
    ObjectGrant.objects.create(user=admin, permission=p.VIEW_AREA.code, object_id=str(town.pk),
                               content_type=ContentType.objects.get_for_model(Area), reason="also granted")
    admin._pingan_reaches = None
    assert policy.restrict(admin, p.VIEW_AREA.code, Area.objects.all()).count() == len(tree)  # not just the town
    policy.reaches(admin)
    with django_assert_num_queries(0):  # district-wide: neither the grants nor the row need a query
        assert policy.can(admin, p.VIEW_AREA.code, tree["330503101"])


def test_an_expired_grant_reaches_nothing(make_user, people) -> None:  # type: ignore[no-untyped-def]
    officer = make_user("correction_officer", area=TOWN_A)
    ObjectGrant.objects.create(user=officer, permission=p.VIEW_PERSON.code, object_id=str(people[1].pk),
                               content_type=ContentType.objects.get_for_model(Person),
                               expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert not policy.can(officer, p.VIEW_PERSON.code, people[1])


def test_sealed_records_are_hidden_even_inside_scope(make_user, people) -> None:  # type: ignore[no-untyped-def]
    Person.objects.filter(pk=people[0].pk).update(sealed=True)
    admin = make_user("district_admin")
    assert not policy.restrict(admin, p.VIEW_PERSON.code, Person.objects.filter(pk=people[0].pk)).exists()


def test_block_leader_and_public_see_no_persons(make_user, people) -> None:  # type: ignore[no-untyped-def]
    for user in (make_user("block_leader", area=GRID_A), make_user("public"), make_user("auditor")):
        assert policy.restrict(user, p.VIEW_PERSON.code, Person.objects.all()).count() == 0


def test_inactive_user_has_no_reach(make_user, people) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("district_admin")
    admin.is_active = False
    admin._pingan_reaches = None
    assert policy.restrict(admin, p.VIEW_PERSON.code, Person.objects.all()).count() == 0


def test_registering_a_person_validates_every_field(tree) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        actions.register_person("test", actions.PersonInput(name="", id_number=pid("33050319900101001")[:-1] + ("1" if pid("33050319900101001")[-1] != "1" else "2"), phone="123", area_code="999"))
    assert set(err.value.details["fields"]) == {"name", "id_number", "phone", "area_code"}
    assert Person.objects.count() == 0


def test_same_id_number_is_one_person_across_modules(tree) -> None:  # type: ignore[no-untyped-def]
    one = actions.register_person("test", actions.PersonInput(name="王小明", id_number=pid("33050319900101001")))
    again = actions.register_person("test", actions.PersonInput(name="王小明", id_number=pid("33050319900101001").lower()))
    assert one.pk == again.pk and one.birth_date == dt.date(1990, 1, 1)


def test_grid_worker_cannot_register_a_person_in_another_grid(make_user, tree) -> None:  # type: ignore[no-untyped-def]
    worker = make_user("grid_worker", area=GRID_A)
    with pytest.raises(PermissionDeniedError):
        actions.register_person(worker, actions.PersonInput(name="赵六", area_code=GRID_B))


def test_holders_decide_as_can_does_for_each_candidate_in_a_fixed_number_of_queries(make_user, people, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    """policy.holders answers in one pass what can() answers per user: area scope, district scope, an object
    grant (outside scope), an expired grant (nothing), an inactive user (nothing), a role without the
    permission (nothing); and the number of queries does not grow with the candidates."""
    from pingan.accounts.models import User

    worker_a, worker_b = make_user("grid_worker", area=GRID_A), make_user("grid_worker", area=GRID_B)
    town_police = make_user("police_officer", area=TOWN_A)
    admin = make_user("district_admin")
    granted, expired = make_user("correction_officer", area=TOWN_A), make_user("correction_officer", area=TOWN_A)
    gone = make_user("grid_worker", area=GRID_B)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    make_user("block_leader", area=GRID_B)  # a role without view_person
    person_ct = ContentType.objects.get_for_model(Person)
    ObjectGrant.objects.create(user=granted, permission=p.VIEW_PERSON.code, object_id=str(people[1].pk),
                               content_type=person_ct, reason="supervising officer")
    ObjectGrant.objects.create(user=expired, permission=p.VIEW_PERSON.code, object_id=str(people[1].pk),
                               content_type=person_ct, reason="old", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    everyone = list(User.objects.filter(is_active=True))
    for person in people:
        expected = [u for u in everyone if policy.can(User.objects.get(pk=u.pk), p.VIEW_PERSON.code, person)]
        with django_assert_max_num_queries(6):
            found = policy.holders(p.VIEW_PERSON.code, person)
        assert [u.pk for u in found] == [u.pk for u in expected]
    assert [u.pk for u in policy.holders(p.VIEW_PERSON.code, people[1])] == sorted([worker_b.pk, admin.pk, granted.pk])
    assert worker_a.pk in {u.pk for u in policy.holders(p.VIEW_PERSON.code, people[0])}
    assert town_police.pk in {u.pk for u in policy.holders(p.VIEW_PERSON.code, people[0])}
    for _ in range(5):
        make_user("grid_worker", area=GRID_B)
    with django_assert_max_num_queries(6):
        assert len(policy.holders(p.VIEW_PERSON.code, people[1])) == 3 + 5


def test_holders_many_answers_each_object_as_holders_does_in_the_same_queries(make_user, people, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    make_user("grid_worker", area=GRID_A)
    make_user("grid_worker", area=GRID_B)
    make_user("district_admin")
    make_user("police_officer", area=TOWN_A)
    one_by_one = {person.pk: [u.pk for u in policy.holders(p.VIEW_PERSON.code, person)] for person in people}
    with django_assert_max_num_queries(6):
        together = policy.holders_many(p.VIEW_PERSON.code, people)
    assert {pk: [u.pk for u in users] for pk, users in together.items()} == one_by_one
    assert len({tuple(v) for v in one_by_one.values()}) > 1  # the objects' holders differ: the test can fail
    assert policy.holders_many(p.VIEW_PERSON.code, []) == {}

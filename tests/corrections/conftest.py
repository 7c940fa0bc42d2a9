"""Fixtures of 如燕: two judicial offices (towns A and B), personas for every role that matters, the head of the
justice bureau (who approves monitoring), a frozen clock, and helpers to register a subject in GRID_A and take
them in."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.cache import cache

from pingan.accounts import actions as account_actions
from pingan.accounts.models import Organisation, OrgKind, Role
from pingan.accounts.setup import ensure_default_roles
from pingan.core import clock
from pingan.core.personal import id_check_digit
from pingan.corrections import actions, coreareas
from pingan.corrections.models import Subject
from pingan.corrections.setup import ensure_roles
from pingan.tracking import pipeline
from tests.conftest import GRID_A, GRID_B, TOWN_A, TOWN_B, build_tree, rolled_back, user_maker

START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)   # Monday 10:00 in Shanghai
TODAY = dt.date(2026, 3, 2)
IN_GRID_A = (120.32, 30.85)
IN_GRID_B = (120.45, 30.85)
OUTSIDE_DISTRICT = (121.50, 31.50)
PASSWORD = "correct horse battery staple"

_events_defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
_ids = itertools.count(1)


def id_number(born: str = "19900101") -> str:
    stem = f"330503{born}{next(_ids) % 1000:03d}"
    return stem + id_check_digit(stem)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen() -> Iterator[clock.FrozenClock]:
    c = clock.FrozenClock(START)
    with clock.use_clock(c):
        yield c


@dataclass
class World:
    tree: dict[str, Any]
    office_a: Organisation
    office_b: Organisation
    clock: clock.FrozenClock
    users: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["users"][name]
        except KeyError:
            raise AttributeError(name) from None

    def subject_input(self, **overrides: Any) -> actions.SubjectInput:
        values: dict[str, Any] = {
            "person_input": account_actions.PersonInput(name=overrides.pop("name", "王小明"), id_number=id_number(
                overrides.pop("born", "19900101")), area_code=GRID_A),
            "correction_type": "probation", "decision_body": "南浔区人民法院",
            "decision_number": f"(2026)浙0503刑初{next(_ids)}号", "decision_effective_on": TODAY - dt.timedelta(days=2),
            "supervision_start": TODAY - dt.timedelta(days=2), "supervision_end": dt.date(2027, 3, 1),
            "judicial_office": self.office_a, "officer": self.users["officer_a"], "area": self.tree[GRID_A],
            "phone": "13857212345", "home_lon": IN_GRID_A[0], "home_lat": IN_GRID_A[1],
        }
        values.update(overrides)
        return actions.SubjectInput(**values)

    def register(self, actor: Any = None, **overrides: Any) -> Subject:
        return actions.register_subject(actor or self.users["officer_a"], self.subject_input(**overrides))

    def register_in_b(self, **overrides: Any) -> Subject:
        values = {"judicial_office": self.office_b, "officer": self.users["officer_b"], "area": self.tree[GRID_B],
                  "home_lon": IN_GRID_B[0], "home_lat": IN_GRID_B[1]}
        values.update(overrides)
        subject = self.register(self.users["officer_b"], **values)
        return subject

    def taken_in(self, subject: Subject | None = None, **overrides: Any) -> Subject:
        subject = subject or self.register(**overrides)
        return actions.record_intake(self.users["officer_a"] if subject.judicial_office == self.office_a
                                     else self.users["officer_b"], subject)

    def authorise(self, subject: Subject, *, days: int = 30, **overrides: Any) -> Any:
        values: dict[str, Any] = {"ground": "prohibition_order", "facts": "进入禁止区域（酒吧）两次", "approver": self.head,
                                  "ends_at": clock.now() + dt.timedelta(days=days)}
        values.update(overrides)
        return actions.grant_authorisation(self.users["officer_a"], subject, **values)

    def linked(self, subject: Subject, user: Any = None) -> Any:
        user = user or self.users["subject_user"]
        actions.link_user(self.users["officer_a"], subject, user)
        return user


def _build_base() -> dict[str, Any]:
    """The rows of ``corr``'s world, made as the fixture made them for every test before: the tree and the roles
    first, then the rest on the frozen clock at START."""
    tree = build_tree()
    roles = ensure_default_roles()
    make_user = user_maker(tree, roles)
    with clock.use_clock(clock.FrozenClock(START)):
        _events_defaults.install_types(django_apps)
        _events_defaults.grant(django_apps)
        ensure_roles()
        office_a = Organisation.objects.create(code="sfs-a", name="甲镇司法所", kind=OrgKind.JUDICIAL_OFFICE, area=tree[TOWN_A])
        office_b = Organisation.objects.create(code="sfs-b", name="乙镇司法所", kind=OrgKind.JUDICIAL_OFFICE, area=tree[TOWN_B])
        head = account_actions.create_user("test", username="head", password=PASSWORD)
        account_actions.assign_role("test", head, Role.objects.get(code="justice_bureau_head"), area=tree["330503"])
        users = dict(
            officer_a=make_user("correction_officer", area=TOWN_A, organisation="sfs-a", username="officer_a"),
            officer_a2=make_user("correction_officer", area=TOWN_A, organisation="sfs-a", username="officer_a2"),
            officer_b=make_user("correction_officer", area=TOWN_B, organisation="sfs-b", username="officer_b"),
            head=head,
            procurator=make_user("procurator", username="procurator"),
            grid_worker=make_user("grid_worker", area=GRID_A, username="grid_worker"),
            judge=make_user("judge", username="judge"),
            enterprise=make_user("enterprise_safety_officer", organisation="ent-a", username="enterprise"),
            admin=make_user("district_admin", username="admin"),
            checkpoint=make_user("checkpoint_staff", area=TOWN_A, username="checkpoint"),
            checkpoint_2=make_user("checkpoint_staff", area=TOWN_B, username="checkpoint_2"),
            police=make_user("police_officer", area=TOWN_A, username="police"),
            subject_user=make_user("correction_subject", username="subject_user"),
            other_subject_user=make_user("correction_subject", username="other_subject_user"),
        )
    return {"tree": tree, "roles": roles, "office_a": office_a, "office_b": office_b, "users": users}


@pytest.fixture(scope="module")
def _corr_base(django_db_setup, django_db_blocker) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """``corr``'s rows, built once per module (at its first test that asks for ``corr``) in a transaction rolled
    back at the module's end; each test runs in a savepoint inside it. A module whose tests use ``corr`` has
    them from then on, so its other database tests must not mind them (none here does)."""
    yield from rolled_back(django_db_blocker, _build_base)


@pytest.fixture
def _corr_rows(request, db) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """This test's copy of ``corr``'s rows when it uses ``corr`` (else None): model instances deep-copied per test,
    as Django's setUpTestData does, so what one test changes in memory never reaches the next. (``corr`` asks
    for ``_corr_base`` itself, so that pytest sets the module-scoped fixture up before this test's ``db``.)"""
    if "corr" not in request.fixturenames:
        return None
    return copy.deepcopy(request.getfixturevalue("_corr_base"))


@pytest.fixture
def tree(_corr_rows, db):  # type: ignore[no-untyped-def]
    """The tree: ``corr``'s (already in the database) for a test that uses ``corr``, else a new one as anywhere."""
    from pingan.geo.queries import reset_index

    reset_index()
    yield _corr_rows["tree"] if _corr_rows is not None else build_tree()
    reset_index()


@pytest.fixture
def roles(_corr_rows, db):  # type: ignore[no-untyped-def]
    return _corr_rows["roles"] if _corr_rows is not None else ensure_default_roles()


@pytest.fixture
def corr(_corr_base, _corr_rows, tree, make_user, frozen) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """The world of these tests (the name ``world`` is the access table's): the rows of ``_corr_base`` (tree,
    roles, event types, the two offices and the personas), this test's copies of them, and a frozen clock."""
    pipeline.reset_engine()
    coreareas.invalidate()
    w = World(tree=tree, office_a=_corr_rows["office_a"], office_b=_corr_rows["office_b"], clock=frozen)
    w.users.update(_corr_rows["users"])
    yield w
    pipeline.reset_engine()
    coreareas.invalidate()


@pytest.fixture
def heads(corr) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The head of each judicial office (role judicial_office_head, organisation scope)."""
    out = {}
    for side, office in (("a", corr.office_a), ("b", corr.office_b)):
        user = account_actions.create_user("test", username=f"office_head_{side}", password=PASSWORD, organisation=office)
        account_actions.assign_role("test", user, Role.objects.get(code="judicial_office_head"), organisation=office)
        out[side] = user
    return out

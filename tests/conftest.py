"""Shared fixtures: a small area tree, personas for every role, and service checks.

The tree (codes extend their parents' as in the real one):

    330503 district (0..4 × 0..2 degrees-ish box near Nanxun)
      330503100 town A            330503101 town B
        330503100201 village A1     330503101201 village B1
          330503100201001 grid        330503101201001 grid
            …001 / …002 micro-grids     …001 micro-grid
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
import shapely
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
hypothesis_settings.register_profile("dev", max_examples=30, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

CI = os.environ.get("CI") == "true"
T = TypeVar("T")

X0, Y0 = 120.30, 30.80  # south-west corner of the test district


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


TREE = [
    ("330503", "测试区", "district", None, box(0, 0, 0.2, 0.1)),
    ("330503100", "甲镇", "town", "330503", box(0, 0, 0.1, 0.1)),
    ("330503101", "乙镇", "town", "330503", box(0.1, 0, 0.2, 0.1)),
    ("330503100201", "甲一村", "village", "330503100", box(0, 0, 0.1, 0.1)),
    ("330503101201", "乙一村", "village", "330503101", box(0.1, 0, 0.2, 0.1)),
    ("330503100201001", "甲一村第1网格", "grid", "330503100201", box(0, 0, 0.1, 0.1)),
    ("330503101201001", "乙一村第1网格", "grid", "330503101201", box(0.1, 0, 0.2, 0.1)),
    ("330503100201001001", "甲一村第1网格第1微网格", "microgrid", "330503100201001", box(0, 0, 0.05, 0.1)),
    ("330503100201001002", "甲一村第1网格第2微网格", "microgrid", "330503100201001", box(0.05, 0, 0.1, 0.1)),
    ("330503101201001001", "乙一村第1网格第1微网格", "microgrid", "330503101201001", box(0.1, 0, 0.2, 0.1)),
]
TOWN_A, TOWN_B = "330503100", "330503101"
GRID_A, GRID_B = "330503100201001", "330503101201001"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scratch_db: makes its own PostgreSQL databases whatever DATABASE_URL says, "
                            "so it runs once (left out of the PostgreSQL pass)")
    config.addinivalue_line("markers", "no_db: set by conftest on a test that has no database access (no db, "
                            "transactional_db or live_server fixture, no django_db mark): its run does not depend on "
                            "DATABASE_URL, so the PostgreSQL pass of `make test` leaves it out (the SQLite pass runs it)")
    config.addinivalue_line("markers", "database_url: without a database fixture, still depends on DATABASE_URL "
                            "(reads it itself): not no_db, so it runs in the PostgreSQL pass too")


_DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server",
                "django_db_setup"}  # (django_db_blocker is in every test's closure: pytest-django's autouse fixtures)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if (not _DB_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("django_db") is None
                and item.get_closest_marker("database_url") is None):
            item.add_marker(pytest.mark.no_db)


def service_reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip with a reason when a service is down — except under CI=true, where it is a failure."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if CI:
        pytest.fail(f"{message} (CI=true: required services must run)")
    pytest.skip(message)


def build_tree() -> dict[str, object]:
    """Import TREE (as the ``tree`` fixture does) and return its areas by code; the geo index is reset."""
    from pingan.geo import actions
    from pingan.geo.importer import ParsedArea, ParseResult
    from pingan.geo.models import Area
    from pingan.geo.queries import reset_index

    parsed = ParseResult(areas=[ParsedArea(i, c, n, "", lvl, p, g) for i, (c, n, lvl, p, g) in enumerate(TREE)])
    actions.import_areas("test", parsed)
    reset_index()
    return {a.code: a for a in Area.objects.all()}


@pytest.fixture
def tree(db):  # type: ignore[no-untyped-def]
    from pingan.geo.queries import reset_index

    yield build_tree()
    reset_index()


@dataclass
class Personas:
    make: Callable[..., object]
    password: str = "correct horse battery staple"


@pytest.fixture
def roles(db):  # type: ignore[no-untyped-def]
    from pingan.accounts.setup import ensure_default_roles

    return ensure_default_roles()


def user_maker(tree: dict[str, object], roles: dict[str, object]) -> Callable[..., object]:
    """What the ``make_user`` fixture returns, for a given tree and roles (also for module-scoped worlds)."""
    from pingan.accounts import actions
    from pingan.accounts.models import Organisation

    counter = {"n": 0}

    def make(role: str, area: str | None = None, organisation: str | None = None, username: str | None = None):  # type: ignore[no-untyped-def]
        counter["n"] += 1
        org = None
        if organisation:
            org, _ = Organisation.objects.get_or_create(code=organisation, defaults={"name": organisation, "kind": "enterprise"})
        user = actions.create_user("test", username=username or f"{role}_{counter['n']}", password=Personas.password, organisation=org)
        r = roles[role]
        if r.scope in ("district", "area"):  # type: ignore[attr-defined]
            actions.assign_role("test", user, r, area=tree[area or "330503"], organisation=org)
        else:
            actions.assign_role("test", user, r, organisation=org)
        return user

    return make


@pytest.fixture(autouse=True)
def _fresh_process_caches():  # type: ignore[no-untyped-def]
    """The events configuration is cached per process (pingan.events.lookups); each test's database starts
    anew (rolled back or flushed), so each test starts with an empty cache too."""
    from pingan.events import lookups

    lookups.clear()
    yield
    lookups.clear()


@pytest.fixture
def make_user(tree, roles):  # type: ignore[no-untyped-def]
    """make_user("grid_worker", area=GRID_A) → a user holding that role over that area."""
    return user_maker(tree, roles)


def rolled_back(django_db_blocker, build: Callable[[], T]) -> Iterator[T]:  # type: ignore[no-untyped-def]
    """For a module- or class-scoped fixture: ``build()`` runs once inside a transaction that is rolled back when
    the fixture ends, so its rows are made once and yet every test (``db``: a savepoint inside that transaction)
    starts from them and leaves nothing behind. Not for modules with ``transactional_db`` tests (a flush would
    empty the transaction). Between the tests the database stays blocked as usual.

        @pytest.fixture(scope="module")
        def shared(django_db_setup, django_db_blocker):
            yield from rolled_back(django_db_blocker, build_rows)
    """
    from django.db import connection, transaction

    with django_db_blocker.unblock():
        if connection.in_atomic_block:  # inside a test's own transaction, which would roll it back after that test
            raise RuntimeError("a rolled_back fixture must be set up before the test's db fixture: "
                               "make it a direct (static) dependency of the test or of its fixtures")
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            value = build()
        except BaseException:
            atomic.__exit__(*sys.exc_info())
            raise
    try:
        yield value
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(scope="session", autouse=True)
def _flush_passes_audit_triggers():  # type: ignore[no-untyped-def]
    """Transactional tests empty every table between tests, which the audit log's append-only
    triggers rightly refuse. For tests only, flushing lifts the triggers and puts them back."""
    from django.db import connections

    from pingan.core.dbtriggers import INSTALL, REMOVE

    originals = {}
    for conn in connections.all():
        cls, vendor = type(conn.ops), conn.vendor
        if cls in originals or vendor not in INSTALL:
            continue
        original = cls.sql_flush
        originals[cls] = original

        def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False, _o=original, _v=vendor):  # type: ignore[no-untyped-def]
            statements = _o(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
            if "core_auditentry" not in tables:
                return statements
            return [*REMOVE[_v], *statements, *INSTALL[_v]]

        cls.sql_flush = sql_flush
    yield
    for cls, original in originals.items():
        cls.sql_flush = original

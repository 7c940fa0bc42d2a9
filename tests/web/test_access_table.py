"""Every route × every role, inside and outside scope, against expectations written by hand.

The table below is the contract: it is NOT derived from the policy. A route that is not in the
table fails ``test_every_route_is_in_the_table``, so no new page or endpoint can skip access control.

Cells: the expected status for (role, object inside the user's scope, object outside it). Routes
without an object use the same value for both. Statuses: 200 OK, 302 redirect (to login or on),
401 API unauthenticated, 403 forbidden, 404 hidden (outside scope), 405 wrong method.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import GRID_A, GRID_B, TOWN_B, build_tree, rolled_back, user_maker
from tests.web.access import (  # noqa: E402
    DISTRICT_WIDE,
    IDENTITY,
    PERSONA_AREA,
    ROLES,
    STAFF,
    VIEW_AREA,
    VIEW_ORG,
    A,
    D,
    F,
    H,
    L,
    U,
    allow,
    row,
)

# (method, route name or path template) → expectations; {inside}/{outside} are filled per route.
TABLE: dict[str, dict[str, object]] = {
    # -- pages ---------------------------------------------------------------------------------
    "web:healthz": {"method": "GET", "cells": row(default=A, anonymous=A)},
    "web:login": {"method": "GET", "cells": row(default=D, anonymous=A)},  # logged-in users are sent on
    "web:logout": {"method": "POST", "cells": row(default=D, anonymous=D)},
    "web:home": {"method": "GET", "cells": row(default=A, anonymous=L)},
    "web:areas": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW_AREA, ok=A) | {
        # a single root redirects to its page
        r: D for r in VIEW_AREA})},
    "web:area": {"method": "GET", "kind": "area",
                 "cells": row(default=F, anonymous=L, **allow(VIEW_AREA, scoped=True, denied=H))},
    "web:persons": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(STAFF))},
    "web:person": {"method": "GET", "kind": "person",
                   "cells": row(default=H, anonymous=L, **allow(STAFF, scoped=True, denied=H))},
    "web:person-reveal": {"method": "POST", "kind": "person", "cells": row(default=H, anonymous=L, **(
        allow(STAFF, scoped=True, denied=H) | {r: (F, H) for r in STAFF if r not in IDENTITY and r not in DISTRICT_WIDE}
        | {r: (F, F) for r in DISTRICT_WIDE if r not in IDENTITY}))},
    "web:organisations": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW_ORG))},
    "web:audit": {"method": "GET", "cells": row(default=F, anonymous=L, auditor=A)},
    "web:tokens": {"method": "GET", "cells": row(default=A, anonymous=L)},
    "web:token-revoke": {"method": "POST", "kind": "own_token", "cells": row(default=(D, H), anonymous=L)},
    "set_language": {"method": "POST", "cells": row(default=D, anonymous=D)},
    # Django admin: only staff users (none of the personas) — one row for the whole site.
    "admin:*": {"method": "GET", "path": "/admin/", "cells": row(default=D, anonymous=D)},
    # -- API -------------------------------------------------------------------------------------
    "api:api-root": {"method": "GET", "cells": row(default=H, anonymous=H)},  # ninja answers 404 unless DEBUG
    "api:openapi-json": {"method": "GET", "cells": row(default=A, anonymous=A)},
    "api:openapi-view": {"method": "GET", "cells": row(default=A, anonymous=A)},
    "api:create_token": {"method": "POST", "body": "bad-credentials", "cells": row(default=401, anonymous=401)},
    "api:list_tokens": {"method": "GET", "cells": row(default=A, anonymous=U)},
    "api:revoke_token": {"method": "DELETE", "kind": "own_token", "cells": row(default=(204, H), anonymous=U)},
    "api:me": {"method": "GET", "cells": row(default=A, anonymous=U)},
    "api:list_roles": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW_ORG))},
    "api:list_organisations": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW_ORG))},
    "api:list_persons": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(STAFF))},
    "api:register_person": {"method": "POST", "kind": "new_person", "cells": row(default=F, anonymous=U, **(
        allow(("district_admin", "department_staff", "workstation_staff", "grid_worker"), ok=201, scoped=True, hidden=F)))},
    "api:get_person": {"method": "GET", "kind": "person",
                       "cells": row(default=H, anonymous=U, **allow(STAFF, scoped=True, denied=H))},
    "api:reveal_person": {"method": "POST", "kind": "person", "cells": row(default=H, anonymous=U, **(
        allow(STAFF, scoped=True, denied=H) | {r: (F, H) for r in STAFF if r not in IDENTITY and r not in DISTRICT_WIDE}
        | {r: (F, F) for r in DISTRICT_WIDE if r not in IDENTITY}))},
    "api:list_areas": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW_AREA))},
    "api:locate": {"method": "GET", "query": "locate", "cells": row(default=F, anonymous=U, **allow(VIEW_AREA))},
    "api:get_area": {"method": "GET", "kind": "area",
                     "cells": row(default=H, anonymous=U, **allow(VIEW_AREA, scoped=True, denied=H))},
    "api:area_geojson": {"method": "GET", "kind": "area",
                         "cells": row(default=H, anonymous=U, **allow(VIEW_AREA, scoped=True, denied=H))},
    "api:search_audit": {"method": "GET", "cells": row(default=F, anonymous=U, auditor=A)},
}


def all_route_names() -> set[str]:
    """Every named route of the project; the admin site counts as one entry."""
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver], namespace: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or ""
                if ns == "admin":
                    names.add("admin:*")
                    continue
                walk(p.url_patterns, f"{namespace}{ns}:" if ns else namespace)
            else:
                if p.name is None:
                    names.add(f"{namespace}<unnamed {p.pattern}>")
                else:
                    names.add(f"{namespace}{p.name}")

    walk(get_resolver().url_patterns)
    return names


def test_every_route_is_in_the_table() -> None:
    missing = sorted(all_route_names() - set(TABLE))
    assert not missing, f"routes without a hand-written access expectation: {missing}"
    stale = sorted(set(TABLE) - all_route_names())
    assert not stale, f"table rows for routes that no longer exist: {stale}"


@dataclass
class Table:
    """What every route is checked against, built once for the module (see ``table``)."""

    world: dict[str, object]
    make_user: Callable[..., object]
    users: dict[str, object]     # the persona of each role (anonymous: None)
    sessions: dict[str, str]     # each persona's session key, logged in once


def _build_table() -> Table:
    from django.conf import settings
    from django.test import Client

    from pingan.accounts import actions
    from pingan.accounts.models import Person
    from pingan.accounts.setup import ensure_default_roles
    from pingan.core.personal import id_check_digit

    def pid(stem: str) -> str:
        return stem + id_check_digit(stem)

    tree = build_tree()
    make_user = user_maker(tree, ensure_default_roles())
    person_in = actions.register_person("test", actions.PersonInput(name="王小明", id_number=pid("33050319900101001"), area_code=GRID_A))
    person_out = actions.register_person("test", actions.PersonInput(name="李大红", id_number=pid("33050319850505002"), area_code=GRID_B))
    assert Person.objects.count() == 2
    users: dict[str, object] = {}
    sessions: dict[str, str] = {}
    for role in ROLES:
        users[role] = user = persona(make_user, role)
        if user is not None:
            login = Client()
            login.force_login(user)
            sessions[role] = login.cookies[settings.SESSION_COOKIE_NAME].value
    return Table({"person": (person_in, person_out), "area": (GRID_A, TOWN_B)}, make_user, users, sessions)


@pytest.fixture(scope="module")
def table(django_db_setup, django_db_blocker) -> Iterator[Table]:  # type: ignore[no-untyped-def]
    """The area tree, the roles, a person inside and one outside, and one persona per role already logged in:
    built once for the ~190 routes, in a transaction rolled back at the end of the module. Each route's test
    runs in a savepoint inside it (``db``), each persona's requests in a savepoint inside that, all rolled back,
    so no route and no persona sees what another one did."""
    from pingan.geo.queries import reset_index

    yield from rolled_back(django_db_blocker, _build_table)
    reset_index()


@pytest.fixture(scope="module", autouse=True)
def _openapi_schema_built_once() -> Iterator[None]:
    """The OpenAPI schema does not depend on who asks (and takes ~0.5 s to build): the first request of the
    ``api:openapi-json`` row builds it for real, the other personas' requests (each still going through the
    middleware, the view and its access check) get the same schema."""
    from pingan.api import api

    built: dict[object, object] = {}
    original = api.get_openapi_schema

    def once(*, path_prefix: str | None = None, path_params: dict[str, object] | None = None) -> object:
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in built:
            built[key] = original(path_prefix=path_prefix, path_params=path_params)
        return built[key]

    api.get_openapi_schema = once  # type: ignore[method-assign]
    try:
        yield
    finally:
        del api.get_openapi_schema


def persona(make_user, role: str):  # type: ignore[no-untyped-def]
    if role == "anonymous":
        return None
    if role == "enterprise_safety_officer":
        return make_user(role, organisation="ent-test")
    if role in ("correction_subject", "public"):
        return make_user(role)
    return make_user(role, area=PERSONA_AREA[role])


def request_for(name: str, spec: dict[str, object], obj: object, user: object) -> tuple[str, str, dict[str, object]]:
    from django.urls import reverse

    from pingan.accounts import actions

    kind = spec.get("kind")
    kwargs: dict[str, object] = {}
    data: dict[str, object] = {}
    if kind == "area":
        kwargs["code"] = obj
    elif kind == "person":
        kwargs["person_id"] = obj.pk  # type: ignore[attr-defined]
        data = {"purpose": "access table"}
    elif kind == "own_token":
        owner = user if obj == "mine" else None
        if owner is None:
            from pingan.accounts.models import User

            owner = User.objects.filter(username="token_owner").first() or actions.create_user(
                "test", username="token_owner", password=None)
        token, _ = actions.issue_token(owner, user=owner, name="t")
        kwargs["token_id"] = token.pk
    elif kind == "new_person":
        from pingan.core.personal import id_check_digit

        stem = "33050320000101" + f"{abs(hash((name, str(obj), str(user)))) % 900 + 100}"
        data = {"name": "张三", "id_number": stem + id_check_digit(stem), "area_code": obj}
    for module in ROW_MODULES:
        built = module.request(kind, obj, user)
        if built is not None:
            kwargs, data = built
            break
    if spec.get("body") == "bad-credentials":
        data = {"username": "nobody", "password": "wrong password"}
    path = str(spec["path"]) if "path" in spec else reverse(name, kwargs=kwargs or None)
    if spec.get("query") == "locate":
        path += "?lon=120.32&lat=30.85"
    elif str(spec.get("query", "")).startswith("?"):  # a row's own query string (e.g. a track's period)
        path += str(spec["query"])
    return str(spec["method"]), path, data


# Each app with routes adds ``tests/<app>/access_rows.py``: ``ROWS`` (same format as TABLE) and
# ``objects(kind, world, make_user) -> (inside, outside) | None`` and
# ``request(kind, obj, user) -> (url kwargs, body) | None`` for the object kinds its rows use.
ROW_MODULES = []
for _app in ("events", "fieldwork", "dashboard", "tracking", "corrections"):
    if importlib.util.find_spec(f"tests.{_app}.access_rows") is not None:
        _module = importlib.import_module(f"tests.{_app}.access_rows")
        TABLE.update(_module.ROWS)
        ROW_MODULES.append(_module)

@pytest.mark.parametrize("name", sorted(TABLE))
def test_route_answers_as_written(name: str, table: Table, db, client) -> None:  # type: ignore[no-untyped-def]
    """One route, every persona; each persona's requests run in a savepoint that is rolled back, so a
    successful write by one persona never changes what the next one finds."""
    from django.core.cache import cache
    from django.db import transaction

    from pingan.geo.queries import reset_index

    reset_index()  # as a fresh tree would: no index cached from another route
    objects = _objects(TABLE[name].get("kind"), table.world, table.make_user)  # the same objects for every persona
    failures = [
        message for role in ROLES if (message := _check(name, role, objects, table, client, transaction, cache))
    ]
    assert not failures, "\n".join(failures)


def _objects(kind, world, make_user) -> tuple[object, object]:  # type: ignore[no-untyped-def]
    if kind in ("area", "person"):
        return world[kind]
    if kind == "own_token":
        return ("mine", "other")
    if kind == "new_person":
        return (GRID_A, GRID_B)
    for module in ROW_MODULES:
        found = module.objects(kind, world, make_user)
        if found is not None:
            return found
    return (None, None)


def _check(name, role, objects, table, client, transaction, cache) -> str:  # type: ignore[no-untyped-def]
    import json
    from http.cookies import SimpleCookie

    from django.conf import settings

    spec = TABLE[name]
    kind = spec.get("kind")
    client.cookies = SimpleCookie()  # as after a logout: no cookie of the previous persona
    if role in table.sessions:  # logged in (the session row was made once, outside every savepoint)
        client.cookies[settings.SESSION_COOKIE_NAME] = table.sessions[role]
    cache.clear()  # rate-limit and throttling counters
    with transaction.atomic():
        try:
            user = table.users[role]
            expected_in, expected_out = spec["cells"][role]  # type: ignore[index]
            for side, (obj, expected) in enumerate(((objects[0], expected_in), (objects[1], expected_out))):
                if role == "anonymous" and kind == "own_token" and obj == "mine":
                    obj = "other"
                with transaction.atomic():
                    method, path, data = request_for(name, spec, obj, user)
                    if path.startswith("/api/"):
                        response = client.generic(method, path, json.dumps(data) if data else "", content_type="application/json")
                    elif method == "POST":
                        response = client.post(path, data)
                    else:
                        response = client.get(path)
                    transaction.set_rollback(True)
                if response.status_code != expected:
                    return (f"{method} {path} as {role} ({'inside' if side == 0 else 'outside'}): "
                            f"got {response.status_code}, expected {expected}")
            return ""
        finally:
            transaction.set_rollback(True)

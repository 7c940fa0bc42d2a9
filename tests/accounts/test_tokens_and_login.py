from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.test import Client

from pingan.accounts import actions
from pingan.accounts.models import ApiToken
from pingan.core.clock import FrozenClock, use_clock
from tests.conftest import GRID_A, Personas


def test_token_exchange_shows_the_token_once_and_stores_only_its_hash(make_user, client) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    r = client.post("/api/v1/auth/token", {"username": user.username, "password": Personas.password, "scopes": ["read"]},
                    content_type="application/json")
    assert r.status_code == 201
    token = r.json()["token"]
    stored = ApiToken.objects.get(user=user)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ApiToken.objects.values_list().get())
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == user.username


def test_read_only_token_cannot_write_and_revoked_or_expired_tokens_fail(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    token, plain = actions.issue_token(user, user=user, name="phone", scopes=["read"], days=1)
    auth = {"Authorization": f"Bearer {plain}"}
    c = Client()
    r = c.post("/api/v1/persons", {"name": "张三", "area_code": GRID_A}, content_type="application/json", headers=auth)
    assert r.status_code == 403 and r.json()["code"] == "token_scope"
    with use_clock(FrozenClock(token.expires_at + dt.timedelta(seconds=1))):
        assert c.get("/api/v1/me", headers=auth).status_code == 401
    actions.revoke_token(user, token)
    assert c.get("/api/v1/me", headers=auth).status_code == 401


def test_write_token_can_register_a_person(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    _, plain = actions.issue_token(user, user=user, name="app", scopes=["read", "write"])
    r = Client().post("/api/v1/persons", {"name": "张三", "phone": "13812345678", "area_code": GRID_A},
                      content_type="application/json", headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 201
    assert r.json()["phone"] == "138****5678" and r.json()["name"] == "张*"


def test_bad_person_input_is_refused_with_reasons(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    _, plain = actions.issue_token(user, user=user, name="app", scopes=["read", "write"])
    from pingan.core.personal import id_check_digit

    good = "33050319900101001" + id_check_digit("33050319900101001")
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    r = Client().post("/api/v1/persons", {"name": "张三", "id_number": bad},
                      content_type="application/json", headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_person"
    assert "check digit" in r.json()["details"]["fields"]["id_number"]


def test_unknown_token_scope_is_refused(make_user) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.errors import ValidationFailed

    user = make_user("grid_worker", area=GRID_A)
    with pytest.raises(ValidationFailed):
        actions.issue_token(user, user=user, name="x", scopes=["admin"])


def test_login_throttling_is_per_username_and_address(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    attacker = Client(REMOTE_ADDR="10.9.9.9")
    for _ in range(5):
        attacker.post("/login/", {"username": user.username, "password": "wrong password"})
    locked = attacker.post("/login/", {"username": user.username, "password": Personas.password})
    assert locked.status_code == 429
    # The officer, from their own address, still logs in: no lockout an attacker can cause.
    officer = Client(REMOTE_ADDR="10.1.1.1")
    ok = officer.post("/login/", {"username": user.username, "password": Personas.password})
    assert ok.status_code == 302
    api = Client(REMOTE_ADDR="10.9.9.9").post("/api/v1/auth/token", {"username": user.username, "password": Personas.password},
                                              content_type="application/json")
    assert api.status_code == 429 and api.json()["code"] == "locked_out"

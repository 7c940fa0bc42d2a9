"""Leave through the API and the pages: the officer asks, the judicial office's head or the bureau's head
decides, the subject asks from their own login; who sees leave requests (grid worker, judge, an officer of
another town, an enterprise user: nothing; a procurator reads and cannot act)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from pingan.accounts import actions as account_actions
from pingan.accounts.models import Role
from pingan.core import clock
from pingan.corrections import actions
from pingan.corrections.models import LeaveRequest, LeaveState
from tests.corrections.conftest import PASSWORD
from tests.corrections.test_leave import leave_input

BASE = "/api/v1/corrections"


def call(client, user, method: str, path: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.generic(method, BASE + path, json.dumps(body, default=str) if body is not None else "",
                          content_type="application/json")


def body(days: float = 3, start_in: dt.timedelta = dt.timedelta(days=1)) -> dict[str, Any]:
    start = clock.now() + start_in
    return {"destination": "杭州市西湖区", "reason": "探亲", "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(days=days)).isoformat(), "dest_lon": 120.15, "dest_lat": 30.25}


@pytest.fixture
def office_head(corr) -> Any:  # type: ignore[no-untyped-def]
    user = account_actions.create_user("test", username="office_head_a", password=PASSWORD, organisation=corr.office_a)
    account_actions.assign_role("test", user, Role.objects.get(code="judicial_office_head"), organisation=corr.office_a)
    return user


def test_the_api_from_request_to_approval(corr, office_head, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    made = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/leave", body(days=3))
    assert made.status_code == 201, made.content
    leave = made.json()
    assert (leave["level"], leave["stage"], leave["state"], leave["days"]) == ("office", "office", "pending", 3)
    assert leave["can"] == ["cancel"]
    queue = call(client, office_head, "GET", "/leave?decide=true").json()
    assert [(x["id"], x["can"]) for x in queue] == [(leave["id"], ["approve", "refuse"])]
    assert call(client, corr.head, "GET", "/leave?decide=true").json()[0]["id"] == leave["id"]  # the bureau decides any
    approved = call(client, office_head, "POST", f"/leave/{leave['id']}/approve", {"note": "同意"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert call(client, office_head, "GET", "/leave?decide=true").json() == []
    listed = call(client, corr.officer_a, "GET", f"/subjects/{subject.pk}/leave").json()
    assert [s["action"] for s in listed[0]["steps"]] == ["requested", "approved"]


def test_the_api_for_a_long_leave_and_one_too_long(corr, office_head, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    too_long = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/leave", body(days=31))
    assert too_long.status_code == 422 and too_long.json()["code"] == "leave_too_long"
    leave = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/leave", body(days=12)).json()
    assert leave["level"] == "bureau"
    forwarded = call(client, office_head, "POST", f"/leave/{leave['id']}/approve", {})
    assert (forwarded.json()["state"], forwarded.json()["stage"]) == ("pending", "bureau")
    again = call(client, office_head, "POST", f"/leave/{leave['id']}/approve", {})
    assert again.status_code == 403 and again.json()["code"] == "bureau_approval_required"
    assert call(client, corr.head, "POST", f"/leave/{leave['id']}/approve", {}).json()["state"] == "approved"


def test_who_sees_and_acts_on_leave_requests(corr, office_head, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3))
    for user in (corr.grid_worker, corr.judge, corr.officer_b, corr.enterprise, corr.admin, corr.police,
                 corr.checkpoint, corr.other_subject_user):
        assert call(client, user, "GET", f"/subjects/{subject.pk}/leave").status_code == 404, user
        assert call(client, user, "POST", f"/subjects/{subject.pk}/leave", body()).status_code == 404, user
        for verb in ("approve", "cancel", "return"):
            assert call(client, user, "POST", f"/leave/{leave.pk}/{verb}", {}).status_code == 404, (user, verb)
    for user in (corr.grid_worker, corr.judge, corr.enterprise, corr.admin, corr.police):
        assert call(client, user, "GET", "/leave").status_code == 403, user
    assert [x["id"] for x in call(client, corr.officer_b, "GET", "/leave").json()] == []
    # the procurator reads (检察监督) and changes nothing
    assert [x["id"] for x in call(client, corr.procurator, "GET", "/leave").json()] == [leave.pk]
    assert call(client, corr.procurator, "GET", f"/subjects/{subject.pk}/leave").status_code == 200
    assert call(client, corr.procurator, "POST", f"/subjects/{subject.pk}/leave", body(start_in=dt.timedelta(days=9))).status_code == 403
    for verb, payload in (("approve", {}), ("refuse", {"note": "不同意"}), ("cancel", {}), ("return", {})):
        assert call(client, corr.procurator, "POST", f"/leave/{leave.pk}/{verb}", payload).status_code == 403, verb
    leave.refresh_from_db()
    assert leave.state == LeaveState.PENDING


def test_the_subject_asks_and_sees_their_own(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    login = corr.linked(subject)
    made = call(client, login, "POST", f"/subjects/{subject.pk}/leave", body())
    assert made.status_code == 201 and made.json()["requested_by"] == "subject_user"
    assert len(call(client, login, "GET", f"/subjects/{subject.pk}/leave").json()) == 1
    assert call(client, login, "GET", f"/subjects/{subject.pk}").status_code == 404  # not the file itself
    assert call(client, login, "POST", f"/leave/{made.json()['id']}/approve", {}).status_code == 404
    assert call(client, login, "POST", f"/leave/{made.json()['id']}/cancel", {}).json()["state"] == "cancelled"


# -- pages ----------------------------------------------------------------------------------------------


def test_the_approval_page_lists_and_decides(corr, office_head, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    leave = actions.request_leave(corr.officer_a, subject, leave_input(days=3))
    client.force_login(office_head)
    page = client.get("/corrections/leave/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="leave-{leave.pk}"' in html and 'data-action="approve"' in html and subject.number in html
    done = client.post(f"/corrections/leave/{leave.pk}/approve/", {"note": "同意", "next": "/corrections/leave/"})
    assert done.status_code == 302 and done["Location"] == "/corrections/leave/"
    leave.refresh_from_db()
    assert leave.state == LeaveState.APPROVED
    client.force_login(corr.officer_a)
    page = client.get("/corrections/leave/").content.decode()
    assert f'id="leave-{leave.pk}"' in page and 'data-action="approve"' not in page and 'data-action="cancel"' in page
    client.force_login(corr.grid_worker)
    assert client.get("/corrections/leave/").status_code == 403
    assert client.post(f"/corrections/leave/{leave.pk}/cancel/").status_code == 404
    client.force_login(corr.procurator)
    assert client.post(f"/corrections/leave/{leave.pk}/cancel/").status_code == 403


def test_the_subject_leave_page_shows_history_and_takes_a_request(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    client.force_login(corr.officer_a)
    url = f"/corrections/subjects/{subject.pk}/leave/"
    page = client.get(url)
    assert page.status_code == 200 and 'id="leave-form"' in page.content.decode()
    start = (clock.now() + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    form = {"destination": "湖州市吴兴区", "reason": "就医", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "radius_km": "10"}
    assert client.post(url, form).status_code == 302
    leave = LeaveRequest.objects.get(subject=subject)
    assert (leave.destination, leave.days, leave.starts_at) == ("湖州市吴兴区", 2, start.replace(second=0, microsecond=0))
    too_long = client.post(url, {**form, "ends_at": (start + dt.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")})
    assert too_long.status_code == 200 and LeaveRequest.objects.count() == 1
    assert "30" in too_long.content.decode()
    assert 'id="leave-history"' in client.get(url).content.decode()
    client.force_login(corr.procurator)
    page = client.get(url).content.decode()
    assert 'id="leave-history"' in page and 'id="leave-form"' not in page
    client.force_login(corr.officer_b)
    assert client.get(url).status_code == 404


def test_the_own_leave_page(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    login = corr.linked(subject)
    client.force_login(login)
    page = client.get("/corrections/me/leave/")
    assert page.status_code == 200 and 'id="leave-form"' in page.content.decode()
    start = (clock.now() + dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    posted = client.post("/corrections/me/leave/", {
        "destination": "上海市", "reason": "探亲", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert posted.status_code == 302
    assert LeaveRequest.objects.get(subject=subject).requested_by == login
    assert "上海市" in client.get("/corrections/me/leave/").content.decode()
    client.force_login(corr.other_subject_user)  # a subject login linked to no one
    assert client.get("/corrections/me/leave/").status_code == 404
    client.force_login(corr.officer_a)
    assert client.get("/corrections/me/leave/").status_code == 403

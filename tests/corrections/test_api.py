"""The 如燕 API end to end, and who sees what: justice officers of the subject's town and the supervising
officer manage; procurators read only; nobody else finds a subject through any endpoint; a checkpoint gets the
colour without the identity; every identity view is audited."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from pingan.core.models import AuditEntry
from pingan.core.personal import id_check_digit, mask_name
from pingan.corrections.models import Subject
from pingan.tracking.models import Fix, Target
from tests.conftest import GRID_A
from tests.corrections.conftest import IN_GRID_A, TODAY

BASE = "/api/v1/corrections"


def call(client, user, method: str, path: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.generic(method, BASE + path, json.dumps(body, default=str) if body is not None else "",
                          content_type="application/json")


def subject_routes(subject: Subject, authorisation_id: int, record_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every route that names a subject, an authorisation or a record, with a body that would pass."""
    s = subject.pk
    later = (dt.datetime(2026, 3, 20, tzinfo=dt.UTC)).isoformat()
    return [
        ("GET", f"/subjects/{s}", None), ("GET", f"/subjects/{s}/records", None), ("GET", f"/subjects/{s}/scans", None),
        ("GET", f"/subjects/{s}/authorisations", None),
        ("POST", f"/subjects/{s}/reveal", {"purpose": "核查"}), ("POST", f"/subjects/{s}/intake", {}),
        ("POST", f"/subjects/{s}/level", {"level": "lenient", "reason": "表现良好"}),
        ("POST", f"/subjects/{s}/transfer", {"to_office": "sfs-b", "to_officer": "officer_b", "reason": "x"}),
        ("POST", f"/subjects/{s}/records", {"kind": "education", "text": "法治教育"}),
        ("POST", f"/records/{record_id}/close", {"outcome": "rectified"}),
        ("POST", f"/subjects/{s}/prohibitions", {"text": "禁止进入酒吧"}),
        ("POST", f"/subjects/{s}/curfews", {"start": "22:00", "end": "06:00"}),
        ("POST", f"/subjects/{s}/devices", {"uid": "bracelet-x"}),
        ("POST", f"/subjects/{s}/user", {"username": "other_subject_user"}),
        ("POST", f"/subjects/{s}/release", {}), ("POST", f"/subjects/{s}/terminate", {"reason": "death"}),
        ("POST", f"/subjects/{s}/authorisations", {"ground": "left_area", "facts": "x", "approver": "head",
                                                   "ends_at": later}),
        ("POST", f"/authorisations/{authorisation_id}/renew", {"assessment": "x", "approver": "head", "ends_at": later}),
        ("POST", f"/authorisations/{authorisation_id}/end", {"reason": "x"}),
    ]


@pytest.fixture
def file(corr):  # type: ignore[no-untyped-def]
    """A subject in correction in GRID_A with an open warning and an active authorisation."""
    from pingan.corrections import actions

    subject = corr.taken_in()
    record = actions.add_record(corr.officer_a, subject, kind="warning", text="未按时报告")
    authorisation = corr.authorise(subject, days=10)
    return subject, authorisation, record


def test_registering_and_supervising_a_subject_through_the_api(corr, client) -> None:  # type: ignore[no-untyped-def]
    body = {"person": {"name": "钱小二", "id_number": "33050319900101123" + id_check_digit("33050319900101123")},
            "correction_type": "parole",
            "decision_body": "湖州市中级人民法院", "decision_number": "(2026)浙05刑更12号",
            "decision_effective_on": (TODAY - dt.timedelta(days=1)).isoformat(),
            "supervision_start": (TODAY - dt.timedelta(days=1)).isoformat(), "supervision_end": "2026-12-31",
            "judicial_office": "sfs-a", "officer": "officer_a", "area": GRID_A, "phone": "13857212345"}
    created = call(client, corr.officer_a, "POST", "/subjects", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["name"] == mask_name("钱小二") != "钱小二" and data["state"] == "pending" and data["intake_due"] == (TODAY + dt.timedelta(days=9)).isoformat()
    assert data["id_number"].startswith("330503") and "*" in data["id_number"] and data["phone"] == "138****2345"
    assert "intake" in data["can"] and data["can_reveal"]
    sid = data["id"]
    assert call(client, corr.officer_a, "POST", f"/subjects/{sid}/intake", {}).json()["state"] == "in_correction"
    grant = call(client, corr.officer_a, "POST", f"/subjects/{sid}/authorisations", {
        "ground": "refused_report", "facts": "经警告仍拒不报到", "approver": "head",
        "ends_at": (corr.clock.now() + dt.timedelta(days=30)).isoformat()})
    assert grant.status_code == 201, grant.content
    assert call(client, corr.officer_a, "GET", f"/subjects/{sid}").json()["monitored"] is True
    too_long = call(client, corr.officer_a, "POST", f"/authorisations/{grant.json()['id']}/renew", {
        "assessment": "评估", "approver": "head", "ends_at": (corr.clock.now() + dt.timedelta(days=150)).isoformat()})
    assert too_long.status_code == 422 and too_long.json()["code"] == "period_too_long"
    listed = call(client, corr.officer_a, "GET", "/subjects?state=in_correction")
    assert [row["id"] for row in listed.json()["items"]] == [sid]


def test_the_subjects_phone_page_shows_the_code_and_checks_in(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    code = call(client, corr.subject_user, "GET", "/me/code")
    assert code.status_code == 200 and code.json()["token"].startswith("RY1.") and len(code.json()["short"]) == 8
    checked = call(client, corr.subject_user, "POST", "/me/check-in", {"lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    assert checked.status_code == 200 and Fix.objects.get(pk=checked.json()["fix_id"]).source == "checkin"
    assert call(client, corr.subject_user, "GET", f"/subjects/{subject.pk}").status_code == 404
    assert call(client, corr.subject_user, "GET", "/subjects").status_code == 403
    assert call(client, corr.other_subject_user, "GET", "/me/code").status_code == 404
    assert call(client, None, "GET", "/me/code").status_code == 401


def test_the_checkpoint_sees_no_identity(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(name="欧阳明月")
    corr.linked(subject)
    token = call(client, corr.subject_user, "GET", "/me/code").json()["token"]
    answer = call(client, corr.checkpoint, "POST", "/scan", {"code": token, "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    assert answer.status_code == 200
    data = answer.json()
    assert data["valid"] and data["colour"] == "green" and data["subject"] is None and data["reasons"] == []
    text = answer.content.decode()
    for secret in ("欧阳", "明月", subject.number, subject.person.id_number, "13857212345", "2345"):
        assert secret not in text
    officer = call(client, corr.officer_a, "POST", "/scan", {"code": token, "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    assert officer.json()["subject"]["number"] == subject.number and officer.json()["subject"]["name"] == mask_name("欧阳明月")
    forged = call(client, corr.checkpoint, "POST", "/scan", {"code": token[:-2] + "00", "lon": 120.3, "lat": 30.8})
    assert forged.status_code == 200 and forged.json()["valid"] is False and forged.json()["reason"]


@pytest.mark.parametrize("who", ["grid_worker", "judge", "officer_b", "enterprise", "admin", "police", "checkpoint",
                                 "subject_user"])
def test_outsiders_cannot_see_a_subject_through_any_endpoint(corr, client, file, who) -> None:  # type: ignore[no-untyped-def]
    subject, authorisation, record = file
    user = corr.users[who]
    listing = call(client, user, "GET", "/subjects")
    assert listing.status_code == 403 or subject.pk not in [r["id"] for r in listing.json()["items"]]
    for method, path, body in subject_routes(subject, authorisation.pk, record.pk):
        response = call(client, user, method, path, body)
        assert response.status_code == 404, (who, method, path, response.status_code, response.content)
    assert not AuditEntry.objects.filter(action="pingan.subject.identity_viewed").exists()


def test_a_procurator_reads_but_cannot_change_anything(corr, client, file) -> None:  # type: ignore[no-untyped-def]
    subject, authorisation, record = file
    before = AuditEntry.objects.count()
    for method, path, body in subject_routes(subject, authorisation.pk, record.pk):
        response = call(client, corr.procurator, method, path, body)
        assert response.status_code == (200 if method == "GET" else 403), (path, response.content)
    assert call(client, corr.procurator, "GET", "/subjects").json()["count"] == 1
    assert AuditEntry.objects.count() == before
    subject.refresh_from_db()
    assert subject.state == "in_correction" and Target.objects.get(pk=subject.target_id).monitored


def test_another_officer_of_the_same_office_manages_the_subject_too(corr, client, file) -> None:  # type: ignore[no-untyped-def]
    subject, _authorisation, _record = file
    response = call(client, corr.officer_a2, "POST", f"/subjects/{subject.pk}/level", {"level": "strict", "reason": "违规"})
    assert response.status_code == 200 and response.json()["level"] == "strict"


def test_every_identity_view_is_audited(corr, client, file) -> None:  # type: ignore[no-untyped-def]
    subject, _authorisation, _record = file
    detail = call(client, corr.officer_a, "GET", f"/subjects/{subject.pk}").json()
    assert detail["name"] == mask_name("王小明") and "小明" not in json.dumps(detail, ensure_ascii=False)
    assert not AuditEntry.objects.filter(action="pingan.person.identity_viewed").exists()
    revealed = call(client, corr.officer_a2, "POST", f"/subjects/{subject.pk}/reveal", {"purpose": "上门走访"})
    assert revealed.status_code == 200 and revealed.json()["name"] == "王小明"
    person_entry = AuditEntry.objects.get(action="pingan.person.identity_viewed")
    subject_entry = AuditEntry.objects.get(action="pingan.subject.identity_viewed")
    assert person_entry.actor_username == subject_entry.actor_username == "officer_a2"
    assert subject.number in person_entry.changes["purpose"] and subject_entry.changes["purpose"] == "上门走访"
    assert call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/reveal", {}).status_code == 422


def test_a_minors_identity_is_shown_only_to_the_supervising_officer(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(is_minor=True)
    other = call(client, corr.officer_a2, "POST", f"/subjects/{subject.pk}/reveal", {"purpose": "走访"})
    assert other.status_code == 403 and other.json()["code"] == "minor_restricted"
    own = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/reveal", {"purpose": "走访"})
    assert own.status_code == 200
    assert AuditEntry.objects.filter(action="pingan.subject.identity_viewed").count() == 1


def test_a_sealed_file_is_found_by_no_one(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(is_minor=True, supervision_end=TODAY)
    released = call(client, corr.officer_a, "POST", f"/subjects/{subject.pk}/release", {})
    assert released.status_code == 204
    for user in (corr.officer_a, corr.officer_a2, corr.procurator):
        assert call(client, user, "GET", f"/subjects/{subject.pk}").status_code == 404
        listing = call(client, user, "GET", "/subjects").json()
        assert subject.pk not in [r["id"] for r in listing["items"]]

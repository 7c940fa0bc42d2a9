"""The pages of 如燕 through Django's test client: the dashboard, the subject list and file (masked names, the
audited reveal, a minor's identity for the supervising officer only, the officer's forms and their errors,
track playback audited as a subject track view), the checkpoint scanner (colours and refusals, no identity for
checkpoint staff) and the subject's phone page (the QR code, the short code, its renewal, the check-in)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from pingan.core import personal
from pingan.core.audit import AuditEntry
from pingan.corrections import actions
from pingan.corrections.models import CheckIn, Record, Subject
from tests.corrections.conftest import IN_GRID_A, World

pytestmark = pytest.mark.django_db


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def in_correction(corr: World, **overrides: Any) -> Subject:
    return corr.taken_in(**overrides)


# -- dashboard ----------------------------------------------------------------------------------------


def test_dashboard_shows_counts_overdue_intake_and_expiring_authorisation(corr: World, client: Any) -> None:
    wang = in_correction(corr, name="王某某")
    corr.authorise(wang, days=5)                        # ends within seven days
    late = corr.register(name="李某某", decision_effective_on=dt.date(2026, 2, 10), supervision_start=dt.date(2026, 2, 10))
    page = login(client, corr.officer_a).get("/corrections/")
    assert page.status_code == 200
    html = page.content.decode()
    assert personal.mask_name("李某某") in html.split('id="intake-overdue"')[1]
    assert "王某某" not in html and "李某某" not in html          # names masked everywhere
    assert late.number in html.split('id="intake-overdue"')[1]
    assert wang.number in html.split('id="expiring"')[1].split("</section>")[0]
    assert re.search(r'data-state="in_correction">1<', html)
    assert re.search(r'data-state="pending">1<', html)


def test_dashboard_map_has_the_latest_position_for_officers_only(corr: World, client: Any) -> None:
    subject = in_correction(corr)
    user = corr.linked(subject)
    actions.check_in(user, lon=IN_GRID_A[0], lat=IN_GRID_A[1])
    html = login(client, corr.officer_a).get("/corrections/").content.decode()
    assert f'"lon": {IN_GRID_A[0]}' in html and f'"url": "/corrections/subjects/{subject.pk}/"' in html
    # the bureau head sees the counts, not positions (no tracking.view_target)
    html = login(client, corr.head).get("/corrections/").content.decode()
    assert f'"lon": {IN_GRID_A[0]}' not in html
    assert 'data-state="in_correction">1<' in html
    # an officer of another town sees nothing of town A
    html = login(client, corr.officer_b).get("/corrections/").content.decode()
    assert subject.number not in html and f'"lon": {IN_GRID_A[0]}' not in html


def test_dashboard_lists_open_alerts_of_corrections_targets(corr: World, client: Any) -> None:
    from django.db import transaction

    from pingan.core import clock
    from pingan.tracking import pipeline
    from pingan.tracking.engine import Effect

    subject = in_correction(corr)
    with transaction.atomic():
        pipeline.apply_effects([Effect("raise", subject.target_id, "lost_contact", None, clock.now().timestamp(),
                                       refs=(), severity="alarm", detail={})], clock.now())
    html = login(client, corr.officer_a).get("/corrections/").content.decode()
    alerts = html.split('id="open-alerts"')[1].split("</section>")[0]
    assert subject.target.label in alerts
    due = html.split('id="verify-due"')[1].split("</section>")[0]
    assert subject.target.label not in due     # 15 minutes to verify; the list shows those with 5 minutes left
    corr.clock.advance(minutes=11)
    html = login(client, corr.officer_a).get("/corrections/").content.decode()
    assert subject.target.label in html.split('id="verify-due"')[1].split("</section>")[0]
    # the procurator sees the alert (read-only), the officer of town B does not
    assert subject.target.label in login(client, corr.procurator).get("/corrections/").content.decode()
    assert subject.target.label not in login(client, corr.officer_b).get("/corrections/").content.decode()


@pytest.mark.parametrize("who", ["grid_worker", "judge", "enterprise", "admin", "police", "checkpoint", "subject_user"])
def test_dashboard_and_list_are_refused_to_other_roles(corr: World, client: Any, who: str) -> None:
    in_correction(corr)
    login(client, corr.users[who])
    assert client.get("/corrections/").status_code == 403
    assert client.get("/corrections/subjects/").status_code == 403


# -- list and file ------------------------------------------------------------------------------------


def test_subject_list_masks_names_and_keeps_to_scope(corr: World, client: Any) -> None:
    mine = in_correction(corr, name="王某某")
    other = corr.register_in_b(name="赵某某")
    html = login(client, corr.officer_a).get("/corrections/subjects/").content.decode()
    assert mine.number in html and other.number not in html and "王某某" not in html
    html = login(client, corr.procurator).get("/corrections/subjects/").content.decode()
    assert mine.number in html and other.number in html
    html = login(client, corr.officer_a).get("/corrections/subjects/?state=pending").content.decode()
    assert mine.number not in html


def test_subject_file_renders_for_justice_roles_and_hides_from_others(corr: World, client: Any) -> None:
    subject = in_correction(corr, name="王某某")
    url = f"/corrections/subjects/{subject.pk}/"
    for who in ("officer_a", "procurator", "head"):
        page = login(client, corr.users[who]).get(url)
        assert page.status_code == 200, who
        html = page.content.decode()
        assert subject.number in html and "王某某" not in html and "南浔区人民法院" in html
    # only the officer gets the forms
    assert 'id="level-form"' in login(client, corr.officer_a).get(url).content.decode()
    assert 'id="level-form"' not in login(client, corr.procurator).get(url).content.decode()
    for who in ("officer_b", "grid_worker", "judge", "enterprise", "admin", "police", "checkpoint", "subject_user"):
        assert login(client, corr.users[who]).get(url).status_code == 404, who


def test_reveal_is_audited_and_needs_a_purpose(corr: World, client: Any) -> None:
    subject = in_correction(corr, name="王某某")
    url = f"/corrections/subjects/{subject.pk}/reveal/"
    login(client, corr.officer_a)
    page = client.post(url, {"purpose": "核实报到"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and "王某某" in page.content.decode()
    entry = AuditEntry.objects.filter(action="pingan.subject.identity_viewed").latest("id")
    assert entry.changes["purpose"] == "核实报到" and entry.actor == corr.officer_a
    before = AuditEntry.objects.filter(action="pingan.subject.identity_viewed").count()
    page = client.post(url, {"purpose": ""}, HTTP_HX_REQUEST="true")
    assert "王某某" not in page.content.decode() and 'role="alert"' in page.content.decode()
    assert AuditEntry.objects.filter(action="pingan.subject.identity_viewed").count() == before
    # the procurator sees the file but not the identity
    assert login(client, corr.procurator).post(url, {"purpose": "监督"}).status_code == 403
    assert login(client, corr.officer_b).post(url, {"purpose": "x"}).status_code == 404


def test_a_minors_identity_only_for_the_supervising_officer(corr: World, client: Any) -> None:
    subject = in_correction(corr, name="孙小某", is_minor=True)
    url = f"/corrections/subjects/{subject.pk}/reveal/"
    # another officer of the same office sees the file, not the identity
    page = login(client, corr.officer_a2).get(f"/corrections/subjects/{subject.pk}/")
    assert page.status_code == 200 and 'id="reveal"' not in page.content.decode()
    assert client.post(url, {"purpose": "核实"}).status_code == 403
    page = client.post(url, {"purpose": "核实"}, HTTP_HX_REQUEST="true")   # htmx: the refusal in the card
    assert "孙小某" not in page.content.decode() and "矫正责任人" in page.content.decode()
    assert 'id="reveal"' in login(client, corr.officer_a).get(f"/corrections/subjects/{subject.pk}/").content.decode()
    page = login(client, corr.officer_a).post(url, {"purpose": "核实"})
    assert page.status_code == 200 and "孙小某" in page.content.decode()


def test_officer_forms_change_the_file_and_show_errors(corr: World, client: Any) -> None:
    pending = corr.register()
    base = f"/corrections/subjects/{pending.pk}/"
    login(client, corr.officer_a)
    assert client.post(base + "intake/", {"note": "按时报到"}).status_code == 302
    pending.refresh_from_db()
    assert pending.state == "in_correction"
    # a level change without a reason: an error message, nothing changed
    page = client.post(base + "level/", {"level": "strict", "reason": ""}, follow=True)
    assert "请填写必填项" in page.content.decode() or "Fill in the required field" in page.content.decode()
    pending.refresh_from_db()
    assert pending.level == "ordinary"
    client.post(base + "level/", {"level": "strict", "reason": "多次违规"})
    pending.refresh_from_db()
    assert pending.level == "strict"
    # community service without hours: refused with the reason; with hours: recorded
    page = client.post(base + "records/", {"kind": "community_service", "text": "社区清扫"}, follow=True)
    assert not Record.objects.filter(subject=pending).exists()
    assert 'class="error"' in page.content.decode() or "error" in page.content.decode()
    client.post(base + "records/", {"kind": "community_service", "text": "社区清扫", "hours": "2"})
    assert Record.objects.get(subject=pending).hours == 2
    # a proposal to revoke without grounds
    page = client.post(base + "records/", {"kind": "revoke_proposal", "text": "提请撤销"}, follow=True)
    assert Record.objects.filter(subject=pending, kind="revoke_proposal").count() == 0
    assert "三次警告" in page.content.decode() or "three warnings" in page.content.decode()
    # the procurator may not act; another town's officer does not find the subject
    assert login(client, corr.procurator).post(base + "level/", {"level": "lenient", "reason": "x"}).status_code == 403
    assert login(client, corr.officer_b).post(base + "level/", {"level": "lenient", "reason": "x"}).status_code == 404


def test_track_playback_through_the_subject_is_audited(corr: World, client: Any) -> None:
    from pingan.core import clock

    subject = in_correction(corr)
    user = corr.linked(subject)
    actions.check_in(user, lon=IN_GRID_A[0], lat=IN_GRID_A[1])
    start = (clock.now() - dt.timedelta(hours=1)).isoformat()
    end = (clock.now() + dt.timedelta(minutes=1)).isoformat()
    url = f"/api/v1/corrections/subjects/{subject.pk}/track"
    login(client, corr.officer_a)
    html = client.get(f"/corrections/subjects/{subject.pk}/").content.decode()
    assert f'data-track-url="{url}"' in html
    answer = client.get(url, {"from": start, "to": end})
    assert answer.status_code == 200 and [f["source"] for f in answer.json()] == ["checkin"]
    entry = AuditEntry.objects.filter(action="pingan.subject.track_viewed").latest("id")
    assert entry.changes["fixes"] == 1
    # the procurator reads the file but plays back no track; another town's officer does not find it
    assert login(client, corr.procurator).get(url, {"from": start, "to": end}).status_code == 403
    assert login(client, corr.officer_b).get(url, {"from": start, "to": end}).status_code == 404
    assert login(client, corr.grid_worker).get(url, {"from": start, "to": end}).status_code == 404


# -- scanner ----------------------------------------------------------------------------------------


def _code(corr: World, **overrides: Any) -> tuple[Subject, Any]:
    subject = in_correction(corr, **overrides)
    user = corr.linked(subject)
    return subject, actions.issue_code(user)


def test_scanner_page_for_scanners_only(corr: World, client: Any) -> None:
    for who in ("checkpoint", "police", "officer_a"):
        page = login(client, corr.users[who]).get("/corrections/scan/")
        assert page.status_code == 200 and "jsQR.js" in page.content.decode(), who
    for who in ("grid_worker", "judge", "enterprise", "procurator", "head", "subject_user"):
        assert login(client, corr.users[who]).get("/corrections/scan/").status_code == 403, who


def test_a_typed_code_answers_green_without_identity(corr: World, client: Any) -> None:
    subject, code = _code(corr, name="王某某")
    login(client, corr.checkpoint)
    page = client.post("/corrections/scan/", {"code": code.short.lower(), "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]},
                       HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-colour="green"' in html and "放行" in html
    assert subject.number not in html and "王" not in html


def test_scanner_refusals_are_shown_with_their_reason(corr: World, client: Any) -> None:
    subject, code = _code(corr)
    login(client, corr.checkpoint)
    # no position: asked for it
    page = client.post("/corrections/scan/", {"code": code.short}, HTTP_HX_REQUEST="true")
    assert 'id="scan-error"' in page.content.decode()
    # expired: two windows later
    corr.clock.advance(minutes=3)
    page = client.post("/corrections/scan/", {"code": code.token, "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    html = page.content.decode()
    assert 'data-valid="false"' in html and 'data-reason="expired"' in html and "过期" in html
    # forged
    page = client.post("/corrections/scan/", {"code": code.token[:-3] + "AAA", "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    assert 'data-valid="false"' in page.content.decode()


def test_a_replayed_code_is_refused_and_a_checkpoint_sees_no_reasons(corr: World, client: Any) -> None:
    subject, code = _code(corr)
    actions.change_level(corr.officer_a, subject, level="strict", reason="多次违规")
    login(client, corr.checkpoint)
    page = client.post("/corrections/scan/", {"code": code.token, "lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    html = page.content.decode()
    assert 'data-colour="yellow"' in html and "严管" not in html
    login(client, corr.checkpoint_2)  # far away, a second later
    page = client.post("/corrections/scan/", {"code": code.token, "lon": 120.45, "lat": 30.95})
    assert 'data-reason="replayed"' in page.content.decode()


# -- the subject's phone page ------------------------------------------------------------------------


def test_phone_page_shows_qr_and_short_code_and_renews(corr: World, client: Any) -> None:
    subject = in_correction(corr)
    user = corr.linked(subject)
    login(client, user)
    html = client.get("/corrections/me/").content.decode()
    short = re.search(r'data-short="([0-9A-Z]{8})"', html)
    assert short and "<svg" in html and 'hx-get="/corrections/me/code/"' in html
    assert f"{short.group(1)[:4]} {short.group(1)[4:]}" in html
    assert 'href="/corrections/me/leave/"' in html
    # the same window: the same code; the next window: a new one
    again = client.get("/corrections/me/code/").content.decode()
    assert f'data-short="{short.group(1)}"' in again
    corr.clock.advance(seconds=61)
    later = client.get("/corrections/me/code/").content.decode()
    assert f'data-short="{short.group(1)}"' not in later and "<svg" in later


def test_phone_page_check_in(corr: World, client: Any) -> None:
    subject = in_correction(corr)
    user = corr.linked(subject)
    login(client, user)
    assert 'data-checked="no"' in client.get("/corrections/me/").content.decode()
    page = client.post("/corrections/me/check-in/", {"lon": "", "lat": ""}, follow=True)
    assert not CheckIn.objects.filter(subject=subject).exists() and 'data-checked="no"' in page.content.decode()
    page = client.post("/corrections/me/check-in/", {"lon": IN_GRID_A[0], "lat": IN_GRID_A[1], "accuracy_m": 12},
                       follow=True)
    assert CheckIn.objects.filter(subject=subject).count() == 1 and 'data-checked="yes"' in page.content.decode()


def test_phone_page_only_for_a_linked_subject_login(corr: World, client: Any) -> None:
    subject = corr.register()  # pending: code yes, check-in not yet
    corr.linked(subject)
    page = login(client, corr.subject_user).get("/corrections/me/")
    assert page.status_code == 200 and 'id="check-in-form"' not in page.content.decode()
    assert login(client, corr.other_subject_user).get("/corrections/me/").status_code == 404  # linked to no one
    for who in ("officer_a", "checkpoint", "grid_worker", "procurator"):
        assert login(client, corr.users[who]).get("/corrections/me/").status_code == 403, who
        assert login(client, corr.users[who]).get("/corrections/me/code/").status_code == 403, who


def test_navigation_by_permission(corr: World, client: Any) -> None:
    nav = {"officer_a": ("/corrections/", "/corrections/scan/"), "checkpoint": ("/corrections/scan/",),
           "subject_user": ("/corrections/me/",), "grid_worker": ()}
    for who, links in nav.items():
        html = login(client, corr.users[who]).get("/").content.decode()
        top = html.split('<nav class="nav"')[1].split("</nav>")[0]
        for link in ("/corrections/", "/corrections/scan/", "/corrections/me/"):
            assert (f'href="{link}"' in top) == (link in links), (who, link)


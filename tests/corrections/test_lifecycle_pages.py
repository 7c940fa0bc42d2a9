"""The file's forms for the rest of a subject's lifecycle, through Django's test client: monitoring authorisations
(grant, renew, end; 社区矫正法 art. 29), transfer, release and termination (confirmed), prohibition orders with a
forbidden circle, curfews, devices (the key shown once) and closing records. Each form changes the state through
its action; a refused form changes nothing and says why; the procurator sees no form and is refused, an officer
of another town does not find the subject."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from django.utils import translation

from pingan.corrections import actions, views
from pingan.corrections.models import (
    CurfewWindow,
    MonitoringAuthorisation,
    ProhibitionOrder,
    Subject,
    Transfer,
)
from pingan.tracking import pipeline
from pingan.tracking.models import Device, Target
from tests.conftest import GRID_B
from tests.corrections.conftest import IN_GRID_A, TODAY, World

pytestmark = pytest.mark.django_db

FORM_IDS = ("grant-form", "renew-form", "end-form", "transfer-form", "release-form", "terminate-form",
            "prohibition-form", "curfew-form", "device-form", "close-record-")


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def file_url(subject: Subject) -> str:
    return f"/corrections/subjects/{subject.pk}/"


def text(page: Any) -> str:
    return html.unescape(page.content.decode())


def said(code: str) -> str:
    """The refusal the page shows for ``code``, in the page's language (Chinese unless the catalogue is missing)."""
    with translation.override("zh-hans"):
        return str(views.REFUSALS[code])


def monitored(subject: Subject) -> bool:
    return Target.objects.get(pk=subject.target_id).monitored


# -- monitoring authorisations ------------------------------------------------------------------------------


def test_officer_authorises_renews_and_ends_monitoring_from_the_file(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    url = file_url(subject)
    login(client, corr.officer_a)
    page = text(client.get(url))
    assert 'id="grant-form"' in page and '<option value="head"' in page   # the bureau head is offered as approver
    grant = {"ground": "prohibition_order", "facts": "两次进入禁止区域（酒吧）", "approver": "head",
             "ends_at": "2026-04-01T10:00"}
    for bad, code in (({"approver": "officer_a2"}, "approver_not_authorised"),   # an officer approves nothing
                      ({"ends_at": "2026-06-03T10:00"}, "period_too_long"),      # three months from 03-02 10:00
                      ({"ends_at": "next week"}, "invalid_datetime"), ({"ground": "curfew"}, "invalid_ground"),
                      ({"facts": " "}, "required")):
        page = text(client.post(url + "authorisations/", grant | bad, follow=True))
        assert said(code) in page, code
        assert not MonitoringAuthorisation.objects.filter(subject=subject).exists() and not monitored(subject)
    response = client.post(url + "authorisations/", grant)
    assert response.status_code == 302 and response.url == url
    authorisation = MonitoringAuthorisation.objects.get(subject=subject)
    assert authorisation.state == "active" and authorisation.approver == corr.head
    assert authorisation.ends_at == dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)   # typed as Beijing time
    assert monitored(subject)
    page = text(client.get(url))
    assert 'id="grant-form"' not in page                                        # one live authorisation at a time
    assert f'id="renew-form-{authorisation.pk}"' in page and f'id="end-form-{authorisation.pk}"' in page
    listed = page.split('id="authorisations"')[1].split("</section>")[0]
    assert "违反人民法院禁止令" in listed or "violated a court prohibition order" in listed
    assert "2026-04-01 10:00" in listed and str(corr.head) in listed

    renew = url + f"authorisations/{authorisation.pk}/renew/"
    body = {"assessment": "风险仍在，继续使用", "approver": "head", "ends_at": "2026-06-01T10:00"}
    for bad, code in (({"assessment": ""}, "required"), ({"ends_at": "2026-07-02T10:00"}, "period_too_long"),
                      ({"approver": "nobody"}, "unknown_user")):
        assert said(code) in text(client.post(renew, body | bad, follow=True)), code
        assert authorisation.periods.count() == 1
    assert client.post(renew, body).status_code == 302
    authorisation.refresh_from_db()
    assert authorisation.ends_at == dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    second = authorisation.periods.get(number=2)
    assert second.assessment == "风险仍在，继续使用" and second.approver == corr.head
    assert "风险仍在，继续使用" in text(client.get(url)).split('id="authorisations"')[1]

    end = url + f"authorisations/{authorisation.pk}/end/"
    assert said("required") in text(client.post(end, {"reason": ""}, follow=True))
    authorisation.refresh_from_db()
    assert authorisation.state == "active" and monitored(subject)
    assert client.post(end, {"reason": "依据消失"}).status_code == 302
    authorisation.refresh_from_db()
    assert authorisation.state == "ended" and authorisation.end_reason == "依据消失" and not monitored(subject)
    page = text(client.get(url))
    assert 'id="grant-form"' in page and "依据消失" in page


def test_the_bureau_head_grants_on_the_file_and_sees_no_officer_forms(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    record = actions.add_record(corr.officer_a, subject, kind="warning", text="未按时报告")
    url = file_url(subject)
    page = text(login(client, corr.head).get(url))
    assert 'id="grant-form"' in page and '<option value="head" selected' in page
    for form in ("transfer-form", "release-form", "terminate-form", "prohibition-form", "curfew-form", "device-form",
                 "close-record-"):
        assert f'id="{form}' not in page, form
    assert client.post(url + "authorisations/", {"ground": "left_area", "facts": "未经批准离开县域", "approver": "head",
                                                 "ends_at": "2026-03-20T10:00"}).status_code == 302
    assert MonitoringAuthorisation.objects.get(subject=subject).requested_by == corr.head and monitored(subject)
    # what only the subject's officers do stays refused
    assert client.post(url + "transfer/", {"to_office": "sfs-b", "to_officer": "officer_b", "reason": "x"}).status_code == 403
    assert client.post(url + f"records/{record.pk}/close/", {"outcome": "rectified"}).status_code == 403
    record.refresh_from_db()
    assert record.is_open


# -- transfer -------------------------------------------------------------------------------------------------


def test_transfer_form_moves_the_subject_to_another_office(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    url = file_url(subject)
    login(client, corr.officer_a)
    page = text(client.get(url))
    form = page.split('id="transfer-form"')[1].split("</form>")[0]
    assert '<option value="sfs-b">' in form and '<option value="sfs-a">' not in form   # not to its own office
    assert '<option value="officer_b">' in form and '<option value="grid_worker">' not in form
    body = {"to_office": "sfs-b", "to_officer": "officer_b", "reason": "变更执行地", "area": GRID_B}
    for bad, code in (({"to_office": "sfs-a"}, "same_office"), ({"to_officer": "nobody"}, "unknown_user"),
                      ({"to_officer": "grid_worker"}, "officer_out_of_scope"), ({"area": "999"}, "unknown_area"),
                      ({"reason": ""}, "required")):
        assert said(code) in text(client.post(url + "transfer/", body | bad, follow=True)), code
        subject.refresh_from_db()
        assert (subject.judicial_office, subject.officer) == (corr.office_a, corr.officer_a)
        assert not Transfer.objects.filter(subject=subject).exists()
    response = client.post(url + "transfer/", body)
    # town A's officer no longer sees the subject: back to the list, not to a file that answers 404
    assert response.status_code == 302 and response.url == "/corrections/subjects/"
    subject.refresh_from_db()
    assert (subject.judicial_office, subject.officer, subject.area.code) == (corr.office_b, corr.officer_b, GRID_B)
    assert Transfer.objects.get(subject=subject).reason == "变更执行地"
    assert client.get(url).status_code == 404
    assert login(client, corr.officer_b).get(url).status_code == 200


# -- release and termination -------------------------------------------------------------------------------


def test_release_needs_confirmation_stops_monitoring_and_archives(corr: World, client: Any) -> None:
    subject = corr.taken_in(supervision_end=TODAY)
    authorisation = corr.authorise(subject, days=0, ends_at=actions.day_end(TODAY))
    url = file_url(subject)
    login(client, corr.officer_a)
    assert 'id="release-form"' in text(client.get(url))
    assert said("confirm_required") in text(client.post(url + "release/", {"note": "期满"}, follow=True))
    subject.refresh_from_db()
    assert subject.state == "in_correction" and subject.archived_at is None and monitored(subject)
    response = client.post(url + "release/", {"note": "期满解矫", "confirm": "on"})
    assert response.status_code == 302 and response.url == url
    subject.refresh_from_db()
    authorisation.refresh_from_db()
    assert subject.state == "released" and subject.archived_at is not None and subject.end_note == "期满解矫"
    assert not monitored(subject) and authorisation.state == "ended"
    page = text(client.get(url))
    for form in FORM_IDS:                        # a closed file offers no form any more
        assert f'id="{form}' not in page, form


def test_release_is_refused_before_the_end_of_the_term(corr: World, client: Any) -> None:
    subject = corr.taken_in()                    # the term ends 2027-03-01
    url = file_url(subject)
    page = text(login(client, corr.officer_a).get(url))
    assert 'id="release-form"' not in page and 'id="release-later"' in page and "2027-03-01" in page
    assert said("term_not_over") in text(client.post(url + "release/", {"confirm": "on"}, follow=True))
    subject.refresh_from_db()
    assert subject.state == "in_correction"


def test_termination_needs_confirmation_and_a_reason(corr: World, client: Any) -> None:
    subject = corr.register()                    # pending intake: termination applies too
    url = file_url(subject)
    login(client, corr.officer_a)
    assert 'id="terminate-form"' in text(client.get(url))
    body = {"reason": "revoked", "note": "法院裁定撤销缓刑", "confirm": "on"}
    for bad, code in (({"confirm": ""}, "confirm_required"), ({"reason": "term_completed"}, "invalid_reason"),
                      ({"note": ""}, "required"), ({"on": "2026-03-03"}, "in_future")):
        assert said(code) in text(client.post(url + "terminate/", body | bad, follow=True)), code
        subject.refresh_from_db()
        assert subject.state == "pending" and subject.archived_at is None
    assert client.post(url + "terminate/", body).status_code == 302
    subject.refresh_from_db()
    assert (subject.state, subject.end_reason, subject.ended_on) == ("terminated", "revoked", TODAY)
    assert subject.archived_at is not None


def test_a_minors_file_sealed_by_termination_sends_the_officer_to_the_list(corr: World, client: Any) -> None:
    subject = corr.taken_in(is_minor=True)
    response = login(client, corr.officer_a).post(file_url(subject) + "terminate/",
                                                  {"reason": "death", "confirm": "on"})
    assert response.status_code == 302 and response.url == "/corrections/subjects/"
    subject.refresh_from_db()
    assert subject.state == "terminated" and subject.sealed
    assert client.get(file_url(subject)).status_code == 404


# -- restrictions and devices --------------------------------------------------------------------------------


def test_prohibition_order_with_a_forbidden_circle(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    url = file_url(subject) + "prohibitions/"
    login(client, corr.officer_a)
    body = {"text": "禁止进入酒吧、夜总会等娱乐场所", "ends_on": "2026-12-31", "zone_name": "酒吧街",
            "lon": str(IN_GRID_A[0] + 0.01), "lat": str(IN_GRID_A[1]), "radius_m": "150"}
    for bad, code in (({"ends_on": "2026-01-01"}, "bad_range"), ({"radius_m": ""}, "invalid_number"),
                      ({"lat": "95"}, "invalid_geometry"), ({"text": ""}, "required"), ({"ends_on": "31/12"}, "invalid_date")):
        assert said(code) in text(client.post(url, body | bad, follow=True)), code
        assert not ProhibitionOrder.objects.filter(subject=subject).exists()
        assert not subject.target.zones.filter(kind="exclusion").exists()
    assert client.post(url, body).status_code == 302
    order = ProhibitionOrder.objects.get(subject=subject)
    assert order.ends_on == dt.date(2026, 12, 31) and order.starts_on == subject.supervision_start
    zone = order.zones.get()
    assert (zone.kind, zone.shape, zone.radius_m, zone.name, zone.owner) == ("exclusion", "circle", 150, "酒吧街", "corrections")
    assert zone.coords == [IN_GRID_A[0] + 0.01, IN_GRID_A[1]] and list(zone.targets.all()) == [subject.target]
    assert "禁止进入酒吧" in text(client.get(file_url(subject))).split('id="restrictions"')[1]
    # without a centre: the order alone
    assert client.post(url, {"text": "禁止接触被害人"}).status_code == 302
    assert not ProhibitionOrder.objects.get(subject=subject, text="禁止接触被害人").zones.exists()


def test_curfew_window_with_weekdays(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    url = file_url(subject) + "curfews/"
    login(client, corr.officer_a)
    body = {"start": "22:00", "end": "06:00", "weekdays": ["1", "2", "3", "4", "5"], "radius_m": "300"}
    for bad, code in (({"end": "22:00"}, "bad_range"), ({"start": "25:00"}, "invalid_time"),
                      ({"weekdays": ["8"]}, "invalid_weekdays"), ({"radius_m": "10"}, "out_of_range:radius_m")):
        assert said(code) in text(client.post(url, body | bad, follow=True)), code
        assert not CurfewWindow.objects.filter(subject=subject).exists()
    assert client.post(url, body).status_code == 302
    curfew = CurfewWindow.objects.get(subject=subject)
    assert (curfew.start, curfew.end, curfew.weekdays, curfew.radius_m) == (dt.time(22), dt.time(6), [1, 2, 3, 4, 5], 300)
    assert curfew.zone.schedule["windows"] == [["22:00", "06:00"]] and curfew.zone.schedule["weekdays"] == [1, 2, 3, 4, 5]
    # a subject without a home point: refused with the reason
    homeless = corr.taken_in(home_lon=None, home_lat=None)
    assert said("no_home") in text(client.post(file_url(homeless) + "curfews/", body, follow=True))
    assert not CurfewWindow.objects.filter(subject=homeless).exists()


def test_device_key_is_shown_once_and_never_stored_in_a_cookie(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    url = file_url(subject)
    login(client, corr.officer_a)
    for bad, code in (({"uid": "rx-1"}, "invalid_uid"), ({"uid": "a b"}, "invalid_uid"), ({"crs": "utm"}, "unknown_crs")):
        assert said(code) in text(client.post(url + "devices/", {"uid": "bracelet-1", "crs": "wgs84"} | bad, follow=True))
        assert not Device.objects.filter(target_id=subject.target_id).exclude(uid__startswith="rx").exists()
    response = client.post(url + "devices/", {"uid": "bracelet-1", "name": "手环", "crs": "gcj02"})
    assert response.status_code == 302 and response.url == url
    device = Device.objects.get(uid="bracelet-1")
    assert device.target_id == subject.target_id and device.crs == "gcj02"
    key = pipeline.device_key(device.uid, device.key_version)
    assert all(key not in morsel.value for morsel in client.cookies.values())   # not in the messages cookie
    page = client.get(url)
    assert key in text(page) and 'id="device-key"' in text(page) and "no-store" in page["Cache-Control"]
    assert pipeline.authenticate_device("bracelet-1", key) == device
    page = text(client.get(url))                 # never again
    assert key not in page and 'id="device-key"' not in page and "bracelet-1" in page
    assert said("duplicate_device") in text(client.post(url + "devices/", {"uid": "bracelet-1"}, follow=True))
    # the key waits only for its own subject's file
    other = corr.taken_in()
    client.post(file_url(other) + "devices/", {"uid": "bracelet-2"})
    assert pipeline.device_key("bracelet-2", 1) not in text(client.get(url))
    assert pipeline.device_key("bracelet-2", 1) in text(client.get(file_url(other)))


def test_open_records_are_closed_with_an_outcome_of_their_kind(corr: World, client: Any) -> None:
    subject = corr.taken_in()
    warning = actions.add_record(corr.officer_a, subject, kind="warning", text="未按时报告")
    education = actions.add_record(corr.officer_a, subject, kind="education", text="法治教育", hours=2)
    url = file_url(subject)
    login(client, corr.officer_a)
    page = text(client.get(url))
    form = page.split(f'id="close-record-{warning.pk}"')[1].split("</form>")[0]
    assert '<option value="rectified">' in form and '"revoked"' not in form
    assert f'id="close-record-{education.pk}"' not in page                     # nothing to close
    close = url + f"records/{warning.pk}/close/"
    assert said("invalid_outcome") in text(client.post(close, {"outcome": "revoked"}, follow=True))
    warning.refresh_from_db()
    assert warning.is_open
    assert client.post(close, {"outcome": "rectified", "note": "已按时报到"}).status_code == 302
    warning.refresh_from_db()
    assert (warning.is_open, warning.outcome, warning.outcome_note, warning.closed_by) == (
        False, "rectified", "已按时报到", corr.officer_a)
    assert f'id="close-record-{warning.pk}"' not in text(client.get(url))
    # a record of another subject is not closed through this file
    other = corr.taken_in()
    foreign = actions.add_record(corr.officer_a, other, kind="warning", text="x")
    assert client.post(url + f"records/{foreign.pk}/close/", {"outcome": "rectified"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_open


# -- who may ---------------------------------------------------------------------------------------------------


def test_procurator_sees_no_form_and_is_refused_and_another_town_finds_nothing(corr: World, client: Any) -> None:
    subject = corr.taken_in(supervision_end=TODAY)
    authorisation = corr.authorise(subject, days=0, ends_at=actions.day_end(TODAY))
    record = actions.add_record(corr.officer_a, subject, kind="warning", text="未按时报告")
    url = file_url(subject)
    page = text(login(client, corr.procurator).get(url))
    assert subject.number in page
    for form in FORM_IDS:
        assert f'id="{form}' not in page, form
    posts = {
        "authorisations/": {"ground": "left_area", "facts": "x", "approver": "head", "ends_at": "2026-03-02T20:00"},
        f"authorisations/{authorisation.pk}/renew/": {"assessment": "x", "approver": "head", "ends_at": "2026-03-20T10:00"},
        f"authorisations/{authorisation.pk}/end/": {"reason": "x"},
        "transfer/": {"to_office": "sfs-b", "to_officer": "officer_b", "reason": "x"},
        "release/": {"confirm": "on"}, "terminate/": {"reason": "revoked", "note": "x", "confirm": "on"},
        "prohibitions/": {"text": "x"}, "curfews/": {"start": "22:00", "end": "06:00"}, "devices/": {"uid": "p-1"},
        f"records/{record.pk}/close/": {"outcome": "rectified"},
        # a form that cannot even be parsed is refused all the same
        "curfews/?bad": {"start": "late"},
    }
    for who, status in (("procurator", 403), ("officer_b", 404)):
        login(client, corr.users[who])
        for path, body in posts.items():
            assert client.post(url + path, body).status_code == status, (who, path)
    subject.refresh_from_db()
    authorisation.refresh_from_db()
    record.refresh_from_db()
    assert (subject.state, subject.judicial_office, subject.archived_at) == ("in_correction", corr.office_a, None)
    assert authorisation.state == "active" and authorisation.periods.count() == 1 and monitored(subject)
    assert record.is_open
    assert not ProhibitionOrder.objects.exists() and not CurfewWindow.objects.exists()
    assert not Device.objects.filter(uid="p-1").exists()

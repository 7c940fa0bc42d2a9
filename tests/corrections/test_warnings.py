"""Core-area reverse warnings (核心区反向预警): the article's scene end to end through the API — subject 王某 enters a
core area, the alarm sounds, the police post gets a notice without identity, the supervising officer verifies by
phoning, finds nothing wrong and clears it, every step recorded — and the rules around it: coarse positions,
schedules, levels, the time limit that escalates by itself, and who sees what."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind
from pingan.core.models import AuditEntry
from pingan.corrections import actions, coreareas, jobs, positions, queries
from pingan.corrections.models import CoreArea
from pingan.events.models import Event, Notification
from pingan.tracking import permissions as tracking_perms
from pingan.tracking import pipeline
from pingan.tracking.models import Alert, Device, Target, TargetGroup
from tests.conftest import TOWN_A

BASE = "/api/v1"
# A core area in town A (about 960 m × 1,110 m), some 4 km from the subjects' homes in GRID_A.
SQUARE = [[[120.36, 30.86], [120.37, 30.86], [120.37, 30.87], [120.36, 30.87], [120.36, 30.86]]]
INSIDE = (120.365, 30.865)
EAST_OUTSIDE = (120.3775, 30.865)  # about 720 m east of the east edge


def call(client, user, method: str, path: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.generic(method, BASE + path, json.dumps(body, default=str) if body is not None else "",
                          content_type="application/json")


@pytest.fixture
def post(corr, make_user):  # type: ignore[no-untyped-def]
    """Town A's police post and its officer (police_officer, organisation = the post)."""
    org = Organisation.objects.create(code="pcs-a", name="甲镇派出所", kind=OrgKind.POLICE_STATION, area=corr.tree[TOWN_A])
    officer = make_user("police_officer", area=TOWN_A, organisation="pcs-a", username="post_a")
    return org, officer


def core_area(corr, post, **overrides: Any) -> CoreArea:  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {"name": "会展中心", "coords": SQUARE, "area": corr.tree[TOWN_A], "police_post": post[0],
                              "description": "重大活动核心区"}
    values.update(overrides)
    return actions.create_core_area(corr.head, actions.CoreAreaInput(**values))


def device_fixes(subject, uid: str, points, start: dt.datetime):  # type: ignore[no-untyped-def]
    device = Device.objects.filter(uid=uid).first()
    if device is None:
        device, _key = actions.register_subject_device("test", subject, uid=uid)
    device = Device.objects.select_related("target").get(pk=device.pk)
    rows = [{"t": (start + dt.timedelta(seconds=30 * i)).isoformat(), "lon": lon, "lat": lat, "accuracy": 5}
            for i, (lon, lat) in enumerate(points)]
    return pipeline.submit(rows, source="test", device=device, now=start + dt.timedelta(seconds=30 * len(rows)))


def carrier(subject, lon: float, lat: float, accuracy_m: float, at: dt.datetime | None = None) -> int | None:  # type: ignore[no-untyped-def]
    return positions.record(Target.objects.get(pk=subject.target_id), source="carrier", lon=lon, lat=lat,
                            accuracy_m=accuracy_m, at=at, fix_type="cell")


def warnings_of(subject) -> list[Alert]:  # type: ignore[no-untyped-def]
    return list(Alert.objects.filter(target_id=subject.target_id, zone__core_area__isnull=False).order_by("id"))


def test_the_article_scene_end_to_end(corr, post, client, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    police = post[1]
    created = call(client, corr.head, "POST", "/corrections/core-areas", {
        "name": "会展中心", "area": TOWN_A, "coords": SQUARE, "police_post": "pcs-a",
        "schedule": {"dates": [["2026-03-01", "2026-03-10"]]}})
    assert created.status_code == 201, created.content
    core = created.json()
    assert core["verify_minutes"] == 15 and core["applies_to"] == "all" and core["police_post"] == "pcs-a"
    wang = corr.taken_in(name="王某")
    corr.authorise(wang)
    pipeline.reset_engine()
    now = corr.clock.now()
    with django_capture_on_commit_callbacks(execute=True):  # the notices go out after the commit
        result = device_fixes(wang, "bracelet-wang", [INSIDE, INSIDE], now)
    assert result.accepted == 2
    [alert] = warnings_of(wang)
    assert (alert.rule, alert.severity, alert.state, alert.zone_id) == ("zone_exclusion", "alarm", "open", core["zone_id"])
    assert alert.verify_by == alert.raised_at + dt.timedelta(minutes=15)

    # The police post: a notice with the number, the core area, the time, the place — and no identity.
    [notice] = Notification.objects.filter(user=police, kind="corrections.corearea_notice")
    assert alert.number in notice.text and "会展中心" in notice.text and "30.86500" in notice.text
    assert (alert.raised_at + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") in notice.text
    target = Target.objects.get(pk=wang.target_id)
    assert "王" not in notice.text and wang.number not in notice.text and target.label not in notice.text
    assert not Notification.objects.filter(user=police).exclude(kind="corrections.corearea_notice").exists()
    assert Notification.objects.filter(user=corr.officer_a, kind="alert.raised").exists()
    # … and sees no target, alert, track or identity anywhere.
    listed = call(client, police, "GET", "/tracking/alerts")
    assert listed.status_code == 200 and alert.number not in listed.content.decode()
    assert call(client, police, "GET", f"/tracking/alerts/{alert.pk}").status_code == 404
    assert call(client, police, "GET", f"/tracking/targets/{target.pk}").status_code == 404
    track = call(client, police, "GET", f"/tracking/targets/{target.pk}/track?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z")
    assert track.status_code in (403, 404)
    assert call(client, police, "GET", "/corrections/warnings").status_code == 403
    assert call(client, police, "GET", f"/corrections/warnings/{alert.pk}").status_code == 404
    assert call(client, police, "GET", f"/corrections/subjects/{wang.pk}").status_code == 404

    # The supervising officer: the warning in the queue, with its deadline.
    queue = call(client, corr.officer_a, "GET", "/corrections/warnings").json()["items"]
    assert [w["number"] for w in queue] == [alert.number]
    assert queue[0]["subject_number"] == wang.number and queue[0]["subject_name"] != "王某" and queue[0]["can_act"]
    corr.clock.advance(minutes=3)
    started = call(client, corr.officer_a, "POST", f"/corrections/warnings/{alert.pk}/verify", {"version": alert.version})
    assert started.status_code == 200 and started.json()["state"] == "acknowledged"
    found = call(client, corr.officer_a, "POST", f"/corrections/warnings/{alert.pk}/found",
                 {"method": "phoned_officer", "text": "联系其矫正工作人员核实：经批准前往会展中心办事，无异常"})
    assert found.status_code == 200
    corr.clock.advance(minutes=4)
    dismissed = call(client, corr.officer_a, "POST", f"/corrections/warnings/{alert.pk}/dismiss",
                     {"reason": "authorised", "note": "经批准办事", "version": started.json()["version"]})
    assert dismissed.status_code == 200, dismissed.content
    detail = dismissed.json()
    assert detail["state"] == "dismissed" and detail["dismiss_reason"] == "authorised"
    assert [s["action"] for s in detail["steps"]] == ["raised", "acknowledged", "noted", "dismissed"]
    noted = detail["steps"][2]
    assert noted["method"] == "phoned_officer" and "无异常" in noted["note"] and noted["actor"] == "officer_a"
    trail = list(AuditEntry.objects.filter(object_id=str(alert.pk), action__startswith="pingan.alert.")
                 .order_by("id").values_list("action", "actor_username"))
    assert trail == [("pingan.alert.raised", "system"), ("pingan.alert.acknowledged", "officer_a"),
                     ("pingan.alert.noted", "officer_a"), ("pingan.alert.dismissed", "officer_a")]
    assert call(client, corr.officer_a, "GET", "/corrections/warnings").json()["items"] == []

    # The figures: one raised, verified in time, dismissed.
    figures = call(client, corr.head, "GET", "/corrections/warnings/figures?start=2026-03-01T00:00:00Z"
                   "&end=2026-03-03T00:00:00Z&group_by=town").json()
    assert figures == [{"key": TOWN_A, "label": "甲镇", "raised": 1, "verified_in_time": 1, "verified_late": 0,
                        "dismissed": 1, "escalated_by_person": 0, "escalated_automatically": 0, "open": 0}]
    by_officer = queries.warning_figures(corr.officer_a, dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                                         dt.datetime(2026, 3, 3, tzinfo=dt.UTC), group_by="officer")
    assert [(f["key"], f["verified_in_time"]) for f in by_officer] == [("officer_a", 1)]
    assert queries.warning_figures(corr.officer_b, dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                                   dt.datetime(2026, 3, 3, tzinfo=dt.UTC)) == []


def test_a_coarse_position_mostly_inside_warns_and_mostly_outside_does_not(corr, post) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    subject = corr.taken_in()  # not monitored: carrier positions need no authorisation
    carrier(subject, *EAST_OUTSIDE, accuracy_m=500)
    assert warnings_of(subject) == []
    carrier(subject, *INSIDE, accuracy_m=500)
    [warning] = warnings_of(subject)
    assert (warning.rule, warning.severity) == ("corearea_possible", "warning")
    assert warning.detail["share"] >= 0.5 and warning.detail["source"] == "carrier"
    assert warning.verify_by == warning.raised_at + dt.timedelta(minutes=15)
    # a second coarse position inside adds evidence to the same warning
    corr.clock.advance(minutes=1)
    carrier(subject, *INSIDE, accuracy_m=500)
    assert len(warnings_of(subject)) == 1


def test_the_share_of_the_accuracy_circle_decides(corr, post) -> None:  # type: ignore[no-untyped-def]
    core = coreareas.by_zone(core_area(corr, post).zone_id)
    assert core is not None
    assert coreareas.share_inside(core, *INSIDE, 100) == pytest.approx(1.0)
    assert coreareas.share_inside(core, *EAST_OUTSIDE, 300) == 0.0
    on_edge = coreareas.share_inside(core, 120.37, 30.865, 2000)  # a huge circle centred on the edge
    assert 0.05 < on_edge < 0.5


def test_a_precise_scan_inside_is_an_alarm(corr, post, make_user) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    subject = corr.taken_in()
    positions.record(Target.objects.get(pk=subject.target_id), source="scan", lon=INSIDE[0], lat=INSIDE[1],
                     accuracy_m=10)
    [warning] = warnings_of(subject)
    assert (warning.rule, warning.severity) == ("corearea_possible", "alarm")


def test_a_core_area_outside_its_schedule_does_not_warn(corr, post) -> None:  # type: ignore[no-untyped-def]
    # Monday 2 March 2026 10:00 in Shanghai: the event runs in May; the evening window starts at 18:00.
    core_area(corr, post, name="五一活动", schedule={"dates": [["2026-05-01", "2026-05-05"]]})
    core_area(corr, post, name="夜间", coords=SQUARE, schedule={"windows": [["18:00", "23:00"]]})
    subject = corr.taken_in()
    carrier(subject, *INSIDE, accuracy_m=300)
    assert warnings_of(subject) == []
    corr.clock.advance(hours=9)  # 19:00 in Shanghai: the window runs
    carrier(subject, *INSIDE, accuracy_m=300)
    [warning] = warnings_of(subject)
    assert CoreArea.objects.get(zone_id=warning.zone_id).name == "夜间"


def test_a_core_area_for_strict_subjects_does_not_warn_an_ordinary_one(corr, post) -> None:  # type: ignore[no-untyped-def]
    core = core_area(corr, post, applies_to="levels", levels=["strict"])
    assert set(core.zone.groups.values_list("code", flat=True)) == {"corrections-level-strict"}
    subject = corr.taken_in()
    assert subject.level == "ordinary"
    assert set(Target.objects.get(pk=subject.target_id).groups.values_list("code", flat=True)) == {
        "corrections-level-ordinary"}
    carrier(subject, *INSIDE, accuracy_m=200)
    assert warnings_of(subject) == []
    actions.change_level(corr.officer_a, subject, level="strict", reason="多次违规")
    assert set(Target.objects.get(pk=subject.target_id).groups.values_list("code", flat=True)) == {
        "corrections-level-strict"}
    corr.clock.advance(minutes=1)
    carrier(subject, *INSIDE, accuracy_m=200)
    assert len(warnings_of(subject)) == 1


def test_a_release_takes_the_subject_out_of_the_level_groups(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(supervision_end=corr.clock.now().date())
    actions.release_subject(corr.officer_a, subject)
    assert not Target.objects.get(pk=subject.target_id).groups.exists()


def test_updating_a_core_area_changes_its_zone_and_stale_versions_conflict(corr, post, client) -> None:  # type: ignore[no-untyped-def]
    core = core_area(corr, post)
    path = f"/corrections/core-areas/{core.pk}"
    changed = call(client, corr.head, "POST", path, {"version": core.version, "applies_to": "levels", "levels": ["strict"],
                                                     "schedule": {"windows": [["08:00", "20:00"]]}, "verify_minutes": 10})
    assert changed.status_code == 200, changed.content
    core.refresh_from_db()
    assert core.zone.schedule == {"windows": [["08:00", "20:00"]]} and core.verify_minutes == 10
    assert list(core.zone.groups.values_list("code", flat=True)) == ["corrections-level-strict"]
    stale = call(client, corr.head, "POST", path, {"version": 1, "verify_minutes": 20})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    gone = call(client, corr.head, "POST", path + "/deactivate", {"version": core.version})
    assert gone.status_code == 200 and not gone.json()["is_active"]
    core.zone.refresh_from_db()
    assert not core.zone.is_active
    again = call(client, corr.head, "POST", path + "/deactivate", {})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert call(client, corr.officer_a, "GET", "/corrections/core-areas").status_code == 403
    assert call(client, corr.head, "GET", "/corrections/core-areas").json()[0]["name"] == "会展中心"
    bad = call(client, corr.head, "POST", "/corrections/core-areas", {"name": "x", "area": TOWN_A, "coords": SQUARE,
                                                                      "police_post": "sfs-a"})
    assert bad.status_code == 422 and bad.json()["code"] == "not_a_police_post"


def test_a_warning_left_unverified_escalates_itself_once(corr, post, client, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    police = post[1]
    core_area(corr, post)
    subject = corr.taken_in()
    carrier(subject, *INSIDE, accuracy_m=200)
    [warning] = warnings_of(subject)
    corr.clock.advance(minutes=14)
    assert jobs.warnings(corr.clock.now()) == 0
    actions.start_verifying(corr.officer_a, warning)  # being verified does not stop the clock
    corr.clock.advance(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.warnings(corr.clock.now()) == 1
    warning.refresh_from_db()
    assert warning.state == "escalated" and warning.event is not None
    event = Event.objects.get(pk=warning.event_id)
    assert event.event_type.code == "public-order-key-persons"
    step = warning.steps.get(action="escalated")
    assert step.actor_id is None and step.note == actions.AUTO_ESCALATION_NOTE
    assert jobs.warnings(corr.clock.now()) == 0
    assert warning.steps.filter(action="escalated").count() == 1 and Event.objects.count() == 1
    assert Notification.objects.filter(user=police, kind="corrections.corearea_escalated").count() == 1
    # Now the police post sees the alert (read only), still not the subject's target or track.
    seen = call(client, police, "GET", f"/tracking/alerts/{warning.pk}")
    assert seen.status_code == 200 and seen.json()["number"] == warning.number
    assert call(client, police, "POST", f"/tracking/alerts/{warning.pk}/close", {}).status_code == 403
    assert call(client, police, "GET", f"/tracking/targets/{subject.target_id}").status_code == 404
    figures = queries.warning_figures(corr.head, corr.clock.now() - dt.timedelta(days=1), corr.clock.now())
    assert [(f["raised"], f["escalated_automatically"], f["verified_in_time"]) for f in figures] == [(1, 1, 0)]


def test_escalating_by_hand_opens_an_event(corr, post, client) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    subject = corr.taken_in()
    carrier(subject, *INSIDE, accuracy_m=200)
    [warning] = warnings_of(subject)
    out = call(client, corr.officer_a, "POST", f"/corrections/warnings/{warning.pk}/escalate", {"note": "电话无人接听"})
    assert out.status_code == 200 and out.json()["state"] == "escalated" and out.json()["event"]
    again = call(client, corr.officer_a, "POST", f"/corrections/warnings/{warning.pk}/escalate", {})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    late = call(client, corr.officer_a, "POST", f"/corrections/warnings/{warning.pk}/dismiss", {"reason": "authorised"})
    assert late.status_code == 409
    assert jobs.warnings(corr.clock.now() + dt.timedelta(hours=1)) == 0
    figures = queries.warning_figures(corr.head, corr.clock.now() - dt.timedelta(days=1), corr.clock.now() + dt.timedelta(days=1))
    assert [(f["escalated_by_person"], f["verified_in_time"]) for f in figures] == [(1, 1)]


def test_nobody_else_sees_the_warning_through_any_endpoint(corr, post, client, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    subject = corr.taken_in()
    with django_capture_on_commit_callbacks(execute=True):
        carrier(subject, *INSIDE, accuracy_m=200)
    assert Notification.objects.filter(user=corr.officer_a, kind="alert.raised").exists()
    [warning] = warnings_of(subject)
    w, t = warning.pk, subject.target_id
    reads = [f"/corrections/warnings/{w}", f"/tracking/alerts/{w}", f"/tracking/targets/{t}",
             f"/tracking/targets/{t}/track?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z"]
    acts = [(f"/corrections/warnings/{w}/verify", {}), (f"/corrections/warnings/{w}/found",
                                                      {"method": "other", "text": "x"}),
            (f"/corrections/warnings/{w}/dismiss", {"reason": "other", "note": "x"}),
            (f"/corrections/warnings/{w}/escalate", {}), (f"/tracking/alerts/{w}/acknowledge", {}),
            (f"/tracking/alerts/{w}/dismiss", {"reason": "other", "note": "x"}), (f"/tracking/alerts/{w}/escalate", {})]
    for user in (corr.grid_worker, corr.judge, corr.officer_b, corr.enterprise, corr.admin, post[1]):
        for path in reads:
            assert call(client, user, "GET", path).status_code in (403, 404), (user.username, path)
        for path, body in acts:
            assert call(client, user, "POST", path, body).status_code in (403, 404), (user.username, path)
        listed = call(client, user, "GET", "/corrections/warnings")
        assert listed.status_code == 403 or listed.json()["items"] == [], user.username
        alerts = call(client, user, "GET", "/tracking/alerts")
        assert alerts.status_code == 403 or warning.number not in alerts.content.decode(), user.username
        targets = call(client, user, "GET", "/tracking/targets")
        assert targets.status_code == 403 or subject.number not in targets.content.decode(), user.username
        positions_seen = call(client, user, "GET", "/tracking/positions")
        assert positions_seen.status_code == 403 or positions_seen.json()["total"] == 0, user.username
        assert not policy.can(user, tracking_perms.VIEW_ALERT.code, warning)
    assert warning.state == Alert.objects.get(pk=w).state == "open"
    # The procurator reads (检察监督) and changes nothing.
    assert call(client, corr.procurator, "GET", f"/corrections/warnings/{w}").status_code == 200
    assert call(client, corr.procurator, "GET", f"/tracking/alerts/{w}").status_code == 200
    for path, body in acts:
        assert call(client, corr.procurator, "POST", path, body).status_code == 403, path
    # Police and the district admin are not told of it by tracking either.
    assert not Notification.objects.filter(user__in=[corr.admin, post[1]], kind="alert.raised").exists()


def test_the_level_groups_are_tracking_groups(corr) -> None:  # type: ignore[no-untyped-def]
    corr.taken_in()
    assert TargetGroup.objects.filter(code="corrections-level-ordinary").exists()

"""The alert queue in a real browser (Debian's Chromium via Playwright, no autoplay flags), against the live
server: a correction officer opens the queue and enables the sound (a click: browsers allow audio only
after one); a monitored person's device then sends fixes through the pipeline that truly enter an
exclusion zone (four good GNSS fixes at its centre over three minutes of device time) → the alert appears
in the queue without a reload, counting down, and one alarm tone is played; the live map shows the
person's marker in red. The officer acknowledges it, adds a note and dismisses it as an authorised visit,
all from the queue (through the API with the session and the CSRF token); the alert page shows the four
steps, the map then shows the marker without an alert, and the target page plays the track back."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TOWN_A, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE_CENTRE = (120.35, 30.85)  # in town A


@pytest.fixture
def tracked(tree, make_user) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A monitored person in town A with a phone, a 300 m exclusion circle, and a correction officer of town A."""
    from pingan.tracking import actions, pipeline

    pipeline.reset_engine()
    target = actions.create_target("test", kind="person", label="王某", area=tree[TOWN_A], monitored=True, interval_s=600)
    device, _key = actions.register_device("test", target, uid="phone-001")
    zone = actions.create_zone("test", name="核心区", kind="exclusion", shape="circle", coords=list(ZONE_CENTRE),
                               radius_m=300, area=tree[TOWN_A], applies_to_all=True)
    officer = make_user("correction_officer", area=TOWN_A, username="officer_a")
    yield {"target": target, "device": device, "zone": zone, "officer": officer}
    pipeline.reset_engine()


@pytest.fixture
def logged_in(browser: Any, live_server: Any) -> Iterator[Any]:
    """``logged_in(username)`` → a page of a fresh context after logging in; a JavaScript error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_as(username: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        context.on("page", lambda p: p.on("pageerror", lambda exc: errors.append(f"{username}: {exc}")))
        page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", Personas.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    try:
        yield open_as
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def enter_the_zone(device: Any) -> list[int]:
    """Four good GNSS fixes at the zone's centre, a minute apart, ending just now (device time)."""
    from pingan.core import clock
    from pingan.tracking import pipeline

    now = clock.now()
    rows = [{"t": (now - dt.timedelta(seconds=200 - 60 * i)).isoformat(), "lon": ZONE_CENTRE[0], "lat": ZONE_CENTRE[1],
             "accuracy": 5, "fix_type": "gnss"} for i in range(4)]
    result = pipeline.submit(rows, source="test", device=device)
    assert result.accepted == 4 and not result.errors, result
    return result.alerts


def row_of(page: Any, number: str) -> Any:
    return page.locator(f'#alerts-body tr.al-row[data-number="{number}"]')


def wait_row_state(page: Any, number: str, state: str) -> None:
    page.wait_for_selector(f'#alerts-body tr.al-row[data-number="{number}"][data-state="{state}"]', state="attached")


def test_a_new_alert_rings_in_the_queue_and_is_verified_from_it(logged_in, live_server, tracked) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.models import AuditEntry
    from pingan.tracking.models import Alert, AlertState

    queue = logged_in("officer_a")
    queue.goto(f"{live_server.url}/tracking/alerts/")
    queue.wait_for_selector('#alert-queue[data-state="ready"]', state="attached")
    assert queue.get_attribute("#alert-queue", "data-alerts") == "0"
    assert queue.get_attribute("#alert-queue", "data-sound") == "off"
    queue.click("#enable-sound")
    queue.wait_for_selector('#alert-queue[data-sound="on"]', state="attached")
    assert queue.locator("#enable-sound").is_hidden()
    assert queue.get_attribute("#alert-queue", "data-beeps") == "0"

    # The device's fixes go through the pipeline: the zone is truly entered and an alert is raised.
    (alert_id,) = enter_the_zone(tracked["device"])
    alert = Alert.objects.get(pk=alert_id)
    assert alert.rule == "zone_exclusion" and alert.zone_id == tracked["zone"].pk

    # It appears without a reload (the queue polls the API), rings once and makes the title blink.
    queue.wait_for_selector(f'#alerts-body tr.al-row[data-number="{alert.number}"]', state="attached")
    queue.wait_for_selector('#alert-queue[data-beeps="1"]', state="attached")
    assert queue.get_attribute("#alert-queue", "data-alerts") == "1"
    assert queue.get_attribute("#alert-queue", "data-blinking") == "on"
    row = row_of(queue, alert.number)
    assert row.get_attribute("data-state") == "open"
    assert "王某" in row.inner_text() and "核心区" in row.inner_text()
    left = row.locator('[data-field="left"]').inner_text()
    assert re.fullmatch(r"1[45]:\d\d", left), left  # about 15 minutes to verify, counting down
    queue.wait_for_function(
        "([n, before]) => document.querySelector(`tr.al-row[data-number='${n}'] [data-field=left]`).textContent !== before",
        arg=[alert.number, left])

    # The live map (another tab) shows the person's marker, red while the alert is active.
    live = queue.context.new_page()
    live.goto(f"{live_server.url}/tracking/map/")
    live.wait_for_selector('#live-map[data-state="ready"]', state="attached")
    assert str(tracked["target"].pk) in (live.get_attribute("#live-map", "data-targets") or "").split(",")
    assert live.get_attribute("#live-map", "data-alerting") == "1"
    assert live.locator("path.al-target.alerting").count() == 1
    assert live.get_attribute("#live-map", "data-zones") == "1"
    live.close()

    # Acknowledge, add a note, dismiss as an authorised visit — from the queue.
    row_of(queue, alert.number).locator('form[data-action="acknowledge"] button[type=submit]').click()
    wait_row_state(queue, alert.number, "acknowledged")
    assert queue.get_attribute("#alert-queue", "data-blinking") == "off"  # the click stopped the blinking
    note = row_of(queue, alert.number).locator('form[data-action="note"]')
    note.locator("summary").click()
    note.locator("textarea[name=note]").fill("已电话联系本人，称在医院复诊")
    note.locator("button[type=submit]").click()
    queue.wait_for_selector(f'tr.al-row[data-number="{alert.number}"][data-did="note"]', state="attached")
    dismiss = row_of(queue, alert.number).locator('form[data-action="dismiss"]')
    dismiss.locator("summary").click()
    dismiss.locator("select[name=reason]").select_option("authorised")
    dismiss.locator("input[name=note]").fill("已向司法所报备请假")
    dismiss.locator("button[type=submit]").click()
    wait_row_state(queue, alert.number, "dismissed")
    assert queue.get_attribute("#alert-queue", "data-alerts") == "0"
    assert row_of(queue, alert.number).locator("form.al-action").count() == 0
    alert.refresh_from_db()
    assert alert.state == AlertState.DISMISSED and alert.dismiss_reason == "authorised"
    assert queue.get_attribute("#alert-queue", "data-beeps") == "1"  # one alert, one alarm

    # The alert page shows the steps, and its map.
    queue.goto(f"{live_server.url}/tracking/alerts/{alert.pk}/")
    queue.wait_for_selector('#alert-map[data-state="ready"]', state="attached")
    steps = queue.locator("#steps li").evaluate_all("items => items.map(li => li.dataset.action)")
    assert steps == ["raised", "acknowledged", "noted", "dismissed"]
    assert "已电话联系本人" in queue.inner_text("#steps") and "已向司法所报备请假" in queue.inner_text("#steps")

    # The live map still shows the marker, no longer red.
    queue.goto(f"{live_server.url}/tracking/map/")
    queue.wait_for_selector('#live-map[data-state="ready"]', state="attached")
    assert str(tracked["target"].pk) in (queue.get_attribute("#live-map", "data-targets") or "").split(",")
    assert queue.get_attribute("#live-map", "data-alerting") == "0"
    assert queue.locator("path.al-target").count() == 1

    # The target page plays the track back; showing it is audited.
    queue.goto(f"{live_server.url}/tracking/targets/{tracked['target'].pk}/")
    queue.wait_for_selector('#track-map[data-state="ready"]', state="attached")
    assert not AuditEntry.objects.filter(action="pingan.target.track_viewed").exists()
    queue.click("#track-load")
    queue.wait_for_selector('#track-map[data-track="loaded"]', state="attached")
    assert queue.get_attribute("#track-map", "data-fixes") == "4"
    queue.click("#track-play")
    queue.wait_for_selector('#track-map[data-played="end"]', state="attached")
    assert queue.get_attribute("#track-map", "data-position") == "3"
    viewed = AuditEntry.objects.get(action="pingan.target.track_viewed")
    assert viewed.actor_username == "officer_a" and viewed.changes["fixes"] == 4

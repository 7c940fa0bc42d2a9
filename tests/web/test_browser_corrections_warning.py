"""The article's scene in a real browser (Debian's Chromium via Playwright, no autoplay flags), against the live
server: the supervising officer opens the core-area warning queue and enables the sound; 王某, monitored under an
authorisation, enters a core area (his device's fixes go through the pipeline) → the warning appears without a
reload, the new-warning banner shows, one alarm tone plays and the countdown runs; the officer opens the
verification panel, starts verifying, records "phoned the supervising officer, nothing wrong" and dismisses it as
an authorised visit; the warning leaves the open list and its steps are recorded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import GRID_A, TOWN_A, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SQUARE = [[[120.36, 30.86], [120.37, 30.86], [120.37, 30.87], [120.36, 30.87], [120.36, 30.86]]]
INSIDE = (120.365, 30.865)


@pytest.fixture
def scene(tree, roles, make_user) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """王某 in correction in GRID_A under town A's judicial office, monitored (an authorisation of the head of the
    bureau), with a device; a core area in town A for all subjects, with its police post."""
    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Organisation, OrgKind, Role
    from pingan.core import clock
    from pingan.core.personal import id_check_digit
    from pingan.corrections import actions, coreareas
    from pingan.corrections.setup import ensure_roles
    from pingan.tracking import pipeline

    ensure_roles()
    pipeline.reset_engine()
    coreareas.invalidate()
    office = Organisation.objects.create(code="sfs-a", name="甲镇司法所", kind=OrgKind.JUDICIAL_OFFICE, area=tree[TOWN_A])
    post = Organisation.objects.create(code="pcs-a", name="甲镇派出所", kind=OrgKind.POLICE_STATION, area=tree[TOWN_A])
    officer = make_user("correction_officer", area=TOWN_A, organisation="sfs-a", username="officer_a")
    head = account_actions.create_user("test", username="head", password=Personas.password)
    account_actions.assign_role("test", head, Role.objects.get(code="justice_bureau_head"), area=tree["330503"])
    today = clock.now().date()
    stem = "33050319900101123"
    subject = actions.register_subject(officer, actions.SubjectInput(
        person_input=account_actions.PersonInput(name="王某", id_number=stem + id_check_digit(stem), area_code=GRID_A),
        correction_type="probation", decision_body="南浔区人民法院", decision_number="(2026)浙0503刑初88号",
        decision_effective_on=today - dt.timedelta(days=2), supervision_start=today - dt.timedelta(days=2),
        supervision_end=today + dt.timedelta(days=300), judicial_office=office, officer=officer, area=tree[GRID_A],
        phone="13857212345", home_lon=120.32, home_lat=30.85))
    subject = actions.record_intake(officer, subject)
    actions.grant_authorisation(officer, subject, ground="prohibition_order", facts="进入禁止区域", approver=head,
                                ends_at=clock.now() + dt.timedelta(days=30))
    device, _key = actions.register_subject_device(officer, subject, uid="bracelet-wang")
    core = actions.create_core_area(head, actions.CoreAreaInput(name="会展中心", coords=SQUARE, area=tree[TOWN_A],
                                                                police_post=post))
    yield {"subject": subject, "device": device, "core": core, "officer": officer}
    pipeline.reset_engine()
    coreareas.invalidate()


@pytest.fixture
def logged_in(browser: Any, live_server: Any) -> Iterator[Any]:
    """``logged_in(username)`` → a page of a fresh context after logging in; a JavaScript error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_as(username: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
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


def test_the_officer_hears_the_warning_verifies_and_clears_it(logged_in, live_server, scene) -> None:  # type: ignore[no-untyped-def]
    from pingan.core import clock
    from pingan.tracking import pipeline
    from pingan.tracking.models import Alert, Device

    queue = logged_in("officer_a")
    assert queue.locator('nav a[href="/corrections/warnings/"]').count() == 1
    queue.goto(f"{live_server.url}/corrections/warnings/")
    queue.wait_for_selector('#warning-queue[data-state="ready"]', state="attached")
    assert queue.locator("#warnings-body tr.cw-row").count() == 0
    assert queue.locator("#new-warning").is_hidden()
    queue.click("#enable-sound")
    queue.wait_for_selector('#warning-queue[data-sound="on"]', state="attached")

    # 王某's device: two good fixes inside the core area (a fast zone: no dwell).
    now = clock.now()
    device = Device.objects.select_related("target").get(pk=scene["device"].pk)
    rows = [{"t": (now - dt.timedelta(seconds=60 - 30 * i)).isoformat(), "lon": INSIDE[0], "lat": INSIDE[1],
             "accuracy": 5} for i in range(2)]
    result = pipeline.submit(rows, source="test", device=device)
    assert result.accepted == 2 and len(result.alerts) == 1, result
    alert = Alert.objects.get(pk=result.alerts[0])
    assert alert.rule == "zone_exclusion" and alert.zone_id == scene["core"].zone_id

    # Live: the row, the banner, one alarm tone, the countdown.
    queue.wait_for_selector(f'#warnings-body tr.cw-row[data-number="{alert.number}"]', state="attached")
    queue.wait_for_selector("#new-warning:not([hidden])")
    assert alert.number in queue.inner_text("#new-warning") and "会展中心" in queue.inner_text("#new-warning")
    queue.wait_for_selector('#warning-queue[data-alarms="1"][data-beeps="1"]', state="attached")
    assert queue.evaluate("window.pinganWarningAlarms") == 1
    row = queue.locator(f'#warnings-body tr.cw-row[data-number="{alert.number}"]')
    left = row.locator('[data-field="left"]').inner_text()
    assert re.fullmatch(r"1[45]:\d\d", left), left
    assert scene["subject"].number in row.inner_text() and "王某" not in row.inner_text()  # masked

    # The verification panel: start, record what was found, dismiss as an authorised visit.
    row.click()
    queue.wait_for_selector(f'#verify-panel[data-id="{alert.pk}"][data-state="open"]')
    queue.click('#verify-panel form[data-action="verify"] button')
    queue.wait_for_selector('#verify-panel[data-state="acknowledged"]', state="attached")
    found = queue.locator('#verify-panel form[data-action="found"]')
    found.locator("select[name=method]").select_option("phoned_officer")
    found.locator("textarea[name=text]").fill("联系其矫正工作人员核实：经批准前往，无异常")
    found.locator("button").click()
    queue.wait_for_selector('#verify-panel[data-did="found"]', state="attached")
    assert "无异常" in queue.inner_text("#verify-panel [data-field=steps]")
    dismiss = queue.locator('#verify-panel form[data-action="dismiss"]')
    dismiss.locator("select[name=reason]").select_option("authorised")
    dismiss.locator("input[name=note]").fill("经批准办事")
    dismiss.locator("button").click()
    queue.wait_for_selector('#verify-panel[data-state="dismissed"]', state="attached")

    # It leaves the open list; every step is recorded.
    queue.wait_for_selector(f'#warnings-body tr.cw-row[data-number="{alert.number}"]', state="detached")
    assert queue.inner_text("#active-count") == "0"
    steps = queue.locator("#verify-panel [data-field=steps] li").evaluate_all("items => items.map(li => li.dataset.action)")
    assert steps == ["raised", "acknowledged", "noted", "dismissed"]
    alert.refresh_from_db()
    assert alert.state == "dismissed" and alert.dismiss_reason == "authorised"
    assert queue.get_attribute("#warning-queue", "data-beeps") == "1"

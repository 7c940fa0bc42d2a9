"""The whole closed loop in a real browser (Debian's Chromium via Playwright), against the live server:
a grid worker reports on the events map → the workstation accepts and dispatches to a department →
the department starts and resolves → the grid worker verifies and closes → closed; and the dashboard's
"events resolved" figure moves by one.

Each person works in their own browser context. The event page swaps its body through htmx after each
action and reports the event's state on ``#event-body[data-state]``."""

from __future__ import annotations

import importlib
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.conftest import GRID_A, TOWN_A, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VILLAGE_A = "330503100201"


@pytest.fixture
def loop_world(tree, make_user):  # type: ignore[no-untyped-def]
    """Types and role permissions (again: the transactional flush removed the migrations' rows), a
    workstation covering village A1, a department, and the four people of the loop."""
    from django.apps import apps

    from pingan.accounts.models import Organisation, OrgKind

    defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
    defaults.install_types(apps)
    defaults.grant(apps)
    workstation = Organisation.objects.create(code="ws-a", name="甲片区联动工作站", kind=OrgKind.WORKSTATION,
                                              area=tree[VILLAGE_A])
    workstation.areas.add(tree[VILLAGE_A])
    Organisation.objects.create(code="dept-a", name="甲镇综合执法中队", kind=OrgKind.DEPARTMENT)
    return {
        "grid": make_user("grid_worker", area=GRID_A, username="grid_a"),
        "ws": make_user("workstation_staff", area=VILLAGE_A, organisation="ws-a", username="ws_a"),
        "dept": make_user("department_staff", area=TOWN_A, organisation="dept-a", username="dept_a"),
        "admin": make_user("district_admin", username="admin"),
    }


@pytest.fixture
def people(browser: Any, live_server: Any) -> Iterator[Any]:
    """``people(username)`` → a logged-in page in its own browser context; any JavaScript error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_as(username: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
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


def state_is(page: Any, state: str) -> None:
    page.wait_for_selector(f'#event-body[data-state="{state}"]', state="attached")


def act(page: Any, action: str) -> Any:
    form = page.locator(f'form.ev-action[data-action="{action}"]')
    assert form.count() == 1, f"no {action} form offered"
    return form


def resolved_figure(page: Any, live_server: Any) -> int:
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector('#dashboard[data-state="ready"]', state="attached")
    text = page.inner_text('[data-figure="events_resolved"] .figure-value')
    return int(re.sub(r"[^\d]", "", text) or "0")


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def test_the_whole_loop_from_the_map_to_closed_moves_the_dashboard(people, live_server, loop_world) -> None:  # type: ignore[no-untyped-def]
    from pingan.events.models import Event, State

    admin = people("admin")
    resolved_before = resolved_figure(admin, live_server)

    # 1. The grid worker picks the place on the events map and reports, with a photo.
    grid = people("grid_a")
    grid.goto(f"{live_server.url}/events/map/")
    grid.wait_for_selector('#events-map[data-state="ready"]', state="attached")
    box = grid.locator("#events-map").bounding_box()
    assert box is not None
    # The map opens on the district at zoom 11, centred on 120.40°E: GRID_A lies just west of the centre.
    grid.mouse.click(box["x"] + box["width"] / 2 - 70, box["y"] + box["height"] / 2)
    picked = grid.get_attribute("#events-map", "data-picked") or ""
    lat, lon = (float(v) for v in picked.split(","))
    assert 120.30 < lon < 120.40 and 30.80 < lat < 30.90
    grid.click("#report-here")
    grid.wait_for_url("**/events/report/?**")
    grid.wait_for_selector('#pick-map[data-state="ready"]', state="attached")
    assert grid.input_value("input[name=lon]") and grid.input_value("input[name=lat]")
    grid.select_option("select[name=event_type]", "dispute-neighbour")
    grid.fill("input[name=title]", "楼道堆物引发邻里纠纷")
    grid.fill("textarea[name=description]", "3号楼楼道长期堆放杂物，邻居之间多次争吵。")
    grid.fill("input[name=address]", "甲一村3号楼")
    grid.set_input_files("input[name=photos]", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    grid.click("#report-submit")
    grid.wait_for_url(re.compile(r".*/events/\d+/$"))
    state_is(grid, "reported")
    number = grid.inner_text("#event-number").strip()
    event = Event.objects.get(number=number)
    assert event.grid is not None and event.grid.code == GRID_A
    assert event.attachments.count() == 1

    # 2. The workstation sees it in "to accept", accepts it and dispatches it to the department.
    ws = people("ws_a")
    ws.goto(f"{live_server.url}/events/?box=to_accept")
    assert ws.get_attribute('a[data-box="to_accept"] .count', "data-count") == "1"
    ws.click(f'tr[data-number="{number}"] a')
    state_is(ws, "reported")
    act(ws, "accept").locator("button[type=submit]").click()
    state_is(ws, "accepted")
    dispatch = act(ws, "dispatch")
    dispatch.locator("select[name=lead_unit]").select_option("dept-a")
    dispatch.locator("input[name=note]").fill("请于三日内处置")
    dispatch.locator("button[type=submit]").click()
    state_is(ws, "dispatched")
    assert "甲镇综合执法中队" in ws.inner_text("#tasks")

    # 3. The department starts and resolves it.
    dept = people("dept_a")
    dept.goto(f"{live_server.url}/events/?box=to_handle")
    dept.click(f'tr[data-number="{number}"] a')
    state_is(dept, "dispatched")
    act(dept, "start").locator("button[type=submit]").click()
    state_is(dept, "in_progress")
    resolve = act(dept, "resolve")
    resolve.locator("textarea[name=result]").fill("已清理楼道杂物，双方达成谅解")
    resolve.locator("textarea[name=measures]").fill("上门调解，组织清理")
    resolve.locator("select[name=method]").select_option("mediated")
    resolve.locator("button[type=submit]").click()
    state_is(dept, "resolved")

    # 4. The grid worker verifies and closes it with the reporter's satisfaction.
    grid.goto(f"{live_server.url}/events/?box=to_verify")
    grid.click(f'tr[data-number="{number}"] a')
    state_is(grid, "resolved")
    act(grid, "verify").locator("button[type=submit]").click()
    state_is(grid, "verified")
    close = act(grid, "close")
    close.locator("select[name=satisfaction]").select_option("5")
    close.locator("button[type=submit]").click()
    state_is(grid, "closed")
    assert grid.locator("form.ev-action").count() == 0  # nothing left for the grid worker to do

    timeline = grid.locator("#timeline li").evaluate_all("items => items.map(li => li.dataset.action)")
    assert timeline[:1] == ["report"]
    assert [a for a in timeline if a != "attach"] == ["report", "accept", "dispatch", "start", "resolve", "verify", "close"]
    event.refresh_from_db()
    assert event.state == State.CLOSED and event.satisfaction == 5

    # 5. The dashboard's "events resolved" moved by one.
    assert resolved_figure(admin, live_server) == resolved_before + 1

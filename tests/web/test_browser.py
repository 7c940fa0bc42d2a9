"""The pages in a real browser (Debian's Chromium via Playwright), against the live test server.

The map is Leaflet drawing SVG paths; map.js marks each path with data-code / data-level and
reports its state on #map (data-current, data-level, data-state="ready").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GRID_A, GRID_B, TOWN_A, TOWN_B, Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DISTRICT = "330503"
VILLAGE_A1 = "330503100201"


def id_number(body17: str) -> str:
    """A valid 18-character resident ID number (GB 11643 check character) for the 17 digits given."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


def log_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", Personas.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def map_ready(page: Any, current: str) -> None:
    page.wait_for_selector(f'#map[data-current="{current}"][data-state="ready"]', state="attached")


def drawn_codes(page: Any) -> list[str]:
    return sorted(page.eval_on_selector_all("#map path.leaflet-interactive", "ps => ps.map(p => p.dataset.code)"))


def test_grid_worker_sees_only_their_own_grid_on_the_map(page, live_server, transactional_db, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("grid_worker", area=GRID_A)
    log_in(page, live_server, user.username)

    map_ready(page, GRID_A)
    # The grid's two micro-grids, and nothing of the neighbouring grid.
    assert drawn_codes(page) == [f"{GRID_A}001", f"{GRID_A}002"]
    assert not any(code.startswith(GRID_B) for code in drawn_codes(page))
    assert page.get_attribute("#map", "data-level") == "microgrid"
    assert page.is_disabled("#map-up")  # already at the top of what they may see
    assert "甲一村第1网格" in page.inner_text("#crumbs")

    nav = page.inner_text("nav.nav")
    assert "网格地图" in nav and "人员" in nav
    assert "审计日志" not in nav
    assert page.locator("nav.nav a[href='/audit/']").count() == 0


def test_district_admin_drills_down_from_town_to_village_and_back_up(page, live_server, transactional_db, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("district_admin", area=DISTRICT)
    log_in(page, live_server, user.username)

    map_ready(page, DISTRICT)
    assert drawn_codes(page) == [TOWN_A, TOWN_B]
    assert page.get_attribute("#map", "data-level") == "town"

    page.click(f'#map path[data-code="{TOWN_A}"]')
    map_ready(page, TOWN_A)
    assert drawn_codes(page) == [VILLAGE_A1]
    assert page.get_attribute("#map", "data-level") == "village"
    crumbs = page.inner_text("#crumbs")
    assert "测试区" in crumbs and "甲镇" in crumbs
    assert page.inner_text("#map-up").strip().endswith("上一级")

    page.click("#map-up")
    map_ready(page, DISTRICT)
    assert drawn_codes(page) == [TOWN_A, TOWN_B]
    assert page.is_disabled("#map-up")


def test_auditor_sees_audit_entries(page, live_server, transactional_db, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("auditor", area=DISTRICT)
    log_in(page, live_server, user.username)

    page.click("nav.nav a[href='/audit/']")
    page.wait_for_url(f"{live_server.url}/audit/")
    assert page.inner_text("h1") == "审计日志"
    rows = page.locator("#audit-table tr.audit-entry")
    assert rows.count() > 0
    # Setting up the personas was audited: the roles and the auditor's own account.
    assert "pingan.role" in page.inner_text("#audit-table")

    page.fill("input[name=actor]", "nobody-at-all")
    page.click("form.filters button")
    page.wait_for_url("**/audit/?**")
    assert page.locator("#audit-table tr.audit-entry").count() == 0


def test_full_identity_reveal_through_htmx_shows_the_id_number_under_a_watermark(page, live_server, transactional_db, make_user) -> None:  # type: ignore[no-untyped-def]
    from pingan.accounts import actions
    from pingan.core.models import AuditEntry

    full_id = id_number("33050319800101123")
    person = actions.register_person("test", actions.PersonInput(
        name="沈建国", id_number=full_id, phone="13857212345", address="浙江省湖州市南浔区甲镇甲一村12号", area_code=GRID_A,
    ))
    user = make_user("police_officer", area=TOWN_A)
    log_in(page, live_server, user.username)

    url = f"{live_server.url}/persons/{person.pk}/"
    page.goto(url)
    assert page.locator(".watermark").count() == 1
    assert user.username in (page.get_attribute(".watermark", "data-text") or "")
    masked = page.inner_text("#person-id-number")
    assert masked != full_id and masked.startswith("330503") and "*" in masked
    assert "沈建国" not in page.inner_text("#person-fields")

    page.fill("input[name=purpose]", "核查矛盾纠纷当事人身份")
    page.click("#person-fields button[type=submit]")
    page.wait_for_function(
        "id => document.getElementById('person-id-number').textContent.trim() === id", arg=full_id,
    )
    assert page.url == url  # swapped in place by htmx, no navigation
    fields = page.inner_text("#person-fields")
    assert "沈建国" in fields and "已记入审计日志" in fields
    assert page.locator(".watermark").count() == 1
    assert AuditEntry.objects.filter(action="pingan.person.identity_viewed", actor_username=user.username).count() == 1

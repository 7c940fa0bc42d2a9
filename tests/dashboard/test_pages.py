"""The dashboard page, its Excel export and the figures endpoint."""

from __future__ import annotations

import io

import pytest

from pingan.events import actions
from tests.conftest import TOWN_A
from tests.dashboard.conftest import IN_TOWN_A


def report() -> None:
    actions.report_event("system", actions.ReportInput(
        event_type="dispute-neighbour", title="邻里噪声", description="夜间噪声", lon=IN_TOWN_A[0], lat=IN_TOWN_A[1]))


@pytest.fixture
def admin(setup, clock, make_user, client):  # type: ignore[no-untyped-def]
    user = make_user("district_admin")
    client.force_login(user)
    return user


def test_the_page_shows_the_figures_as_cards_and_tables(admin, client) -> None:  # type: ignore[no-untyped-def]
    report()
    response = client.get("/dashboard/?period=day")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-figure="events_resolved"' in html and 'data-figure="on_time_rate"' in html
    assert f'data-code="{TOWN_A}"' in html  # the by-town table
    assert response.context["board"].totals["reported"] == 1
    assert response.context["board"].totals["open"] == 1


def test_the_page_renders_without_echarts_and_says_so(admin, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pingan.dashboard import views

    monkeypatch.setattr(views.finders, "find", lambda path: None)
    html = client.get("/dashboard/").content.decode()
    assert 'id="charts-missing"' in html
    assert "echarts.min.js" not in html
    assert 'id="table-towns"' in html


def test_the_page_loads_echarts_from_our_static_files_when_fetched(admin, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pingan.dashboard import views

    monkeypatch.setattr(views.finders, "find", lambda path: "/somewhere/" + path)
    html = client.get("/dashboard/").content.decode()
    assert "/static/dashboard/vendor/echarts.min.js" in html
    assert 'id="chart-towns"' in html and "http" not in html.split("echarts.min.js")[0].rsplit("<script", 1)[1]


def test_bad_filters_on_the_page_fall_back_to_the_defaults(admin, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/dashboard/?period=decade")
    assert response.status_code == 200
    assert response.context["board"].filters.period == "month"


def test_the_export_is_a_workbook_with_formula_text_neutralised(admin, client, setup) -> None:  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from pingan.accounts.models import Organisation

    Organisation.objects.filter(pk=setup["workstation"].pk).update(name="=HYPERLINK(\"http://x\")")
    report()
    response = client.get("/dashboard/export.xlsx?period=day")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert len(book.sheetnames) == 4
    names = [row[1] for row in book.worksheets[2].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(\"http://x\")" in names


def test_the_api_answers_the_figures(admin, client) -> None:  # type: ignore[no-untyped-def]
    report()
    response = client.get(f"/api/v1/dashboard/figures?period=week&town={TOWN_A}")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == "week" and body["town"] == TOWN_A and "from" in body and "to" in body
    assert body["totals"]["reported"] == 1
    assert body["totals"]["visits"] == 0
    assert [row["code"] for row in body["by_town"]] == [TOWN_A]
    assert body["states"] == [{"state": "reported", "label": body["states"][0]["label"], "count": 1}]


def test_the_api_refuses_bad_filters(admin, client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/dashboard/figures?period=quarter").status_code == 422
    assert client.get("/api/v1/dashboard/figures?from=2026-03-02&to=2026-03-01").json()["code"] == "invalid_range"
    assert client.get("/api/v1/dashboard/figures?town=999").status_code == 404

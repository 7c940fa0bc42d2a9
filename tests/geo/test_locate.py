from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

from pingan.geo import actions, queries
from pingan.geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from pingan.geo.importer import ParsedArea, ParseResult
from pingan.geo.models import GeoState
from tests.conftest import GRID_A, TOWN_A, box


def test_locate_finds_all_four_levels(tree) -> None:  # type: ignore[no-untyped-def]
    found = queries.locate(120.32, 30.85)
    assert found is not None
    assert found.microgrid == "330503100201001001" and found.grid == GRID_A
    assert found.village == "330503100201" and found.town == TOWN_A


def test_a_point_on_a_shared_border_gets_the_lowest_code(tree) -> None:  # type: ignore[no-untyped-def]
    on_border = queries.locate(120.35, 30.85)  # between micro-grids …001 and …002
    assert on_border is not None and on_border.microgrid == "330503100201001001"


def test_a_point_outside_the_district_says_so(tree) -> None:  # type: ignore[no-untyped-def]
    assert queries.locate(121.5, 31.2) is None


def test_batch_locate_matches_single_locate(tree) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    lon = rng.uniform(120.28, 120.52, 500)
    lat = rng.uniform(30.78, 30.92, 500)
    codes = queries.locate_many(lon, lat)
    for i in range(500):
        single = queries.locate(lon[i], lat[i])
        assert (codes["microgrid"][i] or None) == (single.microgrid if single else None)


def test_gcj02_and_bd09_input_locate_to_the_same_place(tree) -> None:  # type: ignore[no-untyped-def]
    lon, lat = 120.32, 30.85
    assert queries.locate(*wgs84_to_gcj02(lon, lat), crs="gcj02") == queries.locate(lon, lat)
    assert queries.locate(*wgs84_to_bd09(lon, lat), crs="bd09") == queries.locate(lon, lat)


@override_settings(PINGAN_INDEX_CHECK_SECONDS=0)
def test_the_index_follows_a_change_of_areas(tree) -> None:  # type: ignore[no-untyped-def]
    before = queries.current_index()
    assert queries.locate(120.32, 30.85).microgrid == "330503100201001001"  # type: ignore[union-attr]
    # Another process re-imports micro-grid 001 smaller: the point now falls in its grid only.
    actions.import_areas("test", ParseResult(areas=[
        ParsedArea(0, "330503100201001001", "小", "", "microgrid", GRID_A, box(0, 0, 0.01, 0.01))]))
    assert GeoState.objects.get(pk=1).version == before.version + 1
    after = queries.locate(120.32, 30.85)
    assert after is not None and after.microgrid is None and after.grid == GRID_A


def test_index_checks_the_version_at_most_once_per_interval(tree, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    queries.current_index()
    with django_assert_num_queries(0):
        for _ in range(100):
            queries.locate(120.32, 30.85)


def test_locate_api_answers_with_names_and_converted_point(make_user, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("grid_worker", area=GRID_A))
    glon, glat = wgs84_to_gcj02(120.32, 30.85)
    r = client.get("/api/v1/areas/locate", {"lon": glon, "lat": glat, "crs": "gcj02"})
    assert r.status_code == 200
    body = r.json()
    assert body["inside"] and body["grid"] == {"code": GRID_A, "name": "甲一村第1网格"}
    assert abs(body["lon"] - 120.32) < 1e-6
    assert client.get("/api/v1/areas/locate", {"lon": 500, "lat": 30}).status_code == 422
    assert client.get("/api/v1/areas/locate", {"lon": 120.3, "lat": 30.8, "crs": "mars"}).status_code == 422
    outside = client.get("/api/v1/areas/locate", {"lon": 100, "lat": 20}).json()
    assert outside["inside"] is False


@pytest.mark.parametrize("level", ["town", "grid"])
def test_area_list_is_scoped(make_user, client, level) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("grid_worker", area=GRID_A))
    codes = [a["code"] for a in client.get("/api/v1/areas", {"level": level}).json()["items"]]
    assert codes == ([] if level == "town" else [GRID_A])

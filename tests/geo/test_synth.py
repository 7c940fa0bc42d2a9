"""The synthetic 南浔区 geography: counts, codes, exact nesting, realistic borders, helpers."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely

from pingan.geo import synth
from pingan.geo.synth import SynthArea, SynthDistrict

CODE_LENGTH = {"district": 6, "town": 9, "village": 12, "grid": 15, "microgrid": 18}
PARENT_LEVEL = {"town": "district", "village": "town", "grid": "village", "microgrid": "grid"}


@pytest.fixture(scope="module")
def district() -> SynthDistrict:
    return synth.build_district()


@pytest.fixture(scope="module")
def children(district: SynthDistrict) -> dict[str, list[SynthArea]]:
    out: dict[str, list[SynthArea]] = defaultdict(list)
    for a in district.areas:
        if a.parent_code is not None:
            out[a.parent_code].append(a)
    return out


def km2(geom: shapely.Geometry) -> float:
    return synth.local_area_km2(geom)


def test_deterministic(district: SynthDistrict) -> None:
    again = synth.build_district()
    assert [a.code for a in again.areas] == [a.code for a in district.areas]
    sample = list(range(0, len(district.areas), 97)) + list(range(11))
    for i in sample:
        a, b = district.areas[i], again.areas[i]
        assert (a.name_zh, a.name_en, a.parent_code) == (b.name_zh, b.name_en, b.parent_code)
        assert shapely.to_wkb(a.geometry) == shapely.to_wkb(b.geometry)


def test_counts(district: SynthDistrict, children: dict[str, list[SynthArea]]) -> None:
    levels = Counter(a.level for a in district.areas)
    assert levels["district"] == 1
    assert levels["town"] == 10
    assert levels["village"] == synth.N_VILLAGES
    assert levels["grid"] == 624
    assert levels["microgrid"] == 5421
    for a in district.areas:
        if a.level != "microgrid":
            assert children[a.code], f"{a.code} has no children"
    per_grid = np.array([len(children[g.code]) for g in district.by_level("grid")])
    assert 5 <= np.median(per_grid) <= 15
    assert per_grid.min() >= 1


def test_order_parents_first(district: SynthDistrict) -> None:
    seen: set[str] = set()
    depth = [synth.LEVELS.index(a.level) for a in district.areas]
    assert depth == sorted(depth)
    for a in district.areas:
        assert a.parent_code is None or a.parent_code in seen
        seen.add(a.code)


def test_codes_and_names(district: SynthDistrict) -> None:
    codes = [a.code for a in district.areas]
    assert len(codes) == len(set(codes))
    assert district.areas[0].code == "330503" and district.areas[0].parent_code is None
    towns = district.by_level("town")
    assert [(t.code, t.name_zh, t.name_en, t.local_code) for t in towns] == synth.TOWNS
    for a in district.areas:
        assert len(a.code) == CODE_LENGTH[a.level] and a.code.isdigit()
        if a.parent_code is not None:
            assert a.code.startswith(a.parent_code)
        assert a.name_zh and a.name_en
        assert a.local_code == a.code.startswith("330503500")
    for v in district.by_level("village"):
        suffix = int(v.code[-3:])
        if v.name_zh.endswith("社区"):
            assert 1 <= suffix < 100 and v.name_en.endswith(" Community")
        else:
            assert v.name_zh.endswith("村") and 201 <= suffix < 300 and v.name_en.endswith(" Village")
    names = [v.name_zh for v in district.by_level("village")]
    assert len(names) == len(set(names))
    xunbei = [v for v in district.by_level("village") if v.name_zh == "浔北村"]
    assert len(xunbei) == 1 and xunbei[0].parent_code == "330503500" and xunbei[0].name_en == "Xunbei Village"
    grid = district.by_level("grid")[0]
    assert grid.name_zh.endswith("第1网格") and grid.name_en.endswith(" Grid 1")
    micro = district.by_level("microgrid")[0]
    assert micro.name_zh == grid.name_zh + "第1微网格"


def test_geometry_valid(district: SynthDistrict) -> None:
    geoms = np.array([a.geometry for a in district.areas], dtype=object)
    assert shapely.is_valid(geoms).all()
    kinds = Counter(g.geom_type for g in geoms)
    assert set(kinds) <= {"Polygon", "MultiPolygon"}
    assert kinds["MultiPolygon"] <= 0.01 * len(geoms)
    assert district.outline.geom_type == "Polygon"
    assert district.outline.equals(district.areas[0].geometry)
    minx, miny, maxx, maxy = district.outline.bounds
    assert 119.9 < minx < maxx < 120.7 and 30.5 < miny < maxy < 31.1
    assert district.outline.contains(shapely.Point(120.43, 30.875))  # the seat


def test_area(district: SynthDistrict) -> None:
    from pingan.geo.measure import area_km2

    assert 630 <= km2(district.outline) <= 770
    assert area_km2(district.outline) == pytest.approx(km2(district.outline))


def test_children_sum_to_parent(district: SynthDistrict, children: dict[str, list[SynthArea]]) -> None:
    for a in district.areas:
        kids = children.get(a.code)
        if kids:
            total = sum(k.geometry.area for k in kids)
            assert total == pytest.approx(a.geometry.area, rel=1e-6), a.code


def test_no_overlaps_and_no_gaps(district: SynthDistrict, children: dict[str, list[SynthArea]]) -> None:
    micro = np.array([m.geometry for m in district.by_level("microgrid")], dtype=object)
    assert shapely.coverage_is_valid(micro)
    rng = np.random.default_rng(0)
    parents = [district.areas[0], *district.by_level("town")[:3]]
    for level, k in (("village", 15), ("grid", 40)):
        pool = district.by_level(level)
        parents += [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]
    for parent in parents:
        kids = np.array([c.geometry for c in children[parent.code]], dtype=object)
        tree = shapely.STRtree(kids)
        left, right = tree.query(kids, predicate="intersects")
        pairs = left < right
        overlap = shapely.area(shapely.intersection(kids[left[pairs]], kids[right[pairs]])).sum()
        assert overlap <= 1e-9 * parent.geometry.area, parent.code
        union = shapely.union_all(kids)
        assert union.symmetric_difference(parent.geometry).area <= 1e-9 * parent.geometry.area, parent.code


def test_microgrid_points_in_their_grid(district: SynthDistrict) -> None:
    grids = {g.code: g.geometry for g in district.by_level("grid")}
    micro = district.by_level("microgrid")
    points = shapely.point_on_surface(np.array([m.geometry for m in micro], dtype=object))
    owners = np.array([grids[str(m.parent_code)] for m in micro], dtype=object)
    assert shapely.contains(owners, points).all()


def test_borders_are_detailed_and_sizes_vary(district: SynthDistrict) -> None:
    micro = district.by_level("microgrid")
    vertices = np.array(
        [len(m.geometry.exterior.coords) - 1 for m in micro if m.geometry.geom_type == "Polygon"]
    )
    assert np.median(vertices) >= 40
    areas = np.array([km2(m.geometry) for m in micro])
    assert np.percentile(areas, 95) > 3 * np.percentile(areas, 5)
    seat = shapely.Point(120.43, 30.875)
    near = [a for m, a in zip(micro, areas, strict=True) if m.geometry.distance(seat) < 0.01]
    assert near and np.mean(near) < 0.5 * areas.mean()  # urban micro-grids are smaller
    # wiggly: a micro-grid's border is far from its few-corner simplification
    sample = [m.geometry for m in micro[::50]]
    straight = sum(len(shapely.simplify(g, 1e-5).exterior.coords) <= 12 for g in sample)
    assert straight < 0.5 * len(sample)


def test_towns_placed_plausibly(district: SynthDistrict) -> None:
    c = {t.code: t.geometry.centroid for t in district.by_level("town")}
    nanxun, linghu, hefu, jiuguan = c["330503100"], c["330503105"], c["330503106"], c["330503104"]
    assert nanxun.x > linghu.x and nanxun.x > hefu.x and nanxun.y > c["330503102"].y
    assert jiuguan.x > c["330503107"].x
    for code in ("330503101", "330503102", "330503103"):
        assert c[code].y < nanxun.y
    for t in district.by_level("town"):
        assert 15 < km2(t.geometry) < 250


def test_shapes(district: SynthDistrict) -> None:
    shapes = district.shapes()
    assert [s.code for s in shapes] == [a.code for a in district.areas]
    assert shapes[5].level == district.areas[5].level and shapes[5].geometry is district.areas[5].geometry


def test_geojson(district: SynthDistrict) -> None:
    fc = synth.to_geojson(district)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(district.areas)
    first = fc["features"][0]
    assert first["properties"] == {
        "code": "330503",
        "name": "南浔区",
        "name_en": "Nanxun District",
        "level": "district",
        "parent_code": None,
    }
    dev = next(f for f in fc["features"] if f["properties"]["code"] == "330503500")
    assert dev["properties"]["local_code"] is True
    small = synth.to_geojson(district, levels=["district", "town"])
    assert len(small["features"]) == 11
    back = shapely.geometry.shape(json.loads(json.dumps(small))["features"][1]["geometry"])
    assert back.equals(district.by_level("town")[0].geometry)


def test_village_groups(district: SynthDistrict) -> None:
    villages = [v.code for v in district.by_level("village")]
    groups = synth.village_groups(district, 38)
    assert len(groups) == 38 and all(groups)
    assert [c for g in groups for c in g] == villages  # each once, code order
    assert all(len({c[:9] for c in g}) == 1 for g in groups)  # one town per group
    assert {g[0][:9] for g in groups} == {t[0] for t in synth.TOWNS}
    sizes = [len(g) for g in groups]
    assert max(sizes) <= 2 * min(sizes) + 1
    few = synth.village_groups(district, 4)
    assert len(few) == 4 and [c for g in few for c in g] == villages
    assert all(type(c) is str for g in few for c in g)
    with pytest.raises(ValueError):
        synth.village_groups(district, 0)
    with pytest.raises(ValueError):
        synth.village_groups(district, len(villages) + 1)


def test_station_points(district: SynthDistrict) -> None:
    villages = {v.code: v.geometry for v in district.by_level("village")}
    points = synth.station_points(district, 28, seed=7)
    assert len(points) == 28
    assert len({code for code, _, _ in points}) == 28
    assert {code[:9] for code, _, _ in points} == {t[0] for t in synth.TOWNS}
    for code, lon, lat in points:
        assert villages[code].contains(shapely.Point(lon, lat))
    assert synth.station_points(district, 28, seed=7) == points
    assert synth.station_points(district, 28, seed=8) != points
    lons = [lon for _, lon, _ in points]
    assert max(lons) - min(lons) > 0.2  # spread across the district
    assert synth.station_points(district, 0) == []


def test_apportion_respects_bounds() -> None:
    assert synth._apportion([5, 3, 2], 10, [1, 1, 1]) == [5, 3, 2]
    assert sum(synth._apportion([9, 1], 7, [1, 1], [3, 9])) == 7
    assert synth._apportion([9, 1], 7, [1, 1], [3, 9])[0] == 3
    with pytest.raises(ValueError):
        synth._apportion([1, 1], 1, [1, 1])
    assert math.isclose(sum(synth._apportion([1.5, 2.5], 4, [0, 0])), 4)

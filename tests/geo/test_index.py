"""Tests for pingan.geo.index: hand-made trees and a brute-force comparison on Voronoi partitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pingan.geo.index import LEVELS, AreaIndex, AreaShape, LocateResult


def sq(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x1, y1)


def small_tree(*extra: AreaShape) -> list[AreaShape]:
    """District D (0..4 × 0..2) → town T → village V → grids G1 (0..2) and G2 (2..4)."""
    return [
        AreaShape("D", "district", None, sq(0, 0, 4, 2)),
        AreaShape("DT", "town", "D", sq(0, 0, 4, 2)),
        AreaShape("DTV", "village", "DT", sq(0, 0, 4, 2)),
        AreaShape("DTVG1", "grid", "DTV", sq(0, 0, 2, 2)),
        AreaShape("DTVG2", "grid", "DTV", sq(2, 0, 4, 2)),
        *extra,
    ]


def both(index: AreaIndex, x: float, y: float) -> LocateResult | None:
    """locate and locate_many must agree; return the single answer."""
    single = index.locate(x, y)
    pos = index.locate_many(np.array([x]), np.array([y]))
    assert pos.dtype == np.int32
    assert index.result(int(pos[0])) == single
    return single


@pytest.fixture(params=[1, 3, 64, 4096], ids=lambda r: f"res{r}")
def resolution(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def test_shared_border_goes_to_lowest_code(resolution: int) -> None:
    # Two microgrids of G1 sharing the border x = 1; "…M2" < "…M3" whatever the insertion order.
    areas = small_tree(
        AreaShape("DTVG1M3", "microgrid", "DTVG1", sq(1, 0, 2, 2)),
        AreaShape("DTVG1M2", "microgrid", "DTVG1", sq(0, 0, 1, 2)),
    )
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 1.0, 1.0) == LocateResult("DTVG1M2", "DTVG1", "DTV", "DT", "D")
    assert both(index, 1.0, 0.3) == LocateResult("DTVG1M2", "DTVG1", "DTV", "DT", "D")
    assert both(index, 1.5, 1.0) == LocateResult("DTVG1M3", "DTVG1", "DTV", "DT", "D")
    assert both(index, 0.5, 1.0) == LocateResult("DTVG1M2", "DTVG1", "DTV", "DT", "D")
    # grid border x = 2: G1's micro-grid (finer) beats G2, which has no micro-grids
    assert both(index, 2.0, 1.0) == LocateResult("DTVG1M3", "DTVG1", "DTV", "DT", "D")


def test_vertices_and_outer_boundary_count_as_inside(resolution: int) -> None:
    areas = small_tree(
        AreaShape("DTVG1M1", "microgrid", "DTVG1", sq(0, 0, 1, 1)),
        AreaShape("DTVG1M2", "microgrid", "DTVG1", sq(1, 0, 2, 1)),
        AreaShape("DTVG1M3", "microgrid", "DTVG1", sq(0, 1, 1, 2)),
        AreaShape("DTVG1M4", "microgrid", "DTVG1", sq(1, 1, 2, 2)),
    )
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 1.0, 1.0).microgrid == "DTVG1M1"  # type: ignore[union-attr]  # four corners meet
    assert both(index, 2.0, 2.0).microgrid == "DTVG1M4"  # type: ignore[union-attr]  # outer corner
    assert both(index, 0.0, 0.0).microgrid == "DTVG1M1"  # type: ignore[union-attr]  # district corner
    assert both(index, 4.0, 2.0) == LocateResult(None, "DTVG2", "DTV", "DT", "D")
    assert both(index, 4.0, 1.0) == LocateResult(None, "DTVG2", "DTV", "DT", "D")


def test_outside_is_none(resolution: int) -> None:
    index = AreaIndex(small_tree(), resolution=resolution)
    for x, y in [
        (-0.001, 1.0),
        (4.000001, 1.0),
        (2.0, 2.5),
        (100.0, -100.0),
        (math.nan, 1.0),
        (math.inf, 1.0),
    ]:
        assert both(index, x, y) is None
    pos = index.locate_many(np.array([-1.0, 1.0, np.nan]), np.array([1.0, 1.0, 1.0]))
    assert pos.tolist()[0] == -1 and pos.tolist()[2] == -1 and pos.tolist()[1] >= 0


def test_grid_without_microgrids_and_gaps(resolution: int) -> None:
    # G1 has one micro-grid covering only its left half; G2 has none.
    areas = small_tree(AreaShape("DTVG1M1", "microgrid", "DTVG1", sq(0, 0, 1, 2)))
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 0.5, 0.5) == LocateResult("DTVG1M1", "DTVG1", "DTV", "DT", "D")
    assert both(index, 1.5, 0.5) == LocateResult(None, "DTVG1", "DTV", "DT", "D")
    assert both(index, 3.0, 0.5) == LocateResult(None, "DTVG2", "DTV", "DT", "D")


def test_district_only_and_town_gap(resolution: int) -> None:
    areas = [
        AreaShape("D", "district", None, sq(0, 0, 4, 2)),
        AreaShape("DA", "town", "D", sq(0, 0, 1, 2)),
    ]
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 3.0, 1.0) == LocateResult(None, None, None, None, "D")
    assert both(index, 0.5, 1.0) == LocateResult(None, None, None, "DA", "D")


def test_multipolygon(resolution: int) -> None:
    two = shapely.MultiPolygon([sq(0, 0, 0.5, 0.5), sq(1.5, 1.5, 2, 2)])
    areas = small_tree(AreaShape("DTVG1M1", "microgrid", "DTVG1", two))
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 0.25, 0.25).microgrid == "DTVG1M1"  # type: ignore[union-attr]
    assert both(index, 1.75, 1.75).microgrid == "DTVG1M1"  # type: ignore[union-attr]
    assert both(index, 1.0, 1.0) == LocateResult(None, "DTVG1", "DTV", "DT", "D")


def test_hole_and_enclave(resolution: int) -> None:
    ring = shapely.Polygon(
        [(0, 0), (2, 0), (2, 2), (0, 2)], holes=[[(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)]]
    )
    areas = small_tree(
        AreaShape("DTVG1M2", "microgrid", "DTVG1", ring),
        AreaShape("DTVG2M1", "microgrid", "DTVG2", sq(2.5, 0.5, 3.5, 1.5)),
        AreaShape("DTVG2M9", "microgrid", "DTVG2", sq(0.75, 0.75, 1.0, 1.0)),  # odd parent on purpose
    )
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 0.25, 1.0).microgrid == "DTVG1M2"  # type: ignore[union-attr]
    # inside the hole, not in the enclave: falls back to the grid
    assert both(index, 0.6, 0.6) == LocateResult(None, "DTVG1", "DTV", "DT", "D")
    # on the hole's edge: the holed polygon is closed
    assert both(index, 0.5, 1.0).microgrid == "DTVG1M2"  # type: ignore[union-attr]
    # the enclave: ancestors come from its parent chain, not from geometry
    assert both(index, 0.8, 0.8) == LocateResult("DTVG2M9", "DTVG2", "DTV", "DT", "D")


def test_overlapping_areas_of_one_level(resolution: int) -> None:
    areas = small_tree(
        AreaShape("DTVG1M5", "microgrid", "DTVG1", sq(0, 0, 1.5, 2)),
        AreaShape("DTVG1M4", "microgrid", "DTVG1", sq(0.5, 0, 2, 2)),
    )
    index = AreaIndex(areas, resolution=resolution)
    assert both(index, 0.25, 1.0).microgrid == "DTVG1M5"  # type: ignore[union-attr]
    assert both(index, 1.0, 1.0).microgrid == "DTVG1M4"  # type: ignore[union-attr]
    assert both(index, 1.75, 1.0).microgrid == "DTVG1M4"  # type: ignore[union-attr]
    # just either side of an edge that lies inside the other area
    assert both(index, 1.5 + 1e-9, 1.0).microgrid == "DTVG1M4"  # type: ignore[union-attr]
    assert both(index, 1.5, 1.0).microgrid == "DTVG1M4"  # type: ignore[union-attr]
    assert both(index, 0.5 - 1e-9, 1.0).microgrid == "DTVG1M5"  # type: ignore[union-attr]


def test_codes_and_level_positions() -> None:
    areas = small_tree(AreaShape("DTVG1M1", "microgrid", "DTVG1", sq(0, 0, 1, 2)))
    index = AreaIndex(areas, version=7)
    assert index.version == 7
    assert index.area_codes[0] == "DTVG1M1"  # finest level first
    pos = index.locate_many(np.array([[0.5, 1.5], [3.0, 9.0]]), np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert pos.shape == (2, 2)
    codes = index.codes(pos)
    assert list(codes) == list(LEVELS)
    assert codes["microgrid"].tolist() == [["DTVG1M1", None], [None, None]]
    assert codes["grid"].tolist() == [["DTVG1", "DTVG1"], ["DTVG2", None]]
    assert codes["district"].tolist() == [["D", "D"], ["D", None]]
    lp = index.level_positions(pos)
    assert lp["grid"].dtype == np.int32
    assert [index.area_codes[i] if i >= 0 else None for i in lp["grid"].ravel()] == [
        "DTVG1",
        "DTVG1",
        "DTVG2",
        None,
    ]
    empty = index.locate_many(np.array([]), np.array([]))
    assert empty.shape == (0,) and index.codes(empty)["town"].shape == (0,)


def test_empty_index() -> None:
    index = AreaIndex([])
    assert index.locate(1.0, 2.0) is None
    assert index.locate_many(np.array([1.0]), np.array([2.0])).tolist() == [-1]


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        AreaIndex([AreaShape("X", "county", None, sq(0, 0, 1, 1))])
    with pytest.raises(ValueError, match="duplicate"):
        AreaIndex([AreaShape("X", "grid", None, sq(0, 0, 1, 1))] * 2)
    with pytest.raises(ValueError, match="Polygon"):
        AreaIndex([AreaShape("X", "grid", None, shapely.Point(0, 0))])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loops"):
        AreaIndex(
            [AreaShape("A", "grid", "B", sq(0, 0, 1, 1)), AreaShape("B", "village", "A", sq(0, 0, 1, 1))]
        )
    index = AreaIndex(small_tree())
    with pytest.raises(ValueError, match="shape"):
        index.locate_many(np.zeros(2), np.zeros(3))


# --- brute force on random Voronoi partitions ------------------------------------------------


def voronoi_tree(seed: int, n: int, drop: float) -> tuple[list[AreaShape], shapely.Polygon]:
    """District box → 2 towns → grids (unions of cells, no village level) → micro-grids (cells, some dropped)."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(-10, 10, 2)
    w, h = rng.uniform(0.5, 3, 2)
    box = sq(x0, y0, x0 + w, y0 + h)
    pts = np.c_[rng.uniform(x0, x0 + w, n), rng.uniform(y0, y0 + h, n)]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    cells = cells[~shapely.is_empty(cells)]
    areas = [AreaShape("D", "district", None, box)]
    mid = x0 + w * rng.uniform(0.3, 0.7)
    areas.append(AreaShape("D1", "town", "D", sq(x0, y0, mid, y0 + h)))
    areas.append(AreaShape("D2", "town", "D", sq(mid, y0, x0 + w, y0 + h)))
    n_grids = max(1, len(cells) // 3)
    labels = rng.integers(0, n_grids, len(cells))
    for g in range(n_grids):
        members = cells[labels == g]
        if not members.size:
            continue
        union = shapely.union_all(members)
        town = "D1" if union.centroid.x < mid else "D2"
        gcode = f"{town}V{g:02d}"
        areas.append(AreaShape(gcode, "grid", town, union))
        for j, cell in enumerate(members):
            if rng.uniform() >= drop:
                areas.append(AreaShape(f"{gcode}M{j:02d}", "microgrid", gcode, cell))
    return areas, box


def reference(areas: list[AreaShape], x: np.ndarray, y: np.ndarray) -> list[LocateResult | None]:
    """Brute force: every area that covers the point; finest level, then lowest code wins."""
    depth = {level: i for i, level in enumerate(LEVELS)}
    order = sorted(areas, key=lambda a: (-depth[a.level], a.code))
    pts = shapely.points(x, y)
    winner: list[AreaShape | None] = [None] * len(x)
    for area in reversed(order):  # later (better) ones overwrite
        inside = shapely.covers(area.geometry, pts)
        for i in np.flatnonzero(inside):
            winner[i] = area
    by_code = {a.code: a for a in areas}
    out: list[LocateResult | None] = []
    for w in winner:
        if w is None:
            out.append(None)
            continue
        fields = dict.fromkeys(LEVELS)
        cur: AreaShape | None = w
        while cur is not None:
            fields[cur.level] = fields[cur.level] or cur.code
            cur = by_code.get(cur.parent_code) if cur.parent_code else None
        out.append(LocateResult(*(fields[level] for level in reversed(LEVELS))))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    drop=st.sampled_from([0.0, 0.2]),
    resolution=st.sampled_from([1, 5, 37, 256, 1024]),
)
def test_matches_brute_force_on_voronoi(seed: int, n: int, drop: float, resolution: int) -> None:
    areas, box = voronoi_tree(seed, n, drop)
    index = AreaIndex(areas, resolution=resolution)
    rng = np.random.default_rng(seed ^ 0x5EED)
    minx, miny, maxx, maxy = box.bounds
    pad = 0.05 * (maxx - minx)
    rx = rng.uniform(minx - pad, maxx + pad, 300)
    ry = rng.uniform(miny - pad, maxy + pad, 300)
    # every vertex of every polygon: exactly on borders and corners
    verts = shapely.get_coordinates(np.array([a.geometry for a in areas], dtype=object))
    x = np.concatenate([rx, verts[:, 0]])
    y = np.concatenate([ry, verts[:, 1]])
    expected = reference(areas, x, y)
    got_many = index.locate_many(x, y)
    for i in range(len(x)):
        assert index.locate(float(x[i]), float(y[i])) == expected[i], (x[i], y[i])
        assert index.result(int(got_many[i])) == expected[i], (x[i], y[i])


def random_shape(draw: st.DrawFn) -> shapely.Polygon | shapely.MultiPolygon:
    x, y = draw(st.floats(0, 8)), draw(st.floats(0, 8))
    w, h = draw(st.floats(0.2, 5)), draw(st.floats(0.2, 5))
    kind = draw(st.sampled_from(["box", "disc", "holed", "multi"]))
    if kind == "disc":
        return shapely.Point(x, y).buffer(w / 2, quad_segs=draw(st.integers(1, 6)))
    if kind == "holed":
        return sq(x, y, x + w, y + h).difference(sq(x + w / 4, y + h / 4, x + w / 2, y + h / 2))
    if kind == "multi":
        return shapely.MultiPolygon([sq(x, y, x + w / 3, y + h / 3), sq(x + w / 2, y + h / 2, x + w, y + h)])
    return sq(x, y, x + w, y + h)


@st.composite
def overlapping_areas(draw: st.DrawFn) -> list[AreaShape]:
    count = draw(st.integers(1, 10))
    codes = draw(
        st.lists(st.text("abc", min_size=1, max_size=3), min_size=count, max_size=count, unique=True)
    )
    areas: list[AreaShape] = []
    for i, code in enumerate(codes):
        parent = draw(st.sampled_from([None, *codes[:i]]))
        areas.append(AreaShape(code, draw(st.sampled_from(LEVELS)), parent, random_shape(draw)))
    return areas


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(areas=overlapping_areas(), resolution=st.sampled_from([1, 4, 29, 300]), seed=st.integers(0, 2**32 - 1))
def test_matches_brute_force_on_overlapping_shapes(
    areas: list[AreaShape], resolution: int, seed: int
) -> None:
    index = AreaIndex(areas, resolution=resolution)
    rng = np.random.default_rng(seed)
    verts = shapely.get_coordinates(np.array([a.geometry for a in areas], dtype=object))
    x = np.concatenate([rng.uniform(-0.5, 13.5, 200), verts[:, 0]])
    y = np.concatenate([rng.uniform(-0.5, 13.5, 200), verts[:, 1]])
    expected = reference(areas, x, y)
    got_many = index.locate_many(x, y)
    for i in range(len(x)):
        assert index.locate(float(x[i]), float(y[i])) == expected[i], (x[i], y[i])
        assert index.result(int(got_many[i])) == expected[i], (x[i], y[i])


def test_locate_many_in_chunks_matches_single(monkeypatch: pytest.MonkeyPatch) -> None:
    import pingan.geo.index as index_module

    monkeypatch.setattr(index_module, "_CHUNK", 7)
    areas, box = voronoi_tree(11, 25, 0.2)
    index = AreaIndex(areas, resolution=64)
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = box.bounds
    x = rng.uniform(minx - 0.1, maxx + 0.1, 100)
    y = rng.uniform(miny - 0.1, maxy + 0.1, 100)
    pos = index.locate_many(x.reshape(10, 10), y.reshape(10, 10))
    assert pos.shape == (10, 10)
    assert [index.result(int(p)) for p in pos.ravel()] == [
        index.locate(a, b) for a, b in zip(x, y, strict=True)
    ]


def test_resolution_bounds() -> None:
    for bad in (0, -3, 10**6):
        with pytest.raises(ValueError, match="resolution"):
            AreaIndex(small_tree(), resolution=bad)


def test_bench_quick_smoke() -> None:
    from pingan.geo.bench import format_table, run_locate_bench

    areas, box = voronoi_tree(3, 40, 0.2)
    figures = run_locate_bench(areas, box, quick=True)
    for key in ("batch_points_per_s", "single_p50_us", "single_p99_us", "microgrids", "median_vertices"):
        assert figures[key] > 0
    assert figures["index_build_s"] >= 0 and figures["points"] == 100_000
    assert figures["microgrids"] == sum(1 for a in areas if a.level == "microgrid")
    assert figures["path_mismatches"] == 0 and figures["outside_fraction"] == 0
    table = format_table(figures)
    assert "single p99" in table and "points/s" in table

"""Tests for pingan.tracking.geometry: the frame, zone shapes, and the zone index against brute force."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from pingan.tracking.geometry import Frame, SegmentIndex, ZoneIndex, shape_polygon_lonlat, zone_polygon_lonlat

LON0, LAT0 = 120.35, 30.85


def star(rng: np.random.Generator, cx: float, cy: float, r: float, n: int) -> shapely.Polygon:
    a = (np.arange(n) + rng.uniform(0.1, 0.9, n)) * (2 * math.pi / n)
    rr = r * rng.uniform(0.5, 1.0, n)
    return shapely.Polygon(np.column_stack([cx + rr * np.cos(a), cy + rr * np.sin(a)]))


def mixed_zones(seed: int) -> list[shapely.Polygon | shapely.MultiPolygon]:
    """Zones in frame metres over ~20 km: circles, small and large star polygons (up to 2,000 vertices),
    a polygon with a hole, a multipolygon, corridors, and shapes sharing vertices and borders."""
    rng = np.random.default_rng(seed)
    zones: list[shapely.Polygon | shapely.MultiPolygon] = []
    for _ in range(40):
        c = rng.uniform(-9000, 9000, 2)
        zones.append(shapely.Point(*c).buffer(rng.uniform(50, 500), quad_segs=16))
    for _ in range(30):
        zones.append(star(rng, *rng.uniform(-9000, 9000, 2), rng.uniform(50, 500), int(rng.integers(4, 20))))
    for _ in range(12):
        zones.append(star(rng, *rng.uniform(-8000, 8000, 2), rng.uniform(500, 2500), int(rng.integers(20, 100))))
    zones.append(star(rng, 0.0, 0.0, 8000.0, 2000))
    zones.append(shapely.Polygon([(-3000, -3000), (3000, -3000), (3000, 3000), (-3000, 3000)],
                                 [[(-1000, -1000), (1000, -1000), (1000, 1000), (-1000, 1000)]]))
    bowtie = shapely.make_valid(shapely.Polygon([(4000, 4000), (6000, 6000), (6000, 4000), (4000, 6000)]))
    zones.append(shapely.MultiPolygon([g for g in bowtie.geoms if isinstance(g, shapely.Polygon)]))
    for _ in range(6):
        pts = np.cumsum(rng.normal(0, 300, (int(rng.integers(3, 60)), 2)), axis=0) + rng.uniform(-8000, 8000, 2)
        zones.append(shapely.LineString(pts).buffer(rng.uniform(20, 150), cap_style="flat"))
    zones.append(shapely.box(-500, -500, 0, 0))
    zones.append(shapely.box(0, -500, 500, 0))  # shares a border and two vertices with the one before
    return zones


def points_for(zones: list, seed: int, n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-10000, 10000, n)
    y = rng.uniform(-10000, 10000, n)
    # points on and next to every border: vertices, edge middles, and nudged copies
    coords = shapely.get_coordinates(shapely.boundary(np.array(zones, dtype=object)))
    pick = coords[rng.choice(coords.shape[0], size=min(3000, coords.shape[0]), replace=False)]
    mids = (coords[:-1] + coords[1:]) / 2
    mids = mids[rng.choice(mids.shape[0], size=min(3000, mids.shape[0]), replace=False)]
    nudge = pick + rng.normal(0, 0.5, pick.shape)
    extra = np.vstack([pick, mids, nudge])
    return np.concatenate([x, extra[:, 0]]), np.concatenate([y, extra[:, 1]])


def brute_pairs(zones: list, x: np.ndarray, y: np.ndarray) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for zi, z in enumerate(zones):
        hit = np.flatnonzero(shapely.intersects_xy(z, x, y))
        out.update((int(p), zi) for p in hit)
    return out


def brute_signed(zones: list, x: np.ndarray, y: np.ndarray, zi: np.ndarray) -> np.ndarray:
    pts = shapely.points(x, y)
    z = np.array(zones, dtype=object)[zi]
    d = shapely.distance(shapely.boundary(z), pts)
    return np.where(shapely.intersects(z, pts), d, -d)


def test_frame_is_affine_and_round_trips() -> None:
    f = Frame(LON0, LAT0)
    lon = LON0 + np.linspace(-0.5, 0.5, 101)
    lat = LAT0 + np.linspace(-0.4, 0.4, 101)
    x, y = f.to_xy(lon, lat)
    back = f.to_lonlat(x, y)
    assert np.allclose(back[0], lon, atol=1e-12) and np.allclose(back[1], lat, atol=1e-12)
    assert f.to_xy(LON0 + 1.0, LAT0) == pytest.approx((111320 * math.cos(math.radians(LAT0)), 0.0))
    assert f.to_xy(LON0, LAT0 + 1.0) == pytest.approx((0.0, 110574.0))
    # containment is the same in lon/lat and in the frame
    rng = np.random.default_rng(2)
    poly_ll = shapely.Polygon(np.column_stack([LON0 + rng.uniform(-0.05, 0.05, 12), LAT0 + rng.uniform(-0.05, 0.05, 12)]))
    poly_ll = shapely.convex_hull(poly_ll)
    plon, plat = LON0 + rng.uniform(-0.06, 0.06, 5000), LAT0 + rng.uniform(-0.06, 0.06, 5000)
    px, py = f.to_xy(plon, plat)
    assert (shapely.intersects_xy(poly_ll, plon, plat) == shapely.intersects_xy(f.geometry_to_xy(poly_ll), px, py)).all()


def test_circle_is_built_at_the_zone_itself() -> None:
    for lat in (22.5, 30.85, 45.0):
        circle = shape_polygon_lonlat("circle", [LON0, lat], radius_m=300)
        local = Frame(LON0, lat).geometry_to_xy(circle)
        r = np.hypot(*shapely.get_coordinates(local).T)
        assert r.max() == pytest.approx(300, abs=1e-6)
        assert r.min() > 300 * math.cos(math.pi / 64) - 1e-6
        assert local.area == pytest.approx(math.pi * 300**2, rel=0.002)
    # far from a frame's origin the circle stays round on the ground: built in its own frame
    far = shape_polygon_lonlat("circle", [LON0, LAT0 + 1.5], radius_m=500)
    own = Frame(LON0, LAT0 + 1.5).geometry_to_xy(far)
    assert own.area == pytest.approx(math.pi * 500**2, rel=0.002)


def test_corridor_has_its_width_and_flat_caps() -> None:
    f = Frame(LON0, LAT0)
    a, b = f.to_lonlat(-1000.0, 0.0), f.to_lonlat(1000.0, 0.0)
    band = shape_polygon_lonlat("corridor", [list(a), list(b)], width_m=100)
    local = f.geometry_to_xy(band)
    x0, y0, x1, y1 = local.bounds
    assert (x0, x1) == pytest.approx((-1000, 1000), abs=1e-6)      # flat caps: nothing past the ends
    assert (y0, y1) == pytest.approx((-50, 50), abs=1e-6)
    assert local.area == pytest.approx(2000 * 100, rel=1e-9)
    bent = shape_polygon_lonlat("corridor", [list(f.to_lonlat(-500.0, 0.0)), [LON0, LAT0],
                                             list(f.to_lonlat(0.0, 500.0))], width_m=40)
    assert bent.is_valid and f.geometry_to_xy(bent).area == pytest.approx(1000 * 40, rel=0.01)


def test_polygon_shapes_and_repair() -> None:
    ring = [[LON0, LAT0], [LON0 + 0.01, LAT0], [LON0 + 0.01, LAT0 + 0.01], [LON0, LAT0 + 0.01], [LON0, LAT0]]
    hole = [[LON0 + 0.004, LAT0 + 0.004], [LON0 + 0.006, LAT0 + 0.004], [LON0 + 0.006, LAT0 + 0.006],
            [LON0 + 0.004, LAT0 + 0.004]]
    with_hole = shape_polygon_lonlat("polygon", [ring, hole])
    assert len(with_hole.interiors) == 1
    assert shape_polygon_lonlat("polygon", ring).equals(shapely.Polygon(ring))  # a single ring is accepted
    bowtie = [[LON0, LAT0], [LON0 + 0.01, LAT0 + 0.01], [LON0 + 0.01, LAT0], [LON0, LAT0 + 0.01], [LON0, LAT0]]
    assert not shape_polygon_lonlat("polygon", [bowtie]).is_valid
    fixed = shape_polygon_lonlat("polygon", [bowtie], repair=True)
    assert fixed.is_valid and isinstance(fixed, shapely.MultiPolygon)
    spec = SimpleNamespace(shape="polygon", coords=[bowtie], radius_m=0.0, width_m=0.0)
    assert zone_polygon_lonlat(spec).is_valid


@pytest.mark.parametrize(("shape", "coords", "kw"), [
    ("circle", [LON0, LAT0], {"radius_m": 0}),
    ("circle", [LON0, float("nan")], {"radius_m": 10}),
    ("corridor", [[LON0, LAT0]], {"width_m": 10}),
    ("corridor", [[LON0, LAT0], [LON0, LAT0]], {"width_m": 10}),
    ("corridor", [[LON0, LAT0], [LON0 + 0.01, LAT0]], {"width_m": 0}),
    ("polygon", [[[LON0, LAT0], [LON0 + 0.01, LAT0], [LON0, LAT0]]], {}),
    ("polygon", [], {}),
    ("hexagon", [LON0, LAT0], {}),
])
def test_shapes_that_cannot_be_built_are_refused(shape: str, coords: object, kw: dict) -> None:
    with pytest.raises(ValueError):
        shape_polygon_lonlat(shape, coords, **kw)


@pytest.mark.parametrize(("seed", "cell_m"), [(1, None), (2, 45.0), (1, 900.0)])
def test_containing_matches_brute_force(seed: int, cell_m: float | None) -> None:
    zones = mixed_zones(seed)
    index = ZoneIndex(zones, Frame(LON0, LAT0), margins_m=0.0, cell_m=cell_m)
    x, y = points_for(zones, seed)
    pi, zi = index.containing_xy(x, y)
    assert np.all(np.diff(pi) >= 0)
    assert set(zip(pi.tolist(), zi.tolist(), strict=True)) == brute_pairs(zones, x, y)
    assert len(set(zip(pi.tolist(), zi.tolist(), strict=True))) == pi.size  # no pair twice


def test_containing_in_lon_lat_is_containment_of_the_lon_lat_polygons() -> None:
    frame = Frame(LON0, LAT0)
    zones = mixed_zones(5)
    zones_ll = [frame.geometry_to_lonlat(z) for z in zones]
    index = ZoneIndex([frame.geometry_to_xy(z) for z in zones_ll], frame, cell_m=80.0)
    rng = np.random.default_rng(5)
    lon = LON0 + rng.uniform(-0.1, 0.1, 20000)
    lat = LAT0 + rng.uniform(-0.09, 0.09, 20000)
    pi, zi = index.containing(lon, lat)
    assert set(zip(pi.tolist(), zi.tolist(), strict=True)) == brute_pairs(zones_ll, lon, lat)


@pytest.mark.parametrize("seed", [3])
def test_signed_distances_match_brute_force_within_the_margin(seed: int) -> None:
    zones = mixed_zones(seed)
    rng = np.random.default_rng(seed)
    margins = rng.uniform(60, 250, len(zones))
    index = ZoneIndex(zones, Frame(LON0, LAT0), margins_m=margins, cell_m=60.0)
    x, y = points_for(zones, seed, n=2000)
    keep = rng.choice(x.size, 4000, replace=False)
    x, y = x[keep], y[keep]
    # brute force: every point against every zone
    pts = shapely.points(x, y)
    ref = np.empty((x.size, len(zones)))
    for z, poly in enumerate(zones):
        d = shapely.distance(poly.boundary, pts)
        ref[:, z] = np.where(shapely.intersects(poly, pts), d, -d)
    pi, zi, d = index.classify(x, y)
    listed = set(zip(pi.tolist(), zi.tolist(), strict=True))
    want = {(p, z) for p, z in zip(*np.nonzero((ref >= 0) | (np.abs(ref) <= margins)), strict=True)}
    assert listed == {(int(p), int(z)) for p, z in want}
    r = ref[pi, zi]
    exact = np.abs(r) <= margins[zi]
    assert np.allclose(d[exact], r[exact], atol=1e-6)
    assert np.all(np.isposinf(d[~exact]))  # listed beyond the margin: only deep inside
    # near(): exactly the pairs within the margin asked for, with their distances
    npi, nzi, nd = index.near(x, y, 50.0)
    assert set(zip(npi.tolist(), nzi.tolist(), strict=True)) == {
        (int(p), int(z)) for p, z in zip(*np.nonzero(np.abs(ref) <= 50.0), strict=True)}
    assert np.allclose(nd, ref[npi, nzi], atol=1e-6)
    # signed_distance for arbitrary pairs, and the one-point path
    zz = rng.integers(0, len(zones), x.size)
    sd = index.signed_distance(x, y, zz)
    rf = ref[np.arange(x.size), zz]
    ok = np.abs(rf) <= margins[zz]
    assert np.allclose(sd[ok], rf[ok], atol=1e-6)
    assert np.all(np.sign(sd[~ok]) == np.sign(rf[~ok])) and np.all(np.isinf(sd[~ok]))
    for k in rng.choice(x.size, 300, replace=False).tolist():
        assert index.signed_distance_one(float(x[k]), float(y[k]), int(zz[k])) == pytest.approx(float(sd[k]))


def test_near_refuses_a_margin_wider_than_the_index() -> None:
    index = ZoneIndex([shapely.Point(0, 0).buffer(100)], Frame(LON0, LAT0), margins_m=40.0)
    with pytest.raises(ValueError):
        index.near(np.zeros(1), np.zeros(1), 41.0)


def test_an_empty_index_finds_nothing() -> None:
    index = ZoneIndex([], Frame(LON0, LAT0))
    pi, zi = index.containing_xy(np.zeros(3), np.zeros(3))
    assert pi.size == zi.size == 0
    assert index.classify(np.zeros(3), np.zeros(3))[0].size == 0


@pytest.mark.parametrize("seed", [6])
def test_segments_passing_deep_inside_match_brute_force(seed: int) -> None:
    zones = mixed_zones(seed)
    index = ZoneIndex(zones, Frame(LON0, LAT0), margins_m=101.0, cell_m=60.0)
    segs = SegmentIndex(index, np.arange(len(zones)), 30.0)
    rng = np.random.default_rng(seed)
    n = 3000
    ax, ay = rng.uniform(-10000, 10000, n), rng.uniform(-10000, 10000, n)
    length = np.where(rng.random(n) < 0.7, rng.uniform(0, 400, n), rng.uniform(400, 12000, n))
    ang = rng.uniform(0, 2 * math.pi, n)
    bx, by = ax + length * np.cos(ang), ay + length * np.sin(ang)
    si, zi = segs.query(ax, ay, bx, by)
    got = set(zip(si.tolist(), zi.tolist(), strict=True))
    lines = shapely.linestrings(np.stack([np.column_stack([ax, ay]), np.column_stack([bx, by])], axis=1))
    want: set[tuple[int, int]] = set()
    for z, poly in enumerate(zones):
        shrunk = poly.buffer(-30.0)
        if shrunk.is_empty:
            continue
        shapely.prepare(shrunk)
        want.update((int(s), z) for s in np.flatnonzero(shapely.intersects(lines, shrunk)))
    assert got == want
    assert len(want) > 50
    # the filter hook drops pairs before the exact test
    si2, zi2 = segs.query(ax, ay, bx, by, keep=lambda s, z: z % 2 == 0)
    assert set(zip(si2.tolist(), zi2.tolist(), strict=True)) == {p for p in want if p[1] % 2 == 0}

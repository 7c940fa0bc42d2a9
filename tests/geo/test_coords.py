"""Tests for pingan.geo.coords: published reference pairs, round trips, vectorised == scalar."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pingan.geo import coords as c

EARTH_R = 6371008.8
Convert = Callable[[float, float], tuple[float, float]]


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_R * math.asin(math.sqrt(h))


# WGS-84 -> GCJ-02, as (wgs lon, wgs lat, gcj lon, gcj lat).
WGS_GCJ_PAIRS = [
    # googollee/eviltransform, python/test.py and go/transform_test.go (TESTS: shanghai, shenzhen, beijing)
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    # wandergis/coordtransform, README.md: wgs84togcj02(116.404, 39.915)
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
    # feiquan123/coordtransform-go, coordtransform_test.go: expWGS84toGCJ02 for (114.363089, 30.517411)
    (114.363089, 30.517411, 114.36861383019243, 30.515078352018758),
]

# GCJ-02 -> BD-09 (a closed-form forward formula), as (gcj lon, gcj lat, bd lon, bd lat).
GCJ_BD_PAIRS = [
    # wandergis/coordtransform, README.md: gcj02tobd09(116.404, 39.915)
    (116.404, 39.915, 116.41036949371029, 39.92133699351021),
    # feiquan123/coordtransform-go, coordtransform_test.go: expGCJ02toBD09
    (114.363089, 30.517411, 114.36951652929112, 30.523754384540837),
]

# WGS-84 -> BD-09. feiquan123/coordtransform-go, coordtransform_test.go: expWGS84toBD09
WGS_BD_PAIRS = [(114.363089, 30.517411, 114.3750500836037, 30.521392123098003)]

# Published *inverse* results computed with the one-step approximation (metre-level error), as
# (input lon, input lat, published lon, published lat). Ours is the exact inverse, so it only has
# to agree within the approximation's error; eviltransform's own tests allow 5 m for it.
APPROX_GCJ_TO_WGS = [
    # wandergis/coordtransform, README.md: gcj02towgs84(116.404, 39.915)
    (116.404, 39.915, 116.39775550083061, 39.91359571849836),
    # feiquan123/coordtransform-go, coordtransform_test.go: expGCJ02toWGS84
    (114.363089, 30.517411, 114.35756416980757, 30.51974364798124),
]
APPROX_BD_TO_GCJ = [
    # wandergis/coordtransform, README.md: bd09togcj02(116.404, 39.915)
    (116.404, 39.915, 116.39762729119315, 39.90865673957631),
    # feiquan123/coordtransform-go, coordtransform_test.go: expBD09toGCJ02
    (114.363089, 30.517411, 114.356659806424, 30.511068245460944),
]
APPROX_BD_TO_WGS = [
    # feiquan123/coordtransform-go, coordtransform_test.go: expBD09toWGS84
    (114.363089, 30.517411, 114.35114337613005, 30.513412637358606),
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), WGS_GCJ_PAIRS)
def test_wgs84_to_gcj02_matches_published(wlon: float, wlat: float, glon: float, glat: float) -> None:
    lon, lat = c.wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), WGS_GCJ_PAIRS)
def test_gcj02_to_wgs84_recovers_published_wgs(wlon: float, wlat: float, glon: float, glat: float) -> None:
    lon, lat = c.gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.001


@pytest.mark.parametrize(("glon", "glat", "blon", "blat"), GCJ_BD_PAIRS)
def test_gcj02_to_bd09_matches_published(glon: float, glat: float, blon: float, blat: float) -> None:
    lon, lat = c.gcj02_to_bd09(glon, glat)
    assert lon == pytest.approx(blon, abs=1e-9)
    assert lat == pytest.approx(blat, abs=1e-9)
    back = c.bd09_to_gcj02(blon, blat)
    assert metres(*back, glon, glat) < 0.001


@pytest.mark.parametrize(("wlon", "wlat", "blon", "blat"), WGS_BD_PAIRS)
def test_wgs84_to_bd09_matches_published(wlon: float, wlat: float, blon: float, blat: float) -> None:
    lon, lat = c.wgs84_to_bd09(wlon, wlat)
    assert lon == pytest.approx(blon, abs=1e-9)
    assert lat == pytest.approx(blat, abs=1e-9)
    assert metres(*c.bd09_to_wgs84(blon, blat), wlon, wlat) < 0.001


@pytest.mark.parametrize(
    ("func", "forward", "pair"),
    [(c.gcj02_to_wgs84, c.wgs84_to_gcj02, p) for p in APPROX_GCJ_TO_WGS]
    + [(c.bd09_to_gcj02, c.gcj02_to_bd09, p) for p in APPROX_BD_TO_GCJ]
    + [(c.bd09_to_wgs84, c.wgs84_to_bd09, p) for p in APPROX_BD_TO_WGS],
)
def test_inverse_close_to_published_approximation_and_exact(
    func: Convert, forward: Convert, pair: tuple[float, float, float, float]
) -> None:
    x, y, px, py = pair
    lon, lat = func(x, y)
    assert metres(lon, lat, px, py) < 5.0
    # ... and ours is exact: going forward again lands on the input.
    assert metres(*forward(lon, lat), x, y) < 0.001


def test_constants_are_the_published_ones() -> None:
    assert (c.A, c.EE) == (6378245.0, 0.00669342162296594323)
    assert math.pi * 3000.0 / 180.0 == c.X_PI


# Inside the China box with a margin, so that a shifted point never crosses the box edge.
china_lon = st.floats(min_value=72.2, max_value=137.6, allow_nan=False)
china_lat = st.floats(min_value=1.0, max_value=55.6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_round_trips_inside_china(lon: float, lat: float) -> None:
    assert metres(*c.gcj02_to_wgs84(*c.wgs84_to_gcj02(lon, lat)), lon, lat) < 0.01
    assert metres(*c.wgs84_to_gcj02(*c.gcj02_to_wgs84(lon, lat)), lon, lat) < 0.01
    assert metres(*c.bd09_to_gcj02(*c.gcj02_to_bd09(lon, lat)), lon, lat) < 0.01
    assert metres(*c.gcj02_to_bd09(*c.bd09_to_gcj02(lon, lat)), lon, lat) < 0.01
    assert metres(*c.bd09_to_wgs84(*c.wgs84_to_bd09(lon, lat)), lon, lat) < 0.01
    for crs in ("gcj02", "bd09"):
        assert metres(*c.to_wgs84(*c.from_wgs84(lon, lat, crs), crs), lon, lat) < 0.01


def test_round_trip_grid_inside_china() -> None:
    grid_lon, grid_lat = np.meshgrid(np.linspace(73.0, 135.0, 63), np.linspace(4.0, 53.5, 51))
    lon, lat = grid_lon.ravel(), grid_lat.ravel()
    for crs in ("gcj02", "bd09"):
        wlon, wlat = c.to_wgs84_array(*c.from_wgs84_array(lon, lat, crs), crs)
        # metres per degree is at most ~111 km, so 1e-7 degrees is about a centimetre
        assert np.max(np.abs(wlon - lon)) < 1e-7
        assert np.max(np.abs(wlat - lat)) < 1e-7


def test_offset_is_real_inside_china() -> None:
    # GCJ-02 moves points by hundreds of metres in China; BD-09 by more.
    assert metres(*c.wgs84_to_gcj02(120.09, 30.87), 120.09, 30.87) > 100
    assert metres(*c.wgs84_to_bd09(120.09, 30.87), 120.09, 30.87) > 500


OUTSIDE = [
    (2.3522, 48.8566),
    (-74.006, 40.7128),
    (139.6917, 35.6895),
    (151.2093, -33.8688),
    (37.6173, 55.7558),
]


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE)
def test_gcj02_is_wgs84_outside_china(lon: float, lat: float) -> None:
    assert c.out_of_china(lon, lat)
    assert c.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert c.gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert c.to_wgs84(lon, lat, "gcj02") == (lon, lat)
    # BD-09 keeps Baidu's own offset everywhere; only the GCJ-02 part vanishes.
    assert c.to_wgs84(lon, lat, "bd09") == pytest.approx(c.bd09_to_gcj02(lon, lat), abs=1e-12)
    wlon, wlat = c.to_wgs84_array(np.array([lon]), np.array([lat]), "gcj02")
    assert (wlon[0], wlat[0]) == (lon, lat)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.floats(min_value=-89, max_value=89, allow_nan=False),
)
def test_outside_china_unchanged_property(lon: float, lat: float) -> None:
    if not c.out_of_china(lon, lat):
        return
    assert c.to_wgs84(lon, lat, "gcj02") == (lon, lat)
    assert c.from_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_wgs84_and_cgcs2000_are_identity() -> None:
    assert c.to_wgs84(120.1, 30.8, "wgs84") == (120.1, 30.8)
    assert c.to_wgs84(120.1, 30.8, "CGCS2000") == (120.1, 30.8)
    lon, lat = np.array([120.1, 2.0]), np.array([30.8, 48.0])
    wlon, wlat = c.to_wgs84_array(lon, lat, "cgcs2000")
    assert np.array_equal(wlon, lon) and np.array_equal(wlat, lat)
    assert wlon is not lon


points = st.lists(
    st.tuples(
        st.floats(min_value=60.0, max_value=150.0, allow_nan=False),
        st.floats(min_value=-10.0, max_value=65.0, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(points, st.sampled_from(["wgs84", "cgcs2000", "gcj02", "bd09"]))
def test_vectorised_equals_scalar(pts: list[tuple[float, float]], crs: str) -> None:
    lon = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    vlon, vlat = c.to_wgs84_array(lon, lat, crs)
    flon, flat = c.from_wgs84_array(lon, lat, crs)
    for i, (x, y) in enumerate(pts):
        slon, slat = c.to_wgs84(x, y, crs)
        assert vlon[i] == pytest.approx(slon, abs=1e-10)
        assert vlat[i] == pytest.approx(slat, abs=1e-10)
        slon, slat = c.from_wgs84(x, y, crs)
        assert flon[i] == pytest.approx(slon, abs=1e-10)
        assert flat[i] == pytest.approx(slat, abs=1e-10)


def test_vectorised_keeps_shape_and_handles_empty() -> None:
    lon = np.full((2, 3), 120.1)
    lat = np.full((2, 3), 30.8)
    wlon, wlat = c.to_wgs84_array(lon, lat, "gcj02")
    assert wlon.shape == (2, 3) and wlat.shape == (2, 3)
    elon, elat = c.to_wgs84_array(np.array([]), np.array([]), "bd09")
    assert elon.shape == (0,) and elat.shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        c.to_wgs84_array(np.zeros(2), np.zeros(3), "gcj02")


@pytest.mark.parametrize("crs", ["epsg:4326", "mars", "", "bd-09x"])
def test_unknown_crs_raises(crs: str) -> None:
    with pytest.raises(ValueError, match="unknown coordinate system"):
        c.to_wgs84(120.0, 30.0, crs)
    with pytest.raises(ValueError, match="unknown coordinate system"):
        c.to_wgs84_array(np.array([120.0]), np.array([30.0]), crs)
    with pytest.raises(ValueError, match="wgs84, cgcs2000, gcj02, bd09"):
        c.from_wgs84(120.0, 30.0, crs)

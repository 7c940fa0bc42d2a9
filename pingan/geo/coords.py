"""Coordinate systems used on Chinese maps, converted to and from WGS-84.

* ``wgs84`` – GPS. ``cgcs2000`` (the national datum) is treated as equal to it: they differ
  by centimetres, far below what the data needs.
* ``gcj02`` – the "Mars" coordinates of AMap, Tencent and Apple maps in China: WGS-84 plus a
  published nonlinear offset (Krasovsky ellipsoid constants). Outside China it equals WGS-84.
* ``bd09`` – Baidu: GCJ-02 plus a further rotation/scaling offset.

Points are ``(lon, lat)`` in degrees everywhere in this module. The inverse of the GCJ-02
and BD-09 offsets has no closed form; both are solved by fixed-point iteration to about
1e-10 degrees (about 0.01 mm), so round trips stay far below a centimetre.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "from_wgs84_array",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "to_wgs84_array",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# Published GCJ-02 constants: Krasovsky 1940 semi-major axis and first eccentricity squared.
A = 6378245.0
EE = 0.00669342162296594323
# Baidu's offset constant.
X_PI = math.pi * 3000.0 / 180.0

# The usual rough box for "inside China" (as in eviltransform, PRCoords, coordTransform_py).
CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")

_MAX_ITER = 20
_TOL_DEG = 1e-10


def out_of_china(lon: float, lat: float) -> bool:
    """True when the point lies outside the rough China box (no GCJ-02 offset there)."""
    return not (CHINA_MIN_LON <= lon <= CHINA_MAX_LON and CHINA_MIN_LAT <= lat <= CHINA_MAX_LAT)


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 point, without the China test."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = math.sqrt(abs(x))
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = math.sin(rad_lat)
    magic = 1.0 - EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to GCJ-02 (unchanged outside China)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS-84, the exact inverse of :func:`wgs84_to_gcj02` (iterated, not one step)."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    wlon, wlat = lon - dlon, lat - dlat
    for _ in range(_MAX_ITER):
        dlon, dlat = _gcj_delta(wlon, wlat)
        elon = wlon + dlon - lon
        elat = wlat + dlat - lat
        wlon -= elon
        wlat -= elat
        if abs(elon) < _TOL_DEG and abs(elat) < _TOL_DEG:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to BD-09 (Baidu applies its offset everywhere, so there is no China test)."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_approx(lon: float, lat: float) -> tuple[float, float]:
    x = lon - 0.0065
    y = lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to GCJ-02: the published one-step formula, refined to the exact inverse."""
    glon, glat = _bd09_to_gcj02_approx(lon, lat)
    for _ in range(_MAX_ITER):
        blon, blat = gcj02_to_bd09(glon, glat)
        elon, elat = blon - lon, blat - lat
        glon -= elon
        glat -= elat
        if abs(elon) < _TOL_DEG and abs(elat) < _TOL_DEG:
            break
    return glon, glat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to WGS-84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _crs_key(crs: str) -> str:
    key = crs.strip().lower() if isinstance(crs, str) else ""
    if key not in CRS_NAMES:
        raise ValueError(f"unknown coordinate system {crs!r}; expected one of {', '.join(CRS_NAMES)}")
    return key


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Convert a point from ``crs`` (wgs84, cgcs2000, gcj02 or bd09; case-insensitive) to WGS-84."""
    key = _crs_key(crs)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    return float(lon), float(lat)


def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Convert a WGS-84 point to ``crs`` (for drawing on AMap/Baidu tiles)."""
    key = _crs_key(crs)
    if key == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if key == "bd09":
        return wgs84_to_bd09(lon, lat)
    return float(lon), float(lat)


# --- numpy versions -------------------------------------------------------------------------

FloatArray = np.ndarray


def _in_china_array(lon: FloatArray, lat: FloatArray) -> FloatArray:
    return (lon >= CHINA_MIN_LON) & (lon <= CHINA_MAX_LON) & (lat >= CHINA_MIN_LAT) & (lat <= CHINA_MAX_LAT)


def _gcj_delta_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = np.sin(rad_lat)
    magic = 1.0 - EE * magic * magic
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * np.cos(rad_lat) * pi)
    return dlon, dlat


def _wgs84_to_gcj02_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    inside = _in_china_array(lon, lat)
    dlon, dlat = _gcj_delta_array(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _gcj02_to_wgs84_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    inside = _in_china_array(lon, lat)
    dlon, dlat = _gcj_delta_array(lon, lat)
    wlon, wlat = lon - dlon, lat - dlat
    for _ in range(_MAX_ITER):
        dlon, dlat = _gcj_delta_array(wlon, wlat)
        elon = wlon + dlon - lon
        elat = wlat + dlat - lat
        wlon -= elon
        wlat -= elat
        # NaN inputs compare False and so never hold the loop open.
        if not (np.any(np.abs(elon) >= _TOL_DEG) or np.any(np.abs(elat) >= _TOL_DEG)):
            break
    return np.where(inside, wlon, lon), np.where(inside, wlat, lat)


def _gcj02_to_bd09_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_MAX_ITER):
        blon, blat = _gcj02_to_bd09_array(glon, glat)
        elon, elat = blon - lon, blat - lat
        glon -= elon
        glat -= elat
        if not (np.any(np.abs(elon) >= _TOL_DEG) or np.any(np.abs(elat) >= _TOL_DEG)):
            break
    return glon, glat


def _as_float_arrays(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in shape: {lon_a.shape} vs {lat_a.shape}")
    return lon_a, lat_a


def to_wgs84_array(lon: FloatArray, lat: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`to_wgs84`: float64 arrays (new arrays, inputs untouched)."""
    key = _crs_key(crs)
    lon_a, lat_a = _as_float_arrays(lon, lat)
    if key == "gcj02":
        return _gcj02_to_wgs84_array(lon_a, lat_a)
    if key == "bd09":
        return _gcj02_to_wgs84_array(*_bd09_to_gcj02_array(lon_a, lat_a))
    return lon_a.copy(), lat_a.copy()


def from_wgs84_array(lon: FloatArray, lat: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`from_wgs84`."""
    key = _crs_key(crs)
    lon_a, lat_a = _as_float_arrays(lon, lat)
    if key == "gcj02":
        return _wgs84_to_gcj02_array(lon_a, lat_a)
    if key == "bd09":
        return _gcj02_to_bd09_array(*_wgs84_to_gcj02_array(lon_a, lat_a))
    return lon_a.copy(), lat_a.copy()

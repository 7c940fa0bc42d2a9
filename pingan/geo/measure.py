"""Small metric helpers on WGS-84 geometries (local equirectangular approximation, fine at district scale)."""

from __future__ import annotations

import math

import shapely

EARTH_KM_PER_DEG = 111.32


def _scale(geom: shapely.Geometry) -> shapely.Geometry:
    lat0 = geom.centroid.y if not geom.is_empty else 0.0
    k = math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: xy * [k * EARTH_KM_PER_DEG, EARTH_KM_PER_DEG])


def area_km2(geom: shapely.Geometry) -> float:
    return float(_scale(geom).area) if not geom.is_empty else 0.0


def degrees_for_metres(metres: float, lat: float) -> float:
    """A distance in degrees of longitude that is at least ``metres`` at ``lat`` (for buffers)."""
    return metres / 1000 / (EARTH_KM_PER_DEG * math.cos(math.radians(lat)))

from __future__ import annotations

from typing import Any, Literal

from ninja import Schema

Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


class AreaOut(Schema):
    code: str
    name: str
    name_en: str
    level: str
    parent_code: str | None
    local_code: bool
    centroid: tuple[float, float]
    bbox: tuple[float, float, float, float]
    area_km2: float


class AreaRef(Schema):
    code: str
    name: str


class LocateOut(Schema):
    lon: float
    lat: float
    inside: bool
    microgrid: AreaRef | None = None
    grid: AreaRef | None = None
    village: AreaRef | None = None
    town: AreaRef | None = None
    district: AreaRef | None = None


class FeatureCollection(Schema):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]

import math
from typing import Any

import shapely
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.core.errors import NotFoundError, ValidationFailed
from pingan.geo import queries
from pingan.geo.coords import to_wgs84
from pingan.geo.models import Area
from pingan.geo.schemas import AreaOut, Crs, FeatureCollection, LocateOut

router = Router(tags=["areas"])


def area_out(a: Area) -> dict[str, Any]:
    return {
        "code": a.code, "name": a.name, "name_en": a.name_en, "level": a.level,
        "parent_code": a.parent.code if a.parent_id and a.parent else None, "local_code": a.local_code,
        "centroid": (a.centroid_lon, a.centroid_lat), "bbox": (a.min_lon, a.min_lat, a.max_lon, a.max_lat),
        "area_km2": round(a.area_km2, 4),
    }


def area_feature(a: Area, simplify: float = 0.0) -> dict[str, Any]:
    geom = a.geometry
    if simplify:
        geom = shapely.simplify(geom, simplify, preserve_topology=True)
    return {
        "type": "Feature",
        "properties": {"code": a.code, "name": a.name, "name_en": a.name_en, "level": a.level,
                       "parent_code": a.parent.code if a.parent_id and a.parent else None},
        "geometry": shapely.geometry.mapping(geom),
    }


class LocateQuery(Schema):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = "wgs84"


@router.get("", response=list[AreaOut])
@paginate
def list_areas(request: HttpRequest, level: str = "", parent: str = "") -> Any:
    """Areas in the caller's scope, by level or under a parent code."""
    policy.require(request.user, p.VIEW_AREA.code)
    qs = queries.visible_areas(request.user).select_related("parent").defer("geometry_wkb")
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent__code=parent)
    return [area_out(a) for a in qs.order_by("code")]


@router.get("/locate", response=LocateOut)
def locate(request: HttpRequest, query: Query[LocateQuery]) -> Any:
    """The micro-grid, grid, village and town that contain a point given in WGS-84, GCJ-02 or BD-09."""
    policy.require(request.user, p.VIEW_AREA.code)
    if not (math.isfinite(query.lon) and math.isfinite(query.lat)):
        raise ValidationFailed("invalid_point", "longitude and latitude must be finite numbers")
    lon, lat = to_wgs84(query.lon, query.lat, query.crs)
    found = queries.locate(lon, lat)
    out: dict[str, Any] = {"lon": lon, "lat": lat, "inside": found is not None}
    if found is not None:
        codes = {level: code for level, code in found._asdict().items() if code}
        names = dict(Area.objects.filter(code__in=codes.values()).values_list("code", "name"))
        for level, code in codes.items():
            out[level] = {"code": code, "name": names.get(code, "")}
    return out


def _visible(request: HttpRequest, code: str) -> Area:
    area = Area.objects.select_related("parent").filter(code=code).first()
    if area is None or not policy.can(request.user, p.VIEW_AREA.code, area):
        raise NotFoundError("not_found", "no such area")
    return area


@router.get("/{code}", response=AreaOut)
def get_area(request: HttpRequest, code: str) -> Any:
    return area_out(_visible(request, code))


@router.get("/{code}/geojson", response=FeatureCollection)
def area_geojson(request: HttpRequest, code: str, children: bool = True) -> Any:
    """The area itself, or its visible children, as GeoJSON for the map (lightly simplified)."""
    area = _visible(request, code)
    if not children:
        return {"features": [area_feature(area)]}
    kids = queries.visible_areas(request.user).filter(parent=area).select_related("parent").order_by("code")
    return {"features": [area_feature(a, simplify=0.00002) for a in kids]}

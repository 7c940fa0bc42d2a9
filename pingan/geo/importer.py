"""Reading and checking a GeoJSON FeatureCollection of areas before anything is written.

Every problem is reported with the feature's index and code and what is wrong; nothing is imported
while any problem remains (the caller writes in one transaction only after a clean parse).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import shape

from pingan.geo.measure import degrees_for_metres
from pingan.geo.models import LEVEL_DEPTH, LEVEL_ORDER

MAX_ERRORS = 100


@dataclass
class ImportProblem:
    index: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.index is None else f"feature #{self.index}" + (f" (code {self.code})" if self.code else "")
        return f"{where}: {self.message}"


class AreaImportError(Exception):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ParsedArea:
    index: int
    code: str
    name: str
    name_en: str
    level: str
    parent_code: str | None
    geometry: shapely.Geometry
    local_code: bool = False
    repaired: bool = False


@dataclass
class ParseResult:
    areas: list[ParsedArea] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)


def _check_coords(coords: Any, path: str = "") -> str | None:
    """Walk nested coordinate arrays; say what is wrong with the first bad position."""
    if not isinstance(coords, list | tuple) or not coords:
        return f"coordinates{path} must be a non-empty array"
    if isinstance(coords[0], int | float) and not isinstance(coords[0], bool):
        if len(coords) < 2:
            return f"position{path} needs longitude and latitude"
        lon, lat = coords[0], coords[1]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
            return f"position{path} is not numeric"
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return f"position{path} is NaN or infinite"
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return f"position{path} ({lon}, {lat}) is outside ±180/±90"
        return None
    for i, sub in enumerate(coords):
        if (why := _check_coords(sub, f"{path}[{i}]")) is not None:
            return why
    return None


def _rings(geometry: Mapping[str, Any]) -> Iterable[tuple[str, list[Any]]]:
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for pi, poly in enumerate(polys):
        for ri, ring in enumerate(poly):
            yield f"polygon {pi} ring {ri}", ring


def _geometry(feature: Mapping[str, Any], repair: bool) -> tuple[shapely.Geometry | None, str | None, bool]:
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None, "geometry must be a Polygon or MultiPolygon", False
    if (why := _check_coords(geometry.get("coordinates"))) is not None:
        return None, why, False
    for where, ring in _rings(geometry):
        if len(ring) < 4:
            return None, f"{where} has fewer than 4 positions", False
        if list(ring[0][:2]) != list(ring[-1][:2]):
            return None, f"{where} is not closed (first and last positions differ)", False
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        return None, f"geometry cannot be read: {exc}", False
    if geom.is_empty:
        return None, "geometry is empty", False
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        if not repair:
            return None, f"invalid polygon ({reason}); use --repair to fix it with make_valid", False
        fixed = shapely.make_valid(geom)
        polys = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            return None, f"invalid polygon ({reason}) and make_valid left no area", False
        geom = shapely.union_all(polys)
        return geom, None, True
    return geom, None, False


def parse_geojson(
    raw: bytes | str,
    *,
    repair: bool = False,
    existing: Mapping[str, tuple[str, shapely.Geometry]] | None = None,
    tolerance_m: float = 5.0,
    progress: Callable[[int], None] | None = None,
) -> ParseResult:
    """Parse and check a FeatureCollection. ``existing`` maps codes already in the database to
    (level, geometry), so a file may add children to areas imported earlier."""
    existing = existing or {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AreaImportError([ImportProblem(None, "", f"invalid JSON: {exc}")]) from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise AreaImportError([ImportProblem(None, "", "expected a GeoJSON FeatureCollection with a features array")])

    problems: list[ImportProblem] = []
    result = ParseResult()
    seen: dict[str, int] = {}
    for index, feature in enumerate(data["features"]):
        if progress:
            progress(1)
        if len(problems) >= MAX_ERRORS:
            break
        if not isinstance(feature, dict):
            problems.append(ImportProblem(index, "", "feature is not an object"))
            continue
        props = feature.get("properties") or {}
        code = str(props.get("code") or "").strip()
        if not code or not code.isalnum() or len(code) > 32:
            problems.append(ImportProblem(index, code, "code is missing or not 1–32 letters/digits"))
            continue
        if code in seen:
            problems.append(ImportProblem(index, code, f"duplicate code (also feature #{seen[code]})"))
            continue
        seen[code] = index
        name = str(props.get("name") or "").strip()
        if not name:
            problems.append(ImportProblem(index, code, "name is missing"))
            continue
        level = str(props.get("level") or "")
        if level not in LEVEL_DEPTH:
            allowed = ", ".join(str(v) for v in LEVEL_ORDER)
            problems.append(ImportProblem(index, code, f"unknown level {level!r} (one of {allowed})"))
            continue
        parent_code = props.get("parent_code")
        parent_code = str(parent_code).strip() if parent_code not in (None, "") else None
        if level != "district" and parent_code is None:
            problems.append(ImportProblem(index, code, "parent_code is missing"))
            continue
        if parent_code is not None and not code.startswith(parent_code):
            problems.append(ImportProblem(index, code, f"code does not extend its parent's code {parent_code}"))
            continue
        geom, why, repaired = _geometry(feature, repair)
        if why is not None or geom is None:
            problems.append(ImportProblem(index, code, why or "bad geometry"))
            continue
        if repaired:
            result.repaired.append(code)
        result.areas.append(
            ParsedArea(
                index=index,
                code=code,
                name=name[:100],
                name_en=str(props.get("name_en") or "")[:150],
                level=level,
                parent_code=parent_code,
                geometry=geom,
                local_code=bool(props.get("local_code", False)),
                repaired=repaired,
            )
        )

    # Parents: in the file or already stored; one level up; children inside (within tolerance).
    by_code = {a.code: (a.level, a.geometry) for a in result.areas}
    buffered: dict[str, shapely.Geometry] = {}
    for area in result.areas:
        if len(problems) >= MAX_ERRORS or area.parent_code is None:
            continue
        parent = by_code.get(area.parent_code) or existing.get(area.parent_code)
        if parent is None:
            problems.append(ImportProblem(area.index, area.code, f"parent {area.parent_code} is neither in the file nor stored"))
            continue
        parent_level, parent_geom = parent
        if LEVEL_DEPTH[parent_level] != LEVEL_DEPTH[area.level] - 1:
            problems.append(
                ImportProblem(area.index, area.code, f"a {area.level} cannot sit under a {parent_level} ({area.parent_code})")
            )
            continue
        if area.parent_code not in buffered:
            tol = degrees_for_metres(tolerance_m, parent_geom.centroid.y)
            grown = parent_geom.buffer(tol)
            shapely.prepare(grown)
            buffered[area.parent_code] = grown
        outer = buffered[area.parent_code]
        if not shapely.covers(outer, area.geometry):
            outside = area.geometry.difference(outer)
            problems.append(
                ImportProblem(
                    area.index,
                    area.code,
                    f"sticks out of its parent {area.parent_code} by more than {tolerance_m:g} m "
                    f"(outside part ≈ {outside.area * 111_320**2 * math.cos(math.radians(parent_geom.centroid.y)):.0f} m²)",
                )
            )
    if problems:
        raise AreaImportError(problems)
    result.areas.sort(key=lambda a: (LEVEL_DEPTH[a.level], a.code))
    return result


def feature(code: str, name: str, name_en: str, level: str, parent_code: str | None, geom: shapely.Geometry, local_code: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"code": code, "name": name, "name_en": name_en, "level": level, "parent_code": parent_code}
    if local_code:
        props["local_code"] = True
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}

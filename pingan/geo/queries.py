"""Read paths for geography: the locate index (shared per process) and scoped area lists."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.db.models import QuerySet

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.core import memory
from pingan.core.errors import ValidationFailed
from pingan.geo.coords import to_wgs84, to_wgs84_array
from pingan.geo.index import AreaIndex, AreaShape, LocateResult
from pingan.geo.models import Area, GeoState

_lock = threading.Lock()
_index: AreaIndex | None = None
_checked_at = 0.0


def tree_version() -> int:
    return GeoState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def load_shapes() -> list[AreaShape]:
    rows = Area.objects.order_by("code").values_list("code", "level", "parent__code", "geometry_wkb")
    return [AreaShape(code, level, parent, shapely.from_wkb(bytes(wkb))) for code, level, parent, wkb in rows]


def current_index() -> AreaIndex:
    """This process's index. It checks the tree's version at most once per
    ``PINGAN_INDEX_CHECK_SECONDS`` (one tiny query) and rebuilds when another process changed areas."""
    global _index, _checked_at
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < settings.PINGAN_INDEX_CHECK_SECONDS:
        return index
    with _lock:
        if _index is not None and now - _checked_at < settings.PINGAN_INDEX_CHECK_SECONDS:
            return _index
        version = tree_version()
        if _index is None or _index.version != version:
            replacing = _index is not None
            _index = AreaIndex(load_shapes(), version=version)
            memory.keep(replacing=replacing)
        _checked_at = now
        return _index


def reset_index() -> None:
    global _index, _checked_at, _rows
    with _lock:
        _index, _checked_at, _rows = None, 0.0, None


#: the areas of the index in force, by code, without their polygons (built by :func:`areas_by_code`)
_rows: tuple[AreaIndex, dict[str, Area]] | None = None


def areas_by_code(codes: Iterable[str | None]) -> dict[str, Area]:
    """The areas with these codes (the codes :func:`locate` gives), without their polygons.

    From a per-process map of the whole tree, loaded in one query the first time and again whenever the
    locate index is rebuilt, so it follows the tree's version as the index does. The instances are shared
    between requests and threads: read them, never change them."""
    global _rows
    index = current_index()
    held = _rows
    if held is None or held[0] is not index:
        with _lock:
            if _rows is None or _rows[0] is not index:
                _rows = (index, {a.code: a for a in Area.objects.defer("geometry_wkb").order_by()})
            held = _rows
    rows = held[1]
    return {code: rows[code] for code in codes if code and code in rows}


def locate(lon: float, lat: float, crs: str = "wgs84") -> LocateResult | None:
    """The micro-grid, grid, village and town holding a point (None outside the district)."""
    wlon, wlat = to_wgs84(lon, lat, crs)
    return current_index().locate(wlon, wlat)


def locate_many(lon: np.ndarray, lat: np.ndarray, crs: str = "wgs84") -> Any:
    wlon, wlat = to_wgs84_array(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), crs)
    index = current_index()
    return index.codes(index.locate_many(wlon, wlat))


def visible_areas(user: Any) -> QuerySet[Area]:
    return policy.restrict(user, p.VIEW_AREA.code, Area.objects.all())


def root_areas(user: Any) -> list[Area]:
    """The top-most areas the user may see (the district for district roles, their grid for a
    grid worker), for the map and the area browser."""
    visible = list(visible_areas(user).filter(level__in=["district", "town", "village", "grid"]).only("code", "level"))
    codes = sorted(a.code for a in visible)
    roots: list[str] = []
    for code in codes:
        if not any(code.startswith(r) for r in roots):
            roots.append(code)
    return list(Area.objects.filter(code__in=roots).order_by("code"))


def cell_size(zoom: int) -> float:
    """Degrees per cluster cell: about 64 px at that zoom (a 256 px tile spans 360 / 2**zoom degrees)."""
    return 360.0 / (2**zoom) / 4


def area_by_code(code: str, field: str = "area") -> Area:
    """The area with this code, for a form or body field; ``unknown_area`` (422) naming the field otherwise."""
    area = Area.objects.filter(code=(code or "").strip()).first()
    if area is None:
        raise ValidationFailed("unknown_area", f"no area {code!r}", field=field)
    return area


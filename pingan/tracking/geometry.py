"""Zone geometry for the tracking engine (pure Python + numpy + shapely, no Django).

* :class:`Frame` – a local metric frame: an equirectangular projection with a fixed origin,
  ``x = (lon - lon0) · 111320 · cos(lat0)``, ``y = (lat - lat0) · 110574`` (metres). It is affine, so
  whether a point lies in a polygon is the same in the frame as in lon/lat. Lengths are exact along the
  origin's parallel and off by ``tan(lat0) · Δlat`` (in radians) east–west away from it: 0.1 % at 10 km
  north or south of the origin at 30°N, 1.4 % at 150 km.
* :func:`shape_polygon_lonlat` / :func:`zone_polygon_lonlat` – a zone's polygon in lon/lat: polygons as
  given; circles (a point buffered by ``radius_m``) and corridors (a line buffered by ``width_m / 2`` with
  flat caps) are built in a frame at the zone itself, so their size is right wherever they are.
* :class:`ZoneIndex` – many zones in one frame, looked up for arrays of points at once.

How the index works: a raster of square cells covers the zones, and cuts every zone into pieces (as
PostGIS ``ST_Subdivide`` does, but along the raster): a cell is in a zone's *band* when it meets the
bounding box, grown by the zone's margin, of one of the zone's border segments; the band entry of that
(cell, zone) keeps those segments. Every point within the margin of the border lies in a band cell. A
cell outside a zone's band is wholly on one side of the border, farther than the margin from it, and
an even-odd scanline of cell centres tells which side: the zones whose inside holds such a cell are its
*deep* zones. So for a point:

* deep zones contain it, by more than their margin, with no geometry test;
* band zones are tested exactly: a band entry whose cell the border does not cross is wholly inside
  or wholly outside; otherwise GEOS's ``intersects_xy`` on the prepared polygon decides or, where that
  is dearer (few border segments in the cell, of a polygon with many vertices), the parity of the
  crossings between the cell's centre (whose side the scanline knows) and the point, with GEOS for
  the near-degenerate cases (so the answers are GEOS's);
  a distance, when asked for, is the distance to those segments (numpy, no GEOS);
* every other zone is farther than its margin outside.

Polygons are closed: a point on the border counts as inside (as ``ST_Intersects`` / ``ST_Covers``).

Why a raster and not an STRtree: on 10,000 zones an STRtree's array query alone (bounding boxes, no
predicate) took ~1.4 µs a point here, and the prepared-polygon tests after it as much again; the raster
answers most points with a few array lookups and leaves GEOS only the points next to a border.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

import numpy as np
import shapely

__all__ = [
    "M_PER_DEG_LAT",
    "M_PER_DEG_LON",
    "Frame",
    "SegmentIndex",
    "ShapeSpec",
    "ZoneIndex",
    "shape_polygon_lonlat",
    "zone_polygon",
    "zone_polygon_lonlat",
]

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0  # at the equator; times cos(lat0) in a frame
CIRCLE_QUAD_SEGS = 16      # 64 vertices: at most 0.12 % of the radius inside the true circle
CORRIDOR_QUAD_SEGS = 8

# The C function behind shapely.intersects_xy; the Python wrapper costs ~2 µs per call.
_intersects_xy: Any = getattr(shapely.lib, "intersects_xy", shapely.intersects_xy)

Polygonal: TypeAlias = shapely.Polygon | shapely.MultiPolygon


class ShapeSpec(Protocol):
    """What :func:`zone_polygon_lonlat` reads of a zone (``engine.ZoneSpec`` has these)."""

    @property
    def shape(self) -> str: ...
    @property
    def coords(self) -> Any: ...
    @property
    def radius_m(self) -> float: ...
    @property
    def width_m(self) -> float: ...


# --- the frame -----------------------------------------------------------------------------------


class Frame:
    """A local metric frame with a fixed origin (see the module docstring)."""

    __slots__ = ("kx", "ky", "lat0", "lon0")

    def __init__(self, lon0: float, lat0: float) -> None:
        if not (math.isfinite(lon0) and math.isfinite(lat0) and -89.0 < lat0 < 89.0):
            raise ValueError(f"bad frame origin ({lon0}, {lat0})")
        self.lon0 = float(lon0)
        self.lat0 = float(lat0)
        self.kx = M_PER_DEG_LON * math.cos(math.radians(self.lat0))
        self.ky = M_PER_DEG_LAT

    def __repr__(self) -> str:
        return f"Frame({self.lon0!r}, {self.lat0!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and (self.lon0, self.lat0) == (other.lon0, other.lat0)

    def __hash__(self) -> int:
        return hash((self.lon0, self.lat0))

    @classmethod
    def around(cls, geometries: Sequence[shapely.Geometry] | np.ndarray) -> Frame:
        """A frame at the centre of the geometries' bounds (lon/lat); (0, 0) when there are none."""
        arr = np.asarray(geometries, dtype=object)
        if arr.size == 0:
            return cls(0.0, 0.0)
        x0, y0, x1, y1 = shapely.total_bounds(arr)
        if not np.all(np.isfinite([x0, y0, x1, y1])):
            return cls(0.0, 0.0)
        return cls((x0 + x1) / 2.0, (y0 + y1) / 2.0)

    def to_xy(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """lon/lat (floats or arrays) to frame metres."""
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def to_lonlat(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Frame metres (floats or arrays) to lon/lat."""
        return x / self.kx + self.lon0, y / self.ky + self.lat0

    def geometry_to_xy(self, geometry: Any) -> Any:
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self.kx, self.ky])
        return shapely.transform(geometry, lambda c: (c - origin) * scale)

    def geometry_to_lonlat(self, geometry: Any) -> Any:
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self.kx, self.ky])
        return shapely.transform(geometry, lambda c: c / scale + origin)


# --- zone shapes ----------------------------------------------------------------------------------


def _point(value: Any) -> tuple[float, float]:
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("coordinates must be finite numbers")
    return lon, lat


def _polygonal(geometry: Any) -> Polygonal:
    """The polygonal part of a repaired geometry (Polygon or MultiPolygon)."""
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        return geometry
    parts = [g for g in shapely.get_parts(geometry) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    polys: list[shapely.Polygon] = []
    for g in parts:
        polys.extend(g.geoms if isinstance(g, shapely.MultiPolygon) else [g])
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def shape_polygon_lonlat(shape: str, coords: Any, *, radius_m: float = 0.0, width_m: float = 0.0,
                         repair: bool = False) -> Polygonal:
    """The polygon (lon/lat) of a zone shape.

    ``polygon``: ``coords`` is a list of rings, outer first (a single ring is accepted too);
    ``circle``: ``[lon, lat]`` with ``radius_m``; ``corridor``: a line ``[[lon, lat], …]`` with ``width_m``.
    Raises ``ValueError`` for a shape that cannot be built. A self-intersecting polygon is returned as
    given (``is_valid`` is False) unless ``repair``, which applies ``make_valid`` and keeps the polygons.
    """
    if shape == "circle":
        lon, lat = _point(coords)
        if not (radius_m > 0 and math.isfinite(radius_m)):
            raise ValueError("a circle needs a positive radius_m")
        frame = Frame(lon, lat)
        disc = shapely.Point(0.0, 0.0).buffer(float(radius_m), quad_segs=CIRCLE_QUAD_SEGS)
        return frame.geometry_to_lonlat(disc)  # type: ignore[no-any-return]
    if shape == "corridor":
        line = [_point(p) for p in coords]
        if len(line) < 2:
            raise ValueError("a corridor needs a line of at least two points")
        if not (width_m > 0 and math.isfinite(width_m)):
            raise ValueError("a corridor needs a positive width_m")
        xs = [p[0] for p in line]
        ys = [p[1] for p in line]
        frame = Frame((min(xs) + max(xs)) / 2.0, (min(ys) + max(ys)) / 2.0)
        local = frame.geometry_to_xy(shapely.LineString(line))
        if local.length <= 0:
            raise ValueError("a corridor's line has no length")
        band = local.buffer(float(width_m) / 2.0, quad_segs=CORRIDOR_QUAD_SEGS, cap_style="flat")
        return _polygonal(frame.geometry_to_lonlat(band))
    if shape == "polygon":
        rings = coords
        if rings and len(rings) and not isinstance(rings[0][0], list | tuple):
            rings = [rings]  # a single ring
        if not rings:
            raise ValueError("a polygon needs at least its outer ring")
        outer = [_point(p) for p in rings[0]]
        holes = [[_point(p) for p in ring] for ring in rings[1:]]
        if len({p for p in outer}) < 3:
            raise ValueError("a polygon's outer ring needs at least three distinct points")
        polygon = shapely.Polygon(outer, holes)
        if repair and not polygon.is_valid:
            return _polygonal(shapely.make_valid(polygon))
        return polygon
    raise ValueError(f"unknown zone shape {shape!r} (polygon, circle or corridor)")


def zone_polygon_lonlat(spec: ShapeSpec, *, repair: bool = True) -> Polygonal:
    """The polygon (lon/lat) of a zone spec; repaired by default (see :func:`shape_polygon_lonlat`)."""
    return shape_polygon_lonlat(spec.shape, spec.coords, radius_m=spec.radius_m, width_m=spec.width_m,
                                repair=repair)


def zone_polygon(spec: ShapeSpec, frame: Frame) -> Polygonal:
    """The (repaired) polygon of a zone spec in ``frame`` metres."""
    return frame.geometry_to_xy(zone_polygon_lonlat(spec))  # type: ignore[no-any-return]


# --- helpers ---------------------------------------------------------------------------------------


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of the given lengths: (run number, offset within the run) of every element."""
    counts = np.asarray(counts, dtype=np.int64)
    run = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    offset = np.arange(run.size, dtype=np.int64) - np.repeat(starts, counts)
    return run, offset


def _offsets(cells: np.ndarray, n_cells: int) -> np.ndarray:
    """CSR offsets (n_cells + 1) of entries sorted by cell."""
    dtype = np.int32 if cells.size < 2**31 - 1 else np.int64
    out = np.zeros(n_cells + 1, dtype=dtype)
    np.cumsum(np.bincount(cells, minlength=n_cells), out=out[1:])
    return out


def _gather(offsets: np.ndarray, flat: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries of a CSR for each query cell (-1 = none): (query position, entry)."""
    ok = cells >= 0
    safe = np.where(ok, cells, 0)
    lo = offsets[safe].astype(np.int64)
    counts = np.where(ok, offsets[safe + 1] - lo, 0)
    if not counts.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    pos, off = _expand(counts)
    return pos, flat[lo[pos] + off]


def _ring_segments(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ring edge of every polygon: (n, 4) array ax ay bx by, and the owning polygon of each."""
    parts, part_owner = shapely.get_parts(polys, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_owner = part_owner[ring_part]
    xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    segs = np.column_stack([xy[:-1][same], xy[1:][same]])
    owner = ring_owner[coord_ring[:-1][same]].astype(np.int64)
    return np.ascontiguousarray(segs), owner


def _point_segment_d2(px: np.ndarray, py: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Squared distance from points to segments (same length arrays; ``seg`` rows ax ay bx by)."""
    ax, ay, bx, by = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    dx = bx - ax
    dy = by - ay
    wx = px - ax
    wy = py - ay
    ll = dx * dx + dy * dy
    t = np.clip((wx * dx + wy * dy) / np.where(ll > 0.0, ll, 1.0), 0.0, 1.0)
    qx = wx - t * dx
    qy = wy - t * dy
    return qx * qx + qy * qy


class _Grid:
    """A square-cell raster: origin, cell size, columns, rows."""

    __slots__ = ("cell", "inv", "nx", "ny", "x0", "y0")

    def __init__(self, bounds: tuple[float, float, float, float], cell_m: float | None, max_cells: int) -> None:
        x0, y0, x1, y1 = bounds
        w = max(x1 - x0, 1.0)
        h = max(y1 - y0, 1.0)
        cell = cell_m if cell_m else max(25.0, math.sqrt(w * h / max_cells))
        while math.ceil(w / cell) * math.ceil(h / cell) > max_cells:
            cell *= 1.1
        self.cell = float(cell)
        self.inv = 1.0 / self.cell
        self.x0, self.y0 = float(x0), float(y0)
        self.nx = max(1, math.ceil(w / cell))
        self.ny = max(1, math.ceil(h / cell))

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    def cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The cell of each point (int64), -1 outside the raster or for NaN."""
        u = (x - self.x0) * self.inv
        v = (y - self.y0) * self.inv
        ok = (u >= 0.0) & (u < self.nx) & (v >= 0.0) & (v < self.ny)
        cell = np.where(ok, v, 0.0).astype(np.int64) * self.nx + np.where(ok, u, 0.0).astype(np.int64)
        cell[~ok] = -1
        return cell

    def cells_clipped(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The cell of each point, points outside the raster moved to its nearest cell (NaN: -1)."""
        ok = np.isfinite(x) & np.isfinite(y)
        u = np.clip(np.where(ok, (x - self.x0) * self.inv, 0.0), 0, self.nx - 1).astype(np.int64)
        v = np.clip(np.where(ok, (y - self.y0) * self.inv, 0.0), 0, self.ny - 1).astype(np.int64)
        return np.where(ok, v * self.nx + u, -1)

    def rect_cells(self, minx: np.ndarray, miny: np.ndarray, maxx: np.ndarray,
                   maxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (rectangle, cell) whose closed cell meets the rectangle (rectangles clipped to the raster)."""
        c0 = np.clip(np.floor((minx - self.x0) * self.inv), 0, self.nx - 1).astype(np.int64)
        c1 = np.clip(np.floor((maxx - self.x0) * self.inv), 0, self.nx - 1).astype(np.int64)
        r0 = np.clip(np.floor((miny - self.y0) * self.inv), 0, self.ny - 1).astype(np.int64)
        r1 = np.clip(np.floor((maxy - self.y0) * self.inv), 0, self.ny - 1).astype(np.int64)
        ncol = c1 - c0 + 1
        rect, k = _expand(ncol * (r1 - r0 + 1))
        cols = ncol[rect]
        return rect, (r0[rect] + k // cols) * self.nx + c0[rect] + k % cols


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a fresh 1-D int64 array (sorted in place): what ``np.unique`` returns, by a sort.

    numpy 2.3+ answers ``np.unique`` of integers through a hash table, some 20 times slower than a sort on the
    millions of cell keys a large zone gives (5 s against 0.3 s for 4 million); the geo index does the same."""
    values.sort()
    if values.size < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _inside_centres(grid: _Grid, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Even-odd scanline over cell centres: (cell, owner) of every centre inside an owner's rings."""
    ax, ay, bx, by, owner = edges[:, 0], edges[:, 1], edges[:, 2], edges[:, 3], edges[:, 4].astype(np.int64)
    keep = ay != by
    ax, ay, bx, by, owner = ax[keep], ay[keep], bx[keep], by[keep], owner[keep]
    lo, hi = np.minimum(ay, by), np.maximum(ay, by)
    # rows whose centre y0 + (j + 0.5)·cell lies in [lo, hi)
    j0 = np.clip(np.ceil((lo - grid.y0) * grid.inv - 0.5), 0, grid.ny).astype(np.int64)
    j1 = np.clip(np.ceil((hi - grid.y0) * grid.inv - 0.5), 0, grid.ny).astype(np.int64)
    e, off = _expand(np.maximum(j1 - j0, 0))
    row = j0[e] + off
    yc = grid.y0 + (row + 0.5) * grid.cell
    xc = ax[e] + (yc - ay[e]) * ((bx[e] - ax[e]) / (by[e] - ay[e]))
    own = owner[e]
    order = np.lexsort((xc, row, own))
    own, row, xc = own[order], row[order], xc[order]
    own, row = own[0::2], row[0::2]
    c0 = np.clip(np.ceil((xc[0::2] - grid.x0) * grid.inv - 0.5), 0, grid.nx).astype(np.int64)
    c1 = np.clip(np.ceil((xc[1::2] - grid.x0) * grid.inv - 0.5), 0, grid.nx).astype(np.int64)
    good = c1 > c0
    own, row, c0, c1 = own[good], row[good], c0[good], c1[good]
    span, k = _expand(c1 - c0)
    return row[span] * grid.nx + c0[span] + k, own[span]


# --- the zone index -----------------------------------------------------------------------------------


class Candidates(NamedTuple):
    """What the raster says about points, before any geometry test (see :meth:`ZoneIndex.lookup`)."""

    deep_point: np.ndarray   # a deep pair's point lies inside its zone by more than the zone's margin
    deep_zone: np.ndarray
    band_point: np.ndarray   # a band pair's point lies somewhere in the zone's band: test it
    band_zone: np.ndarray
    band_entry: np.ndarray   # the (cell, zone) entry, for :meth:`ZoneIndex.entry_signed_distance`


class ZoneIndex:
    """Many zone polygons (in ``frame`` metres) looked up for arrays of points.

    ``margins_m`` (one value, or one per zone) is how far from a zone's border distances are exact
    (see :meth:`signed_distance`); it also sets the band width, so larger margins cost speed. Zone
    ``i`` is ``polygons[i]``; the pairs returned hold positions into the query arrays and into the
    polygons. Immutable after construction and safe to share between threads.
    """

    def __init__(self, polygons: Sequence[Any] | np.ndarray, frame: Frame, *, margins_m: Any = 0.0,
                 cell_m: float | None = None, max_cells: int = 4_000_000) -> None:
        polys = np.empty(len(polygons), dtype=object)
        polys[:] = list(polygons)
        for i, g in enumerate(polys):
            if not isinstance(g, shapely.Polygon | shapely.MultiPolygon):
                raise ValueError(f"zone {i}: a Polygon or MultiPolygon is needed, not {type(g).__name__}")
        self.frame = frame
        self.polygons = polys
        n = polys.size
        margins = np.broadcast_to(np.asarray(margins_m, dtype=np.float64), (n,)).copy()
        if np.any(~np.isfinite(margins)) or np.any(margins < 0):
            raise ValueError("margins must be finite and >= 0")
        self.margins = margins
        shapely.prepare(polys)
        if n:
            self.segments, self.segment_owner = _ring_segments(polys)
            b = shapely.bounds(polys)
            ok = np.all(np.isfinite(b), axis=1)
            b, m = b[ok], margins[ok]
            bounds = (float((b[:, 0] - m).min()), float((b[:, 1] - m).min()),
                      float((b[:, 2] + m).max()), float((b[:, 3] + m).max())) if b.size else (0.0, 0.0, 1.0, 1.0)
        else:
            self.segments, self.segment_owner = np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
            bounds = (0.0, 0.0, 1.0, 1.0)
        self.grid = _Grid((bounds[0] - 1.0, bounds[1] - 1.0, bounds[2] + 1.0, bounds[3] + 1.0), cell_m, max_cells)
        self._build_raster()
        if n:  # GEOS builds a prepared polygon's point locator on first use: do it now, not in a query
            bb = shapely.bounds(polys)
            _intersects_xy(polys, np.nan_to_num(bb[:, 0]), np.nan_to_num(bb[:, 1]))

    def _build_raster(self) -> None:
        grid = self.grid
        n = max(self.polygons.size, 1)
        n_cells = grid.n_cells
        segs, owner = self.segments, self.segment_owner
        eps = grid.cell * 1e-6
        keys_parts, seg_parts = [], []
        chunk = 250_000
        for i in range(0, owner.size, chunk):  # (cell, segment) of every segment's box grown by its margin
            s = segs[i:i + chunk]
            m = self.margins[owner[i:i + chunk]] + eps
            rect, cells = grid.rect_cells(np.minimum(s[:, 0], s[:, 2]) - m, np.minimum(s[:, 1], s[:, 3]) - m,
                                          np.maximum(s[:, 0], s[:, 2]) + m, np.maximum(s[:, 1], s[:, 3]) + m)
            seg = rect + i
            keys_parts.append(cells * n + owner[seg])
            seg_parts.append(seg.astype(np.int32))
            del rect, cells, seg
        keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, dtype=np.int64)
        del keys_parts
        seg = np.concatenate(seg_parts) if seg_parts else np.zeros(0, dtype=np.int32)
        del seg_parts
        # segments were generated in ascending order, so a stable sort by key keeps them ascending per key
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        seg = seg[order]
        del order
        first = np.ones(keys.size, dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first)
        del first
        # one entry per (cell, zone) of a band, sorted by cell then zone; its segments are contiguous
        self._entry_key = keys[starts]
        self._entry_zone = (self._entry_key % n).astype(np.int32)
        self._entry_seg_off = np.append(starts, keys.size).astype(np.int64)
        self._entry_seg = seg
        del keys, starts
        self._band_off = _offsets(self._entry_key // n, n_cells)
        # which band entries the border itself touches; the others are wholly inside or wholly outside
        touched_parts = []
        for i in range(0, owner.size, chunk):
            s = segs[i:i + chunk]
            rect, cells = grid.rect_cells(np.minimum(s[:, 0], s[:, 2]) - eps, np.minimum(s[:, 1], s[:, 3]) - eps,
                                          np.maximum(s[:, 0], s[:, 2]) + eps, np.maximum(s[:, 1], s[:, 3]) + eps)
            touched_parts.append(_sorted_unique(cells * n + owner[rect + i]))
        touched = _sorted_unique(np.concatenate(touched_parts)) if touched_parts else np.zeros(0, dtype=np.int64)
        del touched_parts
        if owner.size:
            edges = np.column_stack([segs, owner.astype(np.float64)])
            icell, iown = _inside_centres(grid, edges)
            ikeys = _sorted_unique(icell * n + iown)
            centre_in = np.isin(self._entry_key, ikeys, assume_unique=True)
            ikeys = ikeys[~np.isin(ikeys, self._entry_key, assume_unique=True)]
        else:
            ikeys = np.zeros(0, dtype=np.int64)
            centre_in = np.zeros(self._entry_key.size, dtype=bool)
        on_border = np.isin(self._entry_key, touched, assume_unique=True)
        self._entry_centre_in = centre_in
        # border entries decided by parity rather than GEOS: few segments of a large polygon (GEOS's point in
        # polygon costs ~0.05 µs + 0.3 ns a vertex here, the parity ~0.13 µs a segment)
        vertices = shapely.get_num_coordinates(self.polygons) if self.polygons.size else np.zeros(0, dtype=np.int64)
        nseg = np.diff(self._entry_seg_off)
        cost_geos = 0.05 + 0.0003 * vertices[self._entry_zone] if self.polygons.size else np.zeros(0)
        self._entry_parity = on_border & (0.13 * nseg < cost_geos)
        #: per band entry: 0 the border crosses its cell (test), 1 the cell is wholly inside, -1 wholly outside
        self._entry_side = np.where(on_border, 0, np.where(centre_in, 1, -1)).astype(np.int8)
        self._deep_off = _offsets(ikeys // n, n_cells)
        self._deep_zone = (ikeys % n).astype(np.int32)
        self.stats: dict[str, float] = {
            "zones": self.polygons.size,
            "segments": int(owner.size),
            "cell_m": round(grid.cell, 1),
            "nx": grid.nx,
            "ny": grid.ny,
            "band_entries": int(self._entry_key.size),
            "band_segment_entries": int(self._entry_seg.size),
            "border_entries": int((self._entry_side == 0).sum()),
            "deep_entries": int(self._deep_zone.size),
            "mb": round(sum(a.nbytes for a in (self._entry_key, self._entry_zone, self._entry_seg_off, self._entry_seg,
                                               self._band_off, self._deep_off, self._deep_zone, self.segments))
                        / 1e6, 1),
        }

    def __repr__(self) -> str:
        return f"<ZoneIndex {self.polygons.size} zones, {self.grid.nx}×{self.grid.ny} cells of {self.grid.cell:.0f} m>"

    def __len__(self) -> int:
        return int(self.polygons.size)

    # -- lookups ----------------------------------------------------------------------------------

    def lookup(self, x: np.ndarray, y: np.ndarray) -> Candidates:
        """The raster's candidates for points (frame metres), without geometry tests: deep pairs lie
        inside by more than the zone's margin, band pairs need a test, every other zone is farther
        than its margin outside."""
        cells = self.grid.cells(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        dp, dz = _gather(self._deep_off, self._deep_zone, cells)
        ok = cells >= 0
        safe = np.where(ok, cells, 0)
        lo = self._band_off[safe].astype(np.int64)
        counts = np.where(ok, self._band_off[safe + 1] - lo, 0)
        bp, off = _expand(counts)
        be = lo[bp] + off
        return Candidates(dp, dz.astype(np.int64), bp, self._entry_zone[be].astype(np.int64), be)

    def containing_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point index, zone index) of every zone whose polygon holds a point (frame metres), sorted by
        point (then deep zones before tested ones)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        c = self.lookup(x, y)
        side = self._entry_side[c.band_entry]
        test = np.flatnonzero(side == 0)
        hit = side > 0
        if test.size:
            bp = c.band_point[test]
            hit[test] = self._border_inside(x[bp], y[bp], c.band_entry[test])
        bp, bz = c.band_point[hit], c.band_zone[hit]
        pi = np.concatenate([c.deep_point, bp])
        zi = np.concatenate([c.deep_zone, bz])
        order = np.argsort(pi, kind="stable")
        return pi[order], zi[order]

    def containing(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`containing_xy` for WGS-84 lon/lat."""
        x, y = self.frame.to_xy(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return self.containing_xy(x, y)

    def _border_inside(self, x: np.ndarray, y: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """Whether points lie inside the zones of band entries whose cell the border crosses: GEOS, or, for
        entries with few segments of a large polygon, parity.

        The cell centre's side is known (the scanline); the point is on the other side when the segment
        from the centre to the point crosses the entry's border segments an odd number of times (every
        border segment meeting the cell is in the entry). A point within 1 µm of a segment's line, or a
        vertex within 1 µm of the centre–point segment, is left to GEOS: so the answers are GEOS's."""
        out = np.zeros(entries.size, dtype=bool)
        if not entries.size:
            return out
        by_geos = np.flatnonzero(~self._entry_parity[entries])
        if by_geos.size:
            out[by_geos] = _intersects_xy(self.polygons[self._entry_zone[entries[by_geos]]], x[by_geos], y[by_geos])
        rows = np.flatnonzero(self._entry_parity[entries])
        if rows.size:
            out[rows] = self._parity_inside(x[rows], y[rows], entries[rows])
        return out

    def _parity_inside(self, x: np.ndarray, y: np.ndarray, entries: np.ndarray) -> np.ndarray:
        n = entries.size
        g = self.grid
        cells = self._entry_key[entries] // max(self.polygons.size, 1)
        cx = g.x0 + (cells % g.nx + 0.5) * g.cell
        cy = g.y0 + (cells // g.nx + 0.5) * g.cell
        lo = self._entry_seg_off[entries]
        counts = self._entry_seg_off[entries + 1] - lo
        pos, off = _expand(counts)
        seg = self.segments[self._entry_seg[lo[pos] + off]]
        ax, ay, bx, by = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
        px, py, qx, qy = cx[pos], cy[pos], x[pos], y[pos]
        ex, ey = bx - ax, by - ay
        fx, fy = qx - px, qy - py
        o1 = ex * (py - ay) - ey * (px - ax)          # the centre against the border segment's line
        o2 = ex * (qy - ay) - ey * (qx - ax)          # the point against it
        o3 = fx * (ay - py) - fy * (ax - px)          # the segment's ends against the centre–point line
        o4 = fx * (by - py) - fy * (bx - px)
        tol_e = 1e-6 * np.hypot(ex, ey)
        tol_f = 1e-6 * np.hypot(fx, fy)
        unsure = (np.abs(o1) <= tol_e) | (np.abs(o2) <= tol_e) | (np.abs(o3) <= tol_f) | (np.abs(o4) <= tol_f)
        crosses = ((o1 > 0) != (o2 > 0)) & ((o3 > 0) != (o4 > 0))
        odd = np.bincount(pos, weights=crosses, minlength=n).astype(np.int64) % 2 == 1
        out = self._entry_centre_in[entries] ^ odd
        doubt = np.zeros(n, dtype=bool)
        doubt[pos[unsure]] = True
        rows = np.flatnonzero(doubt)
        if rows.size:
            out[rows] = _intersects_xy(self.polygons[self._entry_zone[entries[rows]]], x[rows], y[rows])
        return out

    def entry_signed_distance(self, x: np.ndarray, y: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """Signed distance (positive inside) from points to the border of band entries' zones: exact
        within the zone's margin, else ±inf. ``x[i], y[i]`` must lie in entry ``entries[i]``'s cell."""
        entries = np.asarray(entries, dtype=np.int64)
        if not entries.size:
            return np.zeros(0)
        zi = self._entry_zone[entries]
        side = self._entry_side[entries]
        inside = side > 0
        test = np.flatnonzero(side == 0)
        if test.size:
            inside[test] = self._border_inside(x[test], y[test], entries[test])
        lo = self._entry_seg_off[entries]
        counts = self._entry_seg_off[entries + 1] - lo
        pos, off = _expand(counts)
        d2 = _point_segment_d2(x[pos], y[pos], self.segments[self._entry_seg[lo[pos] + off]])
        dist = np.sqrt(np.minimum.reduceat(d2, np.cumsum(counts) - counts))
        dist = np.where(dist <= self.margins[zi], dist, np.inf)
        return np.where(inside, dist, -dist)

    def signed_distance(self, x: np.ndarray, y: np.ndarray, zi: np.ndarray) -> np.ndarray:
        """For pairs (point i: ``x[i]``, ``y[i]``; zone ``zi[i]``): the signed distance to the zone's
        border, positive inside, exact when within the zone's margin, else ±inf."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        zi = np.asarray(zi, dtype=np.int64).ravel()
        if not zi.size:
            return np.zeros(0)
        n = max(self.polygons.size, 1)
        cells = self.grid.cells(x, y)
        keys = cells * n + zi
        e = np.searchsorted(self._entry_key, keys)
        e = np.minimum(e, max(self._entry_key.size - 1, 0))
        banded = (cells >= 0) & (self._entry_key.size > 0)
        if self._entry_key.size:
            banded &= self._entry_key[e] == keys
        out = np.where(_intersects_xy(self.polygons[zi], x, y), np.inf, -np.inf)
        if banded.any():
            rows = np.flatnonzero(banded)
            out[rows] = self.entry_signed_distance(x[rows], y[rows], e[rows])
        return out

    def signed_distance_one(self, x: float, y: float, zi: int) -> float:
        """:meth:`signed_distance` for one point and one zone (without numpy's per-call overhead where it can)."""
        inside = bool(_intersects_xy(self.polygons[zi], x, y))
        g = self.grid
        u = (x - g.x0) * g.inv
        v = (y - g.y0) * g.inv
        if not (0.0 <= u < g.nx and 0.0 <= v < g.ny):
            return math.inf if inside else -math.inf
        key = (int(v) * g.nx + int(u)) * max(self.polygons.size, 1) + zi
        keys = self._entry_key
        e = int(keys.searchsorted(key))
        if e >= keys.size or int(keys[e]) != key:
            return math.inf if inside else -math.inf
        best = math.inf
        for ax, ay, bx, by in self.segments[self._entry_seg[self._entry_seg_off[e]:self._entry_seg_off[e + 1]]].tolist():
            dx, dy = bx - ax, by - ay
            ll = dx * dx + dy * dy
            t = 0.0 if ll <= 0.0 else min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / ll))
            qx, qy = x - ax - t * dx, y - ay - t * dy
            best = min(best, qx * qx + qy * qy)
        d = math.sqrt(best)
        if d > self.margins[zi]:
            d = math.inf
        return d if inside else -d

    def classify(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point index, zone index, signed distance) of every zone a point is inside or within the margin
        of; distances as in :meth:`signed_distance` (+inf deep inside). Zones farther outside are left out."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        c = self.lookup(x, y)
        d = self.entry_signed_distance(x[c.band_point], y[c.band_point], c.band_entry)
        listed = d > -np.inf
        pi = np.concatenate([c.deep_point, c.band_point[listed]])
        zi = np.concatenate([c.deep_zone, c.band_zone[listed]])
        dd = np.concatenate([np.full(c.deep_point.size, np.inf), d[listed]])
        order = np.argsort(pi, kind="stable")
        return pi[order], zi[order], dd[order]

    def near(self, x: np.ndarray, y: np.ndarray, margin_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point index, zone index, signed distance) of every zone whose border lies within ``margin_m``
        of a point (positive inside). ``margin_m`` may not exceed the smallest margin the index was built
        with."""
        if self.margins.size and margin_m > float(self.margins.min()) + 1e-9:
            raise ValueError(f"margin {margin_m} m is wider than the index's ({float(self.margins.min())} m)")
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        c = self.lookup(x, y)
        d = self.entry_signed_distance(x[c.band_point], y[c.band_point], c.band_entry)
        keep = np.abs(d) <= margin_m
        return c.band_point[keep], c.band_zone[keep], d[keep]

    def zone_signed_distance(self, zone: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:meth:`signed_distance` of many points to one zone."""
        x = np.asarray(x, dtype=np.float64).ravel()
        return self.signed_distance(x, np.asarray(y, dtype=np.float64).ravel(), np.full(x.size, zone, dtype=np.int64))

    def segment_index(self, zones: np.ndarray, depth_m: float) -> SegmentIndex:
        """A :class:`SegmentIndex` over the given zones (indices) shrunk by ``depth_m``."""
        return SegmentIndex(self, np.asarray(zones, dtype=np.int64), depth_m)


class SegmentIndex:
    """Which straight segments pass at least ``depth_m`` inside which zones of a :class:`ZoneIndex`.

    Each zone is shrunk by ``depth_m`` (``buffer(-depth_m)``, prepared); a segment passes deep enough
    when it meets the shrunk polygon. Candidates come from the zone index's raster: each shrunk zone is
    listed in the cells of its bounding box grown by one cell, and a segment is sampled at the middles of
    pieces at most two cells long. A segment that meets a shrunk zone at q has a sample within one cell
    of q, so in a cell next to q's, which lists the zone. Then a bounding-box check, the caller's
    filter, and the exact GEOS test on the few pairs left.
    """

    def __init__(self, index: ZoneIndex, zones: np.ndarray, depth_m: float) -> None:
        self.depth_m = float(depth_m)
        self.grid = g = index.grid
        shrunk = shapely.buffer(index.polygons[zones], -self.depth_m) if zones.size else np.empty(0, dtype=object)
        keep = ~shapely.is_empty(shrunk) if zones.size else np.zeros(0, dtype=bool)
        self.zones = zones[keep]
        self.shrunk = np.asarray(shrunk, dtype=object)[keep]
        shapely.prepare(self.shrunk)
        self._bounds = shapely.bounds(self.shrunk) if self.shrunk.size else np.zeros((0, 4))
        self._position = {int(z): i for i, z in enumerate(self.zones.tolist())}
        if self.shrunk.size:
            b = self._bounds
            item, cells = g.rect_cells(b[:, 0] - g.cell, b[:, 1] - g.cell, b[:, 2] + g.cell, b[:, 3] + g.cell)
            order = np.lexsort((item, cells))
            self._off = _offsets(cells[order], g.n_cells)
            self._item = item[order].astype(np.int32)
        else:
            self._off = np.zeros(g.n_cells + 1, dtype=np.int32)
            self._item = np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        return int(self.zones.size)

    def contains(self, zone: int, x: float, y: float) -> bool | None:
        """Whether a point lies in a zone's shrunk polygon (None: the zone is not in this index)."""
        pos = self._position.get(zone)
        if pos is None:
            return None
        return bool(_intersects_xy(self.shrunk[pos], x, y))

    def query(self, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
              keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(segment index, zone index of the ZoneIndex) of every segment A→B that passes deep enough.
        ``keep(segments, zones)``, when given, drops candidate pairs before the exact test."""
        empty = np.zeros(0, dtype=np.int64)
        ax, ay, bx, by = (np.asarray(v, dtype=np.float64) for v in (ax, ay, bx, by))
        if not ax.size or not self.zones.size:
            return empty, empty
        g = self.grid
        # samples at the middles of n equal pieces: every point of the segment is within a cell of one
        n = np.maximum(np.ceil(np.hypot(bx - ax, by - ay) * (0.5 * g.inv)), 1).astype(np.int64)
        seg, k = _expand(n)
        f = (k + 0.5) / n[seg]
        cells = g.cells_clipped(ax[seg] + f * (bx[seg] - ax[seg]), ay[seg] + f * (by[seg] - ay[seg]))
        pos, item = _gather(self._off, self._item, cells)
        if not pos.size:
            return empty, empty
        seg = seg[pos]
        item = item.astype(np.int64)
        b = self._bounds[item]
        near = ((np.minimum(ax, bx)[seg] <= b[:, 2]) & (np.maximum(ax, bx)[seg] >= b[:, 0])
                & (np.minimum(ay, by)[seg] <= b[:, 3]) & (np.maximum(ay, by)[seg] >= b[:, 1]))
        seg, item = seg[near], item[near]
        if keep is not None and seg.size:
            ok = keep(seg, self.zones[item])
            seg, item = seg[ok], item[ok]
        if not seg.size:
            return empty, empty
        nz = self.zones.size
        keys = np.unique(seg * nz + item)
        seg, item = keys // nz, keys % nz
        lines = shapely.linestrings(np.stack([np.column_stack([ax[seg], ay[seg]]),
                                              np.column_stack([bx[seg], by[seg]])], axis=1))
        hit = shapely.intersects(lines, self.shrunk[item])
        return seg[hit], self.zones[item[hit]]

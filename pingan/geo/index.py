"""Fast in-memory point location over the area tree (pure Python + numpy + shapely, no Django).

How it works: a raster of ``nx × ny`` cells covers the areas' bounding box. Each cell holds

* ``>= 0`` – the one area that wins everywhere in the cell (fast path, no geometry test);
* ``-1`` – no area touches the cell (outside);
* ``<= -2`` – a candidate list ``-2 - value``: areas to test in order (finest level first,
  then by code), then an optional fallback area that covers the whole cell untested.

Which area wins: the finest level whose area covers the point (closed polygons, so a point on a
boundary counts as inside); among areas of that level the lowest code (plain string order). The
coarser levels come from the winner's ``parent_code`` chain, precomputed per area.

The raster is built per level, finest first: polygon edges are rasterised conservatively (every
cell an edge touches, widened by a tiny epsilon) and cell centres are filled by an even-odd
scanline. A cell that no edge of a level touches is either wholly inside an area of that level
or wholly outside it, so its centre decides (cells held by two overlapping areas of one level
get both as candidates); the first level that wholly covers a cell ends its candidate list.
Identical candidate lists are shared, so the single-point path keeps plain Python tuples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import shapely

__all__ = ["LEVELS", "AreaIndex", "AreaShape", "LocateResult"]

LEVELS = ("district", "town", "village", "grid", "microgrid")
_DEPTH = {level: depth for depth, level in enumerate(LEVELS)}
# Field position of each level in LocateResult (finest first).
_FIELD = {"microgrid": 0, "grid": 1, "village": 2, "town": 3, "district": 4}

_MAX_RESOLUTION = 16384  # 16384² int32 cells would be 1 GB
# Points per chunk in locate_many, to bound its temporaries.
_CHUNK = 1 << 20

# Widening, in cell units, of the conservative edge rasterisation (float noise is ~1e-12 here).
_EPS = 1e-6

# The C function behind shapely.intersects_xy; the Python wrapper costs ~2 µs per scalar call.
_intersects_xy: Any = getattr(shapely.lib, "intersects_xy", shapely.intersects_xy)


@dataclass(frozen=True)
class AreaShape:
    """One area of the tree with its polygon (WGS-84 lon/lat)."""

    code: str
    level: str
    parent_code: str | None
    geometry: shapely.Polygon | shapely.MultiPolygon


class LocateResult(NamedTuple):
    """The codes holding a point, one per level (None where the chain has no area at that level)."""

    microgrid: str | None
    grid: str | None
    village: str | None
    town: str | None
    district: str | None


class AreaIndex:
    """Point location over a set of areas; immutable after construction and safe to share between threads.

    ``areas`` (and ``area_codes``) hold the input sorted finest level first, then by code; the
    positions ``locate_many`` returns index them. ``resolution`` is the raster's cell count
    along the longer side of the bounding box.
    """

    def __init__(self, areas: Iterable[AreaShape], *, version: int = 0, resolution: int = 4096) -> None:
        if not 1 <= resolution <= _MAX_RESOLUTION:
            raise ValueError(f"resolution must be between 1 and {_MAX_RESOLUTION}")
        self.version = version
        self.resolution = resolution
        shapes = sorted(_checked(areas), key=lambda a: (-_DEPTH[a.level], a.code))
        self.areas: tuple[AreaShape, ...] = tuple(shapes)
        self.area_codes: tuple[str, ...] = tuple(a.code for a in shapes)
        n = len(shapes)

        self._results: list[LocateResult] = _chains(shapes)
        # Per level: position -> index of the area at that level in the winner's chain (-1 none).
        # One extra trailing slot so that position -1 ("outside") maps to -1 / None.
        pos = {a.code: i for i, a in enumerate(shapes)}
        self._level_pos: dict[str, np.ndarray] = {}
        self._level_codes: dict[str, np.ndarray] = {}
        for level in LEVELS:
            field = _FIELD[level]
            idx = np.full(n + 1, -1, dtype=np.int32)
            names = np.full(n + 1, None, dtype=object)
            for i, result in enumerate(self._results):
                code = result[field]
                if code is not None:
                    idx[i] = pos[code]
                    names[i] = code
            self._level_pos[level] = idx
            self._level_codes[level] = names

        geoms = np.empty(n, dtype=object)
        geoms[:] = [a.geometry for a in shapes]
        build = _build_raster(geoms, np.array([_DEPTH[a.level] for a in shapes], dtype=np.int64), resolution)
        # Prepared only now, so that GEOS's memory does not add to the raster build's peak.
        shapely.prepare(geoms)
        if n:
            # GEOS builds a prepared polygon's point locator on first use; do it now, not in a query.
            bounds = shapely.bounds(geoms)
            _intersects_xy(geoms, bounds[:, 0], bounds[:, 1])
        self._geoms = geoms
        self._x0, self._y0, self._sx, self._sy = build.x0, build.y0, build.sx, build.sy
        self._nx, self._ny = build.nx, build.ny
        self._nxf, self._nyf = float(build.nx), float(build.ny)
        self._cells: np.ndarray = build.cells
        self._cells_mv = memoryview(build.cells)  # type: ignore[arg-type]
        self._list_start, self._list_len = build.list_start, build.list_len
        self._list_flat, self._list_fallback = build.list_flat, build.list_fallback
        self._max_len = int(build.list_len.max()) if build.list_len.size else 0
        results = self._results
        depth = [_DEPTH[a.level] for a in shapes]
        # Candidate list -> (groups, fallback) for the single path: one group per level, finest
        # first, each (geometries, their results) tested in one call, since the call overhead
        # dominates and the finest group nearly always holds the point.
        self._lists: list[
            tuple[tuple[tuple[np.ndarray, tuple[LocateResult, ...]], ...], LocateResult | None]
        ] = []
        for s, ln, fb in zip(
            build.list_start.tolist(), build.list_len.tolist(), build.list_fallback.tolist(), strict=True
        ):
            ranks = build.list_flat[s : s + ln].tolist()
            groups = []
            i = 0
            while i < len(ranks):
                j = i
                while j < len(ranks) and depth[ranks[j]] == depth[ranks[i]]:
                    j += 1
                groups.append((geoms[ranks[i:j]], tuple(results[r] for r in ranks[i:j])))
                i = j
            self._lists.append((tuple(groups), results[fb] if fb >= 0 else None))
        self.stats: dict[str, float] = {
            "areas": n,
            "nx": build.nx,
            "ny": build.ny,
            "candidate_cells": build.candidate_cells,
            "candidate_lists": len(self._lists),
            "max_candidates": self._max_len,
            "raster_mb": build.cells.nbytes / 1e6,
        }

    def __repr__(self) -> str:
        return f"<AreaIndex v{self.version}: {len(self.areas)} areas, {self._nx}×{self._ny} cells>"

    def locate(self, lon: float, lat: float) -> LocateResult | None:
        """The areas holding one WGS-84 point, or None outside every area."""
        u = (lon - self._x0) * self._sx
        v = (lat - self._y0) * self._sy
        if 0.0 <= u < self._nxf and 0.0 <= v < self._nyf:
            val = self._cells_mv[int(v) * self._nx + int(u)]
            if val >= 0:
                return self._results[val]
            if val != -1:
                groups, fallback = self._lists[-2 - val]
                for geoms, results in groups:
                    hits = _intersects_xy(geoms, lon, lat).tolist()
                    if True in hits:
                        return results[hits.index(True)]
                return fallback
        return None

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Locate many WGS-84 points at once.

        Returns an int32 array shaped like ``lon``: for each point the position in ``self.areas``
        (equally ``self.area_codes``) of the finest area holding it, or -1 outside every area.
        ``codes()`` / ``level_positions()`` turn it into per-level codes / positions.
        """
        x_in = np.asarray(lon, dtype=np.float64)
        y_in = np.asarray(lat, dtype=np.float64)
        if x_in.shape != y_in.shape:
            raise ValueError(f"lon and lat differ in shape: {x_in.shape} vs {y_in.shape}")
        x = x_in.ravel()
        y = y_in.ravel()
        if x.size <= _CHUNK:
            return self._locate_flat(x, y).reshape(x_in.shape)
        out = np.empty(x.size, dtype=np.int32)
        for i in range(0, x.size, _CHUNK):
            out[i : i + _CHUNK] = self._locate_flat(x[i : i + _CHUNK], y[i : i + _CHUNK])
        return out.reshape(x_in.shape)

    def _locate_flat(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = (x - self._x0) * self._sx
        v = (y - self._y0) * self._sy
        ok = (u >= 0.0) & (u < self._nxf) & (v >= 0.0) & (v < self._nyf)
        if not ok.all():
            u = np.where(ok, u, 0.0)
            v = np.where(ok, v, 0.0)
        cell = v.astype(np.int64)
        cell *= self._nx
        cell += u.astype(np.int64)
        out = self._cells[cell]
        out[~ok] = -1
        pending = np.flatnonzero(out < -1)
        if pending.size:
            lid = -2 - out[pending]
            start = self._list_start[lid]
            length = self._list_len[lid]
            found = self._list_fallback[lid]
            px, py = x[pending], y[pending]
            active = np.arange(pending.size)
            for k in range(self._max_len):
                active = active[length[active] > k]
                if not active.size:
                    break
                cand = self._list_flat[start[active] + k]
                hit = _intersects_xy(self._geoms[cand], px[active], py[active])
                found[active[hit]] = cand[hit]
                active = active[~hit]
            out[pending] = found
        return out

    def cell_values(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Diagnostics: the raster entry under each point (>= 0 one area, -1 none, <= -2 candidate list)."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        u = (x - self._x0) * self._sx
        v = (y - self._y0) * self._sy
        ok = (u >= 0.0) & (u < self._nxf) & (v >= 0.0) & (v < self._nyf)
        cell = np.where(ok, v, 0.0).astype(np.int64) * self._nx + np.where(ok, u, 0.0).astype(np.int64)
        return np.where(ok, self._cells[cell], -1)

    def level_positions(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Per level, the position in ``self.areas`` of the area at that level (int32, -1 none)."""
        idx = np.asarray(positions)
        return {level: self._level_pos[level][idx] for level in LEVELS}

    def codes(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Per level, the code at that level for each result of ``locate_many`` (object arrays, None where absent)."""
        idx = np.asarray(positions)
        return {level: self._level_codes[level][idx] for level in LEVELS}

    def result(self, position: int) -> LocateResult | None:
        """The LocateResult for one position returned by ``locate_many`` (None for -1)."""
        return None if position < 0 else self._results[position]


def _checked(areas: Iterable[AreaShape]) -> list[AreaShape]:
    out = list(areas)
    seen: set[str] = set()
    for a in out:
        if a.level not in _DEPTH:
            raise ValueError(f"area {a.code}: unknown level {a.level!r} (one of {', '.join(LEVELS)})")
        if a.code in seen:
            raise ValueError(f"duplicate area code {a.code}")
        seen.add(a.code)
        if not isinstance(a.geometry, shapely.Polygon | shapely.MultiPolygon):
            raise ValueError(
                f"area {a.code}: geometry must be a Polygon or MultiPolygon, not {type(a.geometry).__name__}"
            )
    return out


def _chains(shapes: list[AreaShape]) -> list[LocateResult]:
    by_code = {a.code: a for a in shapes}
    results = []
    for a in shapes:
        fields: list[str | None] = [None] * len(LEVELS)
        seen: set[str] = set()
        cur: AreaShape | None = a
        while cur is not None:
            if cur.code in seen:
                raise ValueError(f"area {a.code}: parent chain loops at {cur.code}")
            seen.add(cur.code)
            field = _FIELD[cur.level]
            if fields[field] is None:
                fields[field] = cur.code
            cur = by_code.get(cur.parent_code) if cur.parent_code is not None else None
        results.append(LocateResult(*fields))
    return results


class _Raster(NamedTuple):
    x0: float
    y0: float
    sx: float
    sy: float
    nx: int
    ny: int
    cells: np.ndarray
    list_start: np.ndarray
    list_len: np.ndarray
    list_flat: np.ndarray
    list_fallback: np.ndarray
    candidate_cells: int


def _edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ring edges as (start xy, end xy, owner position), owners ascending."""
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    owner = part_owner[ring_part[coord_ring[:-1][same]]]
    return xy[:-1][same], xy[1:][same], owner.astype(np.int64)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of the given lengths: (run number, offset within run) for every element."""
    run = np.repeat(np.arange(counts.size), counts)
    offset = np.arange(run.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return run, offset


def _touched_cells(
    a: np.ndarray, b: np.ndarray, owner: np.ndarray, nx: int, ny: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every (cell, owner) whose closed cell (widened by _EPS) an edge touches. Coordinates in cell units."""
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    ylo, yhi = np.minimum(ay, by), np.maximum(ay, by)
    r0 = np.clip(np.floor(ylo - _EPS), 0, ny - 1).astype(np.int64)
    r1 = np.clip(np.floor(yhi + _EPS), 0, ny - 1).astype(np.int64)
    e, off = _expand(r1 - r0 + 1)
    row = r0[e] + off
    ax, ay, bx, by, ylo, yhi = ax[e], ay[e], bx[e], by[e], ylo[e], yhi[e]
    yb0 = np.maximum(ylo, row - _EPS)
    yb1 = np.minimum(yhi, row + 1 + _EPS)
    dy = by - ay
    flat = dy == 0
    dy = np.where(flat, 1.0, dy)
    t0 = np.clip((yb0 - ay) / dy, 0.0, 1.0)
    t1 = np.clip((yb1 - ay) / dy, 0.0, 1.0)
    xa = np.where(flat, ax, ax + t0 * (bx - ax))
    xb = np.where(flat, bx, ax + t1 * (bx - ax))
    c0 = np.clip(np.floor(np.minimum(xa, xb) - _EPS), 0, nx - 1).astype(np.int64)
    c1 = np.clip(np.floor(np.maximum(xa, xb) + _EPS), 0, nx - 1).astype(np.int64)
    k, off = _expand(c1 - c0 + 1)
    cells = row[k] * nx + c0[k] + off
    return cells, owner[e][k]


def _touched_cells_chunked(
    a: np.ndarray, b: np.ndarray, owner: np.ndarray, nx: int, ny: int, chunk: int = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """_touched_cells over slices of the edges, to bound the temporaries."""
    if a.shape[0] <= chunk:
        return _touched_cells(a, b, owner, nx, ny)
    parts = [
        _touched_cells(a[i : i + chunk], b[i : i + chunk], owner[i : i + chunk], nx, ny)
        for i in range(0, a.shape[0], chunk)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without its overhead)."""
    values.sort()
    if values.size < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _spans(
    a: np.ndarray, b: np.ndarray, owner: np.ndarray, nx: int, ny: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Even-odd scanline over cell centres: runs (owner, row, first col, end col) of inside centres."""
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    keep = ay != by
    ax, ay, bx, by, owner = ax[keep], ay[keep], bx[keep], by[keep], owner[keep]
    ylo, yhi = np.minimum(ay, by), np.maximum(ay, by)
    # rows whose centre j + 0.5 lies in [ylo, yhi)
    j0 = np.clip(np.ceil(ylo - 0.5), 0, ny).astype(np.int64)
    j1 = np.clip(np.ceil(yhi - 0.5), 0, ny).astype(np.int64)
    e, off = _expand(np.maximum(j1 - j0, 0))
    row = j0[e] + off
    x = ax[e] + (row + 0.5 - ay[e]) * ((bx[e] - ax[e]) / (by[e] - ay[e]))
    own = owner[e]
    order = np.lexsort((x, row, own))
    own, row, x = own[order], row[order], x[order]
    own, row = own[0::2], row[0::2]
    c0 = np.clip(np.ceil(x[0::2] - 0.5), 0, nx).astype(np.int64)
    c1 = np.clip(np.ceil(x[1::2] - 0.5), 0, nx).astype(np.int64)
    keep = c1 > c0
    return own[keep], row[keep], c0[keep], c1[keep]


def _runs_overlap(row: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> bool:
    """Whether any two runs of one row share a cell (only when areas of a level overlap)."""
    if row.size < 2:
        return False
    order = np.lexsort((c0, row))
    r, s, e = row[order], c0[order], c1[order]
    return bool(np.any((r[1:] == r[:-1]) & (s[1:] < e[:-1])))


def _frame(geoms: np.ndarray, resolution: int) -> tuple[float, float, float, float, int, int]:
    """Raster origin, scale (cells per unit) and size over the areas' bounds."""
    bounds = shapely.total_bounds(geoms) if geoms.size else np.full(4, np.nan)
    if not np.all(np.isfinite(bounds)):
        return 0.0, 0.0, 0.0, 0.0, 1, 1
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    pad = max(maxx - minx, maxy - miny, 1e-9) * 1e-6
    width, height = maxx - minx + 2 * pad, maxy - miny + 2 * pad
    if width >= height:
        nx, ny = resolution, max(1, math.ceil(resolution * height / width))
    else:
        nx, ny = max(1, math.ceil(resolution * width / height)), resolution
    return minx - pad, miny - pad, nx / width, ny / height, nx, ny


def _build_raster(geoms: np.ndarray, depth: np.ndarray, resolution: int) -> _Raster:
    x0, y0, sx, sy, nx, ny = _frame(geoms, resolution)
    cells = np.full(nx * ny, -1, dtype=np.int32)
    grid = cells.reshape(ny, nx)
    empty = np.zeros(0, dtype=np.int32)
    if sx == 0.0:
        return _Raster(x0, y0, sx, sy, nx, ny, cells, empty, empty, empty, empty, 0)

    a, b, owner = _edges(geoms)
    a = (a - (x0, y0)) * (sx, sy)
    b = (b - (x0, y0)) * (sx, sy)
    n = len(geoms)
    # Running sums wrap harmlessly (only overlapped cells ever exceed n, and those are discarded).
    value_dtype = np.int16 if n < np.iinfo(np.int16).max else np.int32
    scratch = np.empty((ny, nx), dtype=bool)
    keys: list[np.ndarray] = []  # per level: sorted unique cell * n + candidate position
    width = nx + 1
    # Areas are sorted finest level first, so each level is a contiguous run of positions.
    for d in sorted(set(depth.tolist()), reverse=True):
        lo, hi = np.searchsorted(-depth, [-d, -d + 1])
        e0, e1 = np.searchsorted(owner, [lo, hi])
        la, lb, lown = a[e0:e1], b[e0:e1], owner[e0:e1]

        touched, t_owner = _touched_cells_chunked(la, lb, lown, nx, ny)
        level_keys: list[np.ndarray] = []
        boundary = np.zeros((ny, nx), dtype=bool)
        boundary.ravel()[touched] = True

        own, row, c0, c1 = _spans(la, lb, lown, nx, ny)
        # Per row, +(position + 1) where a run of inside centres starts and - where it ends;
        # a running sum along the row then gives position + 1 of the area holding each centre.
        value = np.zeros((ny, width), dtype=value_dtype)
        flat_value = value.ravel()
        start, end = row * width + c0, row * width + c1
        overlapping = _runs_overlap(row, c0, c1)
        if overlapping:
            np.add.at(flat_value, start, own + 1)
            np.add.at(flat_value, end, -(own + 1))
        else:
            flat_value[start] = own + 1  # run starts are distinct within a level
            flat_value[end] -= own + 1  # and so are run ends
        np.cumsum(value, axis=1, dtype=value_dtype, out=value)
        inside = value[:, :nx]

        if overlapping:
            # Overlapping areas of one level: every area holding a doubly held centre is a candidate there.
            count = np.zeros((ny, width), dtype=np.int32)
            np.add.at(count.ravel(), start, 1)
            np.add.at(count.ravel(), end, -1)
            np.cumsum(count, axis=1, out=count)
            overlap = count[:, :nx] > 1
            del count
            ov = np.zeros((ny, width), dtype=np.int32)
            np.cumsum(overlap, axis=1, out=ov[:, 1:])
            hits = ov[row, c1] - ov[row, c0] > 0
            del ov
            k, off = _expand((c1 - c0)[hits])
            r_k, c_k = row[hits][k], c0[hits][k] + off
            keep = overlap[r_k, c_k] & (grid[r_k, c_k] < 0)
            level_keys.append((r_k[keep] * nx + c_k[keep]) * n + own[hits][k][keep])
            boundary |= overlap
            inside[overlap] = 0  # sums of several positions: meaningless, candidates added above
            del overlap

        # Cells this level wholly covers, not settled by a finer level: settled now.
        settle = np.greater(inside, 0)
        np.logical_not(boundary, out=scratch)
        settle &= scratch
        np.less(grid, 0, out=scratch)
        settle &= scratch
        grid[settle] = inside[settle] - 1
        del settle

        # Open cells this level's edges touch: the touching areas, and the area holding the
        # centre if any, are candidates.
        open_touched = cells[touched] < 0
        level_keys.append(touched[open_touched] * n + t_owner[open_touched])
        centre = boundary
        np.greater(inside, 0, out=scratch)
        centre &= scratch
        np.less(grid, 0, out=scratch)
        centre &= scratch
        level_keys.append(np.flatnonzero(centre) * n + (inside[centre] - 1))
        del boundary, centre, value, flat_value, inside, touched, t_owner
        keys.append(_sorted_unique(np.concatenate(level_keys)))
        del level_keys

    # Levels own disjoint positions, so only the order across levels is left to fix.
    key = np.concatenate(keys)
    del keys
    key.sort()
    return _candidate_lists(x0, y0, sx, sy, nx, ny, cells, key, n)


def _candidate_lists(
    x0: float, y0: float, sx: float, sy: float, nx: int, ny: int, cells: np.ndarray, key: np.ndarray, n: int
) -> _Raster:
    """Group sorted unique (cell * n + candidate) keys per cell, share identical lists, and mark the cells."""
    if not key.size:
        empty = np.zeros(0, dtype=np.int32)
        return _Raster(x0, y0, sx, sy, nx, ny, cells, empty, empty, empty, empty, 0)
    cell_of = key // n
    cand = (key - cell_of * n).astype(np.int32)
    starts = np.flatnonzero(np.concatenate(([True], cell_of[1:] != cell_of[:-1])))
    lengths = np.diff(np.append(starts, key.size))
    ucell = cell_of[starts]
    width = int(lengths.max())
    table = np.full((ucell.size, width + 1), -1, dtype=np.int32)
    run, off = _expand(lengths)
    table[run, off] = cand
    table[:, width] = cells[ucell]  # fallback: the area wholly covering the cell, or -1
    del cell_of, cand, run, off, starts, lengths
    order = np.lexsort(table.T[::-1])
    ordered = table[order]
    new = np.concatenate(([True], np.any(ordered[1:] != ordered[:-1], axis=1)))
    group = np.cumsum(new) - 1
    list_id = np.empty(ucell.size, dtype=np.int64)
    list_id[order] = group
    cells[ucell] = (-2 - list_id).astype(np.int32)
    lists = ordered[new]
    list_len = (lists[:, :width] >= 0).sum(axis=1).astype(np.int32)
    list_start = (np.cumsum(list_len) - list_len).astype(np.int32)
    list_flat = lists[:, :width][lists[:, :width] >= 0].astype(np.int32)
    list_fallback = lists[:, width].astype(np.int32)
    return _Raster(
        x0, y0, sx, sy, nx, ny, cells, list_start, list_len, list_flat, list_fallback, int(ucell.size)
    )

"""A synthetic but plausible demo geography for 南浔区 (Nanxun District, Huzhou, Zhejiang).

Pure module (no Django): ``build_district(seed)`` deterministically builds the district outline
(700 km²), its 10 towns, 250 villages/communities, exactly 624 grids and exactly 5,421
micro-grids, every level tiling its parent exactly.

How it works, in a local km frame:

* the outline is a buffered hull of the town seats pushed about by smooth noise;
* exactly 5,421 sites fill it (a band of extra sites rings it), denser around town seats, and are
  relaxed by a density-weighted Lloyd iteration that keeps each class on its side of the outline;
* their Voronoi diagram, built from the Delaunay triangulation so that every corner and edge has
  one identity, is the micro-grid graph; each edge is densified and wiggled once, then every
  vertex goes through one position-only map (smooth noise, scale to the target area, lon/lat).
  A shared vertex is one array entry, so neighbours match bit for bit, and parents are coverage
  unions of their children;
* towns grow from their seats (noisy multi-source Dijkstra); grids and villages are k-means
  seeded Dijkstra regions, size-balanced; every unit is therefore edge-connected.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

from pingan.geo.index import AreaShape

DISTRICT_CODE = "330503"
DISTRICT_NAME_ZH = "南浔区"
DISTRICT_NAME_EN = "Nanxun District"
N_VILLAGES = 250
N_GRIDS = 624
N_MICROGRIDS = 5421
TARGET_AREA_KM2 = 700.0
KM_PER_DEG = 111.32  # same convention as pingan.geo.measure
LON0, LAT0 = 120.30, 30.78  # origin of the local km frame (middle of the district)
KM_PER_DEG_LON = KM_PER_DEG * math.cos(math.radians(LAT0))
VERTEX_DENSITY = 14.0  # edge points per local site spacing: sets a micro-grid's vertex count
LEVELS = ("district", "town", "village", "grid", "microgrid")
DEV_ZONE_CODE = "330503500"

#: (code, name_zh, name_en, local_code) of the district's towns / subdistricts, in code order.
TOWNS: list[tuple[str, str, str, bool]] = [
    ("330503100", "南浔镇", "Nanxun Town", False),
    ("330503101", "双林镇", "Shuanglin Town", False),
    ("330503102", "练市镇", "Lianshi Town", False),
    ("330503103", "善琏镇", "Shanlian Town", False),
    ("330503104", "旧馆镇", "Jiuguan Town", False),
    ("330503105", "菱湖镇", "Linghu Town", False),
    ("330503106", "和孚镇", "Hefu Town", False),
    ("330503107", "千金镇", "Qianjin Town", False),
    ("330503108", "石淙镇", "Shicong Town", False),
    (
        DEV_ZONE_CODE,
        "南浔经济开发区(东迁街道)",
        "Nanxun Economic Development Zone (Dongqian Subdistrict)",
        True,
    ),
]


@dataclass(frozen=True)
class _TownSpec:
    """A town's seat (lon, lat), rough target area, urban core and number of communities."""

    lon: float
    lat: float
    area_km2: float
    boost: float  # extra micro-grid density at the seat (1 + boost times the rural density)
    core_km: float  # radius of the dense urban core
    communities: int


_TOWN_SPECS: dict[str, _TownSpec] = {
    "330503100": _TownSpec(120.430, 30.875, 135, 6.0, 1.6, 9),
    "330503101": _TownSpec(120.335, 30.755, 88, 3.5, 1.1, 4),
    "330503102": _TownSpec(120.400, 30.720, 90, 3.5, 1.1, 4),
    "330503103": _TownSpec(120.285, 30.700, 55, 2.0, 0.8, 2),
    "330503104": _TownSpec(120.465, 30.800, 48, 2.0, 0.8, 2),
    "330503105": _TownSpec(120.185, 30.725, 85, 3.5, 1.1, 4),
    "330503106": _TownSpec(120.175, 30.812, 80, 2.5, 0.9, 2),
    "330503107": _TownSpec(120.235, 30.760, 52, 2.0, 0.8, 2),
    "330503108": _TownSpec(120.280, 30.830, 40, 2.0, 0.8, 2),
    DEV_ZONE_CODE: _TownSpec(120.372, 30.858, 45, 3.5, 1.2, 5),
}


@dataclass
class SynthArea:
    """One generated area; ``local_code`` marks codes not taken from a published table (the
    development zone's, and so everything under it)."""

    code: str
    level: str
    parent_code: str | None
    name_zh: str
    name_en: str
    geometry: Polygon | MultiPolygon
    local_code: bool = False


@dataclass
class SynthDistrict:
    """The generated tree: ``areas`` ordered parents before children (level, then code)."""

    areas: list[SynthArea]
    outline: Polygon

    def shapes(self) -> list[AreaShape]:
        """The areas as ``AreaShape`` records (for the locate index)."""
        return [
            AreaShape(code=a.code, level=a.level, parent_code=a.parent_code, geometry=a.geometry)
            for a in self.areas
        ]

    def by_level(self, level: str) -> list[SynthArea]:
        """The areas of one level, in code order."""
        return [a for a in self.areas if a.level == level]


# --------------------------------------------------------------------------------------------
# coordinates and fields


def _lonlat_to_km(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(lon) - LON0) * KM_PER_DEG_LON, (np.asarray(lat) - LAT0) * KM_PER_DEG


def _km_to_lonlat(xy: np.ndarray) -> np.ndarray:
    return np.column_stack([LON0 + xy[:, 0] / KM_PER_DEG_LON, LAT0 + xy[:, 1] / KM_PER_DEG])


def local_area_km2(geom: shapely.Geometry) -> float:
    """Area in km² of a WGS-84 geometry (equirectangular at its centroid, as ``geo.measure``)."""
    if geom.is_empty:
        return 0.0
    return float(geom.area) * math.cos(math.radians(geom.centroid.y)) * KM_PER_DEG * KM_PER_DEG


class _Noise:
    """A smooth 2-D vector field: sums of plane waves at given (wavelength, amplitude) octaves."""

    def __init__(
        self, rng: np.random.Generator, octaves: Sequence[tuple[float, float]], waves: int = 3
    ) -> None:
        ks: list[np.ndarray] = []
        amps: list[float] = []
        for wavelength, amplitude in octaves:
            for _ in range(waves):
                angle = rng.uniform(0, 2 * math.pi, size=2)
                k = 2 * math.pi / (wavelength * rng.uniform(0.8, 1.25, size=2))
                ks.append(np.column_stack([np.cos(angle) * k, np.sin(angle) * k]))
                amps.append(amplitude / math.sqrt(waves))
        self.k = np.stack(ks)  # (waves, component, dim)
        self.phase = rng.uniform(0, 2 * math.pi, size=(len(amps), 2))
        self.amp = np.asarray(amps)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy, dtype=float)
        for c in range(2):
            out[:, c] = np.sin(xy @ self.k[:, c, :].T + self.phase[:, c]) @ self.amp
        return out


def _seats_km() -> np.ndarray:
    specs = [_TOWN_SPECS[t[0]] for t in TOWNS]
    x, y = _lonlat_to_km([s.lon for s in specs], [s.lat for s in specs])
    return np.column_stack([x, y])


def _density_field(seats: np.ndarray, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Relative micro-grid density (sites per km²): peaks at town seats, mild rural variation."""
    specs = [_TOWN_SPECS[t[0]] for t in TOWNS]
    boost = np.array([s.boost for s in specs])
    core = np.array([s.core_km for s in specs])
    wobble = _Noise(rng, [(9.0, 0.18), (4.0, 0.12)], waves=2)

    def density(xy: np.ndarray) -> np.ndarray:
        d2 = ((xy[:, None, :] - seats[None, :, :]) ** 2).sum(axis=2)
        return (1 + (boost * np.exp(-d2 / (2 * core * core))).sum(axis=1)) * np.exp(wobble(xy)[:, 0])

    return density


# --------------------------------------------------------------------------------------------
# outline and sites


def _outline(rng: np.random.Generator, seats: np.ndarray) -> Polygon:
    """A natural-looking district shape of TARGET_AREA_KM2 around all seats (km frame)."""
    hull = shapely.convex_hull(shapely.multipoints(seats))
    for _attempt in range(100):
        field = _Noise(rng, [(24.0, 1.5), (12.0, 0.6), (6.0, 0.22), (2.8, 0.07), (1.3, 0.02)], waves=2)

        def make(d: float, field: _Noise = field) -> Polygon:
            ring = shapely.segmentize(hull.buffer(d, quad_segs=32).exterior, 0.15)
            xy = shapely.get_coordinates(ring)[:-1]
            return Polygon(xy + field(xy))

        lo, hi = 1.0, 10.0
        for _ in range(24):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if make(mid).area < TARGET_AREA_KM2 else (lo, mid)
        shape = make((lo + hi) / 2)
        if not shape.is_valid:
            continue
        margin = shapely.distance(shape.exterior, shapely.points(seats))
        if shapely.contains_xy(shape, seats[:, 0], seats[:, 1]).all() and margin.min() > 1.5:
            return shape
    raise RuntimeError("could not draw a district outline")  # pragma: no cover


def _sample_in(
    region: shapely.Geometry, n: int, rng: np.random.Generator, density: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """n random points inside a polygon, distributed by ``density`` (rejection sampling)."""
    x0, y0, x1, y1 = region.bounds
    shapely.prepare(region)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        pts = rng.uniform([x0, y0], [x1, y1], size=(max(20 * n, 20_000), 2))
        pts = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        q = density(pts)
        pts = pts[rng.uniform(0, q.max(), size=len(q)) < q]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def _weighted_centroids(polys: np.ndarray, weight: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Centroids of polygons under a point weight (fan triangles, weight at each one's centroid)."""
    parts, owner_of_part = shapely.get_parts(shapely.orient_polygons(polys), return_index=True)
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    xy, ring_of_xy = shapely.get_coordinates(rings, return_index=True)
    same = ring_of_xy[:-1] == ring_of_xy[1:]
    p, q = xy[:-1][same], xy[1:][same]
    owner = owner_of_part[part_of_ring[ring_of_xy[:-1][same]]]
    anchor = shapely.get_coordinates(shapely.centroid(polys))[owner]
    u, v = p - anchor, q - anchor
    area = 0.5 * (u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    mid = (anchor + p + q) / 3
    w = area * weight(mid)
    total = np.bincount(owner, weights=w, minlength=len(polys))
    cx = np.bincount(owner, weights=w * mid[:, 0], minlength=len(polys))
    cy = np.bincount(owner, weights=w * mid[:, 1], minlength=len(polys))
    return np.column_stack([cx / total, cy / total])


def _relaxed_sites(
    outline: Polygon,
    density: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    iterations: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Exactly N_MICROGRIDS sites inside ``outline`` plus a ring of band sites, relaxed by a
    density-weighted Lloyd iteration with each class kept on its side of the outline (so the
    Voronoi cells of the inside sites trace the shape)."""
    h = math.sqrt(outline.area / N_MICROGRIDS * 2 / math.sqrt(3))
    band = outline.buffer(3 * h).difference(outline)
    inside = _sample_in(outline, N_MICROGRIDS, rng, density)
    probe_in = _sample_in(outline, 4000, rng, lambda xy: np.ones(len(xy)))
    probe_band = _sample_in(band, 4000, rng, lambda xy: np.ones(len(xy)))
    ratio = density(probe_band).mean() * band.area / (density(probe_in).mean() * outline.area)
    outside = _sample_in(band, round(N_MICROGRIDS * ratio), rng, density)
    x0, y0, x1, y1 = outline.buffer(20 * h).bounds
    frame = shapely.box(x0, y0, x1, y1)

    def weight(xy: np.ndarray) -> np.ndarray:
        return density(xy) ** 2  # CVT point density goes as weight ** (1/2)

    regions = [(outline, outline.boundary), (band, band.boundary)]
    for region, edge in regions:
        shapely.prepare(region)
        shapely.prepare(edge)
    for _ in range(iterations):
        pts = np.vstack([inside, outside])
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
        )
        new = []
        for (region, edge), part in zip(regions, (cells[: len(inside)], cells[len(inside) :]), strict=True):
            part = part.copy()
            cross = shapely.intersects(part, edge)
            part[cross] = shapely.intersection(part[cross], region)
            cent = _weighted_centroids(part, weight)
            bad = ~shapely.contains_xy(region, cent[:, 0], cent[:, 1])
            if bad.any():
                cent[bad] = shapely.get_coordinates(shapely.point_on_surface(part[bad]))
            new.append(cent)
        inside, outside = new
    return inside, outside


# --------------------------------------------------------------------------------------------
# the micro-grid graph


@dataclass
class _Graph:
    """Voronoi cells of the inside sites: rings of vertex ids, adjacency, cell areas."""

    sites: np.ndarray  # (n, 2) km
    vertices: np.ndarray  # (V, 2) km: Voronoi corners (triangle circumcentres), then edge points
    rings: list[list[int]]  # per cell, its ring's vertex ids (CCW, not closed)
    adjacency: list[list[int]]  # cell → neighbouring cells (inside only)
    corner_count: int  # vertex ids below this are Voronoi corners, the rest edge points


def _circumcentres(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    bx, by = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    cx, cy = c[:, 0] - a[:, 0], c[:, 1] - a[:, 1]
    d = 2 * (bx * cy - by * cx)
    b2, c2 = bx * bx + by * by, cx * cx + cy * cy
    return np.column_stack([a[:, 0] + (cy * b2 - by * c2) / d, a[:, 1] + (bx * c2 - cx * b2) / d])


def _graph(inside: np.ndarray, outside: np.ndarray, rng: np.random.Generator) -> _Graph:
    """Voronoi of all sites via their Delaunay triangulation; keep the cells of the inside sites;
    densify and wiggle every edge once, so both neighbours share the very same points."""
    n = len(inside)
    pts = np.vstack([inside, outside])
    index = {xy: i for i, xy in enumerate(map(tuple, pts.tolist()))}
    tri_xy = shapely.get_coordinates(shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(pts))))
    tri = np.array([index[xy] for xy in map(tuple, tri_xy.tolist())], dtype=np.int64).reshape(-1, 4)[:, :3]
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    cw = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]) < 0
    tri[cw] = tri[cw][:, [0, 2, 1]]
    centres = _circumcentres(pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]])

    # around each inside site i: fan[i][j] = (k, t) for the CCW triangle t = (i, j, k)
    fan: list[dict[int, tuple[int, int]]] = [{} for _ in range(n)]
    for t, (p, q, r) in enumerate(tri.tolist()):
        if p < n:
            fan[p][q] = (r, t)
        if q < n:
            fan[q][r] = (p, t)
        if r < n:
            fan[r][p] = (q, t)

    edge_id: dict[tuple[int, int], int] = {}
    edge_tris: list[tuple[int, int]] = []
    edge_cells: list[tuple[int, int]] = []
    cell_tris: list[list[int]] = []
    cell_edges: list[list[int]] = []
    for i in range(n):
        j0 = min(fan[i])
        j, tris, edges = j0, [], []
        while True:
            k, t = fan[i][j]
            tris.append(t)
            key = (min(i, k), max(i, k))
            if key not in edge_id:
                edge_id[key] = len(edge_tris)
                edge_tris.append((t, fan[i][k][1]))
                edge_cells.append((i, k))
            edges.append(edge_id[key])
            j = k
            if j == j0:
                break
        cell_tris.append(tris)
        cell_edges.append(edges)

    # local spacing from the cells' areas, so small (urban) cells get as many points as big ones
    cell_area = shapely.area(_polygon_array(centres, cell_tris))
    ec = np.asarray(edge_cells)
    other = np.where(ec[:, 1] < n, ec[:, 1], ec[:, 0])
    spacing = np.sqrt((cell_area[ec[:, 0]] + cell_area[other]) / math.sqrt(3)) / VERTEX_DENSITY

    et = np.asarray(edge_tris)
    p0, p1 = centres[et[:, 0]], centres[et[:, 1]]
    vec = p1 - p0
    length = np.hypot(vec[:, 0], vec[:, 1])
    segs = np.maximum(2, np.ceil(length / spacing)).astype(np.int64)
    segs[length < 1e-9] = 1
    modes = np.arange(1, 6)
    coef = rng.uniform(-1, 1, size=(len(et), len(modes))) * (0.12 / modes**1.5)
    counts = segs - 1
    owner = np.repeat(np.arange(len(et)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    t = (np.arange(counts.sum()) - np.repeat(starts, counts) + 1) / segs[owner]
    normal = np.column_stack([-vec[:, 1], vec[:, 0]])  # scaled by the edge's length
    offset = (np.sin(np.pi * t[:, None] * modes[None, :]) * coef[owner]).sum(axis=1)
    points = p0[owner] + vec[owner] * t[:, None] + normal[owner] * offset[:, None]
    first = len(centres) + starts

    rings: list[list[int]] = []
    for tris, edges in zip(cell_tris, cell_edges, strict=True):
        ring: list[int] = []
        for ta, e in zip(tris, edges, strict=True):
            ring.append(ta)
            inner = range(first[e], first[e] + counts[e])
            ring.extend(inner if edge_tris[e][0] == ta else reversed(inner))
        rings.append(ring)

    adjacency: list[list[int]] = [[] for _ in range(n)]
    for i, k in edge_cells:
        if k < n:
            adjacency[i].append(k)
            adjacency[k].append(i)
    return _Graph(inside, np.vstack([centres, points]), rings, adjacency, len(centres))


def _straighten(graph: _Graph, cell: int) -> None:
    """Put the edge points of one cell back on straight lines between its corners (this changes
    the shared edges for both neighbours at once)."""
    ring = graph.rings[cell]
    corners = [i for i, v in enumerate(ring) if v < graph.corner_count]
    for a, b in zip(corners, [*corners[1:], len(ring)], strict=True):
        p0, p1 = graph.vertices[ring[a]], graph.vertices[ring[b % len(ring)]]
        for s in range(a + 1, b):
            graph.vertices[ring[s]] = p0 + (p1 - p0) * ((s - a) / (b - a))


# --------------------------------------------------------------------------------------------
# partitioning

_Adjacency = Sequence[Sequence[tuple[int, float]]]


def _weighted(
    adjacency: Sequence[Sequence[int]], pos: np.ndarray, node_cost: np.ndarray | None = None
) -> list[list[tuple[int, float]]]:
    """Edge lengths between neighbours, optionally times the mean of the two nodes' costs."""
    out: list[list[tuple[int, float]]] = []
    for u, nbs in enumerate(adjacency):
        row = []
        for v in nbs:
            w = math.dist(pos[u], pos[v])
            if node_cost is not None:
                w *= (node_cost[u] + node_cost[v]) / 2
            row.append((v, w))
        out.append(row)
    return out


def _dijkstra(
    adjacency: _Adjacency, sources: Sequence[int], offsets: Sequence[float] | None = None
) -> np.ndarray:
    """Label every node with the source whose geodesic (plus the source's head start offset)
    reaches it first. Sources keep their own label; each label's nodes form a tree of
    shortest-path parents, hence are connected."""
    label = [-1] * len(adjacency)
    source_of = {s: lab for lab, s in enumerate(sources)}
    heap = [(offsets[lab] if offsets is not None else 0.0, s, lab) for lab, s in enumerate(sources)]
    heapq.heapify(heap)
    while heap:
        d, u, lab = heapq.heappop(heap)
        if label[u] >= 0 or source_of.get(u, lab) != lab:
            continue
        label[u] = lab
        for v, w in adjacency[u]:
            if label[v] < 0:
                heapq.heappush(heap, (d + w, v, lab))
    return np.asarray(label, dtype=np.int64)


def _kmeans_sources(pos: np.ndarray, k: int, rng: np.random.Generator, weight: np.ndarray) -> list[int]:
    """k distinct nodes nearest to weighted k-means centres (k-means++ start, Lloyd steps)."""
    n = len(pos)
    if k >= n:
        return list(range(n))
    w = weight.astype(float)
    cen = np.empty((k, 2))
    cen[0] = pos[rng.choice(n, p=w / w.sum())]
    d2 = ((pos - cen[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        p = w * d2
        cen[j] = pos[rng.choice(n, p=p / p.sum())]
        d2 = np.minimum(d2, ((pos - cen[j]) ** 2).sum(axis=1))
    for _ in range(20):
        lab = ((pos[:, None, :] - cen[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        mass = np.bincount(lab, weights=w, minlength=k)
        has = mass > 0
        for c in range(2):
            cen[has, c] = np.bincount(lab, weights=w * pos[:, c], minlength=k)[has] / mass[has]
    used: set[int] = set()
    out: list[int] = []
    for j in range(k):
        for idx in np.argsort(((pos - cen[j]) ** 2).sum(axis=1), kind="stable").tolist():
            if idx not in used:
                used.add(idx)
                out.append(idx)
                break
    return out


def _connected_without(members: set[int], drop: int, adjacency: Sequence[Sequence[int]]) -> bool:
    rest = members - {drop}
    if not rest:
        return False
    start = min(rest)
    seen, stack = {start}, [start]
    while stack:
        for v in adjacency[stack.pop()]:
            if v in rest and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(rest)


def _shift(label: np.ndarray, adjacency: Sequence[Sequence[int]], lo: int, hi: int) -> None:
    """Move boundary nodes from big to small neighbouring regions (keeping every region connected)
    until region sizes lie within [lo, hi] or nothing more can move."""
    k = int(label.max()) + 1
    members = [set(np.flatnonzero(label == j).tolist()) for j in range(k)]
    size = np.array([len(m) for m in members])

    def move(u: int, src: int, dst: int) -> None:
        members[src].discard(u)
        members[dst].add(u)
        label[u] = dst
        size[src] -= 1
        size[dst] += 1

    for _ in range(8):
        moved = False
        for j in np.argsort(-size, kind="stable").tolist():
            for u in sorted(members[j]):
                if size[j] <= hi:
                    break
                dst = sorted({int(label[v]) for v in adjacency[u]} - {j}, key=lambda x: (size[x], x))
                if dst and size[dst[0]] + 1 < size[j] and _connected_without(members[j], u, adjacency):
                    move(u, j, dst[0])
                    moved = True
        for j in np.argsort(size, kind="stable").tolist():
            while size[j] < lo:
                cands = sorted(
                    {v for u in members[j] for v in adjacency[u] if label[v] != j},
                    key=lambda v: (-size[label[v]], v),
                )
                src = next(
                    (
                        v
                        for v in cands
                        if size[label[v]] > size[j] + 1
                        and _connected_without(members[label[v]], v, adjacency)
                    ),
                    None,
                )
                if src is None:
                    break
                move(src, int(label[src]), j)
                moved = True
        if not moved:
            break


def _bfs_split(label: np.ndarray, adjacency: Sequence[Sequence[int]], region: int, new: int) -> None:
    """Cut one region in two connected parts (two-source BFS from a far-apart pair of nodes)."""
    members = set(np.flatnonzero(label == region).tolist())

    def bfs(starts: list[int]) -> tuple[list[int], dict[int, int]]:
        owner = {s: i for i, s in enumerate(starts)}
        order = list(starts)
        for u in order:  # the list grows while it is walked: breadth-first order
            for v in adjacency[u]:
                if v in members and v not in owner:
                    owner[v] = owner[u]
                    order.append(v)
        return order, owner

    a = bfs([min(members)])[0][-1]
    b = bfs([a])[0][-1]
    for u, side in bfs([a, b])[1].items():
        if side == 1:
            label[u] = new


def _balance(label: np.ndarray, adjacency: Sequence[Sequence[int]], lo: int, hi: int) -> None:
    """Even out region sizes towards [lo, hi], every region staying connected: shift boundary
    nodes; a region too small to grow is merged into a neighbour and the largest region split."""
    k = int(label.max()) + 1
    for _ in range(6):
        _shift(label, adjacency, lo, hi)
        size = np.bincount(label, minlength=k)
        progressed = False
        for j in np.flatnonzero(size < lo).tolist():
            size = np.bincount(label, minlength=k)
            mem = np.flatnonzero(label == j).tolist()
            nbs = sorted({int(label[v]) for u in mem for v in adjacency[u]} - {j}, key=lambda x: (size[x], x))
            big = int(np.argmax(size))
            if size[j] >= lo or not nbs or big == j or size[big] < 2 * lo:
                continue
            label[mem] = nbs[0]
            _bfs_split(label, adjacency, big, j)
            progressed = True
        if not progressed:
            break


def _apportion(
    weights: Sequence[float], total: int, lo: Sequence[int], hi: Sequence[int] | None = None
) -> list[int]:
    """Split ``total`` seats by weight (Sainte-Laguë), each share between lo and hi."""
    alloc = list(lo)
    caps = list(hi) if hi is not None else [total] * len(weights)
    if sum(alloc) > total or sum(caps) < total or any(a > c for a, c in zip(alloc, caps, strict=True)):
        raise ValueError("cannot apportion within bounds")
    while sum(alloc) < total:
        best = max(
            (i for i in range(len(weights)) if alloc[i] < caps[i]),
            key=lambda i: (weights[i] / (2 * alloc[i] + 1), -i),
        )
        alloc[best] += 1
    return alloc


def _sub_adjacency(nodes: Sequence[int], adjacency: Sequence[Sequence[int]]) -> list[list[int]]:
    pos = {u: i for i, u in enumerate(nodes)}
    return [[pos[v] for v in adjacency[u] if v in pos] for u in nodes]


# --------------------------------------------------------------------------------------------
# names


def _syllables(text: str) -> list[tuple[str, str]]:
    """Parse "东dong 西xi …" into (character, pinyin) pairs."""
    return [(tok[0], tok[1:]) for tok in text.split()]


_VILLAGE_FIRST = _syllables(
    "东dong 西xi 南nan 北bei 新xin 长chang 永yong 兴xing 丰feng 大da 小xiao 上shang 下xia 前qian "
    "后hou 高gao 金jin 马ma 龙long 凤feng 荷he 莲lian 柳liu 竹zhu 梅mei 桑sang 花hua 石shi "
    "双shuang 三san 万wan 福fu 红hong 青qing 沈shen 陈chen 杨yang 王wang 朱zhu 吴wu 徐xu 施shi "
    "潘pan 钱qian 姚yao 荻di 章zhang 横heng 白bai 雁yan 鹤he 蚕can 湖hu 泉quan 义yi 庙miao "
    "洪hong 塘tang 港gang 荣rong"
)
_VILLAGE_SECOND = _syllables(
    "桥qiao 港gang 塘tang 湾wan 溪xi 荡dang 漾yang 浜bang 兜dou 圩wei 庄zhuang 墩dun 埭dai 坝ba "
    "泾jing 浦pu 河he 田tian 林lin 园yuan 家jia 兴xing 丰feng 安an 平ping 华hua 阳yang 头tou "
    "里li 湖hu 埠bu 漾yang 滨bin 圩wei 斗dou"
)
_COMMUNITY_FIRST = _syllables(
    "人ren 向xiang 新xin 东dong 西xi 南nan 北bei 和he 兴xing 文wen 明ming 振zhen 丰feng 城cheng "
    "嘉jia 锦jin 浔xun 康kang 宁ning 丝si 书shu 古gu 荣rong"
)
_COMMUNITY_SECOND = _syllables(
    "阳yang 华hua 苑yuan 园yuan 兴xing 安an 和he 城cheng 街jie 新xin 庭ting 河he 桥qiao 市shi "
    "湾wan 瑞rui 欣xin 馨xin"
)


def _pinyin(a: str, b: str) -> str:
    joiner = "'" if b[0] in "aoe" else ""
    return (a + joiner + b).capitalize()


class _Namer:
    """Unique two-character place names drawn deterministically from syllable lists."""

    def __init__(self, rng: np.random.Generator, reserved: Sequence[str]) -> None:
        self.rng = rng
        self.used = set(reserved)

    def take(self, community: bool) -> tuple[str, str]:
        first, second = (
            (_COMMUNITY_FIRST, _COMMUNITY_SECOND) if community else (_VILLAGE_FIRST, _VILLAGE_SECOND)
        )
        for _ in range(10_000):
            (za, pa), (zb, pb) = first[self.rng.integers(len(first))], second[self.rng.integers(len(second))]
            name = za + zb
            if za != zb and name not in self.used:
                self.used.add(name)
                return name, _pinyin(pa, pb)
        raise RuntimeError("ran out of names")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# building


def _sub_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _polygon_array(vertices: np.ndarray, rings: Sequence[Sequence[int]]) -> np.ndarray:
    idx = np.concatenate([[*r, r[0]] for r in rings])
    ring_no = np.repeat(np.arange(len(rings)), [len(r) + 1 for r in rings])
    return shapely.polygons(shapely.linearrings(vertices[idx], indices=ring_no))


def _bearing(points: np.ndarray, centre: Sequence[float]) -> np.ndarray:
    """Clockwise angle from north of each point around ``centre``."""
    return np.mod(np.arctan2(points[:, 0] - centre[0], points[:, 1] - centre[1]), 2 * math.pi)


def _union(geoms: Sequence[shapely.Geometry] | np.ndarray) -> Polygon | MultiPolygon:
    out = shapely.coverage_union_all(np.asarray(geoms, dtype=object))
    if not isinstance(out, Polygon | MultiPolygon):  # pragma: no cover
        raise RuntimeError(f"union gave {out.geom_type}")
    return out


def _partition(
    pos: np.ndarray,
    area: np.ndarray,
    adjacency: Sequence[Sequence[int]],
    k: int,
    rng: np.random.Generator,
    lo: int,
    hi: int,
) -> np.ndarray:
    """Split connected nodes into k connected, compact regions of similar node counts: k-means
    seeds (weighted by node density) grown by Dijkstra in a density-normalised metric."""
    wadj = _weighted(adjacency, pos, 1 / np.sqrt(area))
    label = _dijkstra(wadj, _kmeans_sources(pos, k, rng, 1 / area))
    _balance(label, adjacency, lo, hi)
    return label


def _geometry(seed: int) -> tuple[_Graph, np.ndarray, np.ndarray]:
    """The micro-grid graph and its final vertex positions in km (area scaled) and lon/lat."""
    seats = _seats_km()
    outline = _outline(_sub_rng(seed, 1), seats)
    density = _density_field(seats, _sub_rng(seed, 2))
    inside, outside = _relaxed_sites(outline, density, _sub_rng(seed, 3))
    graph = _graph(inside, outside, _sub_rng(seed, 4))
    # smooth noise, small against the cells: Lipschitz < 1, so the map is one-to-one
    noise = _Noise(_sub_rng(seed, 5), [(5.0, 0.06), (2.0, 0.025), (0.8, 0.01), (0.35, 0.004)])
    km = graph.vertices + noise(graph.vertices)
    cells = _polygon_array(km, graph.rings)
    for _ in range(6):  # a wiggle that folds a cell or crosses a neighbour's edge is straightened
        bad = np.flatnonzero(~shapely.is_valid(cells))
        if not len(bad):
            bad = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(cells)))
        if not len(bad):
            break
        for c in bad.tolist():
            _straighten(graph, c)
        km = graph.vertices + noise(graph.vertices)
        cells = _polygon_array(km, graph.rings)
    else:  # pragma: no cover
        raise RuntimeError("could not build a valid micro-grid coverage")
    km *= math.sqrt(TARGET_AREA_KM2 / float(shapely.area(cells).sum()))
    return graph, km, _km_to_lonlat(km)


def build_district(seed: int = 330503) -> SynthDistrict:
    """Build the whole synthetic district, deterministically from ``seed``."""
    graph, km, lonlat = _geometry(seed)
    micro = _polygon_array(lonlat, graph.rings)
    cells_km = _polygon_array(km, graph.rings)
    cent = shapely.get_coordinates(shapely.centroid(cells_km))
    cell_area = shapely.area(cells_km)
    specs = [_TOWN_SPECS[t[0]] for t in TOWNS]
    seats = _seats_km()

    # towns: noisy multi-source Dijkstra from the seats; head starts nudged towards target areas
    sources = [int(np.flatnonzero(shapely.contains_xy(cells_km, x, y))[0]) for x, y in seats]
    speed = np.exp(_Noise(_sub_rng(seed, 6), [(6.0, 0.35), (2.5, 0.35), (1.2, 0.3)], waves=2)(cent)[:, 0])
    wadj = _weighted(graph.adjacency, cent, speed)
    targets = np.array([s.area_km2 for s in specs], dtype=float)
    targets *= TARGET_AREA_KM2 / targets.sum()
    offsets = -speed.mean() * np.sqrt(targets / math.pi)
    best = (math.inf, np.zeros(0, dtype=np.int64))
    for _ in range(20):
        town_of = _dijkstra(wadj, sources, offsets.tolist())
        got = np.bincount(town_of, weights=cell_area, minlength=len(TOWNS))
        best = min(best, (float(np.abs(got / targets - 1).max()), town_of), key=lambda b: b[0])
        offsets += 0.3 * speed.mean() * (np.sqrt(got / math.pi) - np.sqrt(targets / math.pi))
    town_of = best[1]
    town_cells = [np.flatnonzero(town_of == t) for t in range(len(TOWNS))]
    sizes = [len(c) for c in town_cells]
    grids_per_town = _apportion(sizes, N_GRIDS, [1] * len(TOWNS))
    villages_per_town = _apportion(sizes, N_VILLAGES, [s.communities + 1 for s in specs], grids_per_town)

    rng = _sub_rng(seed, 7)
    namer = _Namer(_sub_rng(seed, 8), reserved=["浔北"])
    areas: dict[str, list[SynthArea]] = {lvl: [] for lvl in LEVELS}
    for t, (tcode, tzh, ten, local) in enumerate(TOWNS):
        cells = town_cells[t]
        sub = _sub_adjacency(cells.tolist(), graph.adjacency)
        ng, nv = grids_per_town[t], villages_per_town[t]
        # grids: connected groups of ~5-15 micro-grids; villages: connected groups of grids
        grid_of = _partition(cent[cells], cell_area[cells], sub, ng, rng, lo=5, hi=15)
        grid_members = [cells[grid_of == g] for g in range(ng)]
        grid_area = np.array([cell_area[m].sum() for m in grid_members])
        grid_pos = (
            np.array([(cent[m] * cell_area[m, None]).sum(axis=0) for m in grid_members]) / grid_area[:, None]
        )
        grid_adj: list[set[int]] = [set() for _ in range(ng)]
        for i, nbs in enumerate(sub):
            for j in nbs:
                if grid_of[i] != grid_of[j]:
                    grid_adj[grid_of[i]].add(int(grid_of[j]))
        village_of = _partition(grid_pos, grid_area, [sorted(a) for a in grid_adj], nv, rng, lo=1, hi=6)

        grid_geom = [_union(micro[m]) for m in grid_members]
        village_grids = [np.flatnonzero(village_of == v) for v in range(nv)]
        village_geom = [_union([grid_geom[g] for g in vg]) for vg in village_grids]
        areas["town"].append(SynthArea(tcode, "town", DISTRICT_CODE, tzh, ten, _union(village_geom), local))

        # communities are the units nearest the seat; codes run clockwise from north round it
        seat = _km_to_lonlat(seats[t : t + 1])[0]
        vpt = shapely.get_coordinates(shapely.point_on_surface(np.asarray(village_geom, dtype=object)))
        dist = np.hypot((vpt[:, 0] - seat[0]) * KM_PER_DEG_LON, (vpt[:, 1] - seat[1]) * KM_PER_DEG)
        is_comm = np.zeros(nv, dtype=bool)
        is_comm[np.argsort(dist, kind="stable")[: min(specs[t].communities, nv - 1)]] = True
        bearing = _bearing(vpt, seat)
        numbered: list[tuple[str, int]] = []
        for group, first in ((np.flatnonzero(is_comm), 1), (np.flatnonzero(~is_comm), 201)):
            order = group[np.argsort(bearing[group], kind="stable")].tolist()
            numbered.extend((f"{tcode}{first + r:03d}", v) for r, v in enumerate(order))
        for vcode, v in numbered:
            comm = bool(is_comm[v])
            zh, en = ("浔北", "Xunbei") if vcode == f"{DEV_ZONE_CODE}201" else namer.take(comm)
            vzh, ven = (f"{zh}社区", f"{en} Community") if comm else (f"{zh}村", f"{en} Village")
            areas["village"].append(SynthArea(vcode, "village", tcode, vzh, ven, village_geom[v], local))
            gl = village_grids[v]
            gpt = shapely.get_coordinates(
                shapely.point_on_surface(np.asarray([grid_geom[g] for g in gl], dtype=object))
            )
            for gi, g in enumerate(gl[np.argsort(_bearing(gpt, vpt[v]), kind="stable")].tolist(), start=1):
                gcode, gzh, gen = f"{vcode}{gi:03d}", f"{vzh}第{gi}网格", f"{ven} Grid {gi}"
                areas["grid"].append(SynthArea(gcode, "grid", vcode, gzh, gen, grid_geom[g], local))
                mem = grid_members[g]
                mpt = shapely.get_coordinates(shapely.point_on_surface(micro[mem]))
                centre = gpt[list(gl).index(g)]
                for mi, m in enumerate(
                    mem[np.argsort(_bearing(mpt, centre), kind="stable")].tolist(), start=1
                ):
                    areas["microgrid"].append(
                        SynthArea(
                            f"{gcode}{mi:03d}",
                            "microgrid",
                            gcode,
                            f"{gzh}第{mi}微网格",
                            f"{gen} Micro-grid {mi}",
                            micro[m],
                            local,
                        )
                    )

    outline = _union([a.geometry for a in areas["town"]])
    if not isinstance(outline, Polygon):  # pragma: no cover - the sites fill one connected shape
        raise RuntimeError("the district came out in pieces")
    ordered = [SynthArea(DISTRICT_CODE, "district", None, DISTRICT_NAME_ZH, DISTRICT_NAME_EN, outline)]
    for lvl in LEVELS[1:]:
        ordered.extend(sorted(areas[lvl], key=lambda a: a.code))
    return SynthDistrict(areas=ordered, outline=outline)


def to_geojson(district: SynthDistrict, levels: Sequence[str] | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the areas (parents first), as ``geo.importer`` reads it."""
    features = []
    for a in district.areas:
        if levels is not None and a.level not in levels:
            continue
        props: dict[str, Any] = {
            "code": a.code,
            "name": a.name_zh,
            "name_en": a.name_en,
            "level": a.level,
            "parent_code": a.parent_code,
        }
        if a.local_code:
            props["local_code"] = True
        features.append({"type": "Feature", "properties": props, "geometry": mapping(a.geometry)})
    return {"type": "FeatureCollection", "features": features}


def _villages_by_town(district: SynthDistrict) -> list[list[SynthArea]]:
    villages = district.by_level("village")
    return [[v for v in villages if v.parent_code == t.code] for t in district.by_level("town")]


def village_groups(district: SynthDistrict, n: int) -> list[list[str]]:
    """Split the village codes into ``n`` groups of neighbouring villages: groups are apportioned
    to towns by village count (every town gets one when n ≥ towns) and cut from each town's
    villages in code order (codes run round the town seat, so a group is a contiguous-ish slice)."""
    by_town = [vs for vs in _villages_by_town(district) if vs]
    total = sum(len(vs) for vs in by_town)
    if not 1 <= n <= total:
        raise ValueError(f"n must be between 1 and {total}")
    if n < len(by_town):
        codes = [v.code for vs in by_town for v in vs]
        return [[str(c) for c in chunk] for chunk in np.array_split(np.asarray(codes), n)]
    per_town = _apportion([len(vs) for vs in by_town], n, [1] * len(by_town), [len(vs) for vs in by_town])
    groups: list[list[str]] = []
    for vs, k in zip(by_town, per_town, strict=True):
        groups.extend(
            [str(c) for c in chunk] for chunk in np.array_split(np.asarray([v.code for v in vs]), k)
        )
    return groups


def station_points(district: SynthDistrict, n: int, seed: int = 0) -> list[tuple[str, float, float]]:
    """``n`` (village_code, lon, lat) sites in distinct villages, spread over the towns (apportioned
    by village count) and, within a town, over its area (farthest-point picks); each point lies
    inside a micro-grid of its village."""
    by_town = [vs for vs in _villages_by_town(district) if vs]
    total = sum(len(vs) for vs in by_town)
    if not 0 <= n <= total:
        raise ValueError(f"n must be between 0 and {total}")
    if n == 0:
        return []
    lo = [1 if n >= len(by_town) else 0] * len(by_town)
    per_town = _apportion([len(vs) for vs in by_town], n, lo, [len(vs) for vs in by_town])
    rng = np.random.default_rng([seed, 330503])
    micro_by_village: dict[str, list[SynthArea]] = {}
    grid_parent = {g.code: g.parent_code for g in district.by_level("grid")}
    for m in district.by_level("microgrid"):
        micro_by_village.setdefault(str(grid_parent[str(m.parent_code)]), []).append(m)
    out: list[tuple[str, float, float]] = []
    for vs, k in zip(by_town, per_town, strict=True):
        if k == 0:
            continue
        pts = shapely.get_coordinates(
            shapely.point_on_surface(np.asarray([v.geometry for v in vs], dtype=object))
        )
        xy = np.column_stack([pts[:, 0] * KM_PER_DEG_LON, pts[:, 1] * KM_PER_DEG])
        picked = [int(rng.integers(len(vs)))]
        d = np.hypot(*(xy - xy[picked[0]]).T)
        while len(picked) < k:
            nxt = int(np.argmax(d))
            picked.append(nxt)
            d = np.minimum(d, np.hypot(*(xy - xy[nxt]).T))
        for i in picked:
            cells = micro_by_village[vs[i].code]
            p = cells[int(rng.integers(len(cells)))].geometry.representative_point()
            out.append((vs[i].code, float(p.x), float(p.y)))
    return out

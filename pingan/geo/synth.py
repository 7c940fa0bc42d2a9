"""A synthetic but plausible demo geography for 南浔区 (Nanxun District, Huzhou, Zhejiang).

Pure module (no Django): ``build_district(seed)`` deterministically builds the district outline
(about 700 km²), its 10 towns, about 250 villages/communities, exactly 624 grids and exactly
5,421 micro-grids, every level tiling its parent exactly.

How: sites are spread in a "uniform" plane (constrained Lloyd relaxation, the district shape
filled by exactly 5,421 sites, a band of extra sites around it); their Voronoi diagram (built from
the Delaunay triangulation so every vertex and edge has one identity) is the micro-grid graph.
Every Voronoi edge is densified and wiggled once, then every vertex goes through one position-only
map: smooth noise, a warp that packs cells densely around town seats (urban micro-grids are
smaller) and a scale to the target area. Shared vertices are one array entry, so neighbours
match bit for bit; parents are coverage unions of their children. Towns grow from their seats by
a noisy multi-source Dijkstra; grids and villages are k-means seeded Dijkstra regions, so every
unit is edge-connected.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
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
    ("330503500", "南浔经济开发区(东迁街道)", "Nanxun Economic Development Zone (Dongqian Subdistrict)", True),
]


@dataclass(frozen=True)
class _TownSpec:
    """Where a town's seat is (lon, lat), its rough target area, its urban density and communities."""

    lon: float
    lat: float
    area_km2: float
    warp: float  # 0..1: how strongly cells are packed around the seat
    sigma_km: float  # radius of the packed (urban) core
    communities: int


_TOWN_SPECS: dict[str, _TownSpec] = {
    "330503100": _TownSpec(120.430, 30.875, 135, 0.68, 2.2, 9),
    "330503101": _TownSpec(120.335, 30.755, 88, 0.60, 1.6, 4),
    "330503102": _TownSpec(120.400, 30.720, 90, 0.60, 1.6, 4),
    "330503103": _TownSpec(120.285, 30.700, 55, 0.50, 1.2, 2),
    "330503104": _TownSpec(120.465, 30.800, 48, 0.50, 1.2, 2),
    "330503105": _TownSpec(120.185, 30.725, 85, 0.60, 1.5, 4),
    "330503106": _TownSpec(120.175, 30.812, 80, 0.52, 1.3, 2),
    "330503107": _TownSpec(120.235, 30.760, 52, 0.50, 1.2, 2),
    "330503108": _TownSpec(120.280, 30.830, 40, 0.48, 1.1, 2),
    "330503500": _TownSpec(120.372, 30.858, 45, 0.58, 1.5, 5),
}

VERTEX_DENSITY = 14.0  # edge points per site spacing: sets the vertex count of a micro-grid
LEVELS = ("district", "town", "village", "grid", "microgrid")


@dataclass
class SynthArea:
    """One generated area; ``local_code`` marks codes not taken from a published table."""

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
        """The areas as ``AreaShape`` records for the locate index."""
        return [AreaShape(code=a.code, level=a.level, parent_code=a.parent_code, geometry=a.geometry) for a in self.areas]

    def by_level(self, level: str) -> list[SynthArea]:
        """The areas of one level, in code order."""
        return [a for a in self.areas if a.level == level]


# --------------------------------------------------------------------------------------------
# coordinates


def _lonlat_to_km(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[Any, Any]:
    return (np.asarray(lon) - LON0) * KM_PER_DEG_LON, (np.asarray(lat) - LAT0) * KM_PER_DEG


def _km_to_lonlat(xy: np.ndarray) -> np.ndarray:
    return np.column_stack([LON0 + xy[:, 0] / KM_PER_DEG_LON, LAT0 + xy[:, 1] / KM_PER_DEG])


def local_area_km2(geom: shapely.Geometry) -> float:
    """Area in km² of a WGS-84 geometry (equirectangular at its centroid, like ``geo.measure``)."""
    if geom.is_empty:
        return 0.0
    k = math.cos(math.radians(geom.centroid.y)) * KM_PER_DEG
    return float(geom.area) * k * KM_PER_DEG


# --------------------------------------------------------------------------------------------
# noise


class _Noise:
    """A smooth 2-D vector field: sums of plane waves at given (wavelength, amplitude) octaves."""

    def __init__(self, rng: np.random.Generator, octaves: Sequence[tuple[float, float]], waves: int = 3) -> None:
        ks: list[np.ndarray] = []
        amps: list[float] = []
        for wavelength, amplitude in octaves:
            for _ in range(waves):
                angle = rng.uniform(0, 2 * math.pi, size=2)
                k = 2 * math.pi / (wavelength * rng.uniform(0.8, 1.25, size=2))
                ks.append(np.column_stack([np.cos(angle) * k, np.sin(angle) * k]))
                amps.append(amplitude / math.sqrt(waves))
        self.k = np.stack(ks)  # (W, 2 components, 2 dims)
        self.phase = rng.uniform(0, 2 * math.pi, size=(len(amps), 2))
        self.amp = np.asarray(amps)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        for c in range(2):
            arg = xy @ self.k[:, c, :].T + self.phase[:, c]
            out[:, c] = np.sin(arg) @ self.amp
        return out


def _warp(xy: np.ndarray, centres: np.ndarray, strengths: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Pull points towards each centre (injective for strength < 1): dense cores around seats."""
    out = xy.copy()
    for c, a, s in zip(centres, strengths, sigmas, strict=True):
        d = out - c
        r2 = (d * d).sum(axis=1) / (s * s)
        out = c + d * (1 - a * np.exp(-r2))[:, None]
    return out


# --------------------------------------------------------------------------------------------
# outline and sites


def _seats_km() -> np.ndarray:
    specs = [_TOWN_SPECS[t[0]] for t in TOWNS]
    x, y = _lonlat_to_km(np.array([s.lon for s in specs]), np.array([s.lat for s in specs]))
    return np.column_stack([x, y])


def _outline(rng: np.random.Generator, seats: np.ndarray) -> Polygon:
    """A natural-looking district shape of TARGET_AREA_KM2 around all seats (km frame)."""
    hull = shapely.convex_hull(shapely.multipoints(seats))
    for _attempt in range(50):
        field = _Noise(rng, [(24.0, 1.5), (12.0, 0.6), (6.0, 0.22), (2.8, 0.07), (1.3, 0.02)], waves=2)

        def make(d: float, field: _Noise = field) -> Polygon:
            ring = shapely.segmentize(hull.buffer(d, quad_segs=32).exterior, 0.15)
            xy = shapely.get_coordinates(ring)[:-1]
            return Polygon(xy + field(xy))

        lo, hi = 1.0, 10.0
        for _ in range(24):
            mid = (lo + hi) / 2
            if make(mid).area < TARGET_AREA_KM2:
                lo = mid
            else:
                hi = mid
        shape = make((lo + hi) / 2)
        if not shape.is_valid:
            continue
        margin = shapely.distance(shape.exterior, shapely.points(seats))
        if shapely.contains_xy(shape, seats[:, 0], seats[:, 1]).all() and margin.min() > 1.5:
            return shape
    raise RuntimeError("could not draw a district outline")  # pragma: no cover


def _sample_in(region: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random points inside a polygon (rejection sampling)."""
    x0, y0, x1, y1 = region.bounds
    shapely.prepare(region)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        pts = rng.uniform([x0, y0], [x1, y1], size=(max(2 * n, 1000), 2))
        pts = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def _relaxed_sites(outline: Polygon, rng: np.random.Generator, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Exactly N_MICROGRIDS sites inside ``outline`` plus a ring of band sites, Lloyd-relaxed
    with each class kept on its side of the outline (so the Voronoi cells trace the shape)."""
    cell = outline.area / N_MICROGRIDS
    h = math.sqrt(cell * 2 / math.sqrt(3))
    band = outline.buffer(3 * h).difference(outline)
    inside = _sample_in(outline, N_MICROGRIDS, rng)
    outside = _sample_in(band, round(band.area / cell), rng)
    x0, y0, x1, y1 = outline.buffer(20 * h).bounds
    frame = shapely.box(x0, y0, x1, y1)
    shapely.prepare(outline)
    shapely.prepare(band)
    for _ in range(iterations):
        pts = np.vstack([inside, outside])
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True))
        new = []
        for region, part in ((outline, cells[: len(inside)]), (band, cells[len(inside) :])):
            clipped = shapely.intersection(part, region)
            cent = shapely.get_coordinates(shapely.centroid(clipped))
            bad = ~shapely.contains_xy(region, cent[:, 0], cent[:, 1])
            if bad.any():
                cent[bad] = shapely.get_coordinates(shapely.point_on_surface(clipped[bad]))
            new.append(cent)
        inside, outside = new
    return inside, outside


# --------------------------------------------------------------------------------------------
# the micro-grid graph


@dataclass
class _Graph:
    """Voronoi cells of the inside sites: rings of vertex ids, unique edges, adjacency."""

    sites: np.ndarray  # (n, 2) uniform-plane sites of the cells
    vertices: np.ndarray  # (V, 2) uniform-plane positions (triangle circumcentres, then edge points)
    rings: list[list[int]]  # per cell, ring vertex ids (CCW, not closed)
    edge_cells: np.ndarray  # (E, 2) site ids either side of each edge (second may be a band site)
    cell_edges: list[list[int]]
    adjacency: list[list[int]]  # cell → neighbouring cells (inside only)
    corner_count: int  # vertex ids below this are Voronoi corners, the rest are edge points


def _circumcentres(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    bx, by = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    cx, cy = c[:, 0] - a[:, 0], c[:, 1] - a[:, 1]
    d = 2 * (bx * cy - by * cx)
    b2, c2 = bx * bx + by * by, cx * cx + cy * cy
    ux = (cy * b2 - by * c2) / d
    uy = (bx * c2 - cx * b2) / d
    return np.column_stack([a[:, 0] + ux, a[:, 1] + uy])


def _graph(inside: np.ndarray, outside: np.ndarray, rng: np.random.Generator, spacing: float) -> _Graph:
    """Voronoi of all sites via Delaunay; keep the cells of the inside sites; densify and wiggle
    every edge once (in the uniform plane) so both neighbours share the very same points."""
    n = len(inside)
    pts = np.vstack([inside, outside])
    index = {xy: i for i, xy in enumerate(map(tuple, pts.tolist()))}
    tri_xy = shapely.get_coordinates(shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(pts))))
    tri = np.array([index[xy] for xy in map(tuple, tri_xy.tolist())], dtype=np.int64).reshape(-1, 4)[:, :3]
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    cw = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]) < 0
    tri[cw] = tri[cw][:, [0, 2, 1]]
    centres = _circumcentres(pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]])

    # around each inside site: next[j] = (k, t) for CCW triangle t = (i, j, k)
    nxt: list[dict[int, tuple[int, int]]] = [{} for _ in range(n)]
    for t, (p, q, r) in enumerate(tri.tolist()):
        if p < n:
            nxt[p][q] = (r, t)
        if q < n:
            nxt[q][r] = (p, t)
        if r < n:
            nxt[r][p] = (q, t)

    edge_id: dict[tuple[int, int], int] = {}
    edge_tris: list[tuple[int, int]] = []
    edge_cells: list[tuple[int, int]] = []
    cell_tris: list[list[int]] = []
    cell_edges: list[list[int]] = []
    for i in range(n):
        fan = nxt[i]
        j0 = min(fan)
        j, tris, edges = j0, [], []
        while True:
            k, t = fan[j]
            tris.append(t)
            key = (min(i, k), max(i, k))
            if key not in edge_id:
                edge_id[key] = len(edge_tris)
                t2 = fan[k][1]
                edge_tris.append((t, t2))
                edge_cells.append((i, k))
            edges.append(edge_id[key])
            j = k
            if j == j0:
                break
        cell_tris.append(tris)
        cell_edges.append(edges)

    # densify + wiggle each edge once
    et = np.asarray(edge_tris)
    p0, p1 = centres[et[:, 0]], centres[et[:, 1]]
    vec = p1 - p0
    length = np.hypot(vec[:, 0], vec[:, 1])
    segs = np.maximum(2, np.ceil(length / spacing)).astype(np.int64)
    segs[length < 1e-9] = 1
    modes = np.arange(1, 5)
    coef = rng.uniform(-1, 1, size=(len(et), len(modes))) * (0.075 / modes**2)
    counts = segs - 1
    owner = np.repeat(np.arange(len(et)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    local = np.arange(counts.sum()) - np.repeat(starts, counts) + 1
    t = local / segs[owner]
    normal = np.column_stack([-vec[:, 1], vec[:, 0]])  # length-scaled normal
    offset = (np.sin(np.pi * t[:, None] * modes[None, :]) * coef[owner]).sum(axis=1)
    mid = p0[owner] + vec[owner] * t[:, None] + normal[owner] * offset[:, None]
    base = len(centres)
    edge_first = base + starts
    vertices = np.vstack([centres, mid])

    rings: list[list[int]] = []
    for tris, edges in zip(cell_tris, cell_edges, strict=True):
        ring: list[int] = []
        m = len(tris)
        for s in range(m):
            ta, e = tris[s], edges[s]
            ring.append(ta)
            inner = list(range(edge_first[e], edge_first[e] + counts[e]))
            if edge_tris[e][0] != ta:
                inner.reverse()
            ring.extend(inner)
        rings.append(ring)

    adjacency: list[list[int]] = [[] for _ in range(n)]
    for i, k in edge_cells:
        if k < n:
            adjacency[i].append(k)
            adjacency[k].append(i)
    return _Graph(inside, vertices, rings, np.asarray(edge_cells), cell_edges, adjacency, base)


# --------------------------------------------------------------------------------------------
# partitioning


def _dijkstra(
    adjacency: Sequence[Sequence[int]],
    pos: np.ndarray,
    sources: Sequence[int],
    factor: Sequence[float] | None = None,
    node_cost: np.ndarray | None = None,
) -> np.ndarray:
    """Label every node with the source whose weighted geodesic reaches it first; each label's
    nodes form a tree of shortest-path parents, hence are connected."""
    n = len(adjacency)
    label = np.full(n, -1, dtype=np.int64)
    heap: list[tuple[float, int, int]] = [(0.0, s, lab) for lab, s in enumerate(sources)]
    heapq.heapify(heap)
    while heap:
        d, u, lab = heapq.heappop(heap)
        if label[u] >= 0:
            continue
        label[u] = lab
        f = factor[lab] if factor is not None else 1.0
        for v in adjacency[u]:
            if label[v] < 0:
                w = math.dist(pos[u], pos[v])
                if node_cost is not None:
                    w *= (node_cost[u] + node_cost[v]) / 2
                heapq.heappush(heap, (d + w * f, v, lab))
    return label


def _kmeans_sources(pos: np.ndarray, k: int, rng: np.random.Generator, weight: np.ndarray | None = None) -> list[int]:
    """k distinct nodes near weighted k-means centres (k-means++ start, a few Lloyd steps)."""
    n = len(pos)
    if k >= n:
        return list(range(n))
    w = np.ones(n) if weight is None else weight.astype(float)
    centres = [pos[rng.choice(n, p=w / w.sum())]]
    d2 = ((pos - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = w * d2
        centres.append(pos[rng.choice(n, p=p / p.sum())] if p.sum() > 0 else pos[rng.integers(n)])
        d2 = np.minimum(d2, ((pos - centres[-1]) ** 2).sum(axis=1))
    cen = np.array(centres)
    for _ in range(25):
        lab = ((pos[:, None, :] - cen[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        for j in range(k):
            m = lab == j
            if m.any():
                cen[j] = (pos[m] * w[m, None]).sum(axis=0) / w[m].sum()
    used: set[int] = set()
    out: list[int] = []
    for j in range(k):
        for idx in np.argsort(((pos - cen[j]) ** 2).sum(axis=1)).tolist():
            if idx not in used:
                used.add(idx)
                out.append(idx)
                break
    return out


def _connected_after_removal(members: set[int], drop: int, adjacency: Sequence[Sequence[int]]) -> bool:
    rest = members - {drop}
    if not rest:
        return False
    start = next(iter(rest))
    seen, stack = {start}, [start]
    while stack:
        u = stack.pop()
        for v in adjacency[u]:
            if v in rest and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(rest)


def _balance(label: np.ndarray, adjacency: Sequence[Sequence[int]], weight: np.ndarray, lo: float, hi: float) -> None:
    """Move boundary nodes from heavy to light neighbouring regions while keeping regions connected."""
    k = int(label.max()) + 1
    members = [set(np.flatnonzero(label == j).tolist()) for j in range(k)]
    size = np.array([weight[list(m)].sum() for m in members])
    for _ in range(6):
        moved = False
        for j in np.argsort(-size).tolist():
            if size[j] <= hi:
                continue
            for u in sorted(members[j]):
                if size[j] <= hi:
                    break
                targets = sorted({int(label[v]) for v in adjacency[u]} - {j}, key=lambda x: size[x])
                if not targets or size[targets[0]] + weight[u] > size[j] - weight[u]:
                    continue
                if _connected_after_removal(members[j], u, adjacency):
                    tgt = targets[0]
                    members[j].discard(u)
                    members[tgt].add(u)
                    label[u] = tgt
                    size[j] -= weight[u]
                    size[tgt] += weight[u]
                    moved = True
        for j in np.argsort(size).tolist():
            while size[j] < lo:
                cands = sorted(
                    {v for u in members[j] for v in adjacency[u] if label[v] != j},
                    key=lambda v: -size[label[v]],
                )
                done = False
                for v in cands:
                    src = int(label[v])
                    if size[src] - weight[v] >= size[j] + weight[v] and _connected_after_removal(members[src], v, adjacency):
                        members[src].discard(v)
                        members[j].add(v)
                        label[v] = j
                        size[src] -= weight[v]
                        size[j] += weight[v]
                        moved = done = True
                        break
                if not done:
                    break
        if not moved:
            break


def _apportion(weights: Sequence[float], total: int, lo: Sequence[int], hi: Sequence[int] | None = None) -> list[int]:
    """Split ``total`` seats by weight (D'Hondt), each between lo and hi."""
    alloc = list(lo)
    caps = list(hi) if hi is not None else [total] * len(weights)
    if sum(alloc) > total or sum(caps) < total:
        raise ValueError("cannot apportion within bounds")
    while sum(alloc) < total:
        best = max(
            (i for i in range(len(weights)) if alloc[i] < caps[i]),
            key=lambda i: (weights[i] / (alloc[i] + 1), -i),
        )
        alloc[best] += 1
    return alloc


def _sub_adjacency(nodes: Sequence[int], adjacency: Sequence[Sequence[int]]) -> list[list[int]]:
    pos = {u: i for i, u in enumerate(nodes)}
    return [[pos[v] for v in adjacency[u] if v in pos] for u in nodes]


# --------------------------------------------------------------------------------------------
# names

_VILLAGE_FIRST = [
    ("东", "dong"), ("西", "xi"), ("南", "nan"), ("北", "bei"), ("新", "xin"), ("长", "chang"),
    ("永", "yong"), ("兴", "xing"), ("丰", "feng"), ("大", "da"), ("小", "xiao"), ("上", "shang"),
    ("下", "xia"), ("前", "qian"), ("后", "hou"), ("高", "gao"), ("金", "jin"), ("马", "ma"),
    ("龙", "long"), ("凤", "feng"), ("荷", "he"), ("莲", "lian"), ("柳", "liu"), ("竹", "zhu"),
    ("梅", "mei"), ("桑", "sang"), ("花", "hua"), ("石", "shi"), ("双", "shuang"), ("三", "san"),
    ("万", "wan"), ("福", "fu"), ("红", "hong"), ("青", "qing"), ("沈", "shen"), ("陈", "chen"),
    ("杨", "yang"), ("王", "wang"), ("朱", "zhu"), ("吴", "wu"), ("徐", "xu"), ("施", "shi"),
    ("潘", "pan"), ("钱", "qian"), ("姚", "yao"), ("荻", "di"), ("章", "zhang"), ("横", "heng"),
    ("白", "bai"), ("雁", "yan"), ("鹤", "he"), ("蚕", "can"), ("湖", "hu"), ("泉", "quan"),
    ("义", "yi"), ("庙", "miao"), ("洪", "hong"), ("塘", "tang"), ("港", "gang"), ("荣", "rong"),
]
_VILLAGE_SECOND = [
    ("桥", "qiao"), ("港", "gang"), ("塘", "tang"), ("湾", "wan"), ("溪", "xi"), ("荡", "dang"),
    ("漾", "yang"), ("浜", "bang"), ("兜", "dou"), ("圩", "wei"), ("庄", "zhuang"), ("墩", "dun"),
    ("埭", "dai"), ("坝", "ba"), ("泾", "jing"), ("浦", "pu"), ("河", "he"), ("田", "tian"),
    ("林", "lin"), ("园", "yuan"), ("家", "jia"), ("兴", "xing"), ("丰", "feng"), ("安", "an"),
    ("平", "ping"), ("华", "hua"), ("阳", "yang"), ("头", "tou"), ("里", "li"), ("湖", "hu"),
    ("埠", "bu"), ("漾", "yang"), ("滨", "bin"), ("圩", "wei"), ("村", "cun"), ("斗", "dou"),
]
_COMMUNITY_FIRST = [
    ("人", "ren"), ("向", "xiang"), ("新", "xin"), ("东", "dong"), ("西", "xi"), ("南", "nan"),
    ("北", "bei"), ("和", "he"), ("兴", "xing"), ("文", "wen"), ("明", "ming"), ("振", "zhen"),
    ("丰", "feng"), ("城", "cheng"), ("嘉", "jia"), ("锦", "jin"), ("浔", "xun"), ("绿", "lv"),
    ("康", "kang"), ("宁", "ning"), ("丝", "si"), ("书", "shu"), ("古", "gu"), ("荣", "rong"),
]
_COMMUNITY_SECOND = [
    ("阳", "yang"), ("华", "hua"), ("苑", "yuan"), ("园", "yuan"), ("兴", "xing"), ("安", "an"),
    ("和", "he"), ("城", "cheng"), ("街", "jie"), ("新", "xin"), ("庭", "ting"), ("河", "he"),
    ("桥", "qiao"), ("市", "shi"), ("湾", "wan"), ("瑞", "rui"), ("欣", "xin"), ("馨", "xin"),
]


def _pinyin(a: str, b: str) -> str:
    joiner = "'" if b[0] in "aoe" else ""
    return (a + joiner + b).capitalize()


class _Namer:
    """Unique two-character place names drawn deterministically from syllable lists."""

    def __init__(self, rng: np.random.Generator, reserved: Sequence[str]) -> None:
        self.rng = rng
        self.used = set(reserved)

    def take(self, community: bool) -> tuple[str, str]:
        first, second = (_COMMUNITY_FIRST, _COMMUNITY_SECOND) if community else (_VILLAGE_FIRST, _VILLAGE_SECOND)
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
    idx = np.concatenate([np.append(r, r[0]) for r in rings])
    ring_no = np.repeat(np.arange(len(rings)), [len(r) + 1 for r in rings])
    return shapely.polygons(shapely.linearrings(vertices[idx], indices=ring_no))


def _bearing(points: np.ndarray, centre: Sequence[float]) -> np.ndarray:
    """Clockwise angle from north of each point around ``centre``."""
    return np.mod(np.arctan2(points[:, 0] - centre[0], points[:, 1] - centre[1]), 2 * math.pi)


def _union(geoms: Sequence[shapely.Geometry]) -> Polygon | MultiPolygon:
    out = shapely.coverage_union_all(np.asarray(geoms, dtype=object))
    if out.geom_type not in ("Polygon", "MultiPolygon"):  # pragma: no cover
        raise RuntimeError(f"union gave {out.geom_type}")
    return out


def build_district(seed: int = 330503) -> SynthDistrict:
    """Build the whole synthetic district, deterministically from ``seed``."""
    seats = _seats_km()
    outline_u = _outline(_sub_rng(seed, 1), seats)
    inside, outside = _relaxed_sites(outline_u, _sub_rng(seed, 2))
    h = math.sqrt(outline_u.area / N_MICROGRIDS * 2 / math.sqrt(3))  # site spacing
    graph = _graph(inside, outside, _sub_rng(seed, 3), spacing=h / VERTEX_DENSITY)

    # one position map for every vertex: noise → urban packing → scale to target area → lon/lat
    specs = [_TOWN_SPECS[t[0]] for t in TOWNS]
    noise = _Noise(_sub_rng(seed, 4), [(5.0, 0.075), (2.0, 0.03), (0.8, 0.012), (0.35, 0.005)])
    strengths = np.array([s.warp for s in specs])
    sigmas = np.array([s.sigma_km for s in specs])

    def to_real(xy: np.ndarray) -> np.ndarray:
        return _warp(xy + noise(xy), seats, strengths, sigmas)

    real = to_real(graph.vertices)
    cells_km = _polygon_array(real, graph.rings)
    # edges whose wiggle folds a cell (rare, tight corners) are straightened, on both sides at once
    for _ in range(3):
        bad = np.flatnonzero(~shapely.is_valid(cells_km))
        if not len(bad):
            break
        for c in bad.tolist():
            _straighten(graph, c)
        real = to_real(graph.vertices)
        cells_km = _polygon_array(real, graph.rings)
    area = float(shapely.area(shapely.coverage_union_all(cells_km)))
    k = math.sqrt(TARGET_AREA_KM2 / area)
    real *= k
    lonlat = _km_to_lonlat(real)
    micro = _polygon_array(lonlat, graph.rings)
    cent_real = shapely.get_coordinates(shapely.centroid(_polygon_array(real, graph.rings)))

    # towns: noisy weighted multi-source Dijkstra from the seats, speeds tuned towards target areas
    seat_real = seats * k
    cell_area = shapely.area(_polygon_array(real, graph.rings))
    sources = [int(np.argmin(((cent_real - s) ** 2).sum(axis=1))) for s in seat_real]
    town_noise = _Noise(_sub_rng(seed, 5), [(9.0, 1.0), (4.0, 0.6), (1.8, 0.3)], waves=2)
    cost = np.exp(0.45 * town_noise(cent_real)[:, 0])
    targets = np.array([s.area_km2 for s in specs], dtype=float)
    targets *= TARGET_AREA_KM2 / targets.sum()
    factor = np.ones(len(TOWNS))
    for _ in range(10):
        town_of = _dijkstra(graph.adjacency, cent_real, sources, factor.tolist(), cost)
        got = np.bincount(town_of, weights=cell_area, minlength=len(TOWNS))
        factor *= (got / targets) ** 0.5
    town_of = _dijkstra(graph.adjacency, cent_real, sources, factor.tolist(), cost)

    town_cells = [np.flatnonzero(town_of == t).tolist() for t in range(len(TOWNS))]
    sizes = [len(c) for c in town_cells]
    grids_per_town = _apportion(sizes, N_GRIDS, [1] * len(TOWNS))
    villages_per_town = _apportion(sizes, N_VILLAGES, [max(1, s.communities + 1) for s in specs], grids_per_town)

    rng = _sub_rng(seed, 6)
    namer = _Namer(_sub_rng(seed, 7), reserved=["浔北"])
    areas: dict[str, list[SynthArea]] = {lvl: [] for lvl in LEVELS}
    for t, (tcode, tzh, ten, tlocal) in enumerate(TOWNS):
        cells = town_cells[t]
        sub = _sub_adjacency(cells, graph.adjacency)
        upos = graph.sites[cells]
        # grids: k-means seeded Dijkstra regions of micro-grids, then size-balanced
        grid_of = _dijkstra(sub, upos, _kmeans_sources(upos, grids_per_town[t], rng))
        _balance(grid_of, sub, np.ones(len(cells)), lo=5, hi=15)
        ng = grids_per_town[t]
        grid_members = [[cells[i] for i in np.flatnonzero(grid_of == g).tolist()] for g in range(ng)]
        grid_adj: list[set[int]] = [set() for _ in range(ng)]
        for i, nb in enumerate(sub):
            for j in nb:
                if grid_of[i] != grid_of[j]:
                    grid_adj[grid_of[i]].add(int(grid_of[j]))
        grid_pos = np.array([graph.sites[m].mean(axis=0) for m in grid_members])
        grid_w = np.array([len(m) for m in grid_members], dtype=float)
        nv = villages_per_town[t]
        gadj = [sorted(a) for a in grid_adj]
        village_of = _dijkstra(gadj, grid_pos, _kmeans_sources(grid_pos, nv, rng, grid_w))
        _balance(village_of, gadj, np.ones(ng), lo=1, hi=6)

        # geometry and order
        grid_geom = [_union(micro[m]) for m in grid_members]
        village_grids = [np.flatnonzero(village_of == v).tolist() for v in range(nv)]
        village_geom = [_union([grid_geom[g] for g in vg]) for vg in village_grids]
        seat = _km_to_lonlat(seat_real[t : t + 1])[0]
        vcent = shapely.get_coordinates(shapely.point_on_surface(np.asarray(village_geom, dtype=object)))
        dist = np.hypot((vcent[:, 0] - seat[0]) * KM_PER_DEG_LON, (vcent[:, 1] - seat[1]) * KM_PER_DEG)
        n_comm = min(specs[t].communities, nv - 1)
        is_comm = np.zeros(nv, dtype=bool)
        is_comm[np.argsort(dist, kind="stable")[:n_comm]] = True
        bearing = _bearing(vcent, seat)
        town_geom = _union(village_geom)
        areas["town"].append(SynthArea(tcode, "town", DISTRICT_CODE, tzh, ten, town_geom, tlocal))
        numbered: list[tuple[str, int]] = []
        for group, first in ((np.flatnonzero(is_comm), 1), (np.flatnonzero(~is_comm), 201)):
            order = group[np.argsort(bearing[group], kind="stable")].tolist()
            numbered.extend((f"{tcode}{first + r:03d}", v) for r, v in enumerate(order))
        for vcode, v in numbered:
            comm = bool(is_comm[v])
            if tcode == "330503500" and vcode.endswith("201"):
                zh, en = "浔北", "Xunbei"
            else:
                zh, en = namer.take(comm)
            vzh, ven = (f"{zh}社区", f"{en} Community") if comm else (f"{zh}村", f"{en} Village")
            areas["village"].append(SynthArea(vcode, "village", tcode, vzh, ven, village_geom[v], tlocal))
            gl = village_grids[v]
            gcent = shapely.get_coordinates(shapely.point_on_surface(np.asarray([grid_geom[g] for g in gl], dtype=object)))
            vc = vcent[v]
            for gi, g in enumerate(np.asarray(gl)[np.argsort(_bearing(gcent, vc), kind="stable")].tolist(), start=1):
                gcode, gzh, gen = f"{vcode}{gi:03d}", f"{vzh}第{gi}网格", f"{ven} Grid {gi}"
                areas["grid"].append(SynthArea(gcode, "grid", vcode, gzh, gen, grid_geom[g], tlocal))
                mem = np.asarray(grid_members[g])
                mc = shapely.get_coordinates(shapely.point_on_surface(micro[mem]))
                gc = shapely.get_coordinates(shapely.point_on_surface(grid_geom[g]))[0]
                for mi, m in enumerate(mem[np.argsort(_bearing(mc, gc), kind="stable")].tolist(), start=1):
                    areas["microgrid"].append(
                        SynthArea(
                            f"{gcode}{mi:03d}", "microgrid", gcode, f"{gzh}第{mi}微网格",
                            f"{gen} Micro-grid {mi}", micro[m], tlocal,
                        )
                    )
    outline = _union([a.geometry for a in areas["town"]])
    if not isinstance(outline, Polygon):  # pragma: no cover - the sites fill one connected shape
        outline = max(outline.geoms, key=lambda g: g.area)
    district = SynthArea(DISTRICT_CODE, "district", None, DISTRICT_NAME_ZH, DISTRICT_NAME_EN, outline)
    ordered = [district]
    for lvl in LEVELS[1:]:
        ordered.extend(sorted(areas[lvl], key=lambda a: a.code))
    return SynthDistrict(areas=ordered, outline=outline)


def _straighten(graph: _Graph, cell: int) -> None:
    """Put the edge points of one cell back on straight lines between its corners."""
    ring = graph.rings[cell]
    corners = [i for i, v in enumerate(ring) if v < graph.corner_count]
    for a, b in zip(corners, [*corners[1:], len(ring)], strict=True):
        p0, p1 = graph.vertices[ring[a]], graph.vertices[ring[b % len(ring)]]
        for s in range(a + 1, b):
            graph.vertices[ring[s]] = p0 + (p1 - p0) * ((s - a) / (b - a))


def to_geojson(district: SynthDistrict, levels: Sequence[str] | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the areas (parents first), as ``geo.importer`` reads it."""
    features = []
    for a in district.areas:
        if levels is not None and a.level not in levels:
            continue
        props: dict[str, Any] = {
            "code": a.code, "name": a.name_zh, "name_en": a.name_en, "level": a.level, "parent_code": a.parent_code,
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
        return [list(chunk) for chunk in np.array_split(np.asarray(codes), n)]
    per_town = _apportion([len(vs) for vs in by_town], n, [1] * len(by_town), [len(vs) for vs in by_town])
    groups: list[list[str]] = []
    for vs, k in zip(by_town, per_town, strict=True):
        groups.extend([str(c) for c in chunk] for chunk in np.array_split(np.asarray([v.code for v in vs]), k))
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
        pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray([v.geometry for v in vs], dtype=object)))
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

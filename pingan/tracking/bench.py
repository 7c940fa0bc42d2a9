"""The tracking benchmark's measuring code, without Django: the synthetic province, the noise model, and the
zone-lookup, PostGIS, naive and engine measurements. ``pingan.tracking.benchmarks`` adds the end-to-end runs
(servers, clients, workers) and registers ``pingan bench tracking``.

The load (all of it seeded, so every run builds the same province):

* a box the size of Zhejiang (118–123°E, 27–31.2°N; ``small`` is a box of 1/20 of its area around its
  centre, with 1/20 of everything, so the densities stay the same), with towns of lognormal weights;
* targets: people and vehicles, homes clustered near the towns; every person in the people's group and in
  one of 12 categories, every vehicle in the vehicles' group; a person whose home lies in a county outline is in that county's group;
* zones: 60 % small (circles and polygons of 50–500 m radius, under 20 vertices) near towns: 80 % exclusion
  zones (a quarter for every person, the rest for a category; some with a warning ring, some core areas), 20 %
  school zones (30 km/h for vehicles); 30 % medium (polygons of 1–5 km across with 20–100 vertices:
  exclusion zones for a category, speed zones, and permitted areas for up to 5 people living in them); 10 % large:
  county outlines (12–30 km across, up to 2,000 vertices, inclusion zones for the people of the county) and corridors
  (roads of 5–60 km with a 60–120 km/h speed limit, for vehicles);
* fixes: each target moves (people 0.5–1.5 m/s walking or 3–7 m/s riding, vehicles 5–20 m/s, turning a
  little at each step) and reports every 30–120 s; the reported position has a Gaussian error of σ = 10 m,
  2 % of the fixes jump 50–300 m (multipath, with a normal GNSS accuracy), 5 % are cell fixes with an
  accuracy of 500–2,000 m and an error of that order.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from pingan.core.benchmarks import PG_ADMIN_URL, redact

SEED = 20261201
M_PER_DEG = 111_320.0
PROVINCE_BOX = (118.0, 27.0, 123.0, 31.2)
PERSON_GROUPS = 12          # categories of people; group ids 1..12
VEHICLE_GROUP = 13          # every vehicle
PEOPLE_GROUP = 14           # every person (zones "for everyone" are for people: vehicles have their own)
COUNTY_GROUP_BASE = 100     # group id of county outline k is COUNTY_GROUP_BASE + k

TARGETS = {
    "engine_fixes_per_s": 200_000.0,
    "zone_lookup_vs_postgis": 5.0,
    "postgresql_fixes_per_s": 30_000.0,
    "alert_p99_ms": 1000.0,
    "worker_peak_rss_mb": 1024.0,
}

KEYS = (
    "zone_lookup_fixes_per_s", "postgis_join_fixes_per_s", "zone_sets_identical", "postgis_per_fix_fixes_per_s",
    "naive_fixes_per_s", "engine_fixes_per_s", "sqlite_fixes_per_s", "postgresql_fixes_per_s", "nats_fixes_per_s",
    "alert_p50_ms", "alert_p99_ms", "worker_peak_rss_mb",
)


@dataclass(frozen=True)
class Scale:
    name: str
    people: int
    vehicles: int
    zones: int
    towns: int
    fixes: int              # fixes of the zone-lookup and engine runs
    box: tuple[float, float, float, float]

    @property
    def targets(self) -> int:
        return self.people + self.vehicles


def _sub_box(box: tuple[float, float, float, float], area_share: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    k = math.sqrt(area_share) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - (x1 - x0) * k, cy - (y1 - y0) * k, cx + (x1 - x0) * k, cy + (y1 - y0) * k)


PROVINCE = Scale("province", people=50_000, vehicles=100_000, zones=10_000, towns=1_200, fixes=1_000_000,
                 box=PROVINCE_BOX)
SMALL = Scale("small", people=2_500, vehicles=5_000, zones=500, towns=60, fixes=50_000,
              box=_sub_box(PROVINCE_BOX, 1 / 20))
SCALES = {"province": PROVINCE, "small": SMALL}


def tiny(fixes: int = 2_000, zones: int = 60) -> Scale:
    """A very small province for tests (same box as ``small``)."""
    return Scale("tiny", people=100, vehicles=200, zones=zones, towns=6, fixes=fixes, box=_sub_box(PROVINCE_BOX, 1 / 400))


# --- the synthetic province -------------------------------------------------------------------------


@dataclass
class Province:
    scale: Scale
    towns: np.ndarray                  # (n, 2) lon, lat
    zones: list[dict[str, Any]]        # ZoneSpec keyword arguments (plain data; see zone_specs)
    zone_sizes: list[str]              # small | medium | large, beside zones
    target_ids: np.ndarray             # int64, people first
    target_kind: list[str]
    target_groups: list[frozenset[int]]
    homes: np.ndarray                  # (n, 2) lon, lat
    interval_s: np.ndarray             # expected fix interval per target (lost contact)
    county_outlines: list[int] = field(default_factory=list)   # indexes into zones

    def vertex_counts(self, geometries: Sequence[shapely.Geometry]) -> dict[str, int]:
        counts = shapely.get_num_coordinates(np.asarray(geometries, dtype=object))
        return {"max": int(counts.max()), "median": int(np.median(counts)), "total": int(counts.sum())}


def _metres_to_deg(lat: np.ndarray | float) -> tuple[np.ndarray | float, float]:
    """Degrees of longitude and of latitude per metre at ``lat``."""
    return 1.0 / (M_PER_DEG * np.cos(np.radians(lat))), 1.0 / M_PER_DEG


def _star_polygon(rng: np.random.Generator, lon: float, lat: float, radius_m: float, vertices: int,
                  roughness: float) -> list[list[list[float]]]:
    """A simple (star-shaped) polygon: increasing angles, radii that wander around ``radius_m``."""
    # one angle in each of ``vertices`` equal sectors: every gap is under half a turn, so the polygon is simple
    angles = (np.arange(vertices) + rng.uniform(0.1, 0.9, vertices)) * (2 * math.pi / vertices)
    if roughness <= 0.25:
        radii = radius_m * rng.uniform(1 - roughness * 2, 1.0, angles.size)
    else:  # an outline: a few smooth waves and some jitter, never below 35 % of the radius
        waves = np.zeros(angles.size)
        for k in range(1, 9):
            waves += rng.uniform(0, roughness / k) * np.sin(k * angles + rng.uniform(0, 2 * math.pi))
        waves += rng.normal(0, 0.015, angles.size)
        radii = radius_m * np.clip(1 + waves, 0.35, None)
    dlon, dlat = _metres_to_deg(lat)
    xs = lon + radii * np.cos(angles) * dlon
    ys = lat + radii * np.sin(angles) * dlat
    ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(xs, ys, strict=True)]
    ring.append(ring[0])
    return [ring]


def _corridor_line(rng: np.random.Generator, lon: float, lat: float, length_m: float, points: int) -> list[list[float]]:
    heading = rng.uniform(0, 2 * math.pi)
    step = length_m / (points - 1)
    dlon, dlat = (float(v) for v in _metres_to_deg(lat))
    x, y, line = lon, lat, []
    for _ in range(points):
        line.append([round(float(x), 7), round(float(y), 7)])
        heading += float(rng.normal(0, 0.12))
        x += step * math.cos(heading) * dlon
        y += step * math.sin(heading) * dlat
    return line


def _near(rng: np.random.Generator, centres: np.ndarray, weights: np.ndarray, n: int, sigma_m: float,
          box: tuple[float, float, float, float]) -> np.ndarray:
    """``n`` points around centres drawn by weight, with a Gaussian spread, kept inside the box."""
    pick = rng.choice(centres.shape[0], size=n, p=weights)
    base = centres[pick]
    dlon, dlat = _metres_to_deg(base[:, 1])
    out = np.column_stack([base[:, 0] + rng.normal(0, sigma_m, n) * dlon, base[:, 1] + rng.normal(0, sigma_m, n) * dlat])
    out[:, 0] = np.clip(out[:, 0], box[0], box[2])
    out[:, 1] = np.clip(out[:, 1], box[1], box[3])
    return out


def build_province(scale: Scale, seed: int = SEED) -> Province:
    """The zones and targets of a scale (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = scale.box
    towns = np.column_stack([rng.uniform(x0, x1, scale.towns), rng.uniform(y0, y1, scale.towns)])
    weights = rng.lognormal(0, 1.0, scale.towns)
    weights /= weights.sum()

    zones: list[dict[str, Any]] = []
    sizes: list[str] = []
    n_small = round(scale.zones * 0.6)
    n_medium = round(scale.zones * 0.3)
    n_large = scale.zones - n_small - n_medium
    n_outline = n_large // 2
    n_corridor = n_large - n_outline

    def add(size: str, **spec: Any) -> None:
        spec.setdefault("targets", None)
        spec.setdefault("groups", frozenset())
        zones.append({"id": len(zones) + 1, **spec})
        sizes.append(size)

    def audience(all_share: float) -> dict[str, Any]:
        if rng.random() < all_share:
            return {"groups": frozenset({PEOPLE_GROUP})}
        return {"groups": frozenset({int(rng.integers(1, PERSON_GROUPS + 1))})}

    homes = np.vstack([_near(rng, towns, weights, scale.people, 1_500.0, scale.box),
                       _near(rng, towns, weights, scale.vehicles, 3_000.0, scale.box)])
    people = homes[: scale.people]

    for lon, lat in _near(rng, towns, weights, n_small, 2_000.0, scale.box):
        radius = float(rng.uniform(50, 500))
        kind = "exclusion" if rng.random() < 0.8 else "speed"
        extra: dict[str, Any] = {}
        if kind == "exclusion":
            extra = audience(0.25)
            extra["fast"] = bool(rng.random() < 0.1)
            extra["ring_m"] = float(rng.uniform(100, 300)) if rng.random() < 0.3 else 0.0
        else:  # a school zone: 40 km/h for vehicles
            extra = {"speed_limit_kmh": 40.0, "groups": frozenset({VEHICLE_GROUP})}
        if rng.random() < 0.5:
            add("small", kind=kind, shape="circle", coords=[round(float(lon), 7), round(float(lat), 7)],
                radius_m=round(radius, 1), **extra)
        else:
            add("small", kind=kind, shape="polygon",
                coords=_star_polygon(rng, float(lon), float(lat), radius, int(rng.integers(4, 20)), 0.2), **extra)

    for lon, lat in _near(rng, towns, weights, n_medium, 5_000.0, scale.box):
        radius = float(rng.uniform(500, 2_500))
        coords = _star_polygon(rng, float(lon), float(lat), radius, int(rng.integers(20, 101)), 0.2)
        roll = rng.random()
        if roll < 0.4:
            add("medium", kind="exclusion", shape="polygon", coords=coords, **audience(0.0))
        elif roll < 0.7:
            add("medium", kind="speed", shape="polygon", coords=coords, speed_limit_kmh=float(rng.choice([30, 40, 60])),
                groups=frozenset({VEHICLE_GROUP}))
        else:  # a permitted area for the few people who live in it (a town they must not leave)
            ring = np.asarray(coords[0])
            near = np.flatnonzero((people[:, 0] >= ring[:, 0].min()) & (people[:, 0] <= ring[:, 0].max())
                                  & (people[:, 1] >= ring[:, 1].min()) & (people[:, 1] <= ring[:, 1].max()))
            inside = near[shapely.contains_xy(shapely.Polygon(ring), people[near, 0], people[near, 1])][:5]
            if inside.size:
                add("medium", kind="inclusion", shape="polygon", coords=coords,
                    targets=frozenset(int(i) + 1 for i in inside.tolist()))
            else:
                add("medium", kind="exclusion", shape="polygon", coords=coords, **audience(0.0))

    outlines: list[int] = []
    for k in range(n_outline):
        lon, lat = float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))
        radius = float(rng.uniform(6_000, 15_000))
        coords = _star_polygon(rng, lon, lat, radius, int(rng.integers(500, 1_990)), 0.6)
        outlines.append(len(zones))
        add("large", kind="inclusion", shape="polygon", coords=coords, groups=frozenset({COUNTY_GROUP_BASE + k}))

    for lon, lat in _near(rng, towns, weights, n_corridor, 10_000.0, scale.box):
        line = _corridor_line(rng, float(lon), float(lat), float(rng.uniform(5_000, 60_000)), int(rng.integers(10, 200)))
        add("large", kind="speed", shape="corridor", coords=line, width_m=float(rng.uniform(60, 300)),
            speed_limit_kmh=float(rng.choice([60, 80, 100, 120])), groups=frozenset({VEHICLE_GROUP}))

    kinds = ["person"] * scale.people + ["vehicle"] * scale.vehicles
    category = rng.integers(1, PERSON_GROUPS + 1, scale.people)
    county = np.full(scale.people, -1)
    for k, index in enumerate(outlines):  # the first county outline that holds the home
        shape = shapely.Polygon(zones[index]["coords"][0])
        free = county < 0
        inside = shapely.contains_xy(shape, homes[: scale.people, 0], homes[: scale.people, 1]) & free
        county[inside] = k
    groups: list[frozenset[int]] = []
    for i in range(scale.people):
        g = {int(category[i]), PEOPLE_GROUP}
        if county[i] >= 0:
            g.add(COUNTY_GROUP_BASE + int(county[i]))
        groups.append(frozenset(g))
    groups += [frozenset({VEHICLE_GROUP})] * scale.vehicles
    interval = np.where(np.arange(scale.targets) < scale.people, 600.0, 300.0)
    return Province(scale=scale, towns=towns, zones=zones, zone_sizes=sizes,
                    target_ids=np.arange(1, scale.targets + 1, dtype=np.int64), target_kind=kinds,
                    target_groups=groups, homes=homes, interval_s=interval, county_outlines=outlines)


# --- the noise model and the fixes --------------------------------------------------------------------


@dataclass
class Fixes:
    """Fixes as columns, in device-time order."""

    ref: np.ndarray          # int64, 1..n
    target: np.ndarray       # int64
    t: np.ndarray            # float64 POSIX seconds
    lon: np.ndarray
    lat: np.ndarray
    accuracy_m: np.ndarray
    cell: np.ndarray         # bool: a cell fix (else GNSS)
    speed_kmh: np.ndarray    # NaN where the device sends none (people)
    multipath: np.ndarray    # bool: this fix jumped (for the record; the engine is not told)

    def __len__(self) -> int:
        return int(self.ref.size)

    def sample(self, n: int, seed: int = 1) -> np.ndarray:
        """Indexes of ``n`` fixes spread over the whole set (deterministic)."""
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(self), size=min(n, len(self)), replace=False))


class Walkers:
    """Every target's true position, heading and speed, moved forward one fix at a time."""

    def __init__(self, target: np.ndarray, vehicle: np.ndarray, homes: np.ndarray,
                 box: tuple[float, float, float, float], rng: np.random.Generator) -> None:
        n = target.size
        self.rng = rng
        self.target = np.asarray(target, dtype=np.int64)
        self.vehicle = np.asarray(vehicle, dtype=bool)
        self.lon = homes[:, 0].astype(float)
        self.lat = homes[:, 1].astype(float)
        self.home_lon = self.lon.copy()
        self.home_lat = self.lat.copy()
        riding = rng.random(n) < 0.3
        self.speed = np.where(self.vehicle, rng.uniform(5, 20, n),
                              np.where(riding, rng.uniform(3, 7, n), rng.uniform(0.5, 1.5, n)))
        self.heading = rng.uniform(0, 2 * math.pi, n)
        self.box = box

    @classmethod
    def of(cls, province: Province, rng: np.random.Generator) -> Walkers:
        vehicle = np.array([k == "vehicle" for k in province.target_kind], dtype=bool)
        return cls(province.target_ids, vehicle, province.homes, province.scale.box, rng)

    def step(self, rows: np.ndarray, dt_s: np.ndarray) -> None:
        """Move the walkers ``rows`` for ``dt_s`` seconds; they drift back towards home when far from it."""
        rng = self.rng
        lat = self.lat[rows]
        dlon, dlat = _metres_to_deg(lat)
        away_x = (self.lon[rows] - self.home_lon[rows]) / dlon
        away_y = (lat - self.home_lat[rows]) / dlat
        far = np.hypot(away_x, away_y) > np.where(self.vehicle[rows], 15_000, 4_000)
        home = np.arctan2(-away_y, -away_x)
        heading = self.heading[rows] + rng.normal(0, 0.5, rows.size)
        heading = np.where(far, home + rng.normal(0, 0.3, rows.size), heading)
        self.heading[rows] = heading
        distance = self.speed[rows] * dt_s
        self.lon[rows] = np.clip(self.lon[rows] + distance * np.cos(heading) * dlon, self.box[0], self.box[2])
        self.lat[rows] = np.clip(lat + distance * np.sin(heading) * dlat, self.box[1], self.box[3])


def observe(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, vehicle: np.ndarray,
            speed_ms: np.ndarray) -> dict[str, np.ndarray]:
    """The noise model on true positions: what the devices report."""
    n = lon.size
    dlon, dlat = _metres_to_deg(lat)
    ex, ey = rng.normal(0, 10.0, n), rng.normal(0, 10.0, n)
    accuracy = rng.uniform(4, 15, n)
    cell = rng.random(n) < 0.05
    multipath = ~cell & (rng.random(n) < 0.02 / 0.95)
    jump = rng.uniform(50, 300, n)
    angle = rng.uniform(0, 2 * math.pi, n)
    ex = np.where(multipath, ex + jump * np.cos(angle), ex)
    ey = np.where(multipath, ey + jump * np.sin(angle), ey)
    cell_accuracy = rng.uniform(500, 2_000, n)
    ex = np.where(cell, rng.normal(0, 1, n) * cell_accuracy / 2, ex)
    ey = np.where(cell, rng.normal(0, 1, n) * cell_accuracy / 2, ey)
    accuracy = np.where(cell, cell_accuracy, accuracy)
    speed = np.where(vehicle & ~cell, np.maximum(0.0, speed_ms * 3.6 + rng.normal(0, 2, n)), np.nan)
    return {"lon": lon + ex * dlon, "lat": lat + ey * dlat, "accuracy_m": accuracy, "cell": cell,
            "multipath": multipath, "speed_kmh": speed}


def build_fixes(province: Province, n: int, *, t0: float, seed: int = SEED + 1) -> Fixes:
    """``n`` fixes over every target (round robin, so each target gets ⌈n / targets⌉ or one fewer), every
    30–120 s of device time per target, sorted by device time."""
    rng = np.random.default_rng(seed)
    walkers = Walkers.of(province, rng)
    count = province.scale.targets
    rounds = -(-n // count)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("target", "t", "lon", "lat", "accuracy_m", "cell", "speed_kmh",
                                                          "multipath")}
    t = t0 + rng.uniform(0, 120, count)
    rows = np.arange(count)
    left = n
    for _ in range(rounds):
        take = rows[: min(left, count)]
        left -= take.size
        dt_s = rng.uniform(30, 120, take.size)
        walkers.step(take, dt_s)
        t[take] += dt_s
        seen = observe(rng, walkers.lon[take], walkers.lat[take], walkers.vehicle[take], walkers.speed[take])
        cols["target"].append(walkers.target[take])
        cols["t"].append(t[take].copy())
        for key in ("lon", "lat", "accuracy_m", "cell", "speed_kmh", "multipath"):
            cols[key].append(seen[key])
    merged = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(merged["t"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    merged["t"] = np.round(merged["t"], 3)
    return Fixes(ref=np.arange(1, n + 1, dtype=np.int64), **merged)


# --- the engine's view ------------------------------------------------------------------------------


def zone_specs(engine_module: Any, province: Province) -> list[Any]:
    return [engine_module.ZoneSpec(**z) for z in province.zones]


def zones_holding(index: Any, zone_ids: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The engine's ZoneIndex: (fix row, zone id) of every zone whose polygon holds a fix (closed, as
    ``ST_Intersects``)."""
    rows, zi = index.containing(lon, lat)
    return rows, zone_ids[zi]


def fix_ins(engine_module: Any, fixes: Fixes, rows: slice | np.ndarray | None = None) -> list[Any]:
    select = slice(None) if rows is None else rows
    speeds = fixes.speed_kmh[select]
    return [engine_module.FixIn(ref=int(r), target=int(tg), t=float(t), lon=float(x), lat=float(y), accuracy_m=float(a),
                                fix_type="cell" if c else "gnss", speed_kmh=None if math.isnan(s) else float(s))
            for r, tg, t, x, y, a, c, s in zip(fixes.ref[select].tolist(), fixes.target[select].tolist(),
                                               fixes.t[select].tolist(), fixes.lon[select].tolist(),
                                               fixes.lat[select].tolist(), fixes.accuracy_m[select].tolist(),
                                               fixes.cell[select].tolist(), speeds.tolist(), strict=True)]


def target_infos(engine_module: Any, province: Province) -> list[Any]:
    return [engine_module.TargetInfo(id=int(tid), kind=kind, monitored=True, groups=groups, interval_s=float(iv))
            for tid, kind, groups, iv in zip(province.target_ids.tolist(), province.target_kind, province.target_groups,
                                             province.interval_s.tolist(), strict=True)]


# --- measuring helpers --------------------------------------------------------------------------------


@contextmanager
def one_cpu() -> Iterator[None]:
    """Pin the process to one CPU where the OS supports it (as the locate bench does)."""
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    before = getter(0) if getter and setter else None
    if before and setter:
        setter(0, {min(before)})
    try:
        yield
    finally:
        if before and setter:
            setter(0, before)


@contextmanager
def gc_paused() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def pair_keys(fix_ids: np.ndarray, zone_ids: np.ndarray) -> np.ndarray:
    """(fix, zone) pairs as sorted unique int64 keys, to compare two answers."""
    keys = np.asarray(fix_ids, dtype=np.int64) * (1 << 24) + np.asarray(zone_ids, dtype=np.int64)
    return np.unique(keys)


def compare_pairs(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    only_a = np.setdiff1d(a, b, assume_unique=True)
    only_b = np.setdiff1d(b, a, assume_unique=True)

    def show(keys: np.ndarray) -> list[list[int]]:
        return [[int(k >> 24), int(k & ((1 << 24) - 1))] for k in keys[:5]]

    return {"identical": bool(only_a.size == 0 and only_b.size == 0), "pairs": int(a.size), "other_pairs": int(b.size),
            "only_first": int(only_a.size), "only_second": int(only_b.size), "examples_first": show(only_a),
            "examples_second": show(only_b)}


def naive_lookup(polygons: Sequence[shapely.Geometry], zone_ids: Sequence[int], lon: np.ndarray, lat: np.ndarray,
                 budget_s: float, minimum: int = 10) -> tuple[float, int, np.ndarray, np.ndarray]:
    """For each fix, for each zone: ``zone.contains(point)``. Runs fixes until ``budget_s`` is spent (at least
    ``minimum``); returns (fixes per second, fixes done, fix rows, zone ids) of the pairs found."""
    pairs_fix: list[int] = []
    pairs_zone: list[int] = []
    zones = list(zip(zone_ids, polygons, strict=True))
    done = 0
    started = time.perf_counter()
    for i in range(lon.size):
        point = shapely.Point(float(lon[i]), float(lat[i]))
        for zid, polygon in zones:
            if polygon.contains(point):
                pairs_fix.append(i)
                pairs_zone.append(zid)
        done += 1
        if done >= minimum and time.perf_counter() - started >= budget_s:
            break
    took = time.perf_counter() - started
    return done / took, done, np.asarray(pairs_fix, dtype=np.int64), np.asarray(pairs_zone, dtype=np.int64)


def timed(func: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median time of ``repeats`` calls (and the last call's answer)."""
    runs: list[float] = []
    answer = None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        answer = func()
        runs.append(time.perf_counter() - started)
    runs.sort()
    return runs[len(runs) // 2], answer


# --- PostGIS ----------------------------------------------------------------------------------------


POSTGIS_MAX_VERTICES = 256


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _apt_install(package: str, say: Callable[[str], None]) -> str:
    """``apt-get install -y package`` (after ``apt-get update`` if the first try fails); '' or the reason."""
    import shutil
    import subprocess

    if shutil.which("apt-get") is None:
        return "apt-get is not available to install " + package
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", package]
    reason = ""
    for attempt in (1, 2):
        if attempt == 2:
            say("apt-get update")
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600, check=False)
        say(f"apt-get install -y {package}")
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"apt-get install {package} failed ({_first_line(exc)})"
            continue
        if done.returncode == 0:
            return ""
        tail = (done.stderr or done.stdout).strip().splitlines()
        reason = f"apt-get install {package} failed: {tail[-1] if tail else done.returncode}"
    return reason


@contextmanager
def postgis_database(say: Callable[[str], None], admin_url: str = PG_ADMIN_URL) -> Iterator[tuple[Any, str]]:
    """A scratch database ``pingan_bench_tracking_<pid>`` with PostGIS, dropped after: yields (connection,
    '') or (None, reason). When ``CREATE EXTENSION postgis`` fails, the PostGIS package of the server's
    major version is installed with apt-get and the extension created again."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        yield None, "psycopg is not installed"
        return
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        yield None, f"{redact(admin_url)} is not reachable ({_first_line(exc)})"
        return
    from urllib.parse import urlsplit

    name = f"pingan_bench_tracking_{os.getpid()}"
    conn = None
    try:
        row = admin.execute("SHOW server_version_num").fetchone()
        major = int(row[0]) // 10_000 if row else 0
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = urlsplit(admin_url)._replace(path=f"/{name}").geturl()
        conn = psycopg.connect(url, autocommit=True)
        reason = ""
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            say(f"CREATE EXTENSION postgis failed ({_first_line(exc)}); installing PostGIS for PostgreSQL {major}")
            reason = _apt_install(f"postgresql-{major}-postgis-3", say)
            if not reason:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as again:
                    reason = f"CREATE EXTENSION postgis failed after installing it ({_first_line(again)})"
        if reason:
            yield None, reason
        else:
            version = conn.execute("SELECT postgis_lib_version()").fetchone()
            conn.info_postgis = version[0] if version else "?"  # type: ignore[attr-defined]
            conn.info_server_major = major  # type: ignore[attr-defined]
            yield conn, ""
    finally:
        if conn is not None:
            conn.close()
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            say(f"could not drop {name}: {_first_line(exc)}")
        admin.close()


def _copy_rows(conn: Any, statement: str, rows: Iterator[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def postgis_load(conn: Any, polygons: Sequence[shapely.Geometry], zone_ids: Sequence[int], lon: np.ndarray,
                 lat: np.ndarray) -> dict[str, Any]:
    """Zones (subdivided to at most 256 vertices a part, GiST-indexed) and fixes (a table of points) — the
    set-up, not timed as the join."""
    started = time.perf_counter()
    conn.execute("CREATE TABLE bench_zone (zone_id integer PRIMARY KEY, geom geometry(Geometry, 4326) NOT NULL)")
    with_srid = shapely.set_srid(np.asarray(polygons, dtype=object), 4326)
    wkb = shapely.to_wkb(with_srid, hex=True, include_srid=True)
    _copy_rows(conn, "COPY bench_zone (zone_id, geom) FROM STDIN", iter(zip(zone_ids, wkb.tolist(), strict=True)))
    from psycopg import sql

    conn.execute(sql.SQL("CREATE TABLE bench_zone_part AS SELECT zone_id, ST_Subdivide(geom, {}) AS geom FROM bench_zone")
                 .format(sql.Literal(POSTGIS_MAX_VERTICES)))
    conn.execute("CREATE INDEX bench_zone_part_geom ON bench_zone_part USING gist (geom)")
    conn.execute("CREATE TABLE bench_fix (fix_id bigint PRIMARY KEY, geom geometry(Point, 4326) NOT NULL)")
    points = shapely.to_wkb(shapely.set_srid(shapely.points(lon, lat), 4326), hex=True, include_srid=True)
    _copy_rows(conn, "COPY bench_fix (fix_id, geom) FROM STDIN", iter(zip(range(lon.size), points.tolist(), strict=True)))
    conn.execute("CREATE TABLE bench_hit (fix_id bigint NOT NULL, zone_id integer NOT NULL)")
    conn.execute("ANALYZE bench_zone_part")
    conn.execute("ANALYZE bench_fix")
    parts = conn.execute("SELECT count(*), max(ST_NPoints(geom)) FROM bench_zone_part").fetchone()
    return {"load_s": round(time.perf_counter() - started, 2), "parts": int(parts[0]), "part_max_vertices": int(parts[1])}


JOIN_SQL = ("INSERT INTO bench_hit (fix_id, zone_id) SELECT DISTINCT f.fix_id, z.zone_id FROM bench_fix f "
            "JOIN bench_zone_part z ON ST_Intersects(z.geom, f.geom)")
PER_FIX_SQL = ("SELECT DISTINCT zone_id FROM bench_zone_part WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))")


def postgis_join(conn: Any, repeats: int) -> tuple[float, np.ndarray, str]:
    """Time the set join (one ``INSERT … SELECT DISTINCT … JOIN``, one backend, no parallel workers); return
    (seconds, the (fix row, zone) pairs as keys, the plan's first line)."""
    conn.execute("SET max_parallel_workers_per_gather = 0")
    plan = conn.execute("EXPLAIN " + JOIN_SQL).fetchall()
    runs = []
    for _ in range(max(1, repeats)):
        conn.execute("TRUNCATE bench_hit")
        started = time.perf_counter()
        conn.execute(JOIN_SQL)
        runs.append(time.perf_counter() - started)
    runs.sort()
    with conn.cursor() as cur:
        cur.execute("SELECT fix_id, zone_id FROM bench_hit")
        rows = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 2)
    shape = " / ".join(line[0].strip() for line in plan if "Join" in line[0] or "Scan" in line[0] or "Loop" in line[0])
    return runs[len(runs) // 2], pair_keys(rows[:, 0], rows[:, 1]), shape


def postgis_per_fix(conn: Any, lon: np.ndarray, lat: np.ndarray) -> tuple[float, np.ndarray]:
    """One query per fix (prepared); returns (fixes per second, pairs as keys by sample row)."""
    fix_rows: list[int] = []
    zones: list[int] = []
    with conn.cursor() as cur:
        for i in range(min(20, lon.size)):  # warm-up: the prepared statement and the index pages
            cur.execute(PER_FIX_SQL, (float(lon[i]), float(lat[i])), prepare=True)
            cur.fetchall()
        started = time.perf_counter()
        for i in range(lon.size):
            cur.execute(PER_FIX_SQL, (float(lon[i]), float(lat[i])), prepare=True)
            for (zone_id,) in cur.fetchall():
                fix_rows.append(i)
                zones.append(zone_id)
        took = time.perf_counter() - started
    return lon.size / took, pair_keys(np.asarray(fix_rows), np.asarray(zones))


# --- the core run: everything that needs no server ---------------------------------------------------


def run_core(scale: Scale, *, quick: bool, say: Callable[[str], None] = print, postgis: bool = True,
             naive_fixes: int | None = None, naive_budget_s: float | None = None) -> dict[str, Any]:
    """Zone lookup (ZoneIndex), PostGIS (set join and per fix), the naive loop and ``Engine.process`` on one
    province; returns the figures (``core`` holds the details). ``postgis=False`` skips PostGIS, and
    ``naive_fixes`` / ``naive_budget_s`` set the naive loop's sample and time (tests)."""
    from pingan.tracking import engine as eng

    out: dict[str, Any] = {}
    say(f"building the load ({scale.name} scale): {scale.targets:,} targets, {scale.zones:,} zones, {scale.fixes:,} fixes")
    province = build_province(scale)
    fixes = build_fixes(province, scale.fixes, t0=time.time() - 86_400)
    specs = zone_specs(eng, province)
    core: dict[str, Any] = {
        "targets": scale.targets, "people": scale.people, "vehicles": scale.vehicles, "zones": len(specs),
        "box": [round(v, 3) for v in scale.box], "lookup_fixes": len(fixes),
        "cell_share": round(float(fixes.cell.mean()), 4), "multipath_share": round(float(fixes.multipath.mean()), 4),
    }
    out["core"] = core
    repeats = 1 if quick else 3

    say("zone lookup: the engine's ZoneIndex, one core")
    with one_cpu():
        started = time.perf_counter()
        engine = eng.Engine(zones=specs, config=eng.EngineConfig())
        core["engine_build_s"] = round(time.perf_counter() - started, 2)
        index = engine.index
        zone_ids = np.array([z.id for z in engine.zones], dtype=np.int64)
        with gc_paused():
            zones_holding(index, zone_ids, fixes.lon[:1000], fixes.lat[:1000])  # warm-up
            took, (rows, zones) = timed(lambda: zones_holding(index, zone_ids, fixes.lon, fixes.lat), repeats)
    # the polygons the engine's index holds, in lon/lat, for PostGIS and the naive loop
    by_id = {z["id"]: z for z in province.zones}
    polygons = [eng.zone_geometry_lonlat(by_id[i]["shape"], by_id[i]["coords"], radius_m=by_id[i].get("radius_m", 0.0),
                                         width_m=by_id[i].get("width_m", 0.0)) for i in zone_ids.tolist()]
    core["indexed_zones"] = int(zone_ids.size)
    core["invalid_polygons"] = int((~shapely.is_valid(np.asarray(polygons, dtype=object))).sum())
    core["zone_vertices"] = province.vertex_counts(polygons)
    core["index"] = {k: index.stats[k] for k in ("cell_m", "nx", "ny", "mb") if k in index.stats}
    ours = pair_keys(rows, zones)
    out["zone_lookup_fixes_per_s"] = round(len(fixes) / took, 1)
    core["lookup_s"] = round(took, 3)
    core["pairs"] = int(ours.size)
    core["fixes_in_a_zone"] = round(float(np.unique(rows).size / len(fixes)), 4)

    sample_n = 500 if quick else 3_000
    sample = fixes.sample(sample_n, seed=2)
    if postgis:
        with postgis_database(say) as (conn, reason):
            if conn is None:
                for key in ("postgis_join_fixes_per_s", "postgis_per_fix_fixes_per_s", "zone_sets_identical"):
                    out[key] = {"skipped": reason}
            else:
                core["postgis"] = conn.info_postgis
                core["postgres_major"] = conn.info_server_major
                say(f"PostGIS: loading {len(polygons):,} zones and {len(fixes):,} fixes")
                core.update(postgis_load(conn, polygons, zone_ids.tolist(), fixes.lon, fixes.lat))
                say("PostGIS: the set join")
                join_s, theirs, plan = postgis_join(conn, 1)  # one run: long enough to be steady
                out["postgis_join_fixes_per_s"] = round(len(fixes) / join_s, 1)
                core["join_s"] = round(join_s, 3)
                core["plan"] = plan
                compare = compare_pairs(ours, theirs)
                core["compare"] = compare
                out["zone_sets_identical"] = compare["identical"]
                say(f"PostGIS: one query per fix, {sample.size:,} fixes")
                per_fix, _keys = postgis_per_fix(conn, fixes.lon[sample], fixes.lat[sample])
                out["postgis_per_fix_fixes_per_s"] = round(per_fix, 1)
                core["per_fix_sample"] = int(sample.size)
    else:
        for key in ("postgis_join_fixes_per_s", "postgis_per_fix_fixes_per_s", "zone_sets_identical"):
            out[key] = {"skipped": "PostGIS not asked for"}

    say("naive loop: every zone's contains() for each fix")
    naive_rows = fixes.sample(naive_fixes or sample_n, seed=3)
    budget = naive_budget_s if naive_budget_s is not None else (1.0 if quick else 3.0)
    rate, done, nf, nz = naive_lookup(polygons, zone_ids.tolist(), fixes.lon[naive_rows], fixes.lat[naive_rows],
                                      budget_s=budget, minimum=naive_fixes or 10)
    out["naive_fixes_per_s"] = round(rate, 1)
    core["naive_sample"] = done
    fix_of = np.asarray(rows)
    inside_sample = np.isin(fix_of, naive_rows[:done])
    core["naive_agrees"] = bool(np.array_equal(pair_keys(naive_rows[nf], nz),
                                               pair_keys(fix_of[inside_sample], np.asarray(zones)[inside_sample])))

    say(f"engine: Engine.process over {len(fixes):,} fixes, every target's state held, one core")
    for info in target_infos(eng, province):
        engine.set_target(info)
    batch = 5_000
    batches = [fix_ins(eng, fixes, slice(i, i + batch)) for i in range(0, len(fixes), batch)]
    effects: dict[str, int] = {}
    with one_cpu():
        started = time.perf_counter()
        for chunk in batches:
            for effect in engine.process(chunk):
                key = f"{effect.kind}:{effect.rule}"
                effects[key] = effects.get(key, 0) + 1
        took = time.perf_counter() - started
    out["engine_fixes_per_s"] = round(len(fixes) / took, 1)
    core["engine_fixes"] = len(fixes)
    core["engine_s"] = round(took, 3)
    core["engine_effects"] = dict(sorted(effects.items()))
    return out

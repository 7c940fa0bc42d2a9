"""The corrections benchmark's measuring code, without Django: the synthetic district, the subjects' days, the
ground truth, and the replay workers that run the tracking engine. ``pingan.corrections.benchmarks`` adds the
database side (the warnings stored as tracking alerts, the officers' verification queue) and registers
``pingan bench corrections``.

The load (seeded; the same district and subjects every run of the same size):

* a district of 80 × 60 km around 湖州 with ``CORE_AREAS`` core areas: convex polygons 500 m – 2 km across, far
  apart, each a *fast* exclusion zone (it alerts on the second consecutive fix inside, as the tracking engine
  defines core areas) with a schedule — a third for a special period covering the whole campaign, a third
  daily from 08:00 to 20:00, a third for a major event's days in the middle of the campaign — applying to all
  subjects, to the strict level (严管) only, or to the strict and ordinary levels;
* subjects with a home and (65 %) a workplace, at rest most of the day (a fix every two hours on average)
  and moving on their commutes and errands (a fix every five minutes on average), about one fix an hour in
  all; the tracking engine's noise model (``pingan.tracking.bench.observe``: Gaussian error σ = 10 m, 2 %
  multipath jumps of 50–300 m, 5 % cell fixes of 500–2,000 m accuracy);
* ``entrant_share`` (2 %) of the subjects truly enter a core area that applies to them while it is active, on
  1–3 days of the campaign, staying 15–60 minutes at a point at least 120 m inside, reporting every ~2.5
  minutes while there; ``near_share`` (5 %) pass near one (45–300 m outside its border, never within the
  buffer) for 10–40 minutes on 1–4 days; everyone else lives and moves at least 1.5 km from every core area.

Ground truth comes from the true (noise-free) positions at the fixes' times, with the tracking oracle's
definitions (``tests/tracking/test_oracle.py``): a **true entry** is two consecutive evaluated fixes (GNSS,
not a multipath jump; cell fixes in between are skipped) whose true position lies at least buffer + 3σ
(60 m) inside a core area that applies to the subject, while it is active; a subject **came within the
buffer** when any fix's true position lay within ``buffer_m`` (30 m) of such a core area (or inside it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import queue as queue_mod
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from pingan.tracking import bench as tracking_bench

SEED = 20261202
SUBJECTS = 50_000
DAYS = 100
QUICK = (2_000, 10)
CORE_AREAS = 30
CAMPAIGN_START = dt.date(2026, 6, 1)          # local (Asia/Shanghai) day 0 of the campaign
UTC_OFFSET_S = 8 * 3600                       # Asia/Shanghai has no daylight saving time
LON0, LAT0 = 120.10, 30.80
HALF_W, HALF_H = 40_000.0, 30_000.0           # the district's half width and height (m)
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_574.0
LEVELS = (1, 2, 3)                            # groups: 严管 strict, 普管 ordinary, 宽管 lenient
LEVEL_SHARES = (0.2, 0.6, 0.2)
BUFFER_M = 30.0                               # the engine's buffer (EngineConfig.buffer_m)
DEEP_M = 60.0                                 # buffer + 3σ: the oracle's "truly inside"
FAR_M = 1_500.0                               # ordinary subjects stay this far from every core area
REST_PER_H = 0.65                             # fixes an hour at rest …
MOVING_PER_H = 14.0                           # … while moving …
VISIT_PER_H = 24.0                            # … and while out at a visit (the device sees movement)
CHUNK_S = 6 * 3600                            # the replay feeds the engine six hours of fixes at a time
DAY_S = 86_400.0
GRID_M = 500.0                                # the truth's coarse grid (a cell's half diagonal < GRID_M)

TARGETS = {"replay_s": 900.0, "missed_entries": 0, "false_warnings_per_1000_subject_days": 1.0}
KEYS = ("subjects", "days", "replay_s", "fixes_per_s", "warnings", "missed_entries",
        "false_warnings_per_1000_subject_days", "queue_p95_ms")


def campaign_t0() -> float:
    """POSIX time of local midnight of the campaign's first day."""
    return dt.datetime(CAMPAIGN_START.year, CAMPAIGN_START.month, CAMPAIGN_START.day, tzinfo=dt.UTC).timestamp() \
        - UTC_OFFSET_S


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + np.asarray(x) / KX, LAT0 + np.asarray(y) / KY


# --- the district ---------------------------------------------------------------------------------------


@dataclass
class CoreArea:
    id: int
    polygon: shapely.Polygon             # metres, in the bench's own frame
    cx: float
    cy: float
    radius_m: float                      # the circumradius from (cx, cy)
    kind: str                            # "campaign", "daily" or "event"
    first_day: int                       # campaign days it is active on (inclusive)
    last_day: int
    levels: tuple[int, ...]              # () applies to every subject

    def ring_lonlat(self) -> list[list[float]]:
        xs, ys = np.asarray(self.polygon.exterior.coords).T
        lon, lat = to_lonlat(xs, ys)
        return [[float(a), float(b)] for a, b in zip(lon.tolist(), lat.tolist(), strict=True)]

    def schedule_dict(self) -> dict[str, Any]:
        """The zone's schedule in the tracking ``Schedule`` JSON form."""
        first = (CAMPAIGN_START + dt.timedelta(days=self.first_day)).isoformat()
        last = (CAMPAIGN_START + dt.timedelta(days=self.last_day)).isoformat()
        if self.kind == "daily":
            return {"windows": [["08:00", "20:00"]]}
        return {"dates": [[first, last]]}

    def active(self, t: np.ndarray) -> np.ndarray:
        """Independent of the engine's schedule code: local day and time by arithmetic (UTC+8)."""
        local = np.asarray(t) + UTC_OFFSET_S - (campaign_t0() + UTC_OFFSET_S)
        day = np.floor(local / DAY_S)
        if self.kind == "daily":
            sec = local - day * DAY_S
            return (sec >= 8 * 3600) & (sec < 20 * 3600)
        return (day >= self.first_day) & (day <= self.last_day)

    def applies(self, level: np.ndarray) -> np.ndarray:
        if not self.levels:
            return np.ones(np.shape(level), dtype=bool)
        return np.isin(level, self.levels)


def build_district(days: int, seed: int = SEED, n: int = CORE_AREAS) -> list[CoreArea]:
    rng = np.random.default_rng(seed)
    areas: list[CoreArea] = []
    event_first = days // 3
    event_last = min(days - 1, event_first + max(0, days // 10))
    tries = 0
    while len(areas) < n and tries < 100_000:
        tries += 1
        r = float(rng.uniform(250, 1_000))
        cx = float(rng.uniform(-HALF_W + 6_000, HALF_W - 6_000))
        cy = float(rng.uniform(-HALF_H + 6_000, HALF_H - 6_000))
        if any(math.hypot(cx - a.cx, cy - a.cy) < r + a.radius_m + 2 * FAR_M + 3_000 for a in areas):
            continue
        k = int(rng.integers(8, 15))
        angles = np.sort(rng.uniform(0, 2 * math.pi, k))
        radii = r * rng.uniform(0.7, 1.0, k)
        hull = shapely.MultiPoint(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])).convex_hull
        if not isinstance(hull, shapely.Polygon) or hull.area < 0.3 * math.pi * r * r:
            continue
        i = len(areas)
        kind = ("campaign", "daily", "event")[i % 3]
        first, last = (event_first, event_last) if kind == "event" else (0, days - 1)
        levels = ((1,), (1, 2), (), ())[i % 4]
        areas.append(CoreArea(i + 1, hull, cx, cy, r, kind, first, last, levels))
    return areas


# --- the subjects ---------------------------------------------------------------------------------------


@dataclass
class Visit:
    subject: int                          # index into the subjects' arrays
    day: int
    area: int                             # index into the district
    x: float
    y: float
    start_s: float                        # seconds after local midnight when the stay begins
    stay_s: float
    entrant: bool


@dataclass
class Subjects:
    ids: np.ndarray                       # target ids 1..n
    level: np.ndarray                     # 1, 2, 3
    role: np.ndarray                      # 0 ordinary, 1 near, 2 entrant
    hx: np.ndarray
    hy: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    works: np.ndarray
    speed: np.ndarray                     # travel speed (m/s)
    visits: list[Visit] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.ids.size)


def _far_from_all(district: list[CoreArea], ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                  margin: float) -> np.ndarray:
    """Whether each segment A→B stays ``margin`` beyond every core area's bounding circle."""
    ok = np.ones(ax.size, dtype=bool)
    dx, dy = bx - ax, by - ay
    ll = np.maximum(dx * dx + dy * dy, 1e-9)
    for a in district:
        u = np.clip(((a.cx - ax) * dx + (a.cy - ay) * dy) / ll, 0.0, 1.0)
        d = np.hypot(ax + u * dx - a.cx, ay + u * dy - a.cy)
        ok &= d > a.radius_m + margin
    return ok


def _place(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-HALF_W, HALF_W, n), rng.uniform(-HALF_H, HALF_H, n)


def build_subjects(n: int, days: int, district: list[CoreArea], *, seed: int = SEED, entrant_share: float = 0.02,
                   near_share: float = 0.05) -> Subjects:
    rng = np.random.default_rng(seed + 1)
    level = rng.choice(np.array(LEVELS), n, p=LEVEL_SHARES)
    u = rng.random(n)
    role = np.where(u < entrant_share, 2, np.where(u < entrant_share + near_share, 1, 0))
    hx, hy = _place(rng, n)
    works = rng.random(n) < 0.65
    wx, wy = hx.copy(), hy.copy()
    todo = np.arange(n)
    for _ in range(50):  # homes (and an errand's reach of 1 km) far from every core area
        ok = _far_from_all(district, hx[todo], hy[todo], hx[todo], hy[todo], FAR_M + 1_000.0)
        todo = todo[~ok]
        if not todo.size:
            break
        hx[todo], hy[todo] = _place(rng, todo.size)
    wx, wy = hx.copy(), hy.copy()
    todo = np.flatnonzero(works)
    for _ in range(50):  # workplaces 1–10 km away, the commute far from every core area
        dist = rng.uniform(1_000, 10_000, todo.size)
        ang = rng.uniform(0, 2 * math.pi, todo.size)
        wx[todo] = np.clip(hx[todo] + dist * np.cos(ang), -HALF_W, HALF_W)
        wy[todo] = np.clip(hy[todo] + dist * np.sin(ang), -HALF_H, HALF_H)
        ok = _far_from_all(district, hx[todo], hy[todo], wx[todo], wy[todo], FAR_M)
        todo = todo[~ok]
        if not todo.size:
            break
    works[todo] = False
    wx[todo], wy[todo] = hx[todo], hy[todo]
    speed = np.where(rng.random(n) < 0.5, rng.uniform(1.0, 1.6, n), rng.uniform(3.0, 12.0, n))
    subjects = Subjects(np.arange(1, n + 1, dtype=np.int64), level, role, hx, hy, wx, wy, works, speed)
    subjects.visits = _plan_visits(rng, subjects, days, district)
    return subjects


def _plan_visits(rng: np.random.Generator, s: Subjects, days: int, district: list[CoreArea]) -> list[Visit]:
    visits: list[Visit] = []
    polys = [a.polygon for a in district]
    for i in np.flatnonzero(s.role > 0).tolist():
        entrant = bool(s.role[i] == 2)
        lv = int(s.level[i])
        mine = [k for k, a in enumerate(district) if not a.levels or lv in a.levels]
        if not mine:
            continue
        count = int(rng.integers(1, 4 if entrant else 5))
        for day in sorted(set(rng.integers(0, days, count).tolist())):
            ready = [k for k in mine if district[k].first_day <= day <= district[k].last_day]
            if not ready:
                continue
            # the nearest applying area that is active that day (a realistic trip, and a short one)
            k = min(ready, key=lambda k: math.hypot(district[k].cx - s.hx[i], district[k].cy - s.hy[i]))
            a = district[k]
            centre = a.polygon.centroid
            if entrant:
                for _ in range(20):
                    px = centre.x + float(rng.normal(0, a.radius_m * 0.2))
                    py = centre.y + float(rng.normal(0, a.radius_m * 0.2))
                    if a.polygon.contains(shapely.Point(px, py)) and \
                            a.polygon.exterior.distance(shapely.Point(px, py)) >= 120.0:
                        break
                else:
                    px, py = centre.x, centre.y
            else:
                # on the ray from the centroid towards home, 45–300 m outside the border: a convex area's
                # nearest point on the way home is this one
                ang = math.atan2(s.hy[i] - centre.y, s.hx[i] - centre.x)
                far = shapely.LineString([(centre.x, centre.y), (centre.x + 5_000 * math.cos(ang),
                                                                 centre.y + 5_000 * math.sin(ang))])
                edge = far.intersection(a.polygon.exterior)
                ex, ey = (edge.x, edge.y) if isinstance(edge, shapely.Point) else (centre.x, centre.y)
                d = float(rng.uniform(45.0, 300.0))
                px, py = ex + d * math.cos(ang), ey + d * math.sin(ang)
                trip = shapely.LineString([(s.hx[i], s.hy[i]), (px, py)])
                if min(p.distance(trip) for p in polys) < 40.0:
                    continue
            stay = float(rng.uniform(15, 60) if entrant else rng.uniform(10, 40)) * 60
            start = float(rng.uniform(10, 17.5)) * 3600 if a.kind == "daily" else float(rng.uniform(9, 18)) * 3600
            visits.append(Visit(i, int(day), k, px, py, start, stay, entrant))
    return visits


# --- one day of true paths and fixes ---------------------------------------------------------------------


def day_legs(s: Subjects, rows: np.ndarray, day: int, rng: np.random.Generator,
             visits: dict[int, Visit]) -> dict[str, np.ndarray]:
    """Five legs per subject and day: at home, out (A→B), at B, back (B→A), at home. B is the workplace, an
    errand near home, home itself, or a visit's point. Returns leg boundaries (seconds after local midnight,
    b0..b5) and points."""
    n = rows.size
    hx, hy = s.hx[rows], s.hy[rows]
    bx, by = s.wx[rows].copy(), s.wy[rows].copy()
    works = s.works[rows] & (rng.random(n) < (5 / 7))
    errand = ~works & (rng.random(n) < 0.6)
    ed, ea = rng.uniform(200, 1_000, n), rng.uniform(0, 2 * math.pi, n)
    bx = np.where(works, bx, np.where(errand, hx + ed * np.cos(ea), hx))
    by = np.where(works, by, np.where(errand, hy + ed * np.sin(ea), hy))
    stay_start = np.where(works, rng.uniform(7.0, 9.5, n), rng.uniform(9.5, 16.0, n)) * 3600
    stay_len = np.where(works, rng.uniform(7.5, 9.5, n), rng.uniform(0.3, 2.0, n)) * 3600
    speed = s.speed[rows].copy()
    visiting = np.zeros(n, dtype=bool)
    if visits:
        for j, i in enumerate(rows.tolist()):
            v = visits.get(i)
            if v is not None:
                bx[j], by[j], stay_start[j], stay_len[j], visiting[j] = v.x, v.y, v.start_s, v.stay_s, True
    dist = np.hypot(bx - hx, by - hy)
    # a visit's trip takes at most an hour each way
    speed = np.where(visiting, np.maximum(speed, dist / 3600.0), speed)
    travel = np.where(dist > 0, dist / np.maximum(speed, 0.1), 0.0)
    travel = np.minimum(travel, 3 * 3600.0)
    b = np.empty((n, 6))
    b[:, 0] = 0.0
    b[:, 2] = stay_start
    b[:, 1] = np.maximum(stay_start - travel, 60.0)
    b[:, 3] = np.minimum(stay_start + stay_len, DAY_S - travel - 120.0)
    b[:, 4] = b[:, 3] + travel
    b[:, 5] = DAY_S
    return {"b": b, "ax": hx, "ay": hy, "bx": bx, "by": by, "visiting": visiting}


def day_fixes(legs: dict[str, np.ndarray], rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fix times (seconds after midnight) and true positions for the day's legs, sorted by time."""
    b = legs["b"]
    dur = np.diff(b, axis=1)                                       # (n, 5)
    rate = np.array([REST_PER_H, MOVING_PER_H, REST_PER_H, MOVING_PER_H, REST_PER_H]) / 3600.0
    lam = dur * rate[None, :]
    lam[:, 2] = np.where(legs["visiting"], dur[:, 2] * VISIT_PER_H / 3600.0, lam[:, 2])
    counts = rng.poisson(np.maximum(lam, 0.0))
    flat = counts.ravel()
    total = int(flat.sum())
    cell_of = np.repeat(np.arange(flat.size), flat)
    who = cell_of // 5
    leg = cell_of % 5
    lo = b[who, leg]
    hi = b[who, leg + 1]
    t = lo + rng.random(total) * (hi - lo)
    # progress along the leg: 0 at A, 1 at B
    frac = np.where(leg == 1, (t - lo) / np.maximum(hi - lo, 1e-9),
                    np.where(leg == 2, 1.0, np.where(leg == 3, 1.0 - (t - lo) / np.maximum(hi - lo, 1e-9), 0.0)))
    ax, ay, bx, by = legs["ax"][who], legs["ay"][who], legs["bx"][who], legs["by"][who]
    x = ax + frac * (bx - ax)
    y = ay + frac * (by - ay)
    moving = (leg == 1) | (leg == 3)
    order = np.argsort(t, kind="stable")
    return {"row": rows[who][order], "t": t[order], "x": x[order], "y": y[order], "moving": moving[order]}


# --- ground truth ------------------------------------------------------------------------------------------


class Truth:
    """The oracle's view of one worker's subjects, fed chunk by chunk in time order."""

    def __init__(self, s: Subjects, rows: np.ndarray, district: list[CoreArea]) -> None:
        self.s = s
        self.district = district
        self.local = np.full(len(s), -1, dtype=np.int64)
        self.local[rows] = np.arange(rows.size)
        self.prev_zone = np.full(rows.size, -1, dtype=np.int64)   # the last evaluated fix's deep zone (or -1)
        self.run_len = np.zeros(rows.size, dtype=np.int64)
        self.near = np.zeros(rows.size, dtype=bool)               # came within the buffer of an active area
        self.entries: list[tuple[int, int, float]] = []           # (subject id, zone id, confirmed at)
        self.unplanned_near = 0                                   # ordinary subjects found near (a plan bug)
        # cells of GRID_M that some area's bounding circle (grown by the buffer) may reach
        nx, ny = int(2 * HALF_W // GRID_M) + 5, int(2 * HALF_H // GRID_M) + 5
        ci, cj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        mx = (ci + 0.5) * GRID_M - HALF_W - 2 * GRID_M
        my = (cj + 0.5) * GRID_M - HALF_H - 2 * GRID_M
        self.grid = np.zeros((nx, ny), dtype=bool)
        for a in district:
            self.grid |= np.hypot(mx - a.cx, my - a.cy) <= a.radius_m + BUFFER_M + GRID_M

    def feed(self, row: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, cell: np.ndarray,
             jump: np.ndarray) -> None:
        s, district = self.s, self.district
        n = row.size
        # a coarse grid of the cells near some area, then each area's bounding circle, then the exact signed
        # distance for the few fixes near an area
        depth = np.full(n, -np.inf)
        zone = np.full(n, -1, dtype=np.int64)
        g = self.grid
        gi = np.clip(((x + HALF_W + 2 * GRID_M) // GRID_M).astype(np.int64), 0, g.shape[0] - 1)
        gj = np.clip(((y + HALF_H + 2 * GRID_M) // GRID_M).astype(np.int64), 0, g.shape[1] - 1)
        cand = np.flatnonzero(g[gi, gj])
        cx, cy = x[cand], y[cand]
        for k, a in enumerate(district):
            close = cand[np.hypot(cx - a.cx, cy - a.cy) <= a.radius_m + BUFFER_M + 1.0]
            if not close.size:
                continue
            ok = a.applies(s.level[row[close]]) & a.active(t[close])
            close = close[ok]
            if not close.size:
                continue
            px, py = x[close], y[close]
            inside = shapely.contains_xy(a.polygon, px, py)
            d = shapely.distance(a.polygon.exterior, shapely.points(px, py))
            sd = np.where(inside, d, -d)
            better = sd > depth[close]
            depth[close[better]] = sd[better]
            zone[close[better]] = k
        lr = self.local[row]
        near = depth >= -BUFFER_M
        if near.any():
            self.near[lr[near]] = True
            self.unplanned_near += int((s.role[row[near]] == 0).sum())
        # true entries: runs of evaluated (non-cell) fixes that are clean and deep in the same area
        ev = np.flatnonzero(~cell)
        if not ev.size:
            return
        ev = ev[np.argsort(lr[ev], kind="stable")]               # per subject, in time order (t is sorted)
        el = lr[ev]
        dz = np.where(~jump[ev] & (depth[ev] >= DEEP_M), zone[ev], -1)
        # only subjects with a deep fix now or a run carried over need the sequential look; the rest end clear
        busy = np.zeros(self.prev_zone.size, dtype=bool)
        busy[el[dz >= 0]] = True
        busy[el] |= self.prev_zone[el] >= 0
        idle = ~busy[el]
        self.prev_zone[el[idle]] = -1
        self.run_len[el[idle]] = 0
        sel = np.flatnonzero(~idle)
        for a_, b_ in _groups(el[sel]):
            li = int(el[sel[a_]])
            pz, rl = int(self.prev_zone[li]), int(self.run_len[li])
            for j in sel[a_:b_].tolist():
                z = int(dz[j])
                if z < 0:
                    pz, rl = -1, 0
                    continue
                rl = rl + 1 if z == pz else 1
                pz = z
                if rl == 2:
                    self.entries.append((int(s.ids[row[ev[j]]]), district[z].id, float(t[ev[j]])))
            self.prev_zone[li], self.run_len[li] = pz, rl


def _groups(sorted_keys: np.ndarray) -> list[tuple[int, int]]:
    if not sorted_keys.size:
        return []
    cut = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
    return list(zip(cut[:-1].tolist(), cut[1:].tolist(), strict=True))


# --- the replay worker ----------------------------------------------------------------------------------


def zone_specs(engine_module: Any, schedule_module: Any, district: list[CoreArea]) -> list[Any]:
    return [engine_module.ZoneSpec(id=a.id, kind="exclusion", shape="polygon", coords=[a.ring_lonlat()], fast=True,
                                   schedule=schedule_module.Schedule.from_dict(a.schedule_dict()),
                                   groups=frozenset(a.levels)) for a in district]


@dataclass
class Plan:
    subjects: int
    days: int
    seed: int
    workers: int
    entrant_share: float = 0.02
    near_share: float = 0.05


def make_world(plan: Plan) -> tuple[list[CoreArea], Subjects]:
    district = build_district(plan.days, plan.seed)
    subjects = build_subjects(plan.subjects, plan.days, district, seed=plan.seed, entrant_share=plan.entrant_share,
                              near_share=plan.near_share)
    return district, subjects


def worker_rows(plan: Plan, w: int) -> np.ndarray:
    return np.arange(w, plan.subjects, plan.workers)


def replay_worker(plan: Plan, w: int, out: Any, done: Any) -> None:
    """Replay the campaign for worker ``w``'s subjects: generate each chunk's fixes, run them through the
    engine (``process_columns``), send every raise / evidence / clear effect at once, with the wall-clock
    moment it was produced and the fixes it refers to, to ``out``; at the end put a summary on ``done``."""
    if hasattr(os, "sched_setaffinity") and plan.workers > 1:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= plan.workers:
            os.sched_setaffinity(0, {cpus[w % len(cpus)]})
    # the replay is batch work: the store and the officers' queue (the latency path) come first
    with contextlib.suppress(OSError):
        os.nice(10)
    from pingan.tracking import engine as eng
    from pingan.tracking import schedule as sch

    started = time.perf_counter()
    district, s = make_world(plan)
    rows = worker_rows(plan, w)
    engine = eng.Engine(zone_specs(eng, sch, district), eng.EngineConfig())
    for i in rows.tolist():
        engine.set_target(eng.TargetInfo(id=int(s.ids[i]), kind="person", groups=frozenset({int(s.level[i])}),
                                         interval_s=None))
    truth = Truth(s, rows, district)
    by_day: dict[int, dict[int, Visit]] = {}
    for v in s.visits:
        if v.subject % plan.workers == w:
            by_day.setdefault(v.day, {})[v.subject] = v
    setup_s = time.perf_counter() - started
    t0 = campaign_t0()
    ref_base = (w + 1) * 10**12
    next_ref = ref_base
    recent: list[tuple[int, dict[str, np.ndarray]]] = []
    fixes = 0
    engine_s = 0.0
    raises: list[tuple[int, int, float]] = []
    clears: list[tuple[int, int, float]] = []
    produced = 0
    replay_started = time.perf_counter()
    wall_started = time.time()
    for day in range(plan.days):
        rng = np.random.default_rng([plan.seed, w, day])
        legs = day_legs(s, rows, day, rng, by_day.get(day, {}))
        f = day_fixes(legs, rows, rng)
        lon_true, lat_true = to_lonlat(f["x"], f["y"])
        seen = tracking_bench.observe(rng, lon_true, lat_true, np.zeros(f["t"].size, dtype=bool),
                                      np.zeros(f["t"].size))
        t_abs = np.round(t0 + day * DAY_S + f["t"], 3)
        truth.feed(f["row"], t_abs, f["x"], f["y"], seen["cell"], seen["multipath"])
        cuts = np.searchsorted(f["t"], np.arange(0, DAY_S + 1, CHUNK_S))
        for a_, b_ in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            if b_ <= a_:
                continue
            m = b_ - a_
            cols = {"ref": np.arange(next_ref, next_ref + m, dtype=np.int64), "target": s.ids[f["row"][a_:b_]],
                    "t": t_abs[a_:b_], "lon": seen["lon"][a_:b_], "lat": seen["lat"][a_:b_],
                    "acc": seen["accuracy_m"][a_:b_], "gnss": ~seen["cell"][a_:b_]}
            next_ref += m
            e0 = time.perf_counter()
            effects = engine.process_columns(cols["ref"], cols["target"], cols["t"], cols["lon"], cols["lat"],
                                             cols["acc"], cols["gnss"])
            engine_s += time.perf_counter() - e0
            fixes += m
            recent = [*recent[-1:], (int(cols["ref"][0]), cols)]
            if effects:
                at = time.time()
                batch = []
                for x in effects:
                    if x.kind == "raise":
                        raises.append((x.target, int(x.zone or 0), x.t))
                    elif x.kind == "clear":
                        clears.append((x.target, int(x.zone or 0), x.t))
                    batch.append((x.kind, x.target, x.rule, x.zone, x.t, x.refs, x.severity, x.detail,
                                  _fix_rows(x.refs, recent)))
                produced += len(batch)
                out.put((at, batch))
        if (day + 1) % 10 == 0 and day + 1 < plan.days:
            print(f"  worker {w}: day {day + 1}/{plan.days}, {fixes:,} fixes, {time.perf_counter() - replay_started:.0f} s",
                  file=sys.stderr, flush=True)
    replay_s = time.perf_counter() - replay_started
    done.put({"worker": w, "started_at": wall_started, "fixes": fixes, "engine_s": engine_s, "replay_s": replay_s, "setup_s": setup_s,
              "raises": raises, "clears": clears, "entries": truth.entries,
              "near": s.ids[rows[truth.near]].tolist(), "unplanned_near": truth.unplanned_near,
              "effects_sent": produced, "engine_stats": dict(engine.stats)})


def _fix_rows(refs: tuple[int, ...], recent: list[tuple[int, dict[str, np.ndarray]]]) -> list[tuple[Any, ...]]:
    """(ref, target, t, lon, lat, accuracy, gnss) of the fixes an effect refers to (those still at hand)."""
    out = []
    for r in refs:
        for base, cols in recent:
            k = r - base
            if 0 <= k < cols["ref"].size:
                out.append((r, int(cols["target"][k]), float(cols["t"][k]), float(cols["lon"][k]),
                            float(cols["lat"][k]), float(cols["acc"][k]), bool(cols["gnss"][k])))
                break
    return out


# --- the parent's side: the outcome --------------------------------------------------------------------


def outcome(plan: Plan, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """missed entries and false warnings from the workers' truths and effects."""
    raises = sorted((r for x in summaries for r in x["raises"]), key=lambda r: r[2])
    clears = sorted((c for x in summaries for c in x["clears"]), key=lambda c: c[2])
    entries = [e for x in summaries for e in x["entries"]]
    near = {tid for x in summaries for tid in x["near"]}
    # was an alert open for (subject, area) at the moment each true entry was confirmed?
    timeline: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for tid, zid, t in raises:
        timeline.setdefault((tid, zid), []).append((t, 1))
    for tid, zid, t in clears:
        timeline.setdefault((tid, zid), []).append((t, -1))
    missed = []
    for tid, zid, t in entries:
        state = 0
        for moment, change in sorted(timeline.get((tid, zid), [])):
            if moment > t:
                break
            state = 1 if change > 0 else 0
        if not state:
            missed.append((tid, zid, t))
    false = [r for r in raises if r[0] not in near]
    subject_days = plan.subjects * plan.days
    return {"warnings": len(raises), "true_entries": len(entries), "missed_entries": len(missed),
            "missed_sample": missed[:10], "entrant_subjects": len({e[0] for e in entries}),
            "subjects_within_buffer": len(near), "warned_subjects": len({r[0] for r in raises}),
            "false_warnings": len(false), "false_sample": false[:10],
            "false_warnings_per_1000_subject_days": round(len(false) / subject_days * 1000, 4) if subject_days else 0.0,
            "unplanned_near": sum(x["unplanned_near"] for x in summaries)}


def drain(q: Any, timeout: float) -> list[Any]:
    """Everything on a multiprocessing queue now (waiting up to ``timeout`` for the first item)."""
    items = []
    try:
        items.append(q.get(timeout=timeout))
        while True:
            items.append(q.get_nowait())
    except queue_mod.Empty:
        pass
    return items

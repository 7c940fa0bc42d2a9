"""The engine against a brute-force oracle on seeded scenarios with realistic noise.

The oracle is written independently here: its own metric frame, its own schedule check (``zoneinfo``),
plain shapely per point against every zone, and nothing of the engine but its inputs and effects. It
works on the TRUE (noise-free) path:

* a **true violation** of a zone: consecutive evaluated fixes (GNSS, not multipath, not late; cell fixes
  in between are skipped) whose true position lies at least buffer + 3σ (60 m) inside an exclusion zone
  (outside an inclusion zone) while the zone is active, spanning the dwell with at least two fixes (or
  two fixes in a row in a fast zone). The 3σ margin on this side too keeps noise alone from deciding
  the outcome: a violation the oracle requires is one no honest engine could miss;
* a **true crossing**: two consecutive evaluated GNSS fixes, neither a multipath jump, both at least 60 m
  outside a small exclusion zone, whose true straight segment passes 60 m inside it;
* a schedule that starts while a target's last fix (clean, delivered before the start) lies 60 m inside.

Noise: Gaussian error σ = 10 m; 2 % multipath jumps of 50–300 m (with a normal GNSS accuracy); 5 % cell
fixes of 500–2,000 m accuracy; a fix every 30–120 s (vehicles crossing a zone: every 120 s); 3 % of the
fixes delivered 3–15 minutes late; silences of 10–20 minutes.

Asserted: every true violation / crossing / schedule-start has its alert open in time (no miss); no
target whose true path stays 60 m from every border of every zone that applies to it (rings included)
raises anything. Printed: the false-alert rate (raises the truth does not support at all, per target-day).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely

from pingan.tracking.engine import Effect, Engine, FixIn, TargetInfo, ZoneSpec
from pingan.tracking.schedule import Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
LON0, LAT0 = 120.35, 30.85
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_574.0
BUFFER, SIGMA, DWELL, MARGIN = 30.0, 10.0, 120.0, 60.0   # MARGIN = buffer + 3σ
DAY = dt.date(2026, 5, 4)
START = dt.datetime(2026, 5, 4, 12, 0, tzinfo=SHANGHAI).timestamp()
HOURS = 6.0
SCHEDULE_START = dt.datetime(2026, 5, 4, 13, 0, tzinfo=SHANGHAI).timestamp()


def to_ll(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / KX, LAT0 + y / KY


def active_13_to_23(t: float) -> bool:
    local = dt.datetime.fromtimestamp(t, SHANGHAI)
    return 13 <= local.hour < 23


@dataclass
class Zone:
    id: int
    kind: str
    poly: shapely.Polygon
    ring_m: float = 0.0
    fast: bool = False
    scheduled: bool = False
    group: int | None = None

    def applies(self, groups: frozenset[int]) -> bool:
        return self.group is None or self.group in groups

    def active(self, t: float) -> bool:
        return not self.scheduled or active_13_to_23(t)


def zones() -> list[Zone]:
    hexagon = shapely.Polygon([(2500 + 260 * math.cos(a), 260 * math.sin(a)) for a in np.arange(6) * math.pi / 3])
    return [
        Zone(1, "exclusion", shapely.Point(0, 0).buffer(200, quad_segs=32)),
        Zone(2, "exclusion", hexagon, ring_m=150.0),
        Zone(3, "exclusion", shapely.Point(0, 2500).buffer(120, quad_segs=32)),
        Zone(4, "exclusion", shapely.Point(-2500, 0).buffer(300, quad_segs=32), scheduled=True),
        Zone(5, "inclusion", shapely.box(-4000, -4000, 4000, 4000), group=1),
        Zone(6, "exclusion", shapely.Point(2500, 2500).buffer(150, quad_segs=32), fast=True, group=2),
    ]


def spec(z: Zone) -> ZoneSpec:
    ring = [list(to_ll(x, y)) for x, y in z.poly.exterior.coords]
    return ZoneSpec(id=z.id, kind=z.kind, shape="polygon", coords=[ring], ring_m=z.ring_m, fast=z.fast,
                    schedule=Schedule(windows=[("13:00", "23:00")]) if z.scheduled else None,
                    groups=frozenset({z.group}) if z.group is not None else frozenset())


@dataclass
class Walker:
    tid: int
    role: str
    groups: frozenset[int]
    waypoints: list[tuple[float, float, float]] = field(default_factory=list)   # (t, x, y)

    def at(self, t: float) -> tuple[float, float]:
        w = self.waypoints
        if t <= w[0][0]:
            return w[0][1], w[0][2]
        for (t0, x0, y0), (t1, x1, y1) in zip(w, w[1:], strict=False):
            if t <= t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        return w[-1][1], w[-1][2]

    def path(self) -> shapely.LineString:
        pts = [(x, y) for _t, x, y in self.waypoints]
        if len(pts) == 1:
            pts.append(pts[0])
        return shapely.LineString(pts)


def go(w: Walker, x: float, y: float, speed: float, pause: float = 0.0) -> None:
    t, x0, y0 = w.waypoints[-1]
    t1 = t + math.dist((x0, y0), (x, y)) / speed
    w.waypoints.append((t1, x, y))
    if pause:
        w.waypoints.append((t1 + pause, x, y))


def point_in(rng: random.Random, poly: shapely.Polygon, depth: float) -> tuple[float, float]:
    inner = poly.buffer(-depth)
    x0, y0, x1, y1 = inner.bounds
    while True:
        p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(shapely.Point(p)):
            return p


def walkers(rng: random.Random, zs: list[Zone]) -> list[Walker]:
    by_id = {z.id: z for z in zs}
    end = START + HOURS * 3600
    out: list[Walker] = []

    def new(role: str, groups: set[int], x: float, y: float) -> Walker:
        w = Walker(len(out) + 1, role, frozenset(groups), [(START, x, y)])
        out.append(w)
        return w

    for _ in range(16):  # visitors: into a small zone, deep, and out again, a few times
        z = by_id[rng.choice([1, 2, 4, 6])]
        c = z.poly.centroid
        w = new("visitor", {2} if z.id == 6 else set(), c.x + rng.uniform(-1500, 1500), c.y + rng.uniform(-1500, 1500))
        while w.waypoints[-1][0] < end - 3600:
            go(w, *point_in(rng, z.poly, rng.choice([MARGIN + 5, MARGIN + 40, 10.0])), rng.uniform(1.0, 1.5),
               pause=rng.uniform(120, 1200))
            go(w, c.x + rng.uniform(-1500, 1500), c.y + rng.uniform(-1500, 1500), rng.uniform(1.0, 1.5),
               pause=rng.uniform(300, 1800))
    for _ in range(6):  # leavers: out of their permitted "county" for a while
        w = new("leaver", {1}, rng.uniform(-3000, 3000), rng.uniform(-3000, 3000))
        while w.waypoints[-1][0] < end - 3600:
            go(w, rng.choice([-1, 1]) * rng.uniform(4300, 5500), rng.uniform(-3000, 3000), 6.0,
               pause=rng.uniform(300, 1800))
            go(w, rng.uniform(-3000, 3000), rng.uniform(-3000, 3000), 6.0, pause=rng.uniform(600, 2400))
    for _ in range(4):  # inside the scheduled zone before it starts, staying
        w = new("insider", set(), *point_in(rng, by_id[4].poly, MARGIN + 20))
        w.waypoints.append((SCHEDULE_START + 1800, *w.waypoints[0][1:]))
        go(w, -2500 + rng.uniform(-2000, 2000), rng.uniform(1000, 2000), 1.2)
    for _ in range(5):  # vehicles crossing the small zone 3 between two sparse fixes, back and forth
        off = rng.uniform(-30, 30)
        w = new("vehicle", set(), -2500.0, 2500 + off)
        for k in range(6):
            go(w, 2500.0 if k % 2 == 0 else -2500.0, 2500 - off if k % 2 == 0 else 2500 + off, 15.0,
               pause=rng.uniform(60, 900))
    for _ in range(8):  # hovering 70–150 m outside a border (a ring's too), never nearer
        z = by_id[rng.choice([1, 2, 3, 4])]
        c = z.poly.centroid
        extra = z.ring_m + rng.uniform(MARGIN + 15, 150)
        ring = z.poly.buffer(extra, quad_segs=32).exterior
        w = new("hoverer", set(), *ring.coords[0])
        for k in range(1, 200):
            p = ring.interpolate(k * 40.0)
            go(w, p.x, p.y, rng.uniform(0.5, 1.2))
    for _ in range(2):  # hovering just inside the county's border
        w = new("hoverer", {1}, -3000.0, 4000 - rng.uniform(MARGIN + 15, 150))
        for k in range(1, 60):
            go(w, -3000 + 100 * k, w.waypoints[0][2] + rng.uniform(-5, 5), rng.uniform(0.5, 1.2))
    for _ in range(10):  # wandering about
        w = new("wanderer", {1} if rng.random() < 0.5 else set(), rng.uniform(-3500, 3500), rng.uniform(-3500, 3500))
        while w.waypoints[-1][0] < end:
            go(w, max(-3800, min(3800, w.waypoints[-1][1] + rng.uniform(-600, 600))),
               max(-3800, min(3800, w.waypoints[-1][2] + rng.uniform(-600, 600))), rng.uniform(0.5, 1.5))
    return out


@dataclass
class Obs:
    ref: int
    tid: int
    t: float
    x: float
    y: float
    tx: float        # true position
    ty: float
    cell: bool
    jump: bool
    arrival: float
    late: bool = False


def observe(rng: random.Random, ws: list[Walker]) -> list[Obs]:
    obs: list[Obs] = []
    end = START + HOURS * 3600
    for w in ws:
        t = START + rng.uniform(0, 60)
        while t < end:
            tx, ty = w.at(t)
            cell = rng.random() < 0.05
            ex, ey = rng.gauss(0, SIGMA), rng.gauss(0, SIGMA)
            jump = not cell and rng.random() < 0.02 / 0.95
            if jump:
                d, a = rng.uniform(50, 300), rng.uniform(0, 2 * math.pi)
                ex, ey = ex + d * math.cos(a), ey + d * math.sin(a)
            if cell:
                acc = rng.uniform(500, 2000)
                ex, ey = rng.gauss(0, acc / 2), rng.gauss(0, acc / 2)
            delay = rng.uniform(180, 900) if rng.random() < 0.03 else rng.uniform(1, 10)
            obs.append(Obs(len(obs) + 1, w.tid, t, tx + ex, ty + ey, tx, ty, cell, jump, t + delay))
            step = 120.0 if w.role == "vehicle" else rng.uniform(30, 120)
            if w.role == "wanderer" and rng.random() < 0.01:
                step += rng.uniform(600, 1200)
            t += step
    rng.shuffle(obs)
    accuracy = {o.ref: (rng.uniform(500, 2000) if o.cell else rng.uniform(4, 15)) for o in obs}
    for o in obs:
        o.acc = accuracy[o.ref]  # type: ignore[attr-defined]
    return obs


def batches(obs: list[Obs]) -> list[tuple[float, list[Obs]]]:
    """60-second batches by arrival; marks late fixes (older than a fix of the target in an earlier batch)."""
    obs = sorted(obs, key=lambda o: o.arrival)
    out: list[tuple[float, list[Obs]]] = []
    edge = START + 60
    cur: list[Obs] = []
    for o in obs:
        while o.arrival >= edge:
            out.append((edge, cur))
            cur, edge = [], edge + 60
        cur.append(o)
    out.append((edge, cur))
    newest: dict[int, float] = defaultdict(lambda: -math.inf)
    for _now, batch in out:
        for o in batch:
            o.late = o.t < newest[o.tid]
        for o in batch:
            newest[o.tid] = max(newest[o.tid], o.t)
    return out


def run_engine(zs: list[Zone], ws: list[Walker], steps: list[tuple[float, list[Obs]]]) -> list[Effect]:
    e = Engine([spec(z) for z in zs])
    e.set_targets([TargetInfo(id=w.tid, kind="vehicle" if w.role == "vehicle" else "person", groups=w.groups)
                   for w in ws])
    effects: list[Effect] = []
    for now, batch in steps:
        fixes = []
        for o in batch:
            lon, lat = to_ll(o.x, o.y)
            fixes.append(FixIn(o.ref, o.tid, o.t, lon, lat, o.acc, "cell" if o.cell else "gnss", None))  # type: ignore[attr-defined]
        effects += e.process(fixes)
        effects += e.tick(now)
    return effects


def signed(poly: shapely.Polygon, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pts = shapely.points(x, y)
    d = shapely.distance(poly.boundary, pts)
    return np.where(shapely.intersects(poly, pts), d, -d)


def open_at(effects: list[Effect], tid: int, rule: str, zone: int, t: float) -> bool:
    """Whether an alert of target × rule × zone was open at device time t (raised then, or before and not
    cleared since)."""
    state = False
    for x in sorted((x for x in effects if x.target == tid and x.rule == rule and x.zone == zone),
                    key=lambda x: (x.t, x.kind != "clear")):
        if x.t > t:
            break
        if x.kind == "raise":
            state = True
        elif x.kind == "clear":
            state = False
    return state


def oracle_check(seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    zs = zones()
    ws = walkers(rng, zs)
    obs = observe(rng, ws)
    steps = batches(obs)
    effects = run_engine(zs, ws, steps)
    by_target: dict[int, list[Obs]] = defaultdict(list)
    for o in obs:
        by_target[o.tid].append(o)
    missed: list[str] = []
    violations = crossings = starts = 0
    for w in ws:
        mine = sorted(by_target[w.tid], key=lambda o: o.t)
        evaluated = [o for o in mine if not o.late]
        tx = np.array([o.tx for o in evaluated])
        ty = np.array([o.ty for o in evaluated])
        for z in zs:
            if not z.applies(w.groups):
                continue
            depth = signed(z.poly, tx, ty)
            if z.kind == "inclusion":
                depth = -depth
            rule = "zone_inclusion" if z.kind == "inclusion" else "zone_exclusion"
            run: list[Obs] = []
            for o, dpt in zip(evaluated, depth.tolist(), strict=True):
                if o.cell:
                    continue
                if not o.jump and dpt >= MARGIN and z.active(o.t):
                    run.append(o)
                    confirm = None
                    if z.fast and len(run) == 2:
                        confirm = run[1].t
                    elif len(run) >= 2 and run[-1].t - run[0].t >= DWELL:
                        confirm = run[-1].t
                    if confirm is not None:
                        violations += 1
                        if not open_at(effects, w.tid, rule, z.id, confirm):
                            missed.append(f"target {w.tid} ({w.role}) zone {z.id}: violation confirmed at "
                                          f"{confirm - START:.0f}s")
                        run = []  # one violation per run is enough to check
                else:
                    run = []
            if z.scheduled and z.kind == "exclusion":
                before = [o for o in evaluated if not o.cell and o.t < SCHEDULE_START]
                if before and not before[-1].jump and before[-1].arrival < SCHEDULE_START:
                    last = before[-1]
                    if signed(z.poly, np.array([last.tx]), np.array([last.ty]))[0] >= MARGIN:
                        starts += 1
                        if not open_at(effects, w.tid, "zone_exclusion", z.id, SCHEDULE_START):
                            missed.append(f"target {w.tid}: not alerted at the schedule start")
            if z.kind == "exclusion" and z.poly.area < 100_000:
                good = [o for o in evaluated if not o.cell]
                for a, b in zip(good, good[1:], strict=False):
                    if a.jump or b.jump or b.t - a.t > 600 or not z.active(b.t):
                        continue
                    ends = signed(z.poly, np.array([a.tx, b.tx]), np.array([a.ty, b.ty]))
                    seg = shapely.LineString([(a.tx, a.ty), (b.tx, b.ty)])
                    if ends.max() <= -MARGIN and seg.intersects(z.poly.buffer(-MARGIN)):
                        crossings += 1
                        if not open_at(effects, w.tid, "crossing", z.id, b.t):
                            missed.append(f"target {w.tid} ({w.role}) zone {z.id}: crossing at {b.t - START:.0f}s")
    # targets whose true path stays MARGIN from every border of every zone applying to them
    far: list[Walker] = []
    for w in ws:
        path = w.path()
        ok = True
        for z in zs:
            if not z.applies(w.groups):
                continue
            if z.kind == "inclusion":
                ok &= bool(path.within(z.poly.buffer(-MARGIN)))
            else:
                ok &= bool(path.distance(z.poly.buffer(z.ring_m) if z.ring_m else z.poly) >= MARGIN)
        if ok:
            far.append(w)
    far_ids = {w.tid for w in far}
    far_alerts = [x for x in effects if x.target in far_ids and x.kind == "raise"]
    # false alerts. "unmatched": no true violation at the buffer's level behind the raise (two evaluated
    # fixes truly ≥ buffer inside since the condition began; for a schedule start, the last fix; for a
    # crossing, the true segment ≥ buffer inside). "unsupported": the true path was not even in the zone.
    walker = {w.tid: w for w in ws}
    zone = {z.id: z for z in zs}
    unmatched, unsupported = [], []
    for x in (x for x in effects if x.kind == "raise"):
        w, z = walker[x.target], zone[x.zone]  # type: ignore[index]
        since = float(x.detail.get("since", x.t))
        grown = z.poly.buffer(z.ring_m) if x.rule == "zone_ring" else z.poly
        sign = -1.0 if z.kind == "inclusion" else 1.0
        if x.rule == "crossing":
            a, b = w.at(float(x.detail["from_t"])), w.at(float(x.detail["to_t"]))
            matched = shapely.LineString([a, b]).intersects(z.poly.buffer(-BUFFER))
            supported = shapely.LineString([a, b]).intersects(z.poly)
        else:
            window = [o for o in by_target[w.tid] if not o.cell and not o.late and since - 1 <= o.t <= x.t + 1]
            depth = sign * signed(grown, np.array([o.tx for o in window]), np.array([o.ty for o in window]))
            need = 1 if x.detail.get("reason") == "schedule_start" else 2
            matched = int((depth >= BUFFER).sum()) >= need
            ts = np.arange(since - 300, x.t + 1, 15.0)
            px, py = zip(*(w.at(t) for t in ts), strict=True)
            supported = bool((sign * signed(grown, np.array(px), np.array(py)) >= 0).any())
        if not matched:
            unmatched.append(x)
        if not supported:
            unsupported.append(x)
    target_days = len(ws) * HOURS / 24
    stats = {"violations": violations, "crossings": crossings, "starts": starts, "far": len(far),
             "raises": sum(1 for x in effects if x.kind == "raise"), "unmatched": len(unmatched),
             "unsupported": len(unsupported), "target_days": target_days,
             "false_per_target_day": len(unmatched) / target_days, "fixes": len(obs),
             "late": sum(o.late for o in obs)}
    assert not missed, missed[:10]
    assert not far_alerts, [(x.target, walker[x.target].role, x.rule, x.zone, x.t - START) for x in far_alerts[:10]]
    return stats


@pytest.mark.parametrize("seed", [101, 202, 303])
def test_engine_against_the_brute_force_oracle(seed: int) -> None:
    stats = oracle_check(seed)
    print(f"\noracle seed {seed}: {stats}")
    # the scenario exercises what it claims to
    assert stats["violations"] >= 15 and stats["crossings"] >= 3 and stats["starts"] >= 3 and stats["far"] >= 8
    assert stats["late"] > 50
    assert stats["false_per_target_day"] < 1.0

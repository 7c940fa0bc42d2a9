"""The tracking engine's rules, one behaviour per test (pure unit tests: no database).

Positions are written in metres around a local origin (``ll``); zones are circles and boxes around it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pingan.tracking import rules
from pingan.tracking.engine import (
    Effect,
    Engine,
    EngineConfig,
    FixContext,
    FixIn,
    TargetInfo,
    TargetView,
    ZoneSpec,
    zone_geometry_lonlat,
)
from pingan.tracking.geometry import Frame
from pingan.tracking.schedule import Schedule, local_seconds

LON0, LAT0 = 120.35, 30.85
F = Frame(LON0, LAT0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=SHANGHAI).timestamp()


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def ll(x: float, y: float) -> list[float]:
    lon, lat = F.to_lonlat(x, y)
    return [float(lon), float(lat)]


def circle(zid: int, x: float, y: float, r: float, kind: str = "exclusion", **kw: Any) -> ZoneSpec:
    return ZoneSpec(id=zid, kind=kind, shape="circle", coords=ll(x, y), radius_m=r, **kw)


def box(zid: int, x0: float, y0: float, x1: float, y1: float, kind: str = "exclusion", **kw: Any) -> ZoneSpec:
    ring = [ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1), ll(x0, y0)]
    return ZoneSpec(id=zid, kind=kind, shape="polygon", coords=[ring], **kw)


class Feed:
    """Fixes for targets, refs numbered in the order they are made."""

    def __init__(self) -> None:
        self.ref = 0

    def fix(self, target: int, t: float, x: float, y: float, *, acc: float | None = 5.0, kind: str = "gnss",
            speed: float | None = None) -> FixIn:
        self.ref += 1
        lon, lat = ll(x, y)
        return FixIn(ref=self.ref, target=target, t=t, lon=lon, lat=lat, accuracy_m=acc, fix_type=kind, speed_kmh=speed)

    def walk(self, target: int, t0: float, points: Sequence[tuple[float, float]], step_s: float = 60.0,
             **kw: Any) -> list[FixIn]:
        return [self.fix(target, t0 + i * step_s, x, y, **kw) for i, (x, y) in enumerate(points)]


def engine(zones: Sequence[ZoneSpec], *targets: TargetInfo, config: EngineConfig | None = None) -> Engine:
    e = Engine(zones, config)
    for info in targets or (TargetInfo(id=1, interval_s=None),):
        e.set_target(info)
    return e


def one_by_one(e: Engine, fixes: Sequence[FixIn]) -> list[Effect]:
    out: list[Effect] = []
    for f in fixes:
        out += e.process([f])
    return out


def summary(effects: Sequence[Effect]) -> list[tuple[str, str, int | None]]:
    return [(x.kind, x.rule, x.zone) for x in effects]


def raises(effects: Sequence[Effect]) -> list[Effect]:
    return [x for x in effects if x.kind == "raise"]


# --- exclusion, dwell, buffer ------------------------------------------------------------------------


def test_walking_into_an_exclusion_zone_raises_after_the_dwell() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    fixes = feed.walk(1, T0, [(-600 + 100 * i, 0) for i in range(6)] + [(0, 0)] * 4)
    out = one_by_one(e, fixes)
    # x = -200 (i=4) is 100 m inside; the run starts there: -200 at T0+240, -100 at +300, 0 at +360
    assert summary(out) == [("raise", "zone_exclusion", 1)] + [("evidence", "zone_exclusion", 1)] * 3
    first = out[0]
    assert first.t == T0 + 360 and first.refs == (5, 6, 7) and first.severity == "alarm"
    assert first.detail["since"] == T0 + 240 and first.detail["reason"] == "dwell"
    assert e.open_conditions(1) == [("zone_exclusion", 1)]


def test_drift_at_the_border_raises_nothing() -> None:
    rng = random.Random(7)
    zones = [circle(1, 0, 0, 300), box(2, -2000, -2000, 2000, 2000, kind="inclusion")]
    e = engine(zones)
    feed = Feed()
    # standing on the circle's border and on the box's, within ±29 m (less than the buffer) for two hours
    pts = []
    for i in range(240):
        side = 300 + rng.uniform(-29, 29) if i % 2 else 2000 + rng.uniform(-29, 29)
        ang = rng.uniform(-0.2, 0.2)
        pts.append((side * math.cos(ang), side * math.sin(ang)) if i % 2 else (side, rng.uniform(-500, 500)))
    out = one_by_one(e, feed.walk(1, T0, pts, step_s=30))
    assert out == []


def test_accuracy_circle_across_the_border_decides_nothing() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    # 60 m inside, but 80 m accuracy: undecided however long
    assert one_by_one(e, feed.walk(1, T0, [(-240, 0)] * 10, acc=80.0)) == []
    # the same place with 20 m accuracy is inside
    assert summary(one_by_one(e, feed.walk(1, T0 + 600, [(-240, 0)] * 3, acc=20.0)))[:1] == [
        ("raise", "zone_exclusion", 1)]


def test_one_open_alert_per_target_rule_zone() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(0, 0)] * 121, step_s=30))  # an hour inside
    assert len(raises(out)) == 1
    evidence = [x for x in out if x.kind == "evidence"]
    # one evidence effect per minute of device time after the raise (default evidence_every_s = 60)
    assert len(evidence) == 58
    assert all(b.t - a.t >= 60 for a, b in zip(evidence, evidence[1:], strict=False))
    capped = engine([circle(1, 0, 0, 300)], config=EngineConfig(evidence_max=5, evidence_every_s=0))
    out = one_by_one(capped, Feed().walk(1, T0, [(0, 0)] * 121, step_s=30))
    assert summary(out) == [("raise", "zone_exclusion", 1)] + [("evidence", "zone_exclusion", 1)] * 5


def test_rearm_after_clear_time() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(0, 0)] * 3))                     # raise at T0 + 120
    assert summary(out) == [("raise", "zone_exclusion", 1)]
    # out for 4 minutes (< rearm 300 s): no clear; back in: evidence, not a new raise
    out = one_by_one(e, feed.walk(1, T0 + 180, [(1000, 0)] * 5))
    assert out == []
    out = one_by_one(e, feed.walk(1, T0 + 480, [(0, 0)] * 2))
    assert summary(out) == [("evidence", "zone_exclusion", 1)] * 2
    # out again: the clock restarts; clear at the first outside fix 300 s after the first one
    out = one_by_one(e, feed.walk(1, T0 + 600, [(1000, 0)] * 7))
    assert summary(out) == [("clear", "zone_exclusion", 1)]
    assert out[0].t == T0 + 900 and out[0].detail == {"reason": "rearm", "since": T0 + 600}
    assert e.open_conditions(1) == []
    # re-armed: in again raises a new alert
    out = one_by_one(e, feed.walk(1, T0 + 1200, [(0, 0)] * 3))
    assert summary(out) == [("raise", "zone_exclusion", 1)]


def test_cell_fix_decides_no_border() -> None:
    e = engine([circle(1, 0, 0, 300)], TargetInfo(id=1, interval_s=600))
    feed = Feed()
    assert one_by_one(e, feed.walk(1, T0, [(0, 0)] * 20, kind="cell", acc=800.0)) == []
    assert one_by_one(e, feed.walk(1, T0 + 1200, [(0, 0)] * 20, kind="wifi", acc=40.0)) == []
    assert one_by_one(e, feed.walk(1, T0 + 2400, [(0, 0)] * 20, acc=150.0)) == []   # GNSS, poor accuracy
    assert one_by_one(e, feed.walk(1, T0 + 3600, [(0, 0)] * 20, acc=None)) == []
    state = e.export_state(1)
    assert "g" not in state and "k" not in state
    # …but every fix is contact: not lost, whatever its kind
    assert state["c"] == T0 + 3600 + 19 * 60
    assert e.tick(T0 + 3600 + 19 * 60 + 1700) == []


def test_impossible_jump_is_ignored() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    home = (30000.0, 0.0)
    fixes = feed.walk(1, T0, [home] * 3)
    # two fixes in the zone, 30 km from home within a minute: 1,800 km/h for a person
    fixes += [feed.fix(1, T0 + 150, 0, 0), feed.fix(1, T0 + 280, 10, 0)]
    fixes += feed.walk(1, T0 + 300, [home] * 3)
    out = one_by_one(e, fixes)
    assert out == [] and e.stats["rejected_speed"] == 2
    assert e.export_state(1)["g"][0] == T0 + 420                     # the last home fix, not the jump
    assert "q" not in e.export_state(1)


def test_a_target_that_really_moved_is_followed_again() -> None:
    # three consecutive fixes that agree with each other but not with the last good fix: re-anchored
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(30000, 0)] * 2) + feed.walk(1, T0 + 130, [(0, 0)] * 6, step_s=60))
    assert summary(raises(out)) == [("raise", "zone_exclusion", 1)]
    # the third agreeing fix (T0 + 250) becomes good; two more good ones make the dwell
    assert raises(out)[0].detail["since"] == T0 + 250


# --- late fixes --------------------------------------------------------------------------------------


def test_late_fix_never_rewinds_state() -> None:
    e = engine([circle(1, 0, 0, 300)])
    feed = Feed()
    assert one_by_one(e, feed.walk(1, T0, [(2000, 0)] * 11)) == []      # T0 … T0 + 600, far outside
    before = e.export_state(1)
    # late fixes deep inside the zone, from before the newest one: evidence only, no alert to attach to
    late = feed.walk(1, T0 + 60, [(0, 0)] * 8)
    assert e.process(late) == [] and one_by_one(e, late) == []
    assert e.export_state(1) == before
    # with an alert open: late fixes inside are evidence; late fixes outside never clear
    one_by_one(e, feed.walk(1, T0 + 660, [(0, 0)] * 3))
    assert e.open_conditions(1) == [("zone_exclusion", 1)]
    out = e.process(feed.walk(1, T0 + 30, [(0, 0)] * 2, step_s=10))
    assert summary(out) == [("evidence", "zone_exclusion", 1)] * 2 and all(x.detail.get("late") for x in out)
    assert e.process(feed.walk(1, T0 + 100, [(2000, 0)] * 10, step_s=60)) == []
    assert e.open_conditions(1) == [("zone_exclusion", 1)]
    assert e.export_state(1)["n"] == T0 + 780


def test_fixes_in_one_batch_are_sorted_per_target() -> None:
    zones = [circle(1, 0, 0, 300)]
    feed = Feed()
    fixes = feed.walk(1, T0, [(0, 0)] * 5) + feed.walk(2, T0, [(0, 0)] * 5) + feed.walk(3, T0, [(900, 0)] * 5)
    shuffled = fixes[:]
    random.Random(1).shuffle(shuffled)
    a = engine(zones, TargetInfo(id=1), TargetInfo(id=2), TargetInfo(id=3))
    b = engine(zones, TargetInfo(id=1), TargetInfo(id=2), TargetInfo(id=3))
    in_one = a.process(shuffled)
    in_order = one_by_one(b, sorted(fixes, key=lambda f: f.t))
    key = lambda x: (x.target, x.t, x.kind)  # noqa: E731
    assert in_one == sorted(in_one, key=key)                           # per target by id, in device time
    assert in_one == sorted(in_order, key=key)


# --- schedules ------------------------------------------------------------------------------------------


NIGHT = Schedule(windows=[("22:00", "06:00")])


def test_target_already_inside_when_schedule_starts_is_alerted_at_once() -> None:
    e = engine([circle(1, 0, 0, 300, schedule=NIGHT)])
    feed = Feed()
    assert one_by_one(e, feed.walk(1, at("2026-05-04 21:40"), [(0, 0)] * 20)) == []   # inactive
    out = e.tick(at("2026-05-04 22:00:05"))
    assert summary(out) == [("raise", "zone_exclusion", 1)]
    assert out[0].t == at("2026-05-04 22:00") and out[0].detail["reason"] == "schedule_start"
    assert out[0].refs == (20,)
    assert e.tick(at("2026-05-04 22:01")) == []
    # without a tick, the first fix after the start finds the flip itself
    e2 = engine([circle(1, 0, 0, 300, schedule=NIGHT)])
    feed2 = Feed()
    one_by_one(e2, feed2.walk(1, at("2026-05-04 21:40"), [(0, 0)] * 20))
    out = e2.process([feed2.fix(1, at("2026-05-04 22:00:30"), 0, 0)])
    assert summary(out) == [("raise", "zone_exclusion", 1)] and out[0].t == at("2026-05-04 22:00")


def test_target_outside_its_inclusion_zone_when_schedule_starts_is_alerted_at_once() -> None:
    e = engine([box(1, -1000, -1000, 1000, 1000, kind="inclusion", schedule=NIGHT)])
    feed = Feed()
    one_by_one(e, feed.walk(1, at("2026-05-04 21:50"), [(5000, 0)] * 5))
    assert summary(e.tick(at("2026-05-04 22:00:10"))) == [("raise", "zone_inclusion", 1)]


def test_schedule_end_clears_without_raising() -> None:
    e = engine([circle(1, 0, 0, 300, schedule=NIGHT), circle(2, 3000, 0, 300, schedule=NIGHT)],
               TargetInfo(id=1), TargetInfo(id=2))
    feed = Feed()
    out = one_by_one(e, feed.walk(1, at("2026-05-05 05:40"), [(0, 0)] * 5))          # alert open
    assert summary(raises(out)) == [("raise", "zone_exclusion", 1)]
    # target 2 enters zone 2 at 05:59: a run in progress when the schedule ends
    assert one_by_one(e, feed.walk(2, at("2026-05-05 05:59"), [(3000, 0)])) == []
    out = e.tick(at("2026-05-05 06:00:05"))
    assert summary(out) == [("clear", "zone_exclusion", 1)] and out[0].detail == {"reason": "schedule_end"}
    assert e.open_conditions(1) == [] and "k" not in e.export_state(2)
    # still inside, after the end: nothing
    assert one_by_one(e, feed.walk(2, at("2026-05-05 06:01"), [(3000, 0)] * 10)) == []


def test_a_schedule_flip_between_two_fixes_is_found_without_a_tick() -> None:
    e = engine([circle(1, 0, 0, 300, schedule=NIGHT)])
    feed = Feed()
    one_by_one(e, feed.walk(1, at("2026-05-05 05:50"), [(0, 0)] * 5))     # raised at 05:52
    out = e.process([feed.fix(1, at("2026-05-05 06:03"), 0, 0)])
    assert summary(out) == [("clear", "zone_exclusion", 1)] and out[0].t == at("2026-05-05 06:00")
    assert e.next_due(1) is None


# --- inclusion, fast, ring, speed --------------------------------------------------------------------------


def test_leaving_the_inclusion_zone_raises_after_the_dwell() -> None:
    e = engine([box(1, -2000, -2000, 2000, 2000, kind="inclusion")])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(1900 + 50 * i, 0) for i in range(5)]))
    # outside by the buffer from x = 2050 (i=3)
    assert out == []
    out = one_by_one(e, feed.walk(1, T0 + 300, [(9000, 0)] * 3))            # far away: no zone near at all
    assert summary(out) == [("raise", "zone_inclusion", 1)] and out[0].detail["since"] == T0 + 180


def test_fast_zone_alerts_on_the_second_consecutive_inside_fix() -> None:
    e = engine([circle(1, 0, 0, 300, fast=True)])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(500, 0), (0, 0), (0, 0)], step_s=10))
    assert summary(out) == [("raise", "zone_exclusion", 1)] and out[0].detail["reason"] == "fast"
    # an undecided fix between two inside fixes breaks "consecutive"
    e2 = engine([circle(1, 0, 0, 300, fast=True)])
    assert one_by_one(e2, feed.walk(1, T0, [(0, 0), (290, 0), (0, 0)], step_s=10)) == []


def test_ring_warns_before_the_zone() -> None:
    e = engine([circle(1, 0, 0, 300, ring_m=200)])
    feed = Feed()
    out = one_by_one(e, feed.walk(1, T0, [(400, 0)] * 4))      # 100 m outside the zone, inside its ring
    assert summary(out) == [("raise", "zone_ring", 1), ("evidence", "zone_ring", 1)]
    assert out[0].severity == "warning"
    assert one_by_one(e, feed.walk(1, T0 + 600, [(480, 0)] * 4)) == []   # the ring's border ±buffer: undecided


def test_speed_above_the_limit_for_longer_than_the_duration() -> None:
    zone = box(1, -3000, -200, 3000, 200, kind="speed", speed_limit_kmh=60, speed_duration_s=60)
    e = engine([zone], TargetInfo(id=1, kind="vehicle"))
    feed = Feed()
    # one fix over the limit, then under: nothing
    assert one_by_one(e, feed.walk(1, T0, [(-2000 + 400 * i, 0) for i in range(3)], step_s=20,
                                   speed=70.0)[:1] + feed.walk(1, T0 + 20, [(-1600, 0)], speed=50.0)) == []
    # over the limit for 60 s: raise at the fix 60 s after the first over-limit one
    fixes = [feed.fix(1, T0 + 100 + 20 * i, -1000 + 450 * i, 0, speed=81.0) for i in range(5)]
    out = one_by_one(e, fixes)
    assert summary(out) == [("raise", "speed", 1)] and out[0].t == T0 + 160
    # without a device speed, the implied speed counts: 25 m/s = 90 km/h
    e2 = engine([zone], TargetInfo(id=1))
    out = one_by_one(e2, feed.walk(1, T0, [(-2500 + 500 * i, 0) for i in range(6)], step_s=20))
    assert summary(out) == [("raise", "speed", 1)]


# --- crossing ---------------------------------------------------------------------------------------------


def test_sparse_fixes_crossing_a_zone_raise_crossing() -> None:
    e = engine([circle(1, 0, 0, 100)], TargetInfo(id=1, kind="vehicle"))
    feed = Feed()
    a, b, c = feed.walk(1, T0, [(-900, 10), (900, -10), (2700, 0)], step_s=120)
    assert e.process([a]) == [] and e.process([b]) == []                 # pending until the next fix
    out = e.process([c])
    assert summary(out) == [("raise", "crossing", 1)]
    assert out[0].refs == (a.ref, b.ref) and out[0].t == b.t and out[0].detail["since"] == a.t
    # no zone alert (neither fix was inside), and once only
    assert one_by_one(e, feed.walk(1, T0 + 360, [(4500, 0), (6300, 0)], step_s=120)) == []


def test_a_pending_crossing_is_confirmed_by_the_tick() -> None:
    e = engine([circle(1, 0, 0, 100)], TargetInfo(id=1, kind="vehicle"))
    feed = Feed()
    one_by_one(e, feed.walk(1, T0, [(-900, 0), (900, 0)], step_s=120))
    assert e.next_due(1) == T0 + 120 + 600
    assert e.tick(T0 + 500) == []
    assert summary(e.tick(T0 + 720)) == [("raise", "crossing", 1)]


def test_a_multipath_spike_across_a_zone_is_not_a_crossing() -> None:
    e = engine([circle(1, 0, 0, 100)])
    feed = Feed()
    # standing 400 m south; one fix jumps 800 m north, across the zone, and the next is back
    fixes = feed.walk(1, T0, [(0, -400), (0, -400), (0, 400), (0, -400), (0, -400)], step_s=60)
    assert one_by_one(e, fixes) == []


# --- targets: unmonitored, lost contact, applicability ------------------------------------------------------


def test_unmonitored_target_runs_no_rule() -> None:
    e = engine([circle(1, 0, 0, 300)], TargetInfo(id=1, monitored=False, interval_s=60))
    feed = Feed()
    assert e.process(feed.walk(1, T0, [(0, 0)] * 10)) == []
    assert e.export_state(1) == {"v": 1}
    assert e.tick(T0 + 86400) == [] and e.next_due(1) is None
    # monitored again: evaluated from then on
    e.set_target(TargetInfo(id=1, monitored=True))
    assert summary(one_by_one(e, feed.walk(1, T0 + 1000, [(0, 0)] * 3))) == [("raise", "zone_exclusion", 1)]


def test_lost_contact_is_the_targets_own_state_and_the_next_fix_clears_it() -> None:
    e = engine([box(1, -2000, -2000, 2000, 2000, kind="inclusion")], TargetInfo(id=1, interval_s=600))
    feed = Feed()
    assert one_by_one(e, feed.walk(1, T0, [(0, 0)] * 3)) == []
    last = T0 + 120
    assert e.next_due(1) == last + 1800
    assert e.tick(last + 1800) == []
    out = e.tick(last + 1801)
    assert summary(out) == [("raise", "lost_contact", None)] and out[0].severity == "warning"
    assert out[0].detail["since"] == last and out[0].detail["lon"] == pytest.approx(LON0)
    assert e.tick(last + 4000) == [] and e.next_due(1) is None   # open: once
    out = e.process([feed.fix(1, last + 5000, 0, 0, kind="cell", acc=1500.0)])
    assert summary(out) == [("clear", "lost_contact", None)] and out[0].detail == {"reason": "contact"}
    assert e.open_conditions(1) == []


def test_zones_apply_to_their_targets_and_groups_only() -> None:
    zones = [circle(1, 0, 0, 300, groups=frozenset({3})), circle(2, 2000, 0, 300, targets=frozenset({2})),
             circle(3, 4000, 0, 300)]
    e = engine(zones, TargetInfo(id=1, groups=frozenset({3})), TargetInfo(id=2, groups=frozenset({4})))
    feed = Feed()
    fixes = []
    for tid in (1, 2):
        for x in (0, 2000, 4000):
            fixes += feed.walk(tid, T0 + x, [(x, 0)] * 3)
    got = {(x.target, x.zone) for x in raises(e.process(fixes))}
    assert got == {(1, 1), (1, 3), (2, 2), (2, 3)}


def test_a_zone_that_stops_applying_clears_its_open_alert() -> None:
    e = engine([circle(1, 0, 0, 300, groups=frozenset({3}))], TargetInfo(id=1, groups=frozenset({3})))
    one_by_one(e, Feed().walk(1, T0, [(0, 0)] * 3))
    out = e.set_target(TargetInfo(id=1, groups=frozenset({4})))
    assert summary(out) == [("clear", "zone_exclusion", 1)] and out[0].detail == {"reason": "not_applicable"}
    assert e.open_conditions(1) == []


def test_unknown_targets_are_counted_and_ignored() -> None:
    e = engine([circle(1, 0, 0, 300)])
    assert e.process(Feed().walk(99, T0, [(0, 0)] * 5)) == []
    assert e.stats["unknown_target"] == 5


def test_a_zone_that_cannot_be_built_is_skipped_and_the_others_work() -> None:
    bad = ZoneSpec(id=9, kind="exclusion", shape="circle", coords=ll(0, 0), radius_m=0)
    worse = ZoneSpec(id=8, kind="exclusion", shape="polygon", coords=None)
    e = engine([bad, worse, circle(1, 0, 0, 300)])
    assert set(e.skipped_zones) == {8, 9}
    assert summary(raises(one_by_one(e, Feed().walk(1, T0, [(0, 0)] * 3)))) == [("raise", "zone_exclusion", 1)]


def test_the_lon_lat_polygon_is_what_actions_validate() -> None:
    poly = zone_geometry_lonlat("circle", ll(0, 0), radius_m=300)
    assert poly.is_valid and poly.contains(poly.centroid)
    bowtie = [[ll(0, 0), ll(100, 100), ll(100, 0), ll(0, 100), ll(0, 0)]]
    assert not zone_geometry_lonlat("polygon", bowtie).is_valid


# --- state export / import -----------------------------------------------------------------------------------


def scenario(seed: int) -> tuple[list[ZoneSpec], list[TargetInfo], list[tuple[float, list[FixIn]]]]:
    """Zones of every kind (one on a schedule that starts mid-run), 24 targets walking about them for
    three hours, in 60-second batches, with late and cell fixes: (zones, targets, [(tick time, batch)])."""
    rng = random.Random(seed)
    zones = [circle(1, 0, 0, 250), circle(2, 1500, 0, 150, fast=True), circle(3, 0, 1500, 200, ring_m=150),
             box(4, -3000, -3000, 3000, 3000, kind="inclusion", groups=frozenset({1})),
             box(5, -2500, -400, 2500, -100, kind="speed", speed_limit_kmh=40, speed_duration_s=40),
             circle(6, -1500, 0, 300, schedule=Schedule(windows=[("11:00", "12:30")]))]
    targets = [TargetInfo(id=i, kind="vehicle" if i % 4 == 0 else "person", groups=frozenset({1}) if i % 3 else frozenset(),
                          interval_s=900) for i in range(1, 25)]
    feed = Feed()
    start = at("2026-05-04 10:30")
    fixes: list[tuple[float, FixIn]] = []
    for info in targets:
        x, y = rng.uniform(-2500, 2500), rng.uniform(-2500, 2500)
        t = start + rng.uniform(0, 60)
        speed = 12.0 if info.kind == "vehicle" else 1.5
        heading = rng.uniform(0, 2 * math.pi)
        while t < start + 3 * 3600:
            heading += rng.gauss(0, 0.6)
            dt_s = rng.uniform(30, 120)
            if rng.random() < 0.02:
                dt_s += 1800.0  # a silence
            x = max(-4000, min(4000, x + speed * dt_s * math.cos(heading)))
            y = max(-4000, min(4000, y + speed * dt_s * math.sin(heading)))
            t += dt_s
            if rng.random() < 0.6:  # head for the nearest small zone now and then
                cx, cy = min([(0, 0), (1500, 0), (0, 1500), (-1500, 0)], key=lambda c: math.dist(c, (x, y)))
                heading = math.atan2(cy - y, cx - x) + rng.gauss(0, 0.3)
            kind, acc = ("cell", rng.uniform(500, 2000)) if rng.random() < 0.05 else ("gnss", rng.uniform(4, 15))
            ex, ey = rng.gauss(0, 10), rng.gauss(0, 10)
            if rng.random() < 0.02:
                jump, ang = rng.uniform(50, 300), rng.uniform(0, 2 * math.pi)
                ex, ey = ex + jump * math.cos(ang), ey + jump * math.sin(ang)
            if kind == "cell":
                ex, ey = rng.gauss(0, acc / 2), rng.gauss(0, acc / 2)
            sp = speed * 3.6 + rng.gauss(0, 2) if info.kind == "vehicle" and kind == "gnss" else None
            delay = rng.uniform(1, 10) if rng.random() > 0.03 else rng.uniform(200, 900)  # some arrive late
            fixes.append((t + delay, feed.fix(info.id, t, x + ex, y + ey, acc=acc, kind=kind, speed=sp)))
    fixes.sort(key=lambda p: p[0])
    steps: list[tuple[float, list[FixIn]]] = []
    edge = start + 60
    batch: list[FixIn] = []
    for arrival, fix in fixes:
        while arrival >= edge:
            steps.append((edge, batch))
            batch, edge = [], edge + 60
        batch.append(fix)
    steps.append((edge, batch))
    return zones, targets, steps


def run_steps(e: Engine, steps: Sequence[tuple[float, list[FixIn]]]) -> list[list[Effect]]:
    return [e.process(batch) + e.tick(now) for now, batch in steps]


@pytest.mark.parametrize("seed", [11, 12])
def test_resuming_from_exported_state_gives_the_same_effects(seed: int) -> None:
    zones, targets, steps = scenario(seed)
    whole = Engine(zones)
    whole.set_targets(targets)
    reference = run_steps(whole, steps)
    assert sum(len(r) for r in reference) > 20
    assert {x.rule for r in reference for x in r} >= {"zone_exclusion", "zone_inclusion", "zone_ring", "speed"}
    for cut in (len(steps) // 3, 2 * len(steps) // 3):
        first = Engine(zones)
        first.set_targets(targets)
        head = run_steps(first, steps[:cut])
        saved = json.loads(json.dumps({t.id: first.export_state(t.id) for t in targets}))
        second = Engine(zones)
        second.set_targets(targets)
        for t in targets:
            second.import_state(t.id, saved[str(t.id)])
        assert {t.id: second.export_state(t.id) for t in targets} == {int(k): v for k, v in saved.items()}
        tail = run_steps(second, steps[cut:])
        assert head + tail == reference


def test_importing_state_keeps_the_targets_settings() -> None:
    e = engine([circle(1, 0, 0, 300)], TargetInfo(id=1, kind="vehicle", interval_s=600))
    e.import_state(1, {"v": 1, "n": T0 - 60, "c": T0 - 60})
    e.import_state(1, None)
    # 90 km/h between fixes: a vehicle's speed (not an impossible jump), and contact is lost after 1,800 s
    out = one_by_one(e, Feed().walk(1, T0, [(-1500 + 1500 * i, 0) for i in range(2)] + [(0, 0)] * 3))
    assert e.stats["rejected_speed"] == 0 and summary(raises(out)) == [("raise", "zone_exclusion", 1)]
    assert e.next_due(1) == T0 + 240 + 1800


def test_a_stateless_engine_loading_each_batchs_targets_gives_the_same_effects() -> None:
    """As the pipeline uses it: per batch, set and import the batch's targets, run, export, forget."""
    zones, targets, steps = scenario(13)
    whole = Engine(zones)
    whole.set_targets(targets)
    reference = run_steps(whole, steps)
    store: dict[int, dict[str, Any] | None] = {t.id: None for t in targets}
    info = {t.id: t for t in targets}
    e = Engine(zones)
    got: list[list[Effect]] = []

    def load(ids: list[int]) -> None:
        for tid in ids:
            e.set_target(info[tid])
            e.import_state(tid, store[tid])

    def save(ids: list[int]) -> None:
        for tid in ids:
            store[tid] = json.loads(json.dumps(e.export_state(tid)))
            e.forget(tid)

    for now, batch in steps:
        ids = sorted({f.target for f in batch})
        load(ids)
        out = e.process(batch)
        save(ids)
        load(sorted(info))
        out += e.tick(now)
        save(sorted(info))
        got.append(out)
    assert got == reference


# --- an extension rule, registered by a test ---------------------------------------------------------------


class NightDriving(rules.Rule):
    """途安在线-style: a coach moving faster than 10 km/h between 02:00 and 05:00 for a minute."""

    name = "test_night_driving"
    every_fix = True

    def applies(self, target: TargetInfo) -> bool:
        return target.kind == "vehicle" and "coach" in target.tags

    def on_fix(self, ctx: FixContext) -> None:
        if not ctx.good:
            return
        night = 2 * 3600 <= local_seconds(ctx.t) < 5 * 3600
        moving = (ctx.speed_kmh or 0.0) > 10.0
        ctx.observe(self, None, 1 if night and moving else -1, dwell_s=60, detail={"speed_kmh": ctx.speed_kmh})


class LongDriving(rules.Rule):
    """Fatigue-style, with its own state: driving for more than 10 minutes without a 2-minute rest."""

    name = "test_long_driving"
    every_fix = True

    def applies(self, target: TargetInfo) -> bool:
        return target.kind == "vehicle"

    def on_fix(self, ctx: FixContext) -> None:
        if not ctx.good or ctx.speed_kmh is None:
            return
        st = ctx.state(self)
        if ctx.speed_kmh > 5:
            st.pop("rest", None)
            st.setdefault("since", ctx.t)
            if ctx.t - st["since"] > 600:
                ctx.raise_alert(self, None, detail={"since": st["since"]})
        elif "since" in st:
            st.setdefault("rest", ctx.t)
            if ctx.t - st["rest"] >= 120:
                st.clear()
                ctx.clear(self, None, detail={"reason": "rested"})

    def next_due(self, view: TargetView) -> float | None:
        since = view.state(self).get("since")
        return None if since is None else since + 600


@pytest.fixture
def extension_rules() -> Iterator[None]:
    rules.register(NightDriving)
    rules.register(LongDriving)
    yield
    rules.unregister(NightDriving.name)
    rules.unregister(LongDriving.name)


def test_an_extension_rule_registers_and_fires_without_touching_the_engine(extension_rules: None) -> None:
    e = Engine([])
    assert "test_night_driving" in {r.name for r in e.rules}
    coach = TargetInfo(id=1, kind="vehicle", tags=frozenset({"coach"}))
    truck = TargetInfo(id=2, kind="vehicle")
    e.set_targets([coach, truck])
    feed = Feed()
    night = at("2026-05-05 02:30")
    fixes = [feed.fix(tid, night + 20 * i, 200 * i, 0, speed=36.0) for tid in (1, 2) for i in range(5)]
    out = [x for x in e.process(fixes) if x.rule == "test_night_driving"]
    assert summary(out) == [("raise", "test_night_driving", None)]
    assert out[0].target == 1 and out[0].t == night + 60 and out[0].detail["speed_kmh"] == 36.0
    # the same at 01:30 is not night driving
    e2 = Engine([])
    e2.set_target(coach)
    day = at("2026-05-05 01:30")
    assert [x for x in e2.process([feed.fix(1, day + 20 * i, 200 * i, 0, speed=36.0) for i in range(5)])
            if x.rule == "test_night_driving"] == []


def test_an_extension_rules_state_travels_with_the_target(extension_rules: None) -> None:
    e = Engine([])
    truck = TargetInfo(id=2, kind="vehicle")
    e.set_target(truck)
    feed = Feed()
    assert e.process([feed.fix(2, T0 + 60 * i, 600 * i, 0, speed=36.0) for i in range(6)]) == []
    state = json.loads(json.dumps(e.export_state(2)))
    assert state["r"] == {"test_long_driving": {"since": T0}}
    assert e.next_due(2) == T0 + 600
    again = Engine([])
    again.set_target(truck)
    again.import_state(2, state)
    out = again.process([feed.fix(2, T0 + 360 + 60 * i, 3600 + 600 * i, 0, speed=36.0) for i in range(1, 6)])
    assert summary(out) == [("raise", "test_long_driving", None)] and out[0].t == T0 + 660
    out = again.process([feed.fix(2, T0 + 720 + 60 * i, 7000, 0, speed=0.0) for i in range(4)])
    assert summary(out) == [("clear", "test_long_driving", None)]
    assert "r" not in again.export_state(2)


def test_registering_a_different_rule_under_a_taken_name_is_refused() -> None:
    class Impostor(rules.Rule):
        name = "zone_exclusion"

    with pytest.raises(ValueError):
        rules.register(Impostor)

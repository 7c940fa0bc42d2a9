"""The engine's fast paths give exactly the effects and states of the plain ones.

* ``Engine.process_columns`` (fixes as numpy columns) against ``Engine.process`` (``FixIn`` tuples);
* schedule flips: a target whose flips can do nothing (its last good fix far from the zone at a start) stays
  on the vectorised path; forcing every flipping target onto the per-fix Python path (as before that
  shortcut) must give the same effects and states, over many flips with targets in, near and far from
  scheduled zones, noisy fixes, and fixes one at a time as well as in batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from pingan.tracking.engine import Effect, Engine, FixIn, TargetInfo, ZoneSpec
from pingan.tracking.schedule import Schedule

LON0, LAT0 = 120.35, 30.85
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_574.0
T0 = 1_780_000_000.0  # 2026-05-28


def _ring(cx: float, cy: float, r: float, n: int = 10) -> list[list[float]]:
    pts = [[LON0 + (cx + r * math.cos(a)) / KX, LAT0 + (cy + r * math.sin(a)) / KY]
           for a in np.linspace(0, 2 * math.pi, n, endpoint=False)]
    return [*pts, pts[0]]


def _zones() -> list[ZoneSpec]:
    # windows that flip every 20–40 minutes, and a date range that ends inside the run
    flicker = Schedule(windows=[[f"{h:02d}:00", f"{h:02d}:20"] for h in range(24)]
                       + [[f"{h:02d}:40", f"{h:02d}:59"] for h in range(24)])
    halves = Schedule(windows=[[f"{h:02d}:30", f"{h + 1:02d}:00"] for h in range(24)])
    dates = Schedule(dates=[["2026-05-01", "2026-05-28"]])
    return [
        ZoneSpec(1, "exclusion", "polygon", [_ring(0, 0, 400)], fast=True, schedule=flicker),
        ZoneSpec(2, "exclusion", "polygon", [_ring(1500, 0, 300)], ring_m=150, schedule=halves),
        ZoneSpec(3, "exclusion", "circle", [LON0 + 3000 / KX, LAT0], radius_m=350, fast=True, schedule=dates,
                 groups=frozenset({7})),
        ZoneSpec(4, "inclusion", "polygon", [_ring(800, 0, 2500, 16)], schedule=halves, groups=frozenset({8})),
        ZoneSpec(5, "exclusion", "polygon", [_ring(0, 2000, 250)], schedule=flicker),
    ]


def _fixes(seed: int, targets: int, per_target: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # targets start in, near and far from the zones and random-walk
    cx = rng.choice([0.0, 1500.0, 3000.0, 0.0, 6000.0], targets) + rng.normal(0, 500, targets)
    cy = rng.choice([0.0, 0.0, 0.0, 2000.0, -5000.0], targets) + rng.normal(0, 500, targets)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("target", "t", "x", "y", "acc", "gnss")}
    t = T0 + rng.uniform(0, 600, targets)
    x, y = cx.copy(), cy.copy()
    for _ in range(per_target):
        dt = rng.uniform(30, 900, targets)
        t = t + dt
        x = x + rng.normal(0, 1.0, targets) * dt
        y = y + rng.normal(0, 1.0, targets) * dt
        jump = rng.random(targets) < 0.03
        cell = rng.random(targets) < 0.05
        ex = rng.normal(0, 10, targets) + np.where(jump, rng.uniform(50, 300, targets), 0.0)
        rows["target"].append(np.arange(1, targets + 1))
        rows["t"].append(t.copy())
        rows["x"].append(x + ex)
        rows["y"].append(y + rng.normal(0, 10, targets))
        rows["acc"].append(np.where(cell, rng.uniform(500, 2000, targets), rng.uniform(4, 15, targets)))
        rows["gnss"].append(~cell)
    out = {k: np.concatenate(v) for k, v in rows.items()}
    order = np.argsort(out["t"], kind="stable")
    out = {k: v[order] for k, v in out.items()}
    # 3 % delivered late: swapped with a fix 1–20 places later
    n = out["t"].size
    late = np.flatnonzero(rng.random(n) < 0.03)
    for i in late.tolist():
        j = min(n - 1, i + int(rng.integers(1, 20)))
        for v in out.values():
            v[i], v[j] = v[j], v[i]
    out["ref"] = np.arange(1, n + 1)
    out["lon"] = LON0 + out["x"] / KX
    out["lat"] = LAT0 + out["y"] / KY
    return out


def _engine(targets: int, *, shortcut: bool = True) -> Engine:
    e = Engine(_zones())
    for i in range(1, targets + 1):
        e.set_target(TargetInfo(id=i, groups=frozenset({7 if i % 3 == 0 else 8}), interval_s=3600))
    if not shortcut:
        e._start_far_clear[:] = False  # every flipping target on the per-fix path, as before the shortcut
    return e


def _run(e: Engine, f: dict[str, np.ndarray], batch: int, columns: bool) -> list[Effect]:
    out: list[Effect] = []
    n = f["t"].size
    for a in range(0, n, batch):
        s = slice(a, a + batch)
        if columns:
            out += e.process_columns(f["ref"][s], f["target"][s], f["t"][s], f["lon"][s], f["lat"][s], f["acc"][s],
                                     f["gnss"][s])
        else:
            out += e.process([FixIn(int(r), int(tg), float(t), float(lo), float(la), float(ac), "gnss" if g else "cell")
                              for r, tg, t, lo, la, ac, g in zip(f["ref"][s], f["target"][s], f["t"][s], f["lon"][s],
                                                                 f["lat"][s], f["acc"][s], f["gnss"][s], strict=True)])
        if a % (batch * 7) == 0:
            out += e.tick(float(f["t"][s].max()))
    out += e.tick(float(f["t"].max()) + 7200)
    return out


def _states(e: Engine, targets: int) -> list[dict]:
    return [e.export_state(i) for i in range(1, targets + 1)]


@pytest.mark.parametrize("batch", [1, 37, 2_000])
def test_columns_and_the_flip_shortcut_change_nothing(batch: int) -> None:
    targets = 120
    f = _fixes(5 + batch, targets, 60 if batch > 1 else 25)
    if batch == 1:
        f = {k: v[:1500] for k, v in f.items()}
    runs: dict[str, tuple[list[Effect], list[dict]]] = {}
    variants: dict[str, Callable[[], tuple[Engine, bool]]] = {
        "tuples": lambda: (_engine(targets), False),
        "columns": lambda: (_engine(targets), True),
        "no shortcut": lambda: (_engine(targets, shortcut=False), False),
    }
    for name, make in variants.items():
        e, columns = make()
        effects = _run(e, f, batch, columns)
        runs[name] = (effects, _states(e, targets))
    base_effects, base_states = runs["tuples"]
    kinds = {(x.kind, x.rule, x.detail.get("reason")) for x in base_effects}
    # the scenario exercises what the shortcut skips: schedule starts that alert, ends that clear
    assert ("raise", "zone_exclusion", "schedule_start") in kinds
    assert any(k[0] == "clear" and k[2] == "schedule_end" for k in kinds)
    assert sum(x.kind == "raise" for x in base_effects) > 10
    for name, (effects, states) in runs.items():
        assert effects == base_effects, name
        assert states == base_states, name


def test_columns_context_fix() -> None:
    """A rule's context sees a FixIn built from the columns."""
    from pingan.tracking import rules

    seen: list[FixIn] = []

    class Spy(rules.Rule):
        name = "spy_columns"
        every_fix = True

        def on_fix(self, ctx) -> None:  # type: ignore[no-untyped-def]
            seen.append(ctx.fix)

    e = Engine([], rules=[Spy])
    e.set_target(TargetInfo(id=1))
    e.process_columns(np.array([11, 12]), np.array([1, 1]), np.array([T0, T0 + 60]), np.array([LON0, LON0]),
                      np.array([LAT0, LAT0]), np.array([5.0, np.nan]), np.array([True, False]), np.array([np.nan, 12.0]))
    assert seen == [FixIn(11, 1, T0, LON0, LAT0, 5.0, "gnss", None), FixIn(12, 1, T0 + 60, LON0, LAT0, None, "cell", 12.0)]

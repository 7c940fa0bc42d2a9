"""Benchmark of point location: batch throughput and single-point latency of AreaIndex.

What is measured, exactly:

* points are drawn uniformly inside the district outline (rejection sampling, seeded numpy
  Generator); drawing them is not timed;
* the index build (``AreaIndex(areas)``) is timed once;
* batch: ``locate_many`` plus ``codes`` (the codes at every level) over all points, timed as one
  call; the median of the repeats is reported;
* single: each ``locate(lon, lat)`` call is timed on its own with ``time.perf_counter_ns``
  (the timer's own cost, well under a microsecond, is included); p50 and p99 are reported;
* everything runs on one core: the process is pinned to one CPU where the OS allows it, and
  the garbage collector is paused while timing queries (as ``timeit`` does), not the build.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely

from pingan.geo.index import AreaIndex, AreaShape

__all__ = [
    "TARGET_BATCH_POINTS_PER_S",
    "TARGET_SINGLE_P99_US",
    "format_table",
    "run_locate_bench",
    "sample_inside",
]

TARGET_BATCH_POINTS_PER_S = 1_000_000
TARGET_SINGLE_P99_US = 20.0

SEED = 20240501
BATCH_POINTS = 1_000_000
BATCH_POINTS_QUICK = 100_000
SINGLE_POINTS = 200_000
SINGLE_POINTS_QUICK = 20_000


def sample_inside(
    outline: shapely.Geometry, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform inside ``outline`` (rejection sampling from its bounding box)."""
    minx, miny, maxx, maxy = outline.bounds
    shapely.prepare(outline)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        batch = max(1024, 2 * (n - have))
        x = rng.uniform(minx, maxx, batch)
        y = rng.uniform(miny, maxy, batch)
        keep = shapely.contains_xy(outline, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _median_vertices(areas: list[AreaShape]) -> float:
    """Median vertex count of the micro-grids (closing coordinates not counted)."""
    geoms = np.array([a.geometry for a in areas if a.level == "microgrid"], dtype=object)
    if not geoms.size:
        return 0.0
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = np.bincount(owner, weights=shapely.get_num_interior_rings(parts) + 1, minlength=geoms.size)
    return float(np.median(shapely.get_num_coordinates(geoms) - rings))


@contextmanager
def _one_cpu() -> Iterator[None]:
    """Pin the process to one CPU where the OS supports it."""
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
def _gc_paused() -> Iterator[None]:
    """Collect, then keep the garbage collector off (as ``timeit`` does)."""
    was_on = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def run_locate_bench(areas: list[AreaShape], outline: shapely.Geometry, *, quick: bool) -> dict[str, Any]:
    """Build an index over ``areas`` and measure batch and single-point location inside ``outline``."""
    n_batch = BATCH_POINTS_QUICK if quick else BATCH_POINTS
    n_single = SINGLE_POINTS_QUICK if quick else SINGLE_POINTS
    repeats = 1 if quick else 3
    rng = np.random.default_rng(SEED)
    bx, by = sample_inside(outline, n_batch, rng)
    sx, sy = sample_inside(outline, n_single, rng)
    single_lon, single_lat = sx.tolist(), sy.tolist()

    with _one_cpu():
        t0 = time.perf_counter()
        index = AreaIndex(areas)
        build_s = time.perf_counter() - t0

    with _one_cpu(), _gc_paused():
        # warm-up (first touches of the raster pages and code paths)
        index.codes(index.locate_many(bx[:10_000], by[:10_000]))
        for lon, lat in zip(single_lon[:2_000], single_lat[:2_000], strict=True):
            index.locate(lon, lat)

        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            positions = index.locate_many(bx, by)
            index.codes(positions)
            runs.append(time.perf_counter() - t0)
        batch_s = statistics.median(runs)

        locate = index.locate
        clock = time.perf_counter_ns
        took = np.empty(n_single, dtype=np.int64)
        answers = []
        for i, (lon, lat) in enumerate(zip(single_lon, single_lat, strict=True)):
            t0_ns = clock()
            found = locate(lon, lat)
            took[i] = clock() - t0_ns
            answers.append(found)

        # the timer's own cost per reading pair, for reference (not subtracted above)
        empty = np.empty(10_000, dtype=np.int64)
        for i in range(empty.size):
            t0_ns = clock()
            empty[i] = clock() - t0_ns

    # consistency of the two paths on the single-point sample (not timed)
    check = index.locate_many(sx, sy)
    mismatches = sum(1 for pos, ans in zip(check.tolist(), answers, strict=True) if index.result(pos) != ans)
    micro_us = took / 1000.0
    return {
        "batch_points_per_s": n_batch / batch_s,
        "single_p50_us": float(np.percentile(micro_us, 50)),
        "single_p99_us": float(np.percentile(micro_us, 99)),
        "single_max_us": float(micro_us.max()),
        "timer_overhead_us": float(np.median(empty)) / 1000.0,
        "microgrids": sum(1 for a in areas if a.level == "microgrid"),
        "areas": len(areas),
        "median_vertices": _median_vertices(areas),
        "index_build_s": build_s,
        "points": n_batch,
        "single_points": n_single,
        "batch_runs_s": runs,
        "outside_fraction": float(np.mean(check < 0)),
        "candidate_cell_fraction": float(np.mean(index.cell_values(sx, sy) < -1)),
        "path_mismatches": mismatches,
        "raster": f"{index.stats['nx']}×{index.stats['ny']}",
        "quick": quick,
    }


def format_table(figures: dict[str, Any]) -> str:
    """A plain-text table of the figures, with the targets where there are some."""

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    batch = figures["batch_points_per_s"]
    p99 = figures["single_p99_us"]
    rows = [
        (
            "micro-grids",
            f"{figures['microgrids']:,}",
            f"median {figures['median_vertices']:.0f} vertices",
            "",
        ),
        ("areas (all levels)", f"{figures.get('areas', 0):,}", f"raster {figures.get('raster', '?')}", ""),
        ("index build", f"{figures['index_build_s']:.2f} s", "", ""),
        (
            f"batch, {figures['points']:,} pts",
            f"{batch / 1e6:.2f} M points/s",
            f"target ≥ {TARGET_BATCH_POINTS_PER_S / 1e6:.1f} M/s",
            mark(batch >= TARGET_BATCH_POINTS_PER_S),
        ),
        (
            f"single p50, {figures.get('single_points', 0):,} pts",
            f"{figures['single_p50_us']:.2f} µs",
            "",
            "",
        ),
        (
            "single p99",
            f"{p99:.2f} µs",
            f"target ≤ {TARGET_SINGLE_P99_US:.0f} µs",
            mark(p99 <= TARGET_SINGLE_P99_US),
        ),
    ]
    if "candidate_cell_fraction" in figures:
        rows.append(
            ("points needing a polygon test", f"{100 * figures['candidate_cell_fraction']:.1f} %", "", "")
        )
    if "path_mismatches" in figures:
        rows.append(
            (
                "single vs batch mismatches",
                str(figures["path_mismatches"]),
                "",
                mark(figures["path_mismatches"] == 0),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    title = "Point location benchmark" + (" (quick)" if figures.get("quick") else "")
    lines = [title, "-" * len(title)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on the synthetic demo district and print the table."""
    import argparse

    from pingan.geo.synth import build_district

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer points")
    parser.add_argument("--seed", type=int, default=330503, help="synthetic district seed")
    args = parser.parse_args(argv)
    district = build_district(seed=args.seed)
    figures = run_locate_bench(district.shapes(), district.outline, quick=args.quick)
    print(format_table(figures))
    ok = (
        figures["batch_points_per_s"] >= TARGET_BATCH_POINTS_PER_S
        and figures["single_p99_us"] <= TARGET_SINGLE_P99_US
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

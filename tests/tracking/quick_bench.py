"""A quick measurement of the engine's two figures, outside pytest (not collected: no ``test_`` prefix).

    .venv/bin/python -m tests.tracking.quick_bench [province|small] [fixes] [batch]

On ``pingan.tracking.bench``'s synthetic province (150,000 targets, 10,000 zones: 60 % small circles and
polygons, 30 % 1–5 km polygons, 10 % county outlines and corridors up to 2,000 vertices; fixes with the
noise model of the contract), pinned to one CPU with the garbage collector paused:

* ``ZoneIndex.containing`` over all the fixes in one call (median of 3), and over as many points drawn
  uniformly over the zones' box;
* ``Engine.process`` over all the fixes in device-time order, in batches (default 5,000, as the
  ``pingan bench tracking`` engine phase), every target's state held. Wall and CPU time are both shown:
  on a shared machine the CPU figure is the one-core figure.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import numpy as np

from pingan.tracking import bench as B
from pingan.tracking import engine as eng


def main(argv: list[str]) -> None:
    scale = B.SCALES[argv[0]] if argv else B.PROVINCE
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    batch = int(argv[2]) if len(argv) > 2 else 5_000
    province = B.build_province(scale)
    fixes = B.build_fixes(province, n, t0=1.8e9)
    started = time.perf_counter()
    engine = eng.Engine(B.zone_specs(eng, province))
    built = time.perf_counter() - started
    print(f"{scale.name}: {len(province.zones)} zones, {scale.targets} targets, {n} fixes; engine built in "
          f"{built:.1f} s; {engine.index!r} {engine.index.stats}")
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = scale.box
    ulon, ulat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    with B.one_cpu(), B.gc_paused():
        for label, lon, lat in (("fixes", fixes.lon, fixes.lat), ("uniform points", ulon, ulat)):
            engine.index.containing(lon[:1000], lat[:1000])
            took, (pi, _zi) = B.timed(lambda lon=lon, lat=lat: engine.index.containing(lon, lat), 3)
            print(f"ZoneIndex.containing, {label}: {n / took:,.0f} points/s ({pi.size} pairs)")
    started = time.perf_counter()
    engine.set_targets(B.target_infos(eng, province))
    print(f"set_targets: {time.perf_counter() - started:.1f} s")
    ins = B.fix_ins(eng, fixes)
    kinds: Counter[str] = Counter()
    with B.one_cpu(), B.gc_paused():
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(ins), batch):
            kinds.update(f"{x.kind}:{x.rule}" for x in engine.process(ins[i:i + batch]))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"Engine.process, batches of {batch}: {len(ins) / wall:,.0f} fixes/s wall, {len(ins) / cpu:,.0f} fixes/s "
          f"CPU; {engine.stats['python_fixes'] / len(ins):.1%} of the fixes took the per-fix Python path")
    print("effects:", dict(sorted(kinds.items())))


if __name__ == "__main__":
    main(sys.argv[1:])

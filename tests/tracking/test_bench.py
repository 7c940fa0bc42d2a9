"""The tracking benchmark's pure-Python parts on a tiny province: every figure's key is there, the load is
deterministic, and the engine's ZoneIndex and the naive loop find the same (fix, zone) sets. No timing is
checked: benchmarks are commands (``pingan bench tracking``), not timed tests."""

from __future__ import annotations

import numpy as np

from pingan.tracking import bench, benchmarks


def test_the_quick_bench_core_has_every_key_and_its_zone_sets_agree() -> None:
    scale = bench.tiny()
    first = bench.build_fixes(bench.build_province(scale), 500, t0=1.7e9)
    again = bench.build_fixes(bench.build_province(scale), 500, t0=1.7e9)
    assert np.array_equal(first.lon, again.lon) and np.array_equal(first.target, again.target)

    figures: dict = {"scale": scale.name, "quick": True}
    figures.update(bench.run_core(scale, quick=True, say=lambda _text: None, postgis=False,
                                  naive_fixes=scale.fixes, naive_budget_s=600.0))
    skipped = {"skipped": "not in this test"}
    benchmarks.assemble(figures, {"sqlite": skipped, "postgresql": skipped}, rss=lambda _scale: skipped)

    assert set(bench.KEYS) <= set(figures)
    core = figures["core"]
    assert core["naive_sample"] == core["lookup_fixes"] == scale.fixes  # the naive loop saw every fix …
    assert core["pairs"] > 0 and core["naive_agrees"] is True             # … and found the index's pairs
    assert figures["postgresql_fixes_per_s"] == skipped and figures["zone_sets_identical"] == {"skipped": "PostGIS not asked for"}
    assert sum(core["engine_effects"].values()) >= 0 and figures["engine_fixes_per_s"] > 0
    table = benchmarks.format_table(figures)
    assert "zone_sets_identical" in table and "≥ 200,000" in table

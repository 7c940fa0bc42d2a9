from __future__ import annotations

from typing import Any

from pingan.core.benchmarks import benchmark


@benchmark("locate")
def locate(quick: bool) -> tuple[dict[str, Any], str]:
    """Point location against the demo district's 5,421 micro-grids (built deterministically)."""
    from pingan.geo.bench import format_table, run_locate_bench
    from pingan.geo.synth import build_district

    district = build_district()
    figures = run_locate_bench(district.shapes(), district.outline, quick=quick)
    return figures, format_table(figures)

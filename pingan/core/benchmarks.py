"""Registry of ``pingan bench NAME`` benchmarks. A module registers ``func(quick) -> (figures, table)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BenchFunc = Callable[..., tuple[dict[str, Any], str]]  # (quick, **options) -> (figures, table)
_registry: dict[str, BenchFunc] = {}


def benchmark(name: str) -> Callable[[BenchFunc], BenchFunc]:
    def decorator(func: BenchFunc) -> BenchFunc:
        _registry[name] = func
        return func

    return decorator


def registered() -> dict[str, BenchFunc]:
    return dict(_registry)

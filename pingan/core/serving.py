"""How Pingan is served (``pingan serve``), for the command and the benchmarks that start it."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection


def server_workers() -> int:
    """How many server processes ``pingan serve`` runs: ``PINGAN_SERVE_WORKERS``, or by default one on SQLite
    (its writes take turns anyway) and one per core, at most four, on PostgreSQL."""
    if settings.PINGAN_SERVE_WORKERS:
        return int(settings.PINGAN_SERVE_WORKERS)
    if connection.vendor != "postgresql":
        return 1
    return max(1, min(4, os.cpu_count() or 1))

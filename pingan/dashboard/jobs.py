"""Periodic job of the dashboard: keep the rollup of event figures up to yesterday."""

from __future__ import annotations

import datetime as dt

from pingan.core.jobs import periodic
from pingan.dashboard import rollup


@periodic("dashboard.rollup", every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=30))
def refresh_rollup(now: dt.datetime) -> dict[str, object]:
    """Rewrite the trailing window of days (everything once a day); idempotent."""
    return rollup.refresh(now)

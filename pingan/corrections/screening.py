"""Checks that run on every position corrections records itself (scans, check-ins, carrier cell positions,
phone-check network positions), after it is stored.

The tracking engine evaluates device fixes of monitored targets, and decides nothing from coarse (cell)
positions; these positions need checks of their own: a coarse position whose accuracy circle lies mostly
inside a core area, outside the permitted area without leave, a mock location or an impossible jump. Each
check is a function registered with :func:`check` by the module that owns it (imported in ``apps.ready``); it
raises alerts through ``tracking.pipeline.apply_effects`` in a transaction of its own, so one failing check
neither loses the stored position nor stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pingan.tracking.models import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Position:
    target: Target
    fix_id: int | None  # None when the fix went to the stream
    source: str  # scan, checkin, carrier, phonecheck
    lon: float
    lat: float
    accuracy_m: float
    at: dt.datetime
    fix_type: str = "gnss"
    mock: bool = False  # the phone reported a mock-location flag


Check = Callable[[Position], None]
_checks: list[Check] = []


def check(fn: Check) -> Check:
    """Register ``fn`` to run on every recorded position."""
    if fn not in _checks:
        _checks.append(fn)
    return fn


def run(position: Position) -> None:
    for fn in list(_checks):
        try:
            fn(position)
        except Exception:  # a broken check must not lose the position or stop the other checks
            log.exception("corrections screening check %s failed for target %s", fn.__name__, position.target.pk)

"""Core periodic jobs."""

from __future__ import annotations

import datetime as dt
import logging

from pingan.core import audit
from pingan.core.jobs import periodic

log = logging.getLogger("pingan.audit")


@periodic("core.verify_audit_chain", every=dt.timedelta(days=1), lease=dt.timedelta(hours=2))
def verify_audit_chain(now: dt.datetime) -> bool:
    result = audit.verify()
    if not result.ok:
        log.error("audit chain broken at entry %s: %s", result.broken_id, result.reason)
    return result.ok

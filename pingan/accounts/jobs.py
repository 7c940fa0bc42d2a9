"""Periodic housekeeping for accounts."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.models import Session

from pingan.core.jobs import periodic


@periodic("accounts.clear_expired_sessions", every=dt.timedelta(hours=6))
def clear_expired_sessions(now: dt.datetime) -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=now).delete()
    return deleted

"""Periodic jobs of the tracking engine (registered at start-up).

- ``tracking.tick`` (every 15 s): the engine's time-driven rules for the targets that are due — lost contact,
  re-arming — and, when a zone's schedule starts, for every target it applies to (targets already in
  violation are alerted at once). See :func:`pingan.tracking.pipeline.tick`.
- ``tracking.late`` (every 30 s): alerts still open past their verification deadline are marked late, once,
  and their responders told.
- ``tracking.retention`` (hourly): fixes older than ``PINGAN_TRACKING_RETENTION_DAYS`` are thinned to one per
  ``PINGAN_TRACKING_THIN_SECONDS`` per target, or dropped (``PINGAN_TRACKING_OLD_FIXES``); on PostgreSQL,
  whole day partitions are dropped and the next days' partitions created (see ``partitions``).
- ``tracking.demo_feed`` (every 30 s, only with ``PINGAN_ENV=demo`` and ``PINGAN_DEMO_FEED``): moves the demo's
  targets through the pipeline (:mod:`pingan.tracking.demo`).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings

import pingan.tracking.mqtt  # noqa: F401  (registers the consumer tracking.mqtt)
import pingan.tracking.stream  # noqa: F401  (registers the consumer tracking.stream)
from pingan.core.jobs import periodic
from pingan.tracking import actions, demo, partitions, pipeline
from pingan.tracking.models import Alert, AlertState

log = logging.getLogger("pingan.tracking")


@periodic("tracking.tick", every=dt.timedelta(seconds=15), lease=dt.timedelta(minutes=5))
def tick(now: dt.datetime) -> None:
    opened = pipeline.tick(now)
    if opened:
        log.info("tick opened %d alerts", len(opened))


@periodic("tracking.late", every=dt.timedelta(seconds=30))
def late(now: dt.datetime) -> None:
    ids = list(Alert.objects.filter(state=AlertState.OPEN, late=False, verify_by__lte=now).values_list("id", flat=True)[:500])
    for alert_id in ids:
        actions.mark_late(alert_id, now)


@periodic("tracking.retention", every=dt.timedelta(hours=1), lease=dt.timedelta(minutes=30))
def retention(now: dt.datetime) -> None:
    partitions.enforce_retention(now)


@periodic("tracking.demo_feed", every=dt.timedelta(seconds=30))
def demo_feed(now: dt.datetime) -> None:
    if settings.PINGAN_ENV == "demo" and settings.PINGAN_DEMO_FEED:
        demo.feed(now)

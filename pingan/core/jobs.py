"""Periodic jobs: a tiny registry that modules add to, and the loop ``pingan worker`` runs.

A job is claimed with a conditional UPDATE (``WHERE next_run_at <= now AND lease expired``), so with
several workers each run happens once. Jobs take no objects, only the time; they must be idempotent.
The clock is injectable (:mod:`pingan.core.clock`), so tests can run weeks of schedule in seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections
from django.db.models import Q

from pingan.core import clock
from pingan.core.models import JobLease

log = logging.getLogger("pingan.worker")

JobFunc = Callable[[dt.datetime], object]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    func: JobFunc
    lease: dt.timedelta


_registry: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: dt.timedelta, lease: dt.timedelta | None = None) -> Callable[[JobFunc], JobFunc]:
    """Register ``func(now)`` to run every ``every``. Used by modules in their ``jobs.py``."""

    def decorator(func: JobFunc) -> JobFunc:
        if name in _registry and _registry[name].func is not func:
            raise ValueError(f"job {name!r} registered twice")
        _registry[name] = PeriodicJob(name, every, func, lease or max(every, dt.timedelta(minutes=5)))
        return func

    return decorator


def registered() -> dict[str, PeriodicJob]:
    return dict(_registry)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(job: PeriodicJob, owner: str, now: dt.datetime) -> bool:
    JobLease.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
    claimed = (
        JobLease.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + job.lease, last_started_at=now)
    )
    return claimed == 1


def finish(job: PeriodicJob, owner: str, now: dt.datetime, error: str = "") -> None:
    from django.db.models import F

    JobLease.objects.filter(name=job.name, lease_owner=owner).update(
        lease_owner="",
        lease_until=None,
        next_run_at=now + job.every,
        last_finished_at=now,
        last_error=error,
        runs=F("runs") + 1,
    )


def run_due(owner: str | None = None, now: dt.datetime | None = None) -> list[str]:
    """Run every job that is due and not held by another worker; return the names run."""
    owner = owner or worker_id()
    ran = []
    for job in sorted(_registry.values(), key=lambda j: j.name):
        moment = now or clock.now()
        if not claim(job, owner, moment):
            continue
        error = ""
        try:
            job.func(moment)
        except Exception:
            error = traceback.format_exc()
            log.exception("job %s failed", job.name)
        finish(job, owner, now or clock.now(), error)
        ran.append(job.name)
    return ran


def run_forever(stop: threading.Event, *, tick: float = 1.0) -> None:
    """The worker loop; returns when ``stop`` is set (SIGTERM handler sets it)."""
    owner = worker_id()
    log.info("worker %s started with jobs: %s", owner, ", ".join(sorted(_registry)) or "(none)")
    while not stop.is_set():
        close_old_connections()
        try:
            run_due(owner)
        except Exception:
            log.exception("worker tick failed; continuing")
        stop.wait(tick)
    close_old_connections()
    log.info("worker %s stopped", owner)

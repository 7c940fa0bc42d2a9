"""Periodic jobs and long-running consumers: two tiny registries that modules add to, and the loop
``pingan worker`` runs.

A job is claimed with a conditional UPDATE (``WHERE next_run_at <= now AND lease expired``), so with
several workers each run happens once. Jobs take no objects, only the time; they must be idempotent.
The clock is injectable (:mod:`pingan.core.clock`), so tests can run weeks of schedule in seconds.

A consumer (``@consumer``) is ``func(stop)`` that runs until ``stop`` is set: a broker subscription, a
stream reader. :func:`run_forever` starts each enabled consumer in its own daemon thread, restarts it with
a back-off when it raises or returns early, and joins them when it stops. Consumers that must run in one
process at a time, or share work between processes, hold named leases (:func:`hold_lease`), which are
rows of the same ``JobLease`` table claimed by the same kind of conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connections
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


# --- long-running consumers -------------------------------------------------------------------

ConsumerFunc = Callable[[threading.Event], None]

BACKOFF_FIRST = 1.0    # seconds before the first restart of a consumer that failed …
BACKOFF_MAX = 60.0     # … doubling up to this
BACKOFF_RESET = 60.0   # a consumer that ran this long before failing starts again from BACKOFF_FIRST
JOIN_TIMEOUT = 15.0    # how long run_forever waits for each consumer to stop


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Consumer:
    name: str
    func: ConsumerFunc
    enabled: Callable[[], bool]


_consumers: dict[str, Consumer] = {}


def consumer(name: str, *, enabled: Callable[[], bool] = _always) -> Callable[[ConsumerFunc], ConsumerFunc]:
    """Register ``func(stop)``, run by every worker in its own thread while ``enabled()`` (asked once, at
    start) is true. ``func`` returns when ``stop`` is set; if it raises, it is restarted after a back-off."""

    def decorator(func: ConsumerFunc) -> ConsumerFunc:
        if name in _consumers and _consumers[name].func is not func:
            raise ValueError(f"consumer {name!r} registered twice")
        _consumers[name] = Consumer(name, func, enabled)
        return func

    return decorator


def registered_consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def supervise(item: Consumer, stop: threading.Event) -> None:
    """Run one consumer until ``stop`` is set, restarting it with a doubling back-off when it fails."""
    delay = BACKOFF_FIRST
    while not stop.is_set():
        started = time.monotonic()
        try:
            item.func(stop)
        except Exception:
            log.exception("consumer %s failed; restarting in %.0f s", item.name, delay)
        else:
            if stop.is_set():
                break
            log.warning("consumer %s returned before the worker stopped; restarting in %.0f s", item.name, delay)
        finally:
            connections.close_all()  # this thread's connections; a restart opens fresh ones
        if time.monotonic() - started >= BACKOFF_RESET:
            delay = BACKOFF_FIRST
        stop.wait(delay)
        delay = min(delay * 2, BACKOFF_MAX)


def start_consumers(stop: threading.Event) -> list[threading.Thread]:
    """Start a daemon thread for each enabled consumer; return the threads (join them after ``stop``)."""
    threads = []
    for item in sorted(_consumers.values(), key=lambda c: c.name):
        try:
            on = item.enabled()
        except Exception:
            log.exception("consumer %s: enabled() failed; not started", item.name)
            on = False
        if not on:
            continue
        thread = threading.Thread(target=supervise, args=(item, stop), name=f"consumer:{item.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def new_owner() -> str:
    """A lease owner naming this host and process, unique even when a pid is reused."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hold_lease(name: str, owner: str, ttl: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """Claim the lease ``name`` for ``owner``, or renew it if ``owner`` holds it; False while another owner's
    lease runs. Leases are ``JobLease`` rows that no periodic job uses (their ``next_run_at`` is unused)."""
    now = now or clock.now()
    JobLease.objects.get_or_create(name=name, defaults={"next_run_at": now})
    held = (
        JobLease.objects.filter(name=name)
        .filter(Q(lease_owner=owner) | Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + ttl, last_started_at=now)
    )
    return held == 1


def drop_lease(name: str, owner: str) -> None:
    """Give the lease up (only if ``owner`` holds it)."""
    JobLease.objects.filter(name=name, lease_owner=owner).update(lease_owner="", lease_until=None)


def live_holders(prefix: str, now: dt.datetime | None = None) -> list[str]:
    """The owners of the unexpired leases whose names start with ``prefix`` (members of a group that each
    hold their own lease, e.g. ``tracking.stream.member:<owner>``). Expired ones are deleted."""
    now = now or clock.now()
    JobLease.objects.filter(name__startswith=prefix, lease_until__lt=now).delete()
    JobLease.objects.filter(name__startswith=prefix, lease_until__isnull=True).delete()
    return sorted(JobLease.objects.filter(name__startswith=prefix, lease_until__gte=now)
                  .values_list("lease_owner", flat=True))


# --- the worker loop -------------------------------------------------------------------------


def run_forever(stop: threading.Event, *, tick: float = 1.0) -> None:
    """The worker loop; returns when ``stop`` is set (SIGTERM handler sets it). The enabled consumers run
    beside it, one thread each, and are joined before it returns."""
    owner = worker_id()
    threads = start_consumers(stop)
    log.info("worker %s started with jobs: %s; consumers: %s", owner, ", ".join(sorted(_registry)) or "(none)",
             ", ".join(t.name.removeprefix("consumer:") for t in threads) or "(none)")
    while not stop.is_set():
        close_old_connections()
        try:
            run_due(owner)
        except Exception:
            log.exception("worker tick failed; continuing")
        stop.wait(tick)
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
        if thread.is_alive():
            log.warning("%s did not stop within %.0f s", thread.name, JOIN_TIMEOUT)
    close_old_connections()
    log.info("worker %s stopped", owner)

"""The consumer registry beside ``@periodic``: threads that run until the worker stops, restarted when they
fail, and the named leases they use to run once per deployment or share work."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from pingan.core import jobs
from pingan.core.models import JobLease

START = dt.datetime(2026, 11, 29, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def registry(monkeypatch):  # type: ignore[no-untyped-def]
    """Only this test's consumers and no periodic jobs; fast back-off."""
    monkeypatch.setattr(jobs, "_consumers", {})
    monkeypatch.setattr(jobs, "_registry", {})
    monkeypatch.setattr(jobs, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(jobs, "BACKOFF_MAX", 0.2)
    return jobs._consumers


def _wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_consumer_is_registered_once(registry) -> None:  # type: ignore[no-untyped-def]
    def func(stop: threading.Event) -> None:
        stop.wait()

    jobs.consumer("test.one")(func)
    jobs.consumer("test.one")(func)  # the same function again (a module imported twice) is fine
    assert list(jobs.registered_consumers()) == ["test.one"]
    with pytest.raises(ValueError, match="registered twice"):
        jobs.consumer("test.one")(lambda stop: None)


def test_run_forever_runs_enabled_consumers_in_threads_and_joins_them(registry) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}
    stopped: list[str] = []

    def on(stop: threading.Event) -> None:
        seen["on"] = threading.current_thread().name
        stop.wait()
        stopped.append("on")

    def off(stop: threading.Event) -> None:
        seen["off"] = "ran"

    jobs.consumer("test.on")(on)
    jobs.consumer("test.off", enabled=lambda: False)(off)
    stop = threading.Event()
    loop = threading.Thread(target=jobs.run_forever, args=(stop,), kwargs={"tick": 0.01})
    loop.start()
    assert _wait_for(lambda: "on" in seen)
    assert seen["on"] == "consumer:test.on"
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive()
    assert stopped == ["on"]  # joined: the consumer saw the stop before run_forever returned
    assert "off" not in seen


def test_a_failing_consumer_is_restarted_with_a_back_off(registry, caplog) -> None:  # type: ignore[no-untyped-def]
    starts: list[float] = []

    def flaky(stop: threading.Event) -> None:
        starts.append(time.monotonic())
        if len(starts) < 4:
            raise RuntimeError("broker went away")
        stop.wait()

    jobs.consumer("test.flaky")(flaky)
    stop = threading.Event()
    threads = jobs.start_consumers(stop)
    try:
        assert _wait_for(lambda: len(starts) >= 4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09 and gaps[2] >= 0.18  # 0.05, 0.1, 0.2 (the cap)
    assert "consumer test.flaky failed; restarting" in caplog.text
    assert "RuntimeError: broker went away" in caplog.text


def test_a_consumer_that_returns_early_is_started_again(registry) -> None:  # type: ignore[no-untyped-def]
    runs: list[int] = []

    def quitter(stop: threading.Event) -> None:
        runs.append(1)

    jobs.consumer("test.quitter")(quitter)
    stop = threading.Event()
    threads = jobs.start_consumers(stop)
    assert _wait_for(lambda: len(runs) >= 2)
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_an_enabled_check_that_raises_leaves_the_consumer_off(registry, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken() -> bool:
        raise RuntimeError("bad setting")

    jobs.consumer("test.broken", enabled=broken)(lambda stop: None)
    assert jobs.start_consumers(threading.Event()) == []
    assert "enabled() failed" in caplog.text


@pytest.mark.django_db
def test_a_lease_is_held_by_one_owner_until_it_expires_or_is_dropped() -> None:
    ttl = dt.timedelta(seconds=15)
    assert jobs.hold_lease("test.lease", "a", ttl, START)
    assert not jobs.hold_lease("test.lease", "b", ttl, START + dt.timedelta(seconds=5))
    assert jobs.hold_lease("test.lease", "a", ttl, START + dt.timedelta(seconds=10))  # renewed to 00:25
    assert not jobs.hold_lease("test.lease", "b", ttl, START + dt.timedelta(seconds=20))
    assert jobs.hold_lease("test.lease", "b", ttl, START + dt.timedelta(seconds=26))  # a stopped renewing
    jobs.drop_lease("test.lease", "a")  # not a's any more: nothing happens
    assert JobLease.objects.get(name="test.lease").lease_owner == "b"
    jobs.drop_lease("test.lease", "b")
    assert jobs.hold_lease("test.lease", "a", ttl, START + dt.timedelta(seconds=27))


@pytest.mark.django_db
def test_live_holders_counts_unexpired_members_and_forgets_the_rest() -> None:
    ttl = dt.timedelta(seconds=10)
    for owner in ("w1", "w2", "w3"):
        assert jobs.hold_lease(f"test.group:{owner}", owner, ttl, START)
    jobs.hold_lease("test.group:w1", "w1", ttl, START + dt.timedelta(seconds=8))
    jobs.drop_lease("test.group:w3", "w3")
    assert jobs.live_holders("test.group:", START + dt.timedelta(seconds=5)) == ["w1", "w2"]
    assert jobs.live_holders("test.group:", START + dt.timedelta(seconds=12)) == ["w1"]
    assert set(JobLease.objects.filter(name__startswith="test.group:").values_list("name", flat=True)) == {"test.group:w1"}

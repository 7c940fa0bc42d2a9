from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from pingan.core import jobs
from pingan.core.clock import FrozenClock, use_clock
from pingan.core.models import JobLease

START = dt.datetime(2026, 11, 29, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def counting_job(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(jobs, "_registry", {})  # only this test's job runs
    calls: list[dt.datetime] = []
    name = "test.counting"
    jobs.periodic(name, every=dt.timedelta(hours=1))(calls.append)
    yield calls
    jobs._registry.pop(name, None)


@pytest.mark.django_db
def test_a_due_job_runs_once_even_with_two_workers(counting_job: list[dt.datetime]) -> None:
    with use_clock(FrozenClock(START)):
        first = jobs.run_due(owner="worker-a")
        second = jobs.run_due(owner="worker-b")
    assert "test.counting" in first and "test.counting" not in second
    assert len(counting_job) == 1


@pytest.mark.django_db
def test_a_week_of_schedule_runs_in_a_moment(counting_job: list[dt.datetime]) -> None:
    clock = FrozenClock(START)
    with use_clock(clock):
        for _ in range(7 * 24 * 4):  # every 15 minutes for a week
            jobs.run_due(owner="w")
            clock.advance(minutes=15)
    assert len(counting_job) == 7 * 24
    assert JobLease.objects.get(name="test.counting").runs == 7 * 24


@pytest.mark.django_db
def test_a_held_lease_is_not_taken_until_it_expires(counting_job: list[dt.datetime]) -> None:
    job = jobs.registered()["test.counting"]
    assert jobs.claim(job, "crashed-worker", START)
    assert not jobs.claim(job, "other", START + dt.timedelta(minutes=1))
    assert jobs.claim(job, "other", START + job.lease + dt.timedelta(seconds=1))


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_the_worker_goes_on() -> None:
    def boom(now: dt.datetime) -> None:
        raise RuntimeError("boom")

    jobs.periodic("test.boom", every=dt.timedelta(hours=1))(boom)
    try:
        with use_clock(FrozenClock(START)):
            assert "test.boom" in jobs.run_due(owner="w")
        assert "RuntimeError: boom" in JobLease.objects.get(name="test.boom").last_error
    finally:
        jobs._registry.pop("test.boom", None)


def test_worker_stops_cleanly_on_sigterm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, PINGAN_ENV="test", PINGAN_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/w.sqlite3")
    subprocess.run([sys.executable, "-m", "pingan.cli", "migrate", "-v0"], env=env, check=True)
    proc = subprocess.Popen([sys.executable, "-m", "pingan.cli", "worker"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        if "started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert "stopped" in proc.stderr.read()  # type: ignore[union-attr]

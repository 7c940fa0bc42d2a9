"""``pingan bench tracking [--scale small|province] [--quick] [--json]``: the tracking engine at province scale.

One run prints every figure (see ``docs/modules/tracking.md#benchmark``):

1. in this process, pinned to one core, on the synthetic province of :mod:`pingan.tracking.bench`: the
   engine's ``ZoneIndex`` answering which zones hold each of ≥ 1M fixes; the same question to PostGIS as a
   set join (a scratch database on ``PINGAN_BENCH_PG_URL`` with the PostGIS package of the server's major
   version, installed with apt-get if missing) and one query per fix; a naive shapely loop; and
   ``Engine.process`` over every fix with every target's state held;
2. for SQLite (a file) and PostgreSQL (a scratch database), a child process migrates, loads the targets,
   devices and zones in bulk, starts ``pingan serve --no-worker`` on a loopback port and drives
   ``POST /api/v1/tracking/fixes`` (batches of 500, a gateway token) from 4 client processes for a fixed
   time: accepted fixes per second, each answered after its commit;
3. on PostgreSQL, the alert latency: 4 open-loop clients at 10,000 fixes/s (or the rate the closed loop
   reached, if lower) carry scripted entries into exclusion zones, and a poller process reads
   ``GET /api/v1/tracking/alerts?since_id=`` until each alert shows; latency counts from the moment the
   deciding fix was posted;
4. on PostgreSQL, the stream: the server with ``PINGAN_STREAM_URL`` (its HTTP door publishes to JetStream)
   and 2 ``pingan worker`` processes consuming; the rate is fixes stored per second (the fix count, polled),
   and the workers' peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from pingan.core.benchmarks import benchmark, scratch_postgres, scratch_sqlite
from pingan.core.serving import server_workers
from pingan.tracking import bench

CLIENTS = 4
STREAM_WORKERS = 2
BATCH = 500
LOAD_INTERVAL_S = 86_400  # the targets' expected fix interval in the end-to-end runs (see load_world)
ALERT_RATE = 10_000.0
STREAM_URL = os.environ.get("PINGAN_BENCH_STREAM_URL", os.environ.get("PINGAN_STREAM_URL", "")) or "nats://127.0.0.1:4222"
# seconds of each phase: (closed loop, alert open loop, stream run)
TIMINGS = {"quick": (3.0, 5.0, 4.0), "small": (15.0, 20.0, 15.0), "province": (20.0, 30.0, 20.0)}
SCENARIOS = {"quick": 24, "small": 60, "province": 100}
STREAM_DRAIN_S = (3.0, 15.0)  # how long the stream run keeps counting after the clients stop (quick, else)
POLL_EVERY_S = 0.1  # the poller's pause between reads: each read costs the one server process ~15–35 ms
POLL_GRACE_S = (5.0, 10.0)    # how long the poller looks for scripted alerts after the clients stop (quick, else)


_STARTED = time.monotonic()


def _say(text: str) -> None:
    print(f"  [{time.monotonic() - _STARTED:5.0f} s] {text}", file=sys.stderr, flush=True)


# -- the parent ------------------------------------------------------------------------------------------


@benchmark("tracking")
def tracking_bench(quick: bool, scale: str | None = None) -> tuple[dict[str, Any], str]:
    name = scale or ("small" if quick else "province")
    if name not in bench.SCALES:
        raise ValueError(f"--scale must be one of {', '.join(bench.SCALES)}")
    timing = "quick" if quick else name
    started = time.perf_counter()
    print(f"bench tracking: {name} scale{' (quick)' if quick else ''}", file=sys.stderr, flush=True)
    figures: dict[str, Any] = {"scale": name, "quick": quick, "targets": dict(bench.TARGETS)}
    figures.update(bench.run_core(bench.SCALES[name], quick=quick, say=_say))

    runs: dict[str, Any] = {}
    for db, opener in (("sqlite", functools.partial(scratch_sqlite, "pingan-bench-tracking")), ("postgresql", functools.partial(scratch_postgres, "pingan_bench_tracking"))):
        with opener() as (url, reason):
            if url is None:
                print(f"bench tracking: {db} skipped: {reason}", file=sys.stderr, flush=True)
                runs[db] = {"skipped": reason}
                continue
            pg = db == "postgresql"
            print(f"bench tracking: {db}: end to end …", file=sys.stderr, flush=True)
            runs[db] = _run_child(url, name, timing, alerts=pg, stream=pg)
    assemble(figures, runs)
    figures["elapsed_s"] = round(time.perf_counter() - started, 1)
    return figures, format_table(figures)


def assemble(figures: dict[str, Any], runs: dict[str, Any], rss: Callable[[str], Any] | None = None) -> None:
    """Add the end-to-end figures of the children's ``runs`` to ``figures`` (every key of ``bench.KEYS``,
    a number or ``{"skipped": reason}``). ``rss(scale)`` gives the worker memory when there was no NATS
    run (by default, a child process running the engine)."""
    figures["runs"] = runs
    for db in ("sqlite", "postgresql"):
        run = runs.get(db, {})
        if "skipped" in run or "error" in run:
            figures[f"{db}_fixes_per_s"] = {"skipped": run.get("skipped") or run.get("error")}
        else:
            figures[f"{db}_fixes_per_s"] = run["e2e"]["rate"]
            figures[f"{db}_errors"] = run["e2e"]["errors"]
    pg = runs.get("postgresql", {})
    usable = "skipped" not in pg and "error" not in pg
    why = pg.get("skipped") or pg.get("error") or ""
    alert = pg.get("alerts") if usable else None
    if alert and "skipped" not in alert:
        figures["alert_p50_ms"] = alert["p50_ms"]
        figures["alert_p99_ms"] = alert["p99_ms"]
        figures["alert_rate"] = alert["rate"]
    else:
        reason = (alert or {}).get("skipped") or f"PostgreSQL: {why}"
        figures["alert_p50_ms"] = figures["alert_p99_ms"] = {"skipped": reason}
    stream = pg.get("stream") if usable else None
    if stream and "skipped" not in stream and "error" not in stream:
        figures["nats_fixes_per_s"] = stream["stored_rate"]
        figures["worker_peak_rss_mb"] = stream["worker_peak_rss_mb"]
        figures["worker_rss_from"] = f"{STREAM_WORKERS} pingan worker processes during the NATS run (the larger)"
    else:
        reason = (stream or {}).get("skipped") or (stream or {}).get("error") or f"PostgreSQL: {why}"
        figures["nats_fixes_per_s"] = {"skipped": reason}
        figures["worker_peak_rss_mb"] = (rss or _engine_rss)(figures["scale"])
        figures["worker_rss_from"] = "an in-process engine run holding every target's state (no NATS run)"


def _run_child(url: str, scale: str, timing: str, *, alerts: bool, stream: bool) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "pingan.settings", "PINGAN_STREAM_URL": ""}
    command = [sys.executable, "-m", "pingan.tracking.benchmarks", "run", "--scale", scale, "--timing", timing]
    command += (["--alerts"] if alerts else []) + (["--stream"] if stream else [])
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"the bench process failed (exit {done.returncode}); see its output above"}
    return dict(json.loads(lines[-1]))


# -- the table -----------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 0) -> str:
    if isinstance(value, dict):
        return "skipped"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:,.{digits}f}"


def format_table(f: dict[str, Any]) -> str:
    t = bench.TARGETS
    lookup, join = f.get("zone_lookup_fixes_per_s"), f.get("postgis_join_fixes_per_s")
    ratio = lookup / join if isinstance(lookup, int | float) and isinstance(join, int | float) and join else None
    core = f.get("core", {})
    rows: list[tuple[str, str, str]] = [
        (f"zone lookup, ZoneIndex ({core.get('lookup_fixes', 0):,} fixes, 1 core) /s", _num(lookup), ""),
        ("PostGIS set join (ST_Intersects, GiST, subdivided) /s", _num(join), ""),
        ("  zone lookup ÷ PostGIS join", "—" if ratio is None else f"{ratio:,.1f}×", f"≥ {t['zone_lookup_vs_postgis']:.0f}×"),
        ("  zone_sets_identical", _num(f.get("zone_sets_identical")), "true"),
        (f"PostGIS, one query per fix ({core.get('per_fix_sample', 0):,}) /s", _num(f.get("postgis_per_fix_fixes_per_s")), ""),
        (f"naive shapely loop ({core.get('naive_sample', 0):,} fixes × every zone) /s", _num(f.get("naive_fixes_per_s"), 1), ""),
        (f"engine, Engine.process ({core.get('engine_fixes', 0):,} fixes, 1 core) /s", _num(f.get("engine_fixes_per_s")),
         f"≥ {t['engine_fixes_per_s']:,.0f}"),
        ("HTTP end to end, SQLite /s", _num(f.get("sqlite_fixes_per_s")), ""),
        ("HTTP end to end, PostgreSQL /s", _num(f.get("postgresql_fixes_per_s")), f"≥ {t['postgresql_fixes_per_s']:,.0f}"),
        ("  errors (SQLite / PostgreSQL)", f"{_num(f.get('sqlite_errors'))} / {_num(f.get('postgresql_errors'))}", "0"),
        ("NATS stream, stored /s", _num(f.get("nats_fixes_per_s")), ""),
        ("alert p50 (ms)", _num(f.get("alert_p50_ms"), 1), ""),
        ("alert p99 (ms)", _num(f.get("alert_p99_ms"), 1), f"≤ {t['alert_p99_ms']:,.0f}"),
        ("worker peak RSS (MB)", _num(f.get("worker_peak_rss_mb"), 1), f"≤ {t['worker_peak_rss_mb']:,.0f}"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    title = f"Tracking benchmark — {f.get('scale')} scale" + (" (quick)" if f.get("quick") else "")
    out = [title, "-" * len(title)]
    out.append(f"{'':<{width}}{'figure':>14}  {'target':>10}")
    for label, value, target in rows:
        out.append(f"{label:<{width}}{value:>14}  {target:>10}".rstrip())
    out.append("")
    out += [f"  {line}" for line in _notes(f)]
    return "\n".join(out) + "\n"


def _notes(f: dict[str, Any]) -> list[str]:
    core = f.get("core", {})
    notes = []
    if core:
        notes.append(f"province: {core.get('targets', 0):,} targets ({core.get('people', 0):,} people, "
                     f"{core.get('vehicles', 0):,} vehicles), {core.get('zones', 0):,} zones "
                     f"({core.get('zone_vertices', {}).get('max', 0):,} vertices at most), "
                     f"{core.get('pairs', 0):,} (fix, zone) pairs; box {core.get('box')}")
        if core.get("postgis"):
            notes.append(f"PostGIS {core['postgis']} on PostgreSQL {core.get('postgres_major')}: {core.get('parts', 0):,} zone "
                         f"parts after ST_Subdivide({bench.POSTGIS_MAX_VERTICES}), one backend, no parallel workers; "
                         f"plan: {core.get('plan', '')}")
        compare = core.get("compare")
        if compare and not compare.get("identical"):
            notes.append(f"zone sets differ: {compare}")
        if core.get("naive_agrees") is not None:
            notes.append(f"naive loop agrees with the index on its sample: {str(core['naive_agrees']).lower()}")
        if core.get("engine_effects"):
            notes.append(f"engine effects: {core['engine_effects']}")
    for key in ("zone_lookup_fixes_per_s", "postgis_join_fixes_per_s", "postgis_per_fix_fixes_per_s"):
        value = f.get(key)
        if isinstance(value, dict):
            notes.append(f"{key}: skipped — {value['skipped']}")
    for db in ("sqlite", "postgresql"):
        run = f.get("runs", {}).get(db, {})
        if "skipped" in run:
            notes.append(f"{db}: skipped — {run['skipped']}")
        elif "error" in run:
            notes.append(f"{db}: {run['error']}")
        elif run:
            e2e = run["e2e"]
            notes.append(f"{db}: server workers {run['server_workers']}; {CLIENTS} clients × batches of {BATCH}, "
                         f"{e2e['seconds']:.1f} s: {e2e['accepted']:,} fixes accepted (batch p50 "
                         f"{e2e['batch_p50_ms']:,.0f} ms), {e2e['errors']} errors, "
                         f"{run.get('alerts_raised', 0):,} alerts raised; set-up {run.get('load_s', 0):.0f} s")
            for note in run.get("notes", []):
                notes.append(f"{db}: {note}")
    alert = f.get("runs", {}).get("postgresql", {}).get("alerts")
    if alert and "skipped" not in alert:
        notes.append(f"alerts: open loop at {alert['rate']:,.0f} fixes/s ({alert['rate_why']}); "
                     f"{alert['seen']} of {alert['scripted']} scripted entries alerted; achieved {alert['achieved']:,.0f} "
                     f"fixes/s, {alert['errors']} errors")
    elif isinstance(f.get("alert_p99_ms"), dict):
        notes.append(f"alerts: skipped — {f['alert_p99_ms']['skipped']}")
    stream = f.get("runs", {}).get("postgresql", {}).get("stream")
    if stream and "skipped" not in stream and "error" not in stream:
        notes.append(f"stream: {stream['published']:,} fixes published in {stream['seconds']:.0f} s "
                     f"({stream['published_rate']:,.0f}/s answered), {stream['stored']:,} stored by {STREAM_WORKERS} "
                     f"workers, the rate over {stream['stored_s']:.1f} s of backlog (first stored "
                     f"{stream['first_stored_after_s']} s after the start; all stored: "
                     f"{str(stream['drained']).lower()}); errors {stream['errors']}")
        if stream.get("note"):
            notes.append(f"stream: {stream['note']}")
    elif isinstance(f.get("nats_fixes_per_s"), dict):
        notes.append(f"stream: skipped — {f['nats_fixes_per_s']['skipped']}")
    if f.get("worker_rss_from"):
        notes.append(f"worker RSS from {f['worker_rss_from']}")
    notes.append(f"took {f.get('elapsed_s', 0):.0f} s; targets are printed beside the figures, not enforced")
    return notes


# -- the child: one database ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_permissions(notes: list[str]) -> None:
    """The gateway persona (district_admin) needs ingest and alert permissions; add any its role lacks."""
    from pingan.accounts.models import Role
    from pingan.tracking import permissions as perms

    role = Role.objects.get(code="district_admin")
    missing = [p for p in (perms.INGEST_FIXES.code, perms.VIEW_ALERT.code) if p not in role.permissions]
    if missing:
        role.permissions = [*role.permissions, *missing]
        role.save(update_fields=["permissions"])
        notes.append(f"gave role district_admin {', '.join(missing)} (not in its defaults in this database)")


def load_world(province: bench.Province, scenarios: int, notes: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The province's area, a gateway user with a token, and the targets, devices, groups and zones, in bulk;
    plus ``scenarios`` extra people (in the people's group only) for the scripted entries. Returns (token, scenarios)."""
    import shapely
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Role
    from pingan.accounts.setup import ensure_default_roles
    from pingan.geo import actions as geo_actions
    from pingan.geo.importer import ParsedArea, ParseResult
    from pingan.geo.models import Area
    from pingan.tracking.models import Device, Target, TargetGroup, Zone

    ensure_default_roles()
    _ensure_permissions(notes)
    geo_actions.import_areas("bench", ParseResult(areas=[
        ParsedArea(0, "339900", "基准省", "bench province", "district", None, shapely.box(*province.scale.box))]))
    area = Area.objects.get(code="339900")
    user = account_actions.create_user("bench", username="bench_gateway", password=None)
    account_actions.assign_role("bench", user, Role.objects.get(code="district_admin"), area=area)
    _, token = account_actions.issue_token(user, user=user, name="bench", scopes=["read", "write"])

    count = province.scale.targets
    picks = [z for z in province.zones if z["kind"] == "exclusion" and z["shape"] == "circle"
             and z["groups"] == frozenset({bench.PEOPLE_GROUP}) and not z.get("fast") and z["radius_m"] >= 150]
    plan = []
    for k in range(scenarios):
        zone = picks[k % len(picks)]
        plan.append({"target": count + 1 + k, "uid": f"bench-{count + 1 + k}", "zone": zone["id"],
                     "lon": zone["coords"][0], "lat": zone["coords"][1],
                     "outside_m": zone["radius_m"] + zone.get("ring_m", 0.0) + 400.0})
    group_ids = sorted({g for gs in province.target_groups for g in gs} | {g for z in province.zones for g in z["groups"]})
    with transaction.atomic():
        TargetGroup.objects.bulk_create([TargetGroup(id=g, code=f"bench-{g}", name=f"bench {g}") for g in group_ids])
        kinds = province.target_kind + ["person"] * scenarios
        # A day's interval: the background's device times run from 12 h ago, and the periodic tick (in the
        # stream run's workers) must not call every target lost; lost contact is not measured here.
        Target.objects.bulk_create([Target(id=i + 1, kind=kinds[i], label=f"B{i + 1}", area=area, monitored=True,
                                           interval_s=LOAD_INTERVAL_S) for i in range(count + scenarios)],
                                   batch_size=5000)
        Device.objects.bulk_create([Device(id=i + 1, uid=f"bench-{i + 1}", target_id=i + 1)
                                    for i in range(count + scenarios)], batch_size=5000)
        through = Target.groups.through
        members = [(int(tid), g) for tid, gs in zip(province.target_ids.tolist(), province.target_groups, strict=True)
                   for g in gs] + [(s["target"], bench.PEOPLE_GROUP) for s in plan]
        through.objects.bulk_create([through(target_id=tid, targetgroup_id=g) for tid, g in members], batch_size=5000)
        Zone.objects.bulk_create([Zone(id=z["id"], name=f"Z{z['id']}", kind=z["kind"], shape=z["shape"], coords=z["coords"],
                                       radius_m=z.get("radius_m", 0.0), width_m=z.get("width_m", 0.0),
                                       ring_m=z.get("ring_m", 0.0), fast=z.get("fast", False),
                                       speed_limit_kmh=z.get("speed_limit_kmh"),
                                       applies_to_all=z["targets"] is None and not z["groups"], area=area)
                                  for z in province.zones], batch_size=1000)
        zone_groups = Zone.groups.through
        zone_groups.objects.bulk_create([zone_groups(zone_id=z["id"], targetgroup_id=g) for z in province.zones
                                         for g in z["groups"]], batch_size=5000)
        zone_targets = Zone.targets.through
        zone_targets.objects.bulk_create([zone_targets(zone_id=z["id"], target_id=t) for z in province.zones
                                          for t in z["targets"] or ()], batch_size=5000)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                for statement in connection.ops.sequence_reset_sql(no_style(), [TargetGroup, Target, Device, Zone]):
                    cur.execute(statement)
    return token, plan


def prime(province: bench.Province, t0: float) -> dict[str, Any]:
    """The province in operation: one stored fix per target (the load model's, at ``t0``), evaluated by the
    engine, with every target's engine state and latest position stored — so the timed batches update
    rows, as they would in steady state, rather than create them. In bulk; returns counts."""
    import datetime as dt

    from django.db import transaction

    from pingan.core import clock
    from pingan.tracking import engine as eng
    from pingan.tracking import pipeline
    from pingan.tracking.models import Fix, LatestPosition, Target, TargetState

    started = time.perf_counter()
    fixes = bench.build_fixes(province, province.scale.targets, t0=t0, seed=bench.SEED + 7)
    now = clock.now()

    def moment(t: float) -> dt.datetime:
        value = dt.datetime.fromtimestamp(t, tz=dt.UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    rows = [Fix(target_id=tid, device_id=tid, device_time=moment(t), received_at=now, lon=x, lat=y, accuracy_m=a,
                fix_type="cell" if c else "gnss", speed_kmh=None if v != v else v, source="bench", input_crs="wgs84")
            for tid, t, x, y, a, c, v in zip(fixes.target.tolist(), fixes.t.tolist(), fixes.lon.tolist(),
                                             fixes.lat.tolist(), fixes.accuracy_m.tolist(), fixes.cell.tolist(),
                                             fixes.speed_kmh.tolist(), strict=True)]
    engine = eng.Engine(zones=pipeline.zone_specs(), config=eng.EngineConfig())
    for info in pipeline.target_info(Target.objects.all()).values():
        engine.set_target(info)
    with transaction.atomic():
        Fix.objects.bulk_create(rows, batch_size=5000)
        effects = engine.process([pipeline._fix_in(f) for f in rows])
        opened = pipeline.apply_effects(effects, now, {f.pk: f for f in rows})
        states = []
        for f in rows:
            due = engine.next_due(f.target_id)
            states.append(TargetState(target_id=f.target_id, state=engine.export_state(f.target_id),
                                      due_at=dt.datetime.fromtimestamp(due, tz=dt.UTC) if due is not None else None))
        TargetState.objects.bulk_create(states, batch_size=5000)
        LatestPosition.objects.bulk_create([LatestPosition(target_id=f.target_id, fix_id=f.pk, device_time=f.device_time,
                                                           lon=f.lon, lat=f.lat, accuracy_m=f.accuracy_m,
                                                           speed_kmh=f.speed_kmh) for f in rows], batch_size=5000)
    return {"fixes": len(rows), "alerts": len(opened), "seconds": round(time.perf_counter() - started, 1)}


class _Server:
    """``pingan serve --no-worker`` on a free loopback port, plus any ``pingan worker`` processes."""

    def __init__(self, folder: Path, env: dict[str, str], label: str) -> None:
        self.folder, self.env, self.label = folder, env, label
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / f"server-{label}.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pingan.cli", "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env={**env, "PINGAN_LOG_LEVEL": "WARNING"})
        self.workers: list[subprocess.Popen[Any]] = []
        self.worker_logs: list[Any] = []

    def start_workers(self, n: int) -> None:
        for i in range(n):
            log = open(self.folder / f"worker-{self.label}-{i}.log", "w")  # noqa: SIM115 (closed in stop)
            self.worker_logs.append(log)
            self.workers.append(subprocess.Popen([sys.executable, "-m", "pingan.cli", "worker"], stdout=log,
                                                 stderr=subprocess.STDOUT, env={**self.env, "PINGAN_LOG_LEVEL": "WARNING"}))

    def wait_ready(self, timeout: float = 90.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not answer /healthz in time")

    def log_tail(self, chars: int = 1500) -> str:
        self.log.flush()
        return (self.folder / f"server-{self.label}.log").read_text(errors="replace")[-chars:]

    def last_error(self) -> str:
        text = (self.folder / f"server-{self.label}.log").read_text(errors="replace")
        if "Traceback" not in text:
            return ""
        block = []
        for line in text[text.rindex("Traceback"):].splitlines()[1:]:
            if line.startswith("INFO:"):
                break
            if line.strip():
                block.append(line.strip())
        return " | ".join(block[-3:])

    def stop(self) -> None:
        for proc in [*self.workers, self.process]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, self.process]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for log in [*self.worker_logs, self.log]:
            log.close()


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _clients(base: str, token: str, folder: Path, mode: str, seconds: float, t0: float, parts: int,
             rate: float = 0.0, lead: float = 1.0) -> tuple[list[dict[str, Any]], float]:
    """Run ``parts`` client processes from a common start; returns their summaries and the start (wall) time."""
    start_at = time.time() + lead
    args = ["--url", base, "--token", token, "--folder", str(folder), "--seconds", str(seconds), "--t0", repr(t0),
            "--parts", str(parts), "--start-at", repr(start_at), "--rate", repr(rate)]
    procs = [subprocess.Popen([sys.executable, "-m", "pingan.tracking.benchmarks", "client", mode, "--part", str(i), *args],
                              stdout=subprocess.PIPE, text=True) for i in range(parts)]
    outs = []
    for proc in procs:
        stdout, _ = proc.communicate()
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"a {mode} client failed (exit {proc.returncode})")
        outs.append(json.loads(lines[-1]))
    return outs, start_at


def _merge(outs: list[dict[str, Any]], start_at: float) -> dict[str, Any]:
    accepted = sum(o["accepted"] for o in outs)
    end = max(o["ended_at"] for o in outs)
    elapsed = max(end - start_at, 1e-9)
    samples = [s for o in outs for s in o["error_samples"]]
    return {"accepted": accepted, "errors": sum(o["errors"] for o in outs), "rejected": sum(o["rejected"] for o in outs),
            "duplicates": sum(o["duplicates"] for o in outs), "requests": sum(o["requests"] for o in outs),
            "seconds": round(elapsed, 2), "rate": round(accepted / elapsed, 1), "error_samples": samples[:5],
            "max_t": max(o["max_t"] for o in outs),
            "batch_p50_ms": round(float(np.median([o["batch_p50_ms"] for o in outs if o["batch_p50_ms"] is not None] or [0])), 1)}


def child_run(scale_name: str, timing: str, *, alerts: bool, stream: bool) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from pingan.tracking.models import Alert, Fix

    closed_s, alert_s, stream_s = TIMINGS[timing]
    province = bench.build_province(bench.SCALES[scale_name])
    notes: list[str] = []
    result: dict[str, Any] = {"database": connection.vendor, "server_workers": server_workers(), "scale": scale_name,
                              "notes": notes}
    started = time.perf_counter()
    _say(f"{connection.vendor}: migrating")
    call_command("migrate", verbosity=0)
    _say(f"{connection.vendor}: loading {province.scale.targets:,} targets and devices, {len(province.zones):,} zones")
    token, scenarios = load_world(province, SCENARIOS[timing], notes)
    _say(f"{connection.vendor}: priming every target with a stored, evaluated fix")
    t0 = time.time() - 12 * 3600  # background device times start 12 h ago and run forward (30–120 s a fix)
    result["primed"] = prime(province, t0 - 1800)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    result["load_s"] = round(time.perf_counter() - started, 1)
    folder = Path(tempfile.mkdtemp(prefix="pingan-bench-tracking-"))
    vehicle = np.array([k == "vehicle" for k in province.target_kind], dtype=bool)
    np.savez(folder / "plan.npz", target=province.target_ids, vehicle=vehicle, homes=province.homes,
             box=np.array(province.scale.box))
    (folder / "scenarios.json").write_text(json.dumps(scenarios))
    connections.close_all()
    env = {**os.environ, "PINGAN_STREAM_URL": ""}
    server = _Server(folder, env, "http")
    try:
        server.wait_ready()
        _say(f"{connection.vendor}: warm-up (the server builds its zone index)")
        warm, at = _clients(server.base, token, folder, "closed", 0.0, t0, 1, lead=0.5)
        t0 = _merge(warm, at)["max_t"] + 121
        _say(f"{connection.vendor}: closed loop, {CLIENTS} clients, {closed_s:.0f} s")
        outs, at = _clients(server.base, token, folder, "closed", closed_s, t0, CLIENTS)
        result["e2e"] = _merge(outs, at)
        t0 = result["e2e"]["max_t"] + 121
        if result["e2e"]["errors"]:
            notes.append(f"errors, e.g. {result['e2e']['error_samples'][:3]}; server: {server.last_error()}")
        if alerts:
            result["alerts"], t0 = _alert_run(server, token, folder, alert_s, t0, result["e2e"]["rate"], scenarios)
    finally:
        server.stop()
    if server.process.returncode not in (0, -15):
        notes.append(f"server exited with {server.process.returncode}: {server.log_tail()}")
    if stream:
        result["stream"] = _stream_run(folder, env, token, stream_s, t0)
    result["alerts_raised"] = Alert.objects.count()
    result["fixes_stored"] = Fix.objects.count()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _alert_run(server: _Server, token: str, folder: Path, seconds: float, t0: float, reached: float,
               scenarios: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    rate = min(ALERT_RATE, reached)
    why = f"the {ALERT_RATE:,.0f}/s asked for" if rate == ALERT_RATE else "the closed loop's rate, lower than 10,000/s"
    if rate <= 0:
        return {"skipped": "the closed loop accepted no fixes"}, t0
    _say(f"alerts: open loop at {rate:,.0f} fixes/s for {seconds:.0f} s, {len(scenarios)} scripted entries, a poller")
    done = folder / "clients-done"
    poller = subprocess.Popen([sys.executable, "-m", "pingan.tracking.benchmarks", "poll", "--url", server.base,
                               "--token", token, "--folder", str(folder), "--seconds", repr(seconds + 120),
                               "--grace", repr(POLL_GRACE_S[0 if seconds < 10 else 1])], stdout=subprocess.PIPE,
                              text=True)
    outs, at = _clients(server.base, token, folder, "open", seconds, t0, CLIENTS, rate=rate)
    done.write_text("done")
    stdout, _ = poller.communicate()
    seen = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])["alerts"]
    merged = _merge(outs, at)
    posted = {p["target"]: p for o in outs for p in o["scenarios"]}
    by_target = {}
    for alert in seen:
        if alert["rule"] == "zone_exclusion" and alert["target_id"] in posted and alert["target_id"] not in by_target:
            by_target[alert["target_id"]] = alert
    latencies, early = [], 0
    for target, post in posted.items():
        alert = by_target.get(target)
        if alert is None or post.get("decided_at") is None:
            continue
        ms = (alert["seen_at"] - post["decided_at"]) * 1000
        if ms < 0:
            early += 1
        latencies.append(ms)
    out: dict[str, Any] = {"rate": rate, "rate_why": why, "achieved": merged["rate"], "errors": merged["errors"],
                           "scripted": len(posted), "seen": len(latencies), "early": early,
                           "p50_ms": _pct(latencies, 50), "p99_ms": _pct(latencies, 99),
                           "max_ms": round(max(latencies), 1) if latencies else None, "poll_requests": len(seen)}
    if not latencies:
        out = {"skipped": f"no scripted entry was alerted ({len(posted)} posted)", **out}
    return out, merged["max_t"] + 121


def _pct(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    return round(float(np.percentile(np.asarray(samples), q)), 1)


def _stream_ready() -> str:
    """'' when the stream door exists and NATS answers, else the reason."""
    try:
        from pingan.tracking import stream  # noqa: F401
    except ImportError:
        return "stream door not built"
    parts = urlsplit(STREAM_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2):
            return ""
    except OSError as exc:
        return f"NATS at {STREAM_URL} does not answer ({exc})"


def _delete_stream(name: str) -> None:
    import asyncio

    import nats

    async def drop() -> None:
        nc = await nats.connect(STREAM_URL, connect_timeout=3, max_reconnect_attempts=0)
        try:
            await nc.jetstream().delete_stream(name)
        finally:
            await nc.close()

    with contextlib.suppress(Exception):
        asyncio.run(drop())


def _stream_run(folder: Path, env: dict[str, str], token: str, seconds: float, t0: float) -> dict[str, Any]:
    from django.db import connections

    from pingan.tracking.models import Fix

    reason = _stream_ready()
    if reason:
        return {"skipped": reason}
    name = f"PINGAN_BENCH_{os.getpid()}"
    stream_env = {**env, "PINGAN_STREAM_URL": STREAM_URL, "PINGAN_STREAM_NAME": name,
                  "PINGAN_STREAM_SUBJECT": f"pingan.bench{os.getpid()}.fixes"}
    server = _Server(folder, stream_env, "stream")
    out: dict[str, Any] = {}
    try:
        server.wait_ready()
        server.start_workers(STREAM_WORKERS)

        def stored() -> int:
            value = Fix.objects.count()
            connections.close_all()
            return value

        def drain(target: int, cap: float, samples: list[tuple[float, int]]) -> None:
            deadline = time.time() + cap
            while time.time() < deadline:
                samples.append((time.time(), stored()))
                if samples[-1][1] >= target:
                    return
                time.sleep(0.5)

        _say(f"stream: warm-up through NATS (a batch from each client), {STREAM_WORKERS} workers")
        base = stored()
        warm, at = _clients(server.base, token, folder, "closed", 0.0, t0, CLIENTS, lead=0.5)
        merged = _merge(warm, at)
        t0 = merged["max_t"] + 121
        drain(base + merged["accepted"], 5.0 if seconds < 10 else 60.0, [])
        _say(f"stream: {CLIENTS} clients for {seconds:.0f} s, polling the fix count")
        baseline = stored()
        samples: list[tuple[float, int]] = [(time.time(), baseline)]
        box: dict[str, Any] = {}

        def run_clients() -> None:
            try:
                box["outs"] = _clients(server.base, token, folder, "closed", seconds, t0, CLIENTS)
            except Exception as exc:  # reported below
                box["error"] = str(exc)

        thread = threading.Thread(target=run_clients)
        thread.start()
        while thread.is_alive():
            samples.append((time.time(), stored()))
            time.sleep(0.5)
        thread.join()
        if "error" in box:
            return {"error": box["error"]}
        outs, at = box["outs"]
        merged = _merge(outs, at)
        drain(baseline + merged["accepted"], STREAM_DRAIN_S[0 if seconds < 10 else 1], samples)
        end_t, end_n = samples[-1]
        growth = [(t, n) for t, n in samples if n > baseline]
        # the stored rate while the workers had a backlog: from the first sample that grew to the last one
        first_t, first_n = (growth[0][0], samples[samples.index(growth[0]) - 1][1]) if growth else (end_t, end_n)
        span = max(end_t - first_t, 1e-9)
        rss = [r for r in (_peak_rss_mb(w.pid) for w in server.workers) if r is not None]
        out = {"published": merged["accepted"], "published_rate": merged["rate"], "errors": merged["errors"],
               "seconds": merged["seconds"], "stored": end_n - baseline, "stored_s": round(span, 1),
               "stored_rate": round((end_n - first_n) / span, 1) if growth else 0.0,
               "drained": end_n >= baseline + merged["accepted"],
               "first_stored_after_s": round(growth[0][0] - at, 1) if growth else None,
               "worker_peak_rss_mb": max(rss) if rss else None, "worker_rss_each_mb": rss,
               "error_samples": merged["error_samples"]}
        if any(w.poll() is not None for w in server.workers):
            out["note"] = "a worker exited during the run"
        if end_n == baseline:
            for log in server.worker_logs:
                log.flush()
            tails = [(server.folder / f"worker-stream-{i}.log").read_text(errors="replace")[-800:]
                     for i in range(len(server.workers))]
            out["note"] = "nothing was stored; the workers' logs end: " + " || ".join(tails)
    finally:
        server.stop()
        _delete_stream(name)
    return out


def _engine_rss(scale: str) -> Any:
    """Peak RSS of a process that holds every target's engine state after processing the fixes (the fallback
    when there is no NATS run)."""
    done = subprocess.run([sys.executable, "-m", "pingan.tracking.benchmarks", "engine-rss", "--scale", scale],
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"skipped": f"the engine process failed (exit {done.returncode})"}
    return json.loads(lines[-1])["peak_rss_mb"]


# -- the clients: separate processes driving the server (no Django here) ----------------------------------


class _Connection:
    def __init__(self, base: str, token: str) -> None:
        import http.client

        parts = urlsplit(base)
        self._make = lambda: http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)
        self.conn = self._make()
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, ConnectionError) as exc:
            self.conn.close()
            self.conn = self._make()
            return 0, str(exc).encode()


class _Load:
    """One client's share of the targets, moving on: each batch is the next targets round robin, each one
    fix 30–120 s of device time after its previous one, through the noise model."""

    def __init__(self, folder: Path, part: int, parts: int, t0: float) -> None:
        plan = np.load(folder / "plan.npz")
        mine = np.arange(plan["target"].size) % parts == part
        self.rng = np.random.default_rng([bench.SEED, part, int(t0)])
        box = tuple(float(v) for v in plan["box"])
        self.walkers = bench.Walkers(plan["target"][mine], plan["vehicle"][mine], plan["homes"][mine], box, self.rng)  # type: ignore[arg-type]
        self.uids = [f"bench-{t}" for t in self.walkers.target.tolist()]
        self.count = self.walkers.target.size
        self.t = t0 + self.rng.uniform(0, 120, self.count)
        self.cursor = 0
        self.max_t = t0

    def rows(self, n: int) -> list[dict[str, Any]]:
        n = min(n, self.count)
        take = (self.cursor + np.arange(n)) % self.count
        self.cursor = (self.cursor + n) % self.count
        dt_s = self.rng.uniform(30, 120, n)
        w = self.walkers
        w.step(take, dt_s)
        self.t[take] += dt_s
        t = np.round(self.t[take], 3)
        self.max_t = max(self.max_t, float(t.max()))
        seen = bench.observe(self.rng, w.lon[take], w.lat[take], w.vehicle[take], w.speed[take])
        speeds = np.round(seen["speed_kmh"], 1).tolist()
        return [{"device": self.uids[i], "t": ti, "lon": x, "lat": y, "accuracy": a, "fix_type": "cell" if c else "gnss",
                 "speed": None if s != s else s}  # NaN: no speed (people, cell fixes)
                for i, ti, x, y, a, c, s in zip(take.tolist(), t.tolist(), np.round(seen["lon"], 7).tolist(),
                                                np.round(seen["lat"], 7).tolist(), np.round(seen["accuracy_m"], 1).tolist(),
                                                seen["cell"].tolist(), speeds, strict=True)]


class _Tally:
    def __init__(self) -> None:
        self.accepted = self.rejected = self.duplicates = self.errors = self.requests = 0
        self.samples: list[str] = []
        self.took: list[float] = []

    def add(self, status: int, body: bytes, took: float) -> dict[str, Any]:
        self.requests += 1
        self.took.append(took * 1000)
        if status != 200:
            self.errors += 1
            self.samples.append(f"{status} {body[:200].decode(errors='replace')}")
            return {}
        answer = json.loads(body)
        self.accepted += int(answer.get("accepted", 0)) + int(answer.get("published", 0))
        self.duplicates += int(answer.get("duplicates", 0))
        if answer.get("rejected"):
            self.rejected += int(answer["rejected"])
            self.errors += int(answer["rejected"])
            self.samples.append(f"rejected rows: {answer.get('errors', [])[:2]}")
        return dict(answer)

    def summary(self, load: _Load, ended_at: float) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "duplicates": self.duplicates, "errors": self.errors,
                "requests": self.requests, "error_samples": self.samples[:5], "ended_at": ended_at, "max_t": load.max_t,
                "batch_p50_ms": round(float(np.median(self.took)), 1) if self.took else None}


PATH = "/api/v1/tracking/fixes"


def _sleep_until(moment: float) -> None:
    pause = moment - time.time()
    if pause > 0:
        time.sleep(pause)


def client_closed(args: argparse.Namespace) -> dict[str, Any]:
    load = _Load(Path(args.folder), args.part, args.parts, args.t0)
    conn = _Connection(args.url, args.token)
    tally = _Tally()
    body = json.dumps(load.rows(BATCH)).encode()
    _sleep_until(args.start_at)
    deadline = args.start_at + args.seconds
    while not tally.requests or time.time() < deadline:  # at least one batch (a warm-up sends just one)
        started = time.time()
        status, answer = conn.request("POST", PATH, body)
        tally.add(status, answer, time.time() - started)
        body = json.dumps(load.rows(BATCH)).encode()  # the next batch, made while the others are served
    return tally.summary(load, time.time())


def _scenario_rows(s: dict[str, Any], now: float, deciding: bool) -> list[dict[str, Any]]:
    """A scripted entry into an exclusion circle: one fix well outside, then two 5 m from the centre 60 s
    apart (not yet 120 s of dwell), then — the deciding fix, posted seconds later — one at the centre, 150 s
    after the first inside fix. Device times are in the recent past."""
    lon, lat = s["lon"], s["lat"]
    dlon = 1.0 / (bench.M_PER_DEG * math.cos(math.radians(lat)))
    fix = {"device": s["uid"], "accuracy": 5.0, "fix_type": "gnss"}
    if deciding:
        return [{**fix, "t": round(now - 30, 3), "lon": lon, "lat": lat}]
    return [{**fix, "t": round(now - 300, 3), "lon": lon + s["outside_m"] * dlon, "lat": lat},
            {**fix, "t": round(now - 180, 3), "lon": lon, "lat": lat + 5 / bench.M_PER_DEG},
            {**fix, "t": round(now - 120, 3), "lon": lon, "lat": lat - 5 / bench.M_PER_DEG}]


def client_open(args: argparse.Namespace) -> dict[str, Any]:
    """Batches at fixed times whatever the answers (``rate`` fixes/s over all parts); this part's scripted
    entries ride in them. Records, per entry, when the batch with its deciding fix was posted."""
    load = _Load(Path(args.folder), args.part, args.parts, args.t0)
    conn = _Connection(args.url, args.token)
    tally = _Tally()
    scenarios = json.loads((Path(args.folder) / "scenarios.json").read_text())
    spacing = max(args.seconds - 4.0, 1.0) / max(len(scenarios), 1)
    events: list[tuple[float, int, bool]] = []  # (due, scenario index, deciding)
    for k in range(args.part, len(scenarios), args.parts):
        due = args.start_at + 1.0 + k * spacing
        events += [(due, k, False), (due + 3.0, k, True)]
    events.sort()
    posts: dict[int, dict[str, Any]] = {}
    interval = BATCH / (args.rate / args.parts)
    batches = int(args.seconds / interval)
    _sleep_until(args.start_at)
    stop_at = args.start_at + args.seconds + 1.0
    i = -1
    while True:
        i += 1
        if i >= batches and not events:
            break  # the window's batches are sent, and every scripted fix with them
        rows = load.rows(BATCH)
        _sleep_until(args.start_at + i * interval)
        now = time.time()
        if now > stop_at and not events:
            break  # behind schedule past the window (the server is slower than the rate): stop sending
        deciding = []
        while events and events[0][0] <= now:
            _due, k, decide = events.pop(0)
            rows += _scenario_rows(scenarios[k], now, decide)
            if decide:
                deciding.append(k)
        body = json.dumps(rows).encode()
        posted = time.time()
        status, answer = conn.request("POST", PATH, body)
        answered = time.time()
        tally.add(status, answer, answered - posted)
        for k in deciding:
            posts[k] = {"target": scenarios[k]["target"], "decided_at": posted, "answered_at": answered, "status": status}
    out = tally.summary(load, time.time())
    out["scenarios"] = list(posts.values())
    return out


def client_poll(args: argparse.Namespace) -> dict[str, Any]:
    """Read ``GET /api/v1/tracking/alerts?since_id=`` in a loop; note when each alert is first seen. Stops
    once the clients are done (a file in ``folder``) and every scripted entry's alert was seen, or ``grace``
    seconds after that, or after ``seconds``."""
    folder = Path(args.folder)
    scripted = {s["target"] for s in json.loads((folder / "scenarios.json").read_text())}
    found: set[int] = set()
    done_at: float | None = None
    conn = _Connection(args.url, args.token)
    since = 0
    status, body = conn.request("GET", "/api/v1/tracking/alerts?limit=1")
    if status == 200 and json.loads(body)["items"]:
        since = json.loads(body)["items"][0]["id"]
    seen: list[dict[str, Any]] = []
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        offset, fresh = 0, []
        while True:
            status, body = conn.request("GET", f"/api/v1/tracking/alerts?since_id={since}&limit=500&offset={offset}")
            if status != 200:
                break
            page = json.loads(body)
            fresh += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["count"]:
                break
        now = time.time()
        for item in fresh:
            seen.append({"id": item["id"], "target_id": item["target_id"], "rule": item["rule"],
                         "zone_id": item["zone_id"], "seen_at": now})
        if fresh:
            since = max(since, *(item["id"] for item in fresh))
            found |= {item["target_id"] for item in fresh if item["rule"] == "zone_exclusion"} & scripted
        if done_at is None and (folder / "clients-done").exists():
            done_at = time.time()
        if done_at is not None and (found >= scripted or time.time() - done_at > args.grace):
            break
        time.sleep(POLL_EVERY_S)
    return {"alerts": seen}


def engine_rss(scale: str) -> dict[str, Any]:
    """Process every fix of the scale through one engine holding all targets; report this process's peak RSS."""
    from pingan.tracking import engine as eng

    province = bench.build_province(bench.SCALES[scale])
    fixes = bench.build_fixes(province, province.scale.fixes, t0=time.time() - 86400)
    engine = eng.Engine(zones=bench.zone_specs(eng, province), config=eng.EngineConfig())
    for info in bench.target_infos(eng, province):
        engine.set_target(info)
    for start in range(0, len(fixes), 10_000):
        engine.process(bench.fix_ins(eng, fixes, slice(start, start + 10_000)))
    return {"peak_rss_mb": _peak_rss_mb(os.getpid())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pingan.tracking.benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one database (DATABASE_URL): load, serve, measure, print one JSON line")
    run.add_argument("--scale", default="small", choices=sorted(bench.SCALES))
    run.add_argument("--timing", default="quick", choices=sorted(TIMINGS))
    run.add_argument("--alerts", action="store_true")
    run.add_argument("--stream", action="store_true")
    rss = sub.add_parser("engine-rss", help="peak RSS of an engine holding every target's state")
    rss.add_argument("--scale", default="small", choices=sorted(bench.SCALES))
    client = sub.add_parser("client", help="drive a running server")
    client.add_argument("mode", choices=["closed", "open"])
    poll = sub.add_parser("poll", help="poll the alerts of a running server")
    for p in (client, poll):
        p.add_argument("--url", required=True)
        p.add_argument("--token", required=True)
        p.add_argument("--seconds", type=float, default=10.0)
    for p in (client, poll):
        p.add_argument("--folder", required=True)
    poll.add_argument("--grace", type=float, default=POLL_GRACE_S[1])
    client.add_argument("--part", type=int, default=0)
    client.add_argument("--parts", type=int, default=1)
    client.add_argument("--t0", type=float, required=True)
    client.add_argument("--start-at", type=float, required=True)
    client.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.command == "run":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pingan.settings")
        out = child_run(args.scale, args.timing, alerts=args.alerts, stream=args.stream)
    elif args.command == "engine-rss":
        out = engine_rss(args.scale)
    elif args.command == "poll":
        out = client_poll(args)
    elif args.mode == "closed":
        out = client_closed(args)
    else:
        out = client_open(args)
    print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

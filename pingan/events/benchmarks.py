"""``pingan bench events [--events N] [--quick] [--json]``: the closed loop at scale, on SQLite and PostgreSQL.

For each database (a fresh temporary one: a file for SQLite; a database created on
``PINGAN_BENCH_PG_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``, and dropped after;
PostgreSQL is skipped with the reason when it does not answer), a child process:

1. migrates, loads the demo geography, organisations and default roles, and writes N historical events
   with :mod:`pingan.events.bulk` (default 1,000,000; ``--quick`` 20,000) over two years, about 3% open;
   on PostgreSQL it then runs ``ANALYZE`` (what autovacuum does after a bulk load);
2. runs the registered ``dashboard.rollup`` job once (a full rewrite; its time is reported);
3. times ``events.queries.inbox`` (first page of 50 rows, every inbox) for a town officer and a grid
   worker: p50 / p95 over all samples;
4. starts ``pingan serve --no-worker`` on a free loopback port against the same database and, from a
   separate client process (``http.client``, bearer token, keep-alive), times the dashboard
   (``GET /api/v1/dashboard/figures?period=month``, whole district) on its first call after a health
   check — cold: no query of it ran in that server before — then drives ``POST /api/v1/events``
   (locating, routing, timeline, audit; an ``Idempotency-Key`` each): closed loop with 1–8 connections
   for the highest rate without errors, then an open loop at 50 creates/s for 60 s (``--quick``: 10 s)
   for the latency p95, measured from each request's scheduled send time.

The server runs as many processes as ``pingan serve`` does by default (``server_workers``: one on SQLite, one per
core on PostgreSQL).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pingan.core.benchmarks import benchmark, scratch_postgres, scratch_sqlite
from pingan.core.serving import server_workers

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 20_000
OPEN_LOOP_RATE = 50.0
TARGETS = {"inbox_p95_ms": 100.0, "dashboard_ms": 500.0, "create_p95_ms": 50.0, "creates_per_s": 200.0}
KEYS = ("events", "inbox_p50_ms", "inbox_p95_ms", "dashboard_ms", "create_p95_ms", "creates_per_s", "server_workers")


# -- the parent: one child per database ---------------------------------------------------------------

@benchmark("events")
def events_bench(quick: bool, events: int | None = None) -> tuple[dict[str, Any], str]:
    n = events if events is not None else (QUICK_EVENTS if quick else FULL_EVENTS)
    if n < 1:
        raise ValueError("--events must be at least 1")
    figures: dict[str, Any] = {}
    for name, opener in (("sqlite", functools.partial(scratch_sqlite, "pingan-bench")), ("postgresql", functools.partial(scratch_postgres, "pingan_bench"))):
        with opener() as (url, reason):
            if url is None:
                print(f"bench events: {name} skipped: {reason}", file=sys.stderr)
                figures[name] = {"skipped": reason}
                continue
            print(f"bench events: {name}: {n:,} events …", file=sys.stderr)
            figures[name] = _run_child(url, n, quick)
    return figures, format_table(figures)


def _run_child(url: str, n: int, quick: bool) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "pingan.settings"}
    command = [sys.executable, "-m", "pingan.events.benchmarks", "run", "--events", str(n)] + (["--quick"] if quick else [])
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"the bench process failed (exit {done.returncode}); see its output above"}
    return dict(json.loads(lines[-1]))


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:,.1f}"


def format_table(figures: dict[str, Any]) -> str:
    rows = [
        ("events loaded", "events", lambda v: f"{v:,}" if v is not None else "—", None),
        ("inbox p50 (ms)", "inbox_p50_ms", _ms, None),
        ("inbox p95 (ms)", "inbox_p95_ms", _ms, "≤ 100"),
        ("dashboard, cold (ms)", "dashboard_ms", _ms, "≤ 500"),
        ("dashboard, warm median (ms)", "dashboard_warm_ms", _ms, None),
        ("dashboard, town officer (ms)", "dashboard_town_ms", _ms, None),
        ("sustained creates (/s)", "creates_per_s", _ms, "≥ 200"),
        ("  with connections", "create_concurrency", lambda v: "—" if v is None else str(v), None),
        ("create p95 at 50/s (ms)", "create_p95_ms", _ms, "≤ 50"),
        ("create p50 at 50/s (ms)", "create_p50_ms", _ms, None),
        ("create errors", "create_errors", lambda v: "—" if v is None else str(v), "0"),
        ("rollup, full rewrite (s)", "rollup_s", _ms, None),
        ("bulk load (s)", "load_s", _ms, None),
        ("server workers", "server_workers", lambda v: "—" if v is None else str(v), None),
    ]
    names = [k for k in ("sqlite", "postgresql") if k in figures]
    width = 30
    out = [f"{'':<{width}}" + "".join(f"{k:>16}" for k in names) + f"{'target':>10}"]
    for label, key, fmt, target in rows:
        cells = []
        for name in names:
            data = figures[name]
            cells.append("" if "skipped" in data or "error" in data else fmt(data.get(key)))
        out.append(f"{label:<{width}}" + "".join(f"{c:>16}" for c in cells) + f"{target or '':>10}")
    for name in names:
        data = figures[name]
        if "skipped" in data:
            out.append(f"{name}: skipped — {data['skipped']}")
        elif "error" in data:
            out.append(f"{name}: {data['error']}")
        else:
            for note in data.get("notes", []):
                out.append(f"{name}: {note}")
    return "\n".join(out) + "\n"


# -- the child: one database -------------------------------------------------------------------------

def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_permissions(notes: list[str]) -> None:
    """The personas need the events permissions; add any their default role lacks (a bare database)."""
    from pingan.accounts.models import Role
    from pingan.events import permissions as ep

    wanted = {
        "grid_worker": [ep.VIEW_EVENT.code, ep.REPORT_EVENT.code, ep.VERIFY_EVENT.code],
        "workstation_staff": [ep.VIEW_EVENT.code, ep.REPORT_EVENT.code, ep.TRIAGE_EVENT.code, ep.HANDLE_EVENT.code,
                              ep.VIEW_DASHBOARD.code],
        "district_admin": [ep.VIEW_EVENT.code, ep.REPORT_EVENT.code, ep.VIEW_DASHBOARD.code],
    }
    for code, perms in wanted.items():
        role = Role.objects.get(code=code)
        missing = [p for p in perms if p not in role.permissions]
        if missing:
            role.permissions = [*role.permissions, *missing]
            role.save(update_fields=["permissions"])
            notes.append(f"gave role {code} {', '.join(missing)} (not in its defaults in this database)")


def _personas() -> dict[str, Any]:
    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Organisation, OrgKind, Role
    from pingan.geo.models import Area

    roles = {r.code: r for r in Role.objects.all()}
    district = Area.objects.get(level="district")
    town = Area.objects.filter(level="town").order_by("code").first()
    assert town is not None
    grid = Area.objects.filter(level="grid", code__startswith=town.code).order_by("code").first()
    government = Organisation.objects.filter(kind=OrgKind.TOWN_GOVERNMENT, area=town).first()
    made = {}
    for username, role, area, org in (("bench_admin", "district_admin", district, None),
                                      ("bench_town", "workstation_staff", town, government),
                                      ("bench_grid", "grid_worker", grid, None)):
        user = account_actions.create_user("bench", username=username, password=None, organisation=org)
        account_actions.assign_role("bench", user, roles[role], area=area, organisation=org)
        made[username] = user
    return made


def _points(count: int) -> list[tuple[float, float]]:
    """Points the locate index places inside the district: micro-grid centroids that locate."""
    from pingan.geo.models import Area
    from pingan.geo.queries import locate

    centres = list(Area.objects.filter(level="microgrid").order_by("code").values_list("centroid_lon", "centroid_lat"))
    spread = centres[:: max(1, len(centres) // count)]  # every town, not the first few
    return [(lon, lat) for lon, lat in spread if locate(lon, lat, "wgs84") is not None][:count]


def _time_inboxes(users: list[Any], repeats: int) -> list[float]:
    from django.db import connections

    from pingan.events import queries

    samples: list[float] = []
    for user in users:
        connections.close_all()
        for _ in range(repeats):
            for box in queries.BOXES:
                started = time.perf_counter()
                list(queries.inbox(user, box)[:50])
                samples.append((time.perf_counter() - started) * 1000)
    return samples


def child_run(n: int, quick: bool) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from pingan.accounts import actions as account_actions
    from pingan.accounts.district import load_geography, load_organisations
    from pingan.accounts.setup import ensure_default_roles
    from pingan.core import clock, jobs
    from pingan.events import bulk

    notes: list[str] = []
    result: dict[str, Any] = {"events": n, "server_workers": server_workers(), "database": connection.vendor}
    _say("migrating")
    call_command("migrate", verbosity=0)
    _say("loading the demo geography and organisations")
    ensure_default_roles()
    load_geography()
    load_organisations()
    _ensure_permissions(notes)
    users = _personas()
    types = bulk.ensure_types()
    started = time.perf_counter()
    step = max(n // 10, 1)

    def progress(done: int, total: int) -> None:
        if done % step < 5000 or done == total:
            _say(f"{done:,} / {total:,} events ({time.perf_counter() - started:.0f} s)")

    loaded = bulk.load_history(n, now=clock.now(), progress=progress)
    result["load_s"] = round(loaded.seconds, 1)
    result["open_share"] = round(loaded.open / max(loaded.events, 1), 4)
    result["tasks"] = loaded.tasks
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    rollup_job = jobs.registered().get("dashboard.rollup")
    if rollup_job is not None:
        _say("dashboard rollup (full)")
        started = time.perf_counter()
        rollup_job.func(clock.now())
        result["rollup_s"] = round(time.perf_counter() - started, 2)
    else:
        notes.append("no dashboard.rollup job registered: the dashboard counts live")
    _say("inbox queries")
    samples = _time_inboxes([users["bench_town"], users["bench_grid"]], repeats=5 if quick else 20)
    result["inbox_p50_ms"] = round(_percentile(samples, 50) or 0, 2)
    result["inbox_p95_ms"] = round(_percentile(samples, 95) or 0, 2)
    result["inbox_samples"] = len(samples)

    # the reporter is district-wide (a 12345 hotline operator): a report anywhere stays in their scope
    _, admin_token = account_actions.issue_token(users["bench_admin"], user=users["bench_admin"], name="bench")
    _, town_token = account_actions.issue_token(users["bench_town"], user=users["bench_town"], name="bench")
    _, write_token = account_actions.issue_token(users["bench_admin"], user=users["bench_admin"], name="bench-write",
                                                 scopes=["read", "write"])
    leaf_codes = [t.code for t in types]
    folder = Path(tempfile.mkdtemp(prefix="pingan-bench-client-"))
    plan = {"points": _points(2000), "types": leaf_codes}
    (folder / "plan.json").write_text(json.dumps(plan))
    connections.close_all()

    port = _free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "pingan.cli", "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PINGAN_LOG_LEVEL": "WARNING"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)

        def client(*args: str) -> dict[str, Any]:
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "pingan.events.benchmarks", "client", "--url", base, *args],
                stdout=subprocess.PIPE, text=True, check=True,
            )
            return dict(json.loads(done.stdout.strip().splitlines()[-1]))

        _say("dashboard, cold then warm")
        board = client("dashboard", "--token", admin_token, "--path", "/api/v1/dashboard/figures?period=month",
                       "--repeats", "5")
        result["dashboard_ms"] = board["first_ms"]
        result["dashboard_warm_ms"] = board["median_ms"]
        result["dashboard_status"] = board["status"]
        town = client("dashboard", "--token", town_token, "--path", "/api/v1/dashboard/figures?period=month",
                      "--repeats", "3")
        result["dashboard_town_ms"] = town["first_ms"]

        _say("warming up the create path (locate index, routing rules)")
        client("closed", "--token", write_token, "--plan", str(folder / "plan.json"), "--concurrency", "1",
               "--seconds", "2")
        seconds = 5 if quick else 15
        best: dict[str, Any] | None = None
        for concurrency in (2, 4) if quick else (1, 2, 4, 8):
            _say(f"closed loop, {concurrency} connections, {seconds} s")
            run = client("closed", "--token", write_token, "--plan", str(folder / "plan.json"),
                         "--concurrency", str(concurrency), "--seconds", str(seconds))
            result.setdefault("closed_loop", []).append({"concurrency": concurrency, **run})
            if run["errors"] == 0 and (best is None or run["rate"] > best["rate"]):
                best = {"concurrency": concurrency, **run}
        result["creates_per_s"] = round(best["rate"], 1) if best else None
        result["create_concurrency"] = best["concurrency"] if best else None

        duration = 10 if quick else 60
        _say(f"open loop, {OPEN_LOOP_RATE:.0f}/s for {duration} s")
        run = client("open", "--token", write_token, "--plan", str(folder / "plan.json"),
                     "--rate", str(OPEN_LOOP_RATE), "--seconds", str(duration))
        result["create_p95_ms"] = run["p95_ms"]
        result["create_p50_ms"] = run["p50_ms"]
        result["create_p99_ms"] = run["p99_ms"]
        result["create_errors"] = run["errors"] + sum(r["errors"] for r in result["closed_loop"])
        result["open_loop"] = run
        if run["errors"] or any(r["errors"] for r in result["closed_loop"]):
            samples_seen = [*run.get("error_samples", [])] + [s for r in result["closed_loop"] for s in r.get("error_samples", [])]
            notes.append(f"create errors, e.g. {samples_seen[:3]}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        server_log = (folder / "server.log").read_text(errors="replace")
        if server.returncode not in (0, -15):
            notes.append(f"server exited with {server.returncode}; its log ends: {server_log[-1500:]}")
        elif result.get("create_errors") and "Traceback" in server_log:
            block = []
            for line in server_log[server_log.rindex("Traceback"):].splitlines()[1:]:
                if line.startswith("INFO:"):
                    break
                block.append(line.strip())
            notes.append("the server's last error: " + " | ".join(block[-3:]))
        shutil.rmtree(folder, ignore_errors=True)
    result["notes"] = notes
    return result


def _wait_ready(base: str, server: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz within a minute")


# -- the client: a separate process driving the server ---------------------------------------------------

class _Connection:
    def __init__(self, base: str, token: str) -> None:
        import http.client

        parts = urlsplit(base)
        self._make = lambda: http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        self.conn = self._make()
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        try:
            self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, ConnectionError) as exc:
            self.conn.close()
            self.conn = self._make()
            return 0, str(exc).encode()


class _Bodies:
    def __init__(self, plan_path: str, salt: int) -> None:
        import random

        plan = json.loads(Path(plan_path).read_text())
        self.points = plan["points"]
        self.types = plan["types"]
        self.random = random.Random(salt)  # noqa: S311 (not security)
        self.lock = threading.Lock()

    def next(self) -> bytes:
        with self.lock:
            lon, lat = self.random.choice(self.points)
            kind = self.random.choice(self.types)
            dx, dy = self.random.uniform(-1e-4, 1e-4), self.random.uniform(-1e-4, 1e-4)
        return json.dumps({
            "event_type": kind, "title": "bench: 巡查发现", "description": "A report sent by the benchmark client.",
            "lon": lon + dx, "lat": lat + dy, "source": "grid_patrol",
        }).encode()


def _create(conn: _Connection, bodies: _Bodies) -> tuple[int, bytes]:
    return conn.request("POST", "/api/v1/events", bodies.next(), {"Idempotency-Key": uuid.uuid4().hex})


def _summary(latencies: list[float], errors: list[str], elapsed: float) -> dict[str, Any]:
    return {
        "ok": len(latencies), "errors": len(errors), "error_samples": errors[:5], "elapsed_s": round(elapsed, 2),
        "rate": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": _round(_percentile(latencies, 50)), "p95_ms": _round(_percentile(latencies, 95)),
        "p99_ms": _round(_percentile(latencies, 99)), "max_ms": _round(max(latencies) if latencies else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def client_closed(base: str, token: str, plan: str, concurrency: int, seconds: float) -> dict[str, Any]:
    bodies = _Bodies(plan, salt=concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        conn = _Connection(base, token)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, body = _create(conn, bodies)
            took = (time.perf_counter() - started) * 1000
            with lock:
                if status == 201:
                    latencies.append(took)
                else:
                    errors.append(f"{status} {body[:160].decode(errors='replace')}")

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _summary(latencies, errors, time.perf_counter() - started)


def client_open(base: str, token: str, plan: str, rate: float, seconds: float) -> dict[str, Any]:
    """Requests scheduled at a fixed rate whatever the answers; latency counts from the scheduled time."""
    bodies = _Bodies(plan, salt=7)
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))
    start = time.perf_counter() + 0.2

    def loop() -> None:
        conn = _Connection(base, token)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            status, body = _create(conn, bodies)
            took = (time.perf_counter() - due) * 1000
            with lock:
                if status == 201:
                    latencies.append(took)
                else:
                    errors.append(f"{status} {body[:160].decode(errors='replace')}")

    threads = [threading.Thread(target=loop) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = _summary(latencies, errors, time.perf_counter() - start)
    out["scheduled_rate"] = rate
    return out


def client_get(base: str, token: str, path: str, repeats: int) -> dict[str, Any]:
    conn = _Connection(base, token)
    conn.request("GET", "/healthz")  # a connection and a warm process, so the first call below is the query's
    times, statuses = [], []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        status, _body = conn.request("GET", path)
        times.append((time.perf_counter() - started) * 1000)
        statuses.append(status)
    return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(times[1:] or times), 1),
            "status": statuses[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pingan.events.benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one database (DATABASE_URL): load, measure, print one JSON line")
    run.add_argument("--events", type=int, default=QUICK_EVENTS)
    run.add_argument("--quick", action="store_true")
    client = sub.add_parser("client", help="drive a running server")
    client.add_argument("mode", choices=["closed", "open", "dashboard"])
    client.add_argument("--url", required=True)
    client.add_argument("--token", required=True)
    client.add_argument("--plan", default="")
    client.add_argument("--concurrency", type=int, default=4)
    client.add_argument("--seconds", type=float, default=10.0)
    client.add_argument("--rate", type=float, default=OPEN_LOOP_RATE)
    client.add_argument("--path", default="")
    client.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "run":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pingan.settings")
        print(json.dumps(child_run(args.events, args.quick), default=str))
        return 0
    if args.mode == "closed":
        out = client_closed(args.url, args.token, args.plan, args.concurrency, args.seconds)
    elif args.mode == "open":
        out = client_open(args.url, args.token, args.plan, args.rate, args.seconds)
    else:
        out = client_get(args.url, args.token, args.path, args.repeats)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

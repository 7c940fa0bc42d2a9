"""``pingan bench corrections [--subjects N] [--days D] [--workers W] [--seed S] [--database sqlite|postgresql]
[--quick] [--json]``: the core-area reverse warning (核心区反向预警) over a campaign.

See ``docs/modules/corrections.md#benchmark``. The parent creates a scratch database (a SQLite file, or a
PostgreSQL database on ``PINGAN_BENCH_PG_URL``) and runs one child process on it (``python -m
pingan.corrections.benchmarks run``), which:

1. migrates, and loads the district in bulk: a district area, a judicial office, a correction officer, one
   tracking target per subject (owner ``corrections``, monitored, in its level's group) and the core areas as
   tracking zones (fast exclusion zones with their schedules and levels);
2. starts ``--workers`` replay processes (:func:`pingan.corrections.bench.replay_worker`, one core each): each
   generates its subjects' days chunk by chunk (raw fixes are not stored) and runs the tracking engine on them,
   sending each effect the moment it is produced;
3. in three threads: the *store* applies the effects through ``pipeline.apply_effects`` (tracking alerts, with
   the fixes a warning refers to stored as its evidence); the *queue* polls the officer's verification queue
   (``tracking.queries.alerts(officer, state="open", since_id=…)``, the query behind the alert queue page and
   ``GET /api/v1/tracking/alerts``) every ``POLL_EVERY_S``; the *officer* verifies each warning the queue shows:
   acknowledges it, then dismisses it (an authorised visit, or a position error when the subject was
   nowhere near) or escalates it (a true entry, one in five: an event in the closed loop) through
   ``tracking.actions``;
4. prints one JSON line: the figures below.

``queue_p95_ms``: the 95th percentile, over the warnings, of the wall-clock time from the moment the engine
produced the ``raise`` effect (in a replay worker) to the moment the officer's queue query first returned the
alert (so it includes the hand-over between processes, the store's transaction and up to one polling interval).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import multiprocessing as mp
import os
import queue as queue_mod
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

from pingan.core.benchmarks import benchmark, scratch_postgres, scratch_sqlite
from pingan.corrections import bench

POLL_EVERY_S = 0.1
LEVEL_NAMES = {1: "strict", 2: "ordinary", 3: "lenient"}  # bench.LEVELS as management levels
ESCALATE_EVERY = 5          # the officer escalates one true entry in five; dismisses the rest as authorised visits

_STARTED = time.monotonic()


def _say(text: str) -> None:
    print(f"  [{time.monotonic() - _STARTED:5.0f} s] {text}", file=sys.stderr, flush=True)


# -- the parent ---------------------------------------------------------------------------------------------


@benchmark("corrections")
def corrections_bench(quick: bool, subjects: int | None = None, days: int | None = None, workers: int | None = None,
                      seed: int | None = None, database: str | None = None) -> tuple[dict[str, Any], str]:
    n = subjects if subjects is not None else (bench.QUICK[0] if quick else bench.SUBJECTS)
    d = days if days is not None else (bench.QUICK[1] if quick else bench.DAYS)
    w = workers if workers is not None else max(1, min(2, os.cpu_count() or 1))
    if n < 1 or d < 1 or w < 1:
        raise ValueError("--subjects, --days and --workers must be at least 1")
    db = database or "sqlite"
    if db not in ("sqlite", "postgresql"):
        raise ValueError("--database must be sqlite or postgresql")
    print(f"bench corrections: {n:,} subjects × {d} days, {w} workers, {db}", file=sys.stderr, flush=True)
    opener = functools.partial(scratch_sqlite, "pingan-bench-corrections") if db == "sqlite" else functools.partial(scratch_postgres, "pingan_bench_corrections")
    with opener() as (url, reason):
        if url is None:
            raise RuntimeError(f"bench corrections: {db} is not available: {reason}")
        figures = _run_child(url, n, d, w, bench.SEED if seed is None else seed)
    figures["database"] = db
    return figures, format_table(figures)


def _run_child(url: str, subjects: int, days: int, workers: int, seed: int) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "pingan.settings", "PINGAN_STREAM_URL": ""}
    command = [sys.executable, "-m", "pingan.corrections.benchmarks", "run", "--subjects", str(subjects),
               "--days", str(days), "--workers", str(workers), "--seed", str(seed)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench corrections: the bench process failed (exit {done.returncode}); see its output above")
    return dict(json.loads(lines[-1]))


# -- the table -------------------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def format_table(f: dict[str, Any]) -> str:
    t = bench.TARGETS
    rows: list[tuple[str, str, str]] = [
        ("subjects × days", f"{f['subjects']:,} × {f['days']}", ""),
        (f"fixes replayed ({f.get('fixes_per_subject_hour', 0):.2f} per subject-hour)", _num(f.get("fixes")), ""),
        (f"replay (s, {f.get('workers')} workers)", _num(f.get("replay_s"), 1), f"< {t['replay_s']:,.0f}"),
        ("fixes processed /s", _num(f.get("fixes_per_s")), ""),
        ("  engine alone, per worker /s", _num(f.get("engine_fixes_per_s")), ""),
        ("warnings raised", _num(f.get("warnings")), ""),
        ("true entries (oracle)", _num(f.get("true_entries")), ""),
        ("true entries missed", _num(f.get("missed_entries")), "0"),
        ("false warnings", _num(f.get("false_warnings")), ""),
        ("false warnings per 1,000 subject-days", _num(f.get("false_warnings_per_1000_subject_days"), 3),
         f"< {t['false_warnings_per_1000_subject_days']:g}"),
        ("verification queue p50 (ms)", _num(f.get("queue_p50_ms"), 1), ""),
        ("verification queue p95 (ms)", _num(f.get("queue_p95_ms"), 1), ""),
        ("alerts verified (dismissed / escalated)", f"{_num(f.get('dismissed'))} / {_num(f.get('escalated'))}", ""),
    ]
    width = max(len(r[0]) for r in rows) + 2
    title = f"Corrections benchmark — core-area reverse warning ({f.get('database')})"
    out = [title, "-" * len(title), f"{'':<{width}}{'figure':>16}  {'target':>8}"]
    for label, value, target in rows:
        out.append(f"{label:<{width}}{value:>16}  {target:>8}".rstrip())
    out.append("")
    out.append(f"  {f.get('core_areas')} core areas; {f.get('subjects_within_buffer'):,} subjects came within the "
               f"buffer ({bench.BUFFER_M:.0f} m) of an active core area, {f.get('warned_subjects'):,} were warned; a "
               "false warning is one on a subject who never did.")
    out.append("  queue latency: from the engine producing the raise effect (in a replay worker) to the officer's "
               f"queue query first returning the alert (polled every {POLL_EVERY_S * 1000:.0f} ms); "
               f"{f.get('queue_seen', 0):,} of {f.get('alerts_opened', 0):,} alerts seen.")
    for error in f.get("errors") or ():
        out.append(f"  ERROR {error}")
    out.append(f"  set-up (world, migrate, load) {f.get('setup_s', 0):.1f} s, not in the replay time; "
               f"total {f.get('elapsed_s', 0):.1f} s.")
    return "\n".join(out) + "\n"


# -- the child: one database ------------------------------------------------------------------------------------


def load_world(district: list[bench.CoreArea], subjects: bench.Subjects) -> dict[str, Any]:
    """The district, an office and its correction officer, the subjects' targets and the core areas, in bulk."""
    import shapely
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Organisation, OrgKind, Person, Role
    from pingan.accounts.setup import ensure_default_roles
    from pingan.core import clock
    from pingan.corrections.models import CorrectionType, Subject, SubjectState
    from pingan.corrections.setup import ensure_roles
    from pingan.geo import actions as geo_actions
    from pingan.geo.importer import ParsedArea, ParseResult
    from pingan.geo.models import Area
    from pingan.tracking.models import Target, TargetGroup, Zone

    now = clock.now()
    ensure_default_roles()
    ensure_roles()
    lon0, lat0 = bench.to_lonlat(np.array([-bench.HALF_W - 2_000]), np.array([-bench.HALF_H - 2_000]))
    lon1, lat1 = bench.to_lonlat(np.array([bench.HALF_W + 2_000]), np.array([bench.HALF_H + 2_000]))
    geo_actions.import_areas("bench", ParseResult(areas=[
        ParsedArea(0, "339800", "基准区", "bench district", "district", None,
                   shapely.box(float(lon0[0]), float(lat0[0]), float(lon1[0]), float(lat1[0])))]))
    area = Area.objects.get(code="339800")
    office = Organisation.objects.create(code="bench-sfs", name="基准司法所", kind=OrgKind.JUDICIAL_OFFICE, area=area)
    officer = account_actions.create_user("bench", username="bench_officer", password=None, organisation=office)
    account_actions.assign_role("bench", officer, Role.objects.get(code="correction_officer"), area=area,
                                organisation=office)
    n = len(subjects)
    with transaction.atomic():
        TargetGroup.objects.bulk_create([TargetGroup(id=g, code=f"bench-level-{g}", name=f"level {g}")
                                         for g in bench.LEVELS])
        Target.objects.bulk_create([Target(id=int(tid), kind="person", label=f"矫正对象 {int(tid):05d}", owner="corrections",
                                           area=area, organisation=office, monitored=True, interval_s=86_400)
                                    for tid in subjects.ids.tolist()], batch_size=5000)
        through = Target.groups.through
        through.objects.bulk_create([through(target_id=int(tid), targetgroup_id=int(g))
                                     for tid, g in zip(subjects.ids.tolist(), subjects.level.tolist(), strict=True)],
                                    batch_size=5000)
        Zone.objects.bulk_create([Zone(id=a.id, name=f"核心区 {a.id}", kind="exclusion", shape="polygon",
                                       coords=[a.ring_lonlat()], fast=True, schedule=a.schedule_dict(),
                                       applies_to_all=not a.levels, area=area, organisation=office, owner="corrections")
                                  for a in district])
        zone_groups = Zone.groups.through
        zone_groups.objects.bulk_create([zone_groups(zone_id=a.id, targetgroup_id=g) for a in district for g in a.levels])
        # A subject's file per target, supervised by the officer: the officer's queue sees a warning through the
        # same policy (and the same restriction on corrections-owned tracking rows) as in production.
        today = dt.date(2026, 1, 1)
        persons = Person.objects.bulk_create([Person(name=f"矫正对象{int(tid):05d}", area=area)
                                              for tid in subjects.ids.tolist()], batch_size=5000)
        Subject.objects.bulk_create([
            Subject(number=f"JZ-BENCH-{int(tid):06d}", person=person, correction_type=CorrectionType.PROBATION,
                    decision_body="基准法院", decision_number=f"B{int(tid)}", decision_effective_on=today,
                    supervision_start=today, supervision_end=today + dt.timedelta(days=730), level=LEVEL_NAMES[int(g)],
                    judicial_office=office, officer=officer, area=area, permitted_area=area, phone="",
                    state=SubjectState.IN_CORRECTION, intake_due=today + dt.timedelta(days=10), target_id=int(tid),
                    handle=f"bench{int(tid):019d}", created_at=now, updated_at=now)
            for tid, g, person in zip(subjects.ids.tolist(), subjects.level.tolist(), persons, strict=True)],
            batch_size=5000)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                for statement in connection.ops.sequence_reset_sql(no_style(), [TargetGroup, Target, Zone, Person, Subject]):
                    cur.execute(statement)
    return {"officer": officer, "targets": n}


class _Shared:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.produced: dict[int, float] = {}          # alert id → when its raise effect was produced
        self.picked: dict[int, float] = {}            # alert id → when the store took it off the queue
        self.committed: dict[int, float] = {}         # alert id → when the store's transaction committed
        self.seen: dict[int, float] = {}              # alert id → when the queue first showed it
        self.opened = 0
        self.stored_fixes = 0
        self.effects = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.replay_over = threading.Event()
        self.to_verify: queue_mod.Queue[int] = queue_mod.Queue()
        self.dismissed = 0
        self.escalated = 0
        # SQLite has one writer: the store and the officer take turns (a deferred transaction that reads,
        # then writes, would otherwise fail at once with "database is locked")
        self.write_lock: Any = contextlib.nullcontext()


def _store(effects_q: Any, shared: _Shared) -> None:
    """Apply the workers' effects to the database as they come (the real pipeline path)."""
    import datetime as dt

    from django.db import connection, transaction

    from pingan.core import clock
    from pingan.tracking import pipeline
    from pingan.tracking.models import Fix

    try:
        while True:
            items = bench.drain(effects_q, 0.05)
            if not items:
                if shared.replay_over.is_set():
                    # the workers are done and have flushed; one more look, then stop
                    items = bench.drain(effects_q, 0.5)
                    if not items:
                        break
                else:
                    continue
            now = clock.now()
            picked = time.time()
            fresh: list[int] = []
            with shared.write_lock, transaction.atomic():
                rows: dict[int, Fix] = {}
                for _at, batch in items:
                    for effect in batch:
                        for ref, tid, t, lon, lat, acc, gnss in effect[8]:
                            if ref not in rows:
                                rows[ref] = Fix(target_id=tid, device_time=dt.datetime.fromtimestamp(t, tz=dt.UTC),
                                                received_at=now, lon=lon, lat=lat, accuracy_m=acc,
                                                fix_type="gnss" if gnss else "cell", source="bench",
                                                input_crs="wgs84", raw_ref=str(ref))
                made = Fix.objects.bulk_create(list(rows.values()), batch_size=1000)
                shared.stored_fixes += len(made)
                fix_of = {ref: f for ref, f in rows.items()}
                by_pk = {f.pk: f for f in made}
                for at, effect in _coalesce(items, fix_of):
                    opened = pipeline.apply_effects([effect], now, by_pk)
                    shared.effects += 1
                    with shared.lock:
                        for alert_id in opened:
                            shared.produced[alert_id] = at
                            shared.picked[alert_id] = picked
                        shared.opened += len(opened)
                    fresh += opened
            committed = time.time()
            with shared.lock:
                for alert_id in fresh:
                    shared.committed[alert_id] = committed
    except Exception as exc:  # noqa: BLE001  (reported in the figures; the run goes on to report)
        shared.errors.append(f"store: {type(exc).__name__}: {exc}")
        raise
    finally:
        connection.close()


def _coalesce(items: list[Any], fix_of: dict[int, Any]) -> list[tuple[float, Any]]:
    """The drained items' effects in order, with their refs mapped to the stored fixes, and each run of
    ``evidence`` effects for one target × rule × zone (with no raise or clear of it between) merged into one:
    the same alert evidence, one update instead of one per minute of the stay."""
    from pingan.tracking.engine import Effect

    out: list[tuple[float, Any]] = []
    last_evidence: dict[tuple[int, str, int | None], int] = {}
    for at, batch in items:
        for kind, target, rule, zone, t, refs, severity, detail, _rows in batch:
            mapped = tuple(fix_of[r].pk for r in refs if r in fix_of)
            key = (target, rule, zone)
            if kind == "evidence" and key in last_evidence:
                k = last_evidence[key]
                prev = out[k][1]
                merged = prev.refs + tuple(r for r in mapped if r not in prev.refs)
                out[k] = (out[k][0], Effect("evidence", target, rule, zone, max(prev.t, t), merged, severity,
                                            prev.detail))
                continue
            out.append((at, Effect(kind, target, rule, zone, t, mapped, severity, detail)))
            if kind == "evidence":
                last_evidence[key] = len(out) - 1
            else:
                last_evidence.pop(key, None)
    return out


def _poll(officer: Any, shared: _Shared) -> None:
    """The officer's verification queue, polled: the first moment each alert shows."""
    from django.db import connection

    from pingan.tracking import queries

    last = 0
    try:
        while not shared.stop.is_set():
            fresh = list(queries.alerts(officer, state="open", since_id=last).order_by("id").values_list("id", flat=True))
            at = time.time()
            for alert_id in fresh:
                with shared.lock:
                    shared.seen.setdefault(alert_id, at)
                shared.to_verify.put(alert_id)
                last = max(last, alert_id)
            time.sleep(POLL_EVERY_S)
    except Exception as exc:  # noqa: BLE001
        shared.errors.append(f"queue: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _verify(officer: Any, entrants: set[int], shared: _Shared) -> None:
    """The officer verifies each warning: acknowledge, then dismiss or escalate (the real actions)."""
    from django.db import connection

    from pingan.tracking import actions, queries

    count = 0
    try:
        while True:
            try:
                alert_id = shared.to_verify.get(timeout=0.2)
            except queue_mod.Empty:
                if shared.stop.is_set():
                    break
                continue
            try:
                with shared.write_lock:
                    alert = queries.alert(officer, alert_id)
                    alert = actions.acknowledge_alert(officer, alert, note="已电话联系矫正对象核实")
                with shared.write_lock:
                    if alert.target_id in entrants:
                        count += 1
                        if count % ESCALATE_EVERY == 0:
                            actions.escalate_alert(officer, alert, note="核实：未经批准进入核心区")
                            shared.escalated += 1
                            continue
                        actions.dismiss_alert(officer, alert, reason="authorised", note="核实：经批准的探视")
                    else:
                        actions.dismiss_alert(officer, alert, reason="position_error", note="核实：定位漂移")
                    shared.dismissed += 1
            except Exception as exc:  # noqa: BLE001  (counted and reported; the officer goes on)
                if len(shared.errors) < 20:
                    shared.errors.append(f"officer, alert {alert_id}: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(values), q)), 1) if values else None


def child_run(subjects: int, days: int, workers: int, seed: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    plan = bench.Plan(subjects=subjects, days=days, seed=seed, workers=workers)
    _say("migrating …")
    call_command("migrate", verbosity=0, interactive=False)
    district, s = bench.make_world(plan)
    _say(f"world: {len(district)} core areas, {len(s):,} subjects, {sum(v.entrant for v in s.visits):,} planned entries, "
         f"{sum(not v.entrant for v in s.visits):,} planned near passes; loading …")
    world = load_world(district, s)
    setup_s = time.perf_counter() - started
    ctx = mp.get_context("spawn")
    effects_q = ctx.Queue()
    done_q = ctx.Queue()
    shared = _Shared()
    from django.db import connection

    if connection.vendor == "sqlite":
        shared.write_lock = threading.Lock()
    entrants = {int(s.ids[v.subject]) for v in s.visits if v.entrant}
    threads = [threading.Thread(target=_store, args=(effects_q, shared), name="store"),
               threading.Thread(target=_poll, args=(world["officer"], shared), name="queue"),
               threading.Thread(target=_verify, args=(world["officer"], entrants, shared), name="officer")]
    for th in threads:
        th.start()
    _say(f"replaying with {workers} workers …")
    replay_started = time.perf_counter()
    procs = [ctx.Process(target=bench.replay_worker, args=(plan, w, effects_q, done_q), name=f"replay-{w}")
             for w in range(workers)]
    for p in procs:
        p.start()
    summaries: list[dict[str, Any]] = []
    while len(summaries) < workers:
        try:
            summaries.append(done_q.get(timeout=5))
            _say(f"worker {summaries[-1]['worker']} done: {summaries[-1]['fixes']:,} fixes in "
                 f"{summaries[-1]['replay_s']:.1f} s")
        except queue_mod.Empty:
            if not any(p.is_alive() for p in procs) and done_q.empty():
                raise RuntimeError("a replay worker died") from None
    for p in procs:
        p.join()
    workers_s = time.perf_counter() - replay_started
    shared.replay_over.set()
    threads[0].join()
    # the replay is over when every warning is stored and visible in the queue
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        with shared.lock:
            if set(shared.produced) <= set(shared.seen):
                break
        time.sleep(0.05)
    # the replay runs from the first worker's first fix (after its set-up) until every warning is visible
    replay_s = time.time() - min(x["started_at"] for x in summaries)
    # let the officer finish verifying (not timed)
    while not shared.to_verify.empty() and time.perf_counter() < deadline + 120:
        time.sleep(0.1)
    shared.stop.set()
    for th in threads[1:]:
        th.join()
    out = bench.outcome(plan, summaries)
    fixes = sum(x["fixes"] for x in summaries)
    lat = [(shared.seen[a] - shared.produced[a]) * 1000 for a in shared.produced if a in shared.seen]
    from pingan.tracking.models import Alert

    figures: dict[str, Any] = {
        "subjects": subjects, "days": days, "replay_s": round(replay_s, 1),
        "fixes_per_s": round(fixes / replay_s) if replay_s else None, "warnings": out["warnings"],
        "missed_entries": out["missed_entries"],
        "false_warnings_per_1000_subject_days": out["false_warnings_per_1000_subject_days"],
        "queue_p95_ms": _pct(lat, 95),
        "queue_p50_ms": _pct(lat, 50),
        "queue_handover_p50_ms": _pct([(shared.picked[a] - shared.produced[a]) * 1000 for a in shared.picked], 50),
        "queue_committed_p50_ms": _pct([(shared.committed[a] - shared.produced[a]) * 1000 for a in shared.committed], 50), "queue_max_ms": _pct(lat, 100), "queue_seen": len(lat),
        "fixes": fixes, "fixes_per_subject_hour": round(fixes / (subjects * days * 24), 3),
        "true_entries": out["true_entries"], "false_warnings": out["false_warnings"],
        "subjects_within_buffer": out["subjects_within_buffer"], "warned_subjects": out["warned_subjects"],
        "entrant_subjects": out["entrant_subjects"], "missed_sample": out["missed_sample"],
        "false_sample": out["false_sample"], "unplanned_near": out["unplanned_near"],
        "workers": workers, "workers_s": round(workers_s, 1),
        "engine_fixes_per_s": round(sum(x["fixes"] / x["engine_s"] for x in summaries if x["engine_s"]) / workers),
        "alerts_opened": shared.opened, "alerts_stored": Alert.objects.count(),
        "evidence_fixes_stored": shared.stored_fixes, "effects_applied": shared.effects,
        "dismissed": shared.dismissed, "escalated": shared.escalated,
        "alerts_still_open": Alert.objects.filter(state="open").count(),
        "core_areas": len(district), "seed": seed, "setup_s": round(setup_s, 1),
        "elapsed_s": round(time.perf_counter() - started, 1), "errors": shared.errors,
        "engine_stats": [x["engine_stats"] for x in summaries],
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pingan.corrections.benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one database (DATABASE_URL): load, replay, verify, print one JSON line")
    run.add_argument("--subjects", type=int, default=bench.QUICK[0])
    run.add_argument("--days", type=int, default=bench.QUICK[1])
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--seed", type=int, default=bench.SEED)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pingan.settings")
    out = child_run(args.subjects, args.days, args.workers, args.seed)
    print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

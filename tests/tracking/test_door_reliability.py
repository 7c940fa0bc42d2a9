"""SIGKILL reliability of the doors, with real processes and real services: two ``pingan worker`` processes
on a scratch PostgreSQL database consume the NATS stream and the MQTT subscription (a Mosquitto started for
this test) while a publisher sends 3,600 fixes of twelve people, half through the HTTP door's path into the
stream and half as signed QoS 1 MQTT messages. Workers are killed with SIGKILL mid-stream, the MQTT
subscriber among them, and started again. Afterwards every fix is stored exactly once, and the alerts and
the engine states equal those of the same scenario run through the in-process pipeline on a copy of the
same database.

The test makes its own databases (``CREATE DATABASE``, dropped after) whatever ``DATABASE_URL`` says, so it
runs once, in the SQLite pass of ``make test`` (marker ``scratch_db``, left out of the PostgreSQL pass).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_service
from tests.tracking import reliability

pytestmark = pytest.mark.scratch_db

PG_ADMIN_URL = os.environ.get("PINGAN_TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2.0
PUBLISH_SECONDS = 14.0
KILLS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scratch_databases(*names: str) -> Iterator[dict[str, str]]:
    import psycopg
    from psycopg import sql

    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    urls = {name: urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}").geturl() for name in names}
    try:
        yield urls
    finally:
        for name in names:
            with contextlib.suppress(psycopg.Error):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def _admin(statement: str, *names: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(sql.SQL(statement).format(*(sql.Identifier(n) for n in names)))


def _query(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, connect_timeout=3) as conn:
        cursor = conn.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def _child(env: dict[str, str], *args: str, timeout: float = 60) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.tracking.reliability", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"reliability {args[0]} failed:\n{done.stderr[-4000:]}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class Mosquitto:
    """A broker of our own: its per-client queue is unlimited, so a session whose subscriber is being killed
    and restarted keeps every message (the machine's broker keeps 1,000 by default)."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        config = folder / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                          "max_queued_messages 0\nmax_inflight_messages 20\nlog_dest stderr\n")
        self.log = (folder / "mosquitto.log").open("w")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise AssertionError("mosquitto did not start")

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
        self.log.close()


class Workers:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.folder / f"worker-{self.started}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "pingan.cli", "worker"], env=self.env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.folder.glob("worker-*.log")))


def _fixes(url: str) -> int:
    return int(_query(url, "SELECT count(*) FROM tracking_fix")[0][0])


def _alerts(url: str) -> list[tuple[Any, ...]]:
    return _query(url, """
        SELECT a.target_id, a.rule, a.zone_key, a.severity, a.first_at, a.last_at, f.device_id, f.device_time,
               a.evidence_count, a.state
        FROM tracking_alert a LEFT JOIN tracking_fix f ON f.id = a.first_fix_id
        ORDER BY a.target_id, a.rule, a.zone_key, a.first_at""")


def _states(url: str) -> dict[int, Any]:
    """Each target's engine state, with the fix ids it holds (``g``: the last good fix; ``k``: each condition's
    evidence) replaced by (device, device time), since the two databases number their fixes differently."""
    key = {row[0]: (row[1], row[2].isoformat()) for row in _query(url, "SELECT id, device_id, device_time FROM tracking_fix")}
    states = {}
    for target, state in _query(url, "SELECT target_id, state FROM tracking_targetstate"):
        if "g" in state:
            state["g"] = [*state["g"][:4], key[state["g"][4]]]
        for cond in state.get("k", []):
            cond[5] = [key[ref] for ref in cond[5]]  # [rule, zone, run_t, run_n, consec, refs, …]
        states[target] = state
    return states


def _mqtt_holder_pid(url: str, client_id: str) -> int | None:
    rows = _query(url, "SELECT lease_owner FROM core_joblease WHERE name = %s AND lease_until > now()",
                  [f"tracking.mqtt:{client_id}"])
    if not rows or not rows[0][0]:
        return None
    return int(rows[0][0].split(":")[1])


def _stream_pending(env: dict[str, str]) -> dict[int, tuple[int, int]]:
    """Per partition: (messages not yet delivered, delivered but not acknowledged) of its durable consumer."""
    from pingan.tracking import stream

    nats_client = stream.client(env["PINGAN_STREAM_URL"])

    async def pending() -> dict[int, tuple[int, int]]:
        js = await nats_client.jetstream()
        out = {}
        for n in range(int(env["PINGAN_STREAM_PARTITIONS"])):
            try:
                info = await js.consumer_info(env["PINGAN_STREAM_NAME"], f"pingan-p{n}")
            except Exception:  # being reset by a worker that just took the partition
                out[n] = (-1, -1)
                continue
            out[n] = (int(info.num_pending), int(info.num_ack_pending))
        return out

    return nats_client.call(pending)


def _delete_stream(env: dict[str, str]) -> None:
    from pingan.tracking import stream

    nats_client = stream.client(env["PINGAN_STREAM_URL"])

    async def drop() -> None:
        js = await nats_client.jetstream()
        await js.delete_stream(env["PINGAN_STREAM_NAME"])

    with contextlib.suppress(Exception):
        nats_client.call(drop)


def _precreate_session(port: int, client_id: str, topic: str) -> None:
    """Register the subscriber's persistent session, so messages sent before the first worker subscribes
    are queued for it (a broker drops QoS 1 messages nobody has subscribed to)."""
    from pingan.tracking import mqtt as door_mqtt

    client = door_mqtt.make_client(door_mqtt.Broker("127.0.0.1", port, None, None, False), client_id, persistent=True)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(f"{topic}/+", qos=1)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def test_sigkilled_workers_lose_nothing_and_duplicate_nothing() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("NATS", "127.0.0.1", 4222)
    require_service("Mosquitto", "127.0.0.1", 1883)  # the machine's broker must run; this test starts its own too
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is needed to start a broker for this test")
    began = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    live_db, reference_db = f"pingan_rel_{tag}", f"pingan_rel_{tag}_ref"
    folder = Path(tempfile.mkdtemp(prefix="pingan-reliability-"))
    broker = Mosquitto(folder)
    client_id = f"pingan-rel-{tag}"
    topic = f"pingan-rel-{tag}/fixes"
    base = {**os.environ, "PINGAN_ENV": "test", "PINGAN_VAR_DIR": str(folder), "PINGAN_SECRET_KEY": "reliability-" + tag,
            "PINGAN_SIGNING_KEY": "reliability-signing-" + tag, "PYTHONPATH": str(ROOT)}
    base.pop("PINGAN_STREAM_URL", None)
    base.pop("PINGAN_MQTT_URL", None)
    doors = {"PINGAN_STREAM_URL": "nats://127.0.0.1:4222", "PINGAN_STREAM_NAME": f"PINGAN_REL_{tag}",
             "PINGAN_STREAM_SUBJECT": f"pingan-rel-{tag}.fixes", "PINGAN_STREAM_PARTITIONS": "4",
             "PINGAN_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}", "PINGAN_MQTT_TOPIC": topic,
             "PINGAN_MQTT_CLIENT_ID": client_id, "PINGAN_CONSUMER_LEASE_SECONDS": str(LEASE_SECONDS),
             "PINGAN_WORKER_TICK_SECONDS": "0.2"}
    workers = None
    report: dict[str, Any] = {}
    try:
        with scratch_databases(live_db, reference_db) as urls:
            live = {**base, "DATABASE_URL": urls[live_db]}
            _admin("CREATE DATABASE {}", live_db)
            subprocess.run([sys.executable, "-m", "pingan.cli", "migrate", "-v0"], env=live, cwd=ROOT, check=True)
            world = _child(live, "setup")
            assert [d["door"] for d in world["devices"]].count("mqtt") == reliability.TARGETS // 2
            # The periodic tick and retention are parked in both databases: they read the wall clock, and the
            # comparison is about the doors, not about what a tick would add later.
            parked = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
            for name in ("tracking.tick", "tracking.retention"):
                _query(urls[live_db], "INSERT INTO core_joblease (name, next_run_at, lease_owner, last_error, runs) "
                       "VALUES (%s, %s, '', '', 0) ON CONFLICT (name) DO UPDATE SET next_run_at = EXCLUDED.next_run_at",
                       [name, parked])
            _admin("CREATE DATABASE {} TEMPLATE {}", reference_db, live_db)
            report["setup_s"] = round(time.monotonic() - began, 1)

            anchor = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=110)).replace(second=0, microsecond=0).timestamp()
            reference_proc = subprocess.Popen(
                [sys.executable, "-m", "tests.tracking.reliability", "reference", "--anchor", str(anchor)],
                env={**base, "DATABASE_URL": urls[reference_db]}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            _precreate_session(broker.port, client_id, topic)
            workers = Workers({**live, **doors}, folder)
            workers.start()
            workers.start()
            publisher = subprocess.Popen(
                [sys.executable, "-m", "tests.tracking.reliability", "publish", "--anchor", str(anchor), "--seconds",
                 str(PUBLISH_SECONDS), "--mqtt-port", str(broker.port)],
                env={**live, **doors}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            # Kill a worker every few seconds while the fixes flow: the MQTT subscriber first and third.
            kills: list[dict[str, Any]] = []
            expected = reliability.unique_fixes()
            first = time.monotonic() + 60  # a loaded machine (CI runs two passes side by side) starts workers slowly
            while time.monotonic() < first and _fixes(urls[live_db]) < 100:  # the workers are consuming
                time.sleep(0.1)
            for n in range(KILLS):
                holder = _mqtt_holder_pid(urls[live_db], client_id)
                alive = workers.alive()
                victim = next((p for p in alive if p.pid == holder), alive[0]) if n % 2 == 0 else alive[-1]
                stored = _fixes(urls[live_db])
                workers.kill(victim)
                kills.append({"pid": victim.pid, "mqtt_holder": victim.pid == holder, "fixes_stored_before": stored})
                workers.start()
                time.sleep(PUBLISH_SECONDS / (KILLS + 2))
            out, err = publisher.communicate(timeout=60)
            assert publisher.returncode == 0, err[-4000:]
            report["publisher"] = json.loads(out.strip().splitlines()[-1])

            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and _fixes(urls[live_db]) < expected:
                time.sleep(0.25)
            # Everything delivered and acknowledged: the durable consumers have nothing pending.
            while time.monotonic() < deadline and any(p != (0, 0) for p in _stream_pending(doors).values()):
                time.sleep(0.25)
            pending = _stream_pending(doors)
            time.sleep(2 * LEASE_SECONDS)  # anything still in flight would land now
            workers.stop_all()

            ref_out, ref_err = reference_proc.communicate(timeout=60)
            assert reference_proc.returncode == 0, ref_err[-4000:]
            reference_result = json.loads(ref_out.strip().splitlines()[-1])

            stored = _fixes(urls[live_db])
            per_device = dict(_query(urls[live_db], "SELECT d.uid, count(*) FROM tracking_fix f "
                                                     "JOIN tracking_device d ON d.id = f.device_id GROUP BY d.uid"))
            doubled = _query(urls[live_db], "SELECT device_id, device_time FROM tracking_fix "
                                            "GROUP BY device_id, device_time HAVING count(*) > 1")
            alerts, reference_alerts = _alerts(urls[live_db]), _alerts(urls[reference_db])
            episodes = _query(urls[live_db], "SELECT target_id, rule, zone_key, count(*) FROM tracking_alert "
                                             "GROUP BY 1, 2, 3 HAVING count(*) > 1")
            committed = _query(urls[live_db], "SELECT number, committed_seq FROM tracking_streampartition ORDER BY 1")
            by_source = dict(_query(urls[live_db], "SELECT source, count(*) FROM tracking_fix GROUP BY source"))
            report.update(kills=kills, fixes=stored, expected=expected, alerts=len(alerts), committed=committed,
                          by_source=by_source, pending=pending, workers_started=workers.started,
                          reference=reference_result, seconds=round(time.monotonic() - began, 1))
            print("reliability:", json.dumps(report, default=str))
            assert len(kills) == KILLS and any(k["mqtt_holder"] for k in kills), report
            assert all(k["fixes_stored_before"] < expected for k in kills), "a kill came after the stream was consumed"
            assert stored == expected, (report, workers.logs())
            assert not doubled
            assert per_device == {reliability.uid(i): reliability.FIXES for i in range(reliability.TARGETS)}
            assert by_source == {"http": expected // 2, "mqtt": expected // 2}
            assert all(p == (0, 0) for p in pending.values()), pending
            assert reference_result["accepted"] == expected
            assert alerts == reference_alerts, (alerts, reference_alerts)
            assert {a[1] for a in alerts} >= {"zone_exclusion", "crossing"}, alerts
            assert not episodes, episodes  # one alert per target × rule × zone: nobody closed one, so no second
            assert _states(urls[live_db]) == _states(urls[reference_db])
    finally:
        if workers is not None:
            workers.stop_all()
        broker.stop()
        _delete_stream(doors)
        if os.environ.get("PINGAN_RELIABILITY_KEEP"):  # keep the worker and broker logs to read
            print("reliability: logs kept in", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)

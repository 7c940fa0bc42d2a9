"""The fix stream: with ``PINGAN_STREAM_URL=nats://…``, every door's fixes go through NATS JetStream, and
the ``tracking.stream`` consumer of each ``pingan worker`` stores and evaluates them.

Publishing (:func:`publish`, called by :func:`pipeline.submit` after validation). The fixes of a call are
split by partition, ``target id % PINGAN_STREAM_PARTITIONS``, and each partition's fixes become one message
(more if it would exceed the server's payload limit) on ``<PINGAN_STREAM_SUBJECT>.<partition>`` in the stream
``PINGAN_STREAM_NAME`` (created if missing: file storage, kept ``MAX_AGE``). :func:`publish` returns only once
JetStream has acknowledged every message, so when the HTTP door answers or the MQTT door acknowledges, the
fixes are on disk in the stream. Each message carries a ``Nats-Msg-Id`` (a digest of its content), so a
door that publishes the same fixes again within ``DUPLICATE_WINDOW`` (an MQTT redelivery) adds nothing.
The client is nats-py's asyncio client, on one event-loop thread per process; sync callers (Django views,
the MQTT door) hand it coroutines with ``asyncio.run_coroutine_threadsafe`` and wait for the result.

Consuming (:class:`Worker`, run by the ``tracking.stream`` consumer). Partitions are owned through leases on
``StreamPartition`` rows, claimed and renewed by conditional UPDATEs on ``owner``/``lease_until`` four times
per ``PINGAN_CONSUMER_LEASE_SECONDS`` (default 12 s). Each worker also holds a member lease (``JobLease``), so
it knows how many workers are alive and keeps ``ceil(partitions / live workers)`` partitions, giving up the
extra ones and claiming free or expired ones; a killed worker's partitions are taken over once its leases
expire. For each owned partition a puller thread resets the durable pull consumer ``pingan-p<n>`` to start
right after the partition's ``committed_seq`` (so delivery restarts exactly after what is committed, in
order, whatever was acknowledged before), fetches batches, and calls :func:`pipeline.ingest` with the
batch's highest stream sequence while holding the partition's row (``SELECT … FOR UPDATE``, and only while
the lease is still its own). The fixes, their effects, the engine state and ``committed_seq`` commit in one transaction; the
messages are acknowledged after the commit. A worker killed at any point loses nothing (uncommitted messages
are delivered again) and duplicates nothing (a message at or below ``committed_seq`` is skipped, and a fix is
stored once per device and device time).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from django.conf import settings
from django.db import DataError, IntegrityError, close_old_connections, connections, transaction
from django.db.models import Q
from nats.js import api as js_api

from pingan.core import audit, clock, jobs
from pingan.core.errors import DomainError
from pingan.tracking import pipeline
from pingan.tracking.models import StreamPartition

log = logging.getLogger("pingan.tracking.stream")

#: errors that say a message can't be stored (as opposed to the database being away, an OperationalError)
POISON_ERRORS = (DataError, IntegrityError, DomainError, ValueError, TypeError, KeyError, OverflowError)

DOOR = "stream"
FORMAT = 1
MAX_AGE = 7 * 86400.0          # seconds a message stays in the stream (a week of worker outage loses nothing)
DUPLICATE_WINDOW = 120.0       # seconds JetStream remembers Nats-Msg-Id for de-duplication
PUBLISH_TIMEOUT = 10.0         # seconds to wait for JetStream's acknowledgements
FETCH_BATCH = 64               # messages per fetch; one ingest per run of messages from the same door
FETCH_WAIT = 1.0               # seconds a fetch waits for the first message
MAX_BATCH_FIXES = 5000         # fixes per ingest transaction
ACK_WAIT = 60.0                # seconds before JetStream redelivers an unacknowledged message
PAYLOAD_MARGIN = 4096          # bytes kept free under the server's max_payload for headers


def lease_ttl() -> dt.timedelta:
    """How long a partition stays a dead worker's (``PINGAN_CONSUMER_LEASE_SECONDS``); renewed every quarter."""
    return dt.timedelta(seconds=float(settings.PINGAN_CONSUMER_LEASE_SECONDS))


def renew_seconds() -> float:
    return max(0.2, float(settings.PINGAN_CONSUMER_LEASE_SECONDS) / 4)


class StreamUnavailable(DomainError):
    """The stream did not take the fixes (NATS down or slow): nothing was accepted, send them again."""

    status = 503


T = TypeVar("T")


# --- the NATS client: one asyncio loop thread per process ---------------------------------------


class Client:
    """nats-py's asyncio client on its own event-loop thread. :meth:`call` runs a coroutine there from any
    thread and waits for its result."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pingan-nats", daemon=True)
        self.thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._ready: set[tuple[str, str]] = set()
        self._connecting: asyncio.Lock | None = None

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = PUBLISH_TIMEOUT + 5) -> T:
        async def run() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            if future.done():  # the coroutine itself raised a TimeoutError (FutureTimeout is the same class)
                raise
            future.cancel()
            raise TimeoutError(f"NATS did not answer within {timeout:.0f} s") from None

    async def jetstream(self) -> Any:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._nc is None or self._nc.is_closed:
                # A few quick reconnects, then the client closes and the next call connects afresh: a caller
                # never waits long for a server that is down (it gets StreamUnavailable and retries later).
                self._nc = await nats.connect(self.url, name="pingan", connect_timeout=2, allow_reconnect=True,
                                              max_reconnect_attempts=2, reconnect_time_wait=0.5,
                                              error_cb=_nats_error, disconnected_cb=_nats_disconnected)
                self._js = self._nc.jetstream(timeout=PUBLISH_TIMEOUT)
                self._ready.clear()
        return self._js

    @property
    def max_payload(self) -> int:
        return int(self._nc.max_payload) if self._nc is not None else 1024 * 1024

    async def ensure_stream(self, name: str, subject: str) -> Any:
        """The JetStream context, with the stream created if it is missing."""
        js = await self.jetstream()
        if (name, subject) in self._ready:
            return js
        wanted = f"{subject}.*"
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            try:
                info = await js.add_stream(js_api.StreamConfig(
                    name=name, subjects=[wanted], storage=js_api.StorageType.FILE,
                    retention=js_api.RetentionPolicy.LIMITS, discard=js_api.DiscardPolicy.OLD, max_age=MAX_AGE,
                    duplicate_window=DUPLICATE_WINDOW, description="Pingan: fixes from every door, by partition"))
                log.info("stream %s created (subjects %s)", name, wanted)
            except nats.js.errors.BadRequestError:
                info = await js.stream_info(name)  # another process created it meanwhile
        if wanted not in (info.config.subjects or []):
            raise RuntimeError(f"the stream {name} exists without the subjects {wanted}: {info.config.subjects}")
        self._ready.add((name, subject))
        return js

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self._nc = None

    def shutdown(self) -> None:
        try:
            self.call(self.close, timeout=5)
        except Exception:
            log.debug("closing the NATS client", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


async def _nats_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc or type(exc).__name__)


async def _nats_disconnected() -> None:
    log.info("NATS: disconnected")


_clients: dict[str, Client] = {}
_clients_lock = threading.Lock()


def client(url: str | None = None) -> Client:
    url = url or settings.PINGAN_STREAM_URL
    with _clients_lock:
        if url not in _clients:
            _clients[url] = Client(url)
        return _clients[url]


def reset_clients() -> None:
    """Close this process's NATS clients (tests)."""
    with _clients_lock:
        items = list(_clients.values())
        _clients.clear()
    for item in items:
        item.shutdown()


# --- the message format ------------------------------------------------------------------------


def partition_of(target_id: int, partitions: int | None = None) -> int:
    return target_id % (partitions or int(settings.PINGAN_STREAM_PARTITIONS))


def subject_of(partition: int) -> str:
    return f"{settings.PINGAN_STREAM_SUBJECT}.{partition}"


def fix_record(row: pipeline.CleanFix) -> dict[str, Any]:
    return {"device": row.device.uid, "device_time": row.device_time.isoformat(timespec="milliseconds"),
            "lon": row.lon, "lat": row.lat, "accuracy_m": row.accuracy_m, "fix_type": row.fix_type,
            "speed_kmh": row.speed_kmh, "heading": row.heading, "input_crs": row.input_crs, "raw_ref": row.raw_ref}


def encode(rows: Sequence[pipeline.CleanFix], source: str, max_bytes: int) -> list[bytes]:
    """One partition's fixes as messages ``{"v": 1, "source": …, "fixes": [...]}``, each within ``max_bytes``."""
    head = json.dumps({"v": FORMAT, "source": source}, separators=(",", ":"))[:-1] + ',"fixes":['
    messages: list[bytes] = []
    parts: list[str] = []
    size = len(head) + 2
    for row in rows:
        item = json.dumps(fix_record(row), separators=(",", ":"), ensure_ascii=False)
        if parts and size + len(item.encode()) + 1 > max_bytes:
            messages.append((head + ",".join(parts) + "]}").encode())
            parts, size = [], len(head) + 2
        parts.append(item)
        size += len(item.encode()) + 1
    if parts:
        messages.append((head + ",".join(parts) + "]}").encode())
    return messages


@dataclass
class Decoded:
    source: str
    fixes: list[dict[str, Any]]


def decode(data: bytes) -> Decoded:
    message = json.loads(data)
    if not isinstance(message, dict) or message.get("v") != FORMAT or not isinstance(message.get("fixes"), list):
        raise ValueError("not a fix message of format 1")
    source = message.get("source")
    if not isinstance(source, str) or not source:
        raise ValueError("the message names no source")
    return Decoded(source=source[:12], fixes=message["fixes"])


def to_clean(records: Sequence[dict[str, Any]], devices: dict[str, pipeline.DeviceRef]) -> tuple[list[pipeline.CleanFix], dict[str, int]]:
    """Messages back into the pipeline's rows (the fixes were validated before they were published)."""
    clean: list[pipeline.CleanFix] = []
    problems: dict[str, int] = defaultdict(int)
    for record in records:
        try:
            device = devices.get(record["device"])
            if device is None:
                problems["unknown_device"] += 1
                continue
            moment = dt.datetime.fromisoformat(record["device_time"])
            clean.append(pipeline.CleanFix(
                device=device, device_time=moment.astimezone(dt.UTC), lon=float(record["lon"]), lat=float(record["lat"]),
                accuracy_m=float(record["accuracy_m"]), fix_type=str(record["fix_type"]),
                speed_kmh=None if record.get("speed_kmh") is None else float(record["speed_kmh"]),
                heading=None if record.get("heading") is None else float(record["heading"]),
                input_crs=str(record.get("input_crs") or "wgs84"), raw_ref=str(record.get("raw_ref") or "")))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            problems["malformed_fix"] += 1
    return clean, problems


# --- publishing ---------------------------------------------------------------------------------


def publish(clean: Sequence[pipeline.CleanFix], *, source: str) -> int:
    """Publish validated fixes to the stream and wait for JetStream's acknowledgements; return how many were
    published. Raises :class:`StreamUnavailable` when the stream did not take them all."""
    if not clean:
        return 0
    by_partition: dict[int, list[pipeline.CleanFix]] = defaultdict(list)
    for row in clean:
        by_partition[partition_of(row.device.target_id)].append(row)
    name, subject = settings.PINGAN_STREAM_NAME, settings.PINGAN_STREAM_SUBJECT
    nats_client = client()

    async def send() -> None:
        js = await nats_client.ensure_stream(name, subject)
        limit = nats_client.max_payload - PAYLOAD_MARGIN

        async def one_partition(number: int, rows: list[pipeline.CleanFix]) -> None:
            for payload in encode(rows, source, limit):  # in order: one partition's messages one after another
                msg_id = hashlib.sha256(payload).hexdigest()[:32]
                await js.publish(f"{subject}.{number}", payload, stream=name, timeout=PUBLISH_TIMEOUT,
                                 headers={"Nats-Msg-Id": msg_id})

        await asyncio.gather(*(one_partition(n, rows) for n, rows in sorted(by_partition.items())))

    try:
        nats_client.call(send, timeout=PUBLISH_TIMEOUT + 10)
    except (nats.errors.Error, TimeoutError, OSError, RuntimeError) as exc:
        log.warning("stream %s did not take %d fixes from %s: %s", name, len(clean), source, exc or type(exc).__name__)
        raise StreamUnavailable("stream_unavailable", "the fix stream is not available; send the fixes again") from exc
    return len(clean)


# --- consuming: partitions, leases, pullers --------------------------------------------------------


def member_prefix() -> str:
    return f"tracking.stream:{settings.PINGAN_STREAM_NAME}:member:"


def ensure_partitions(count: int) -> None:
    have = set(StreamPartition.objects.filter(number__lt=count).values_list("number", flat=True))
    missing = [StreamPartition(number=n) for n in range(count) if n not in have]
    if missing:
        StreamPartition.objects.bulk_create(missing, ignore_conflicts=True)


def _spans(decoded: Decoded, devices: dict[str, pipeline.DeviceRef]) -> dict[int, tuple[str, str]]:
    """Per target of a message: its oldest and newest device time (as the ISO text the message carries)."""
    spans: dict[int, tuple[str, str]] = {}
    for record in decoded.fixes:
        if not isinstance(record, dict):
            continue
        uid, moment = record.get("device"), record.get("device_time")
        device = devices.get(uid) if isinstance(uid, str) else None
        if device is None or not isinstance(moment, str):
            continue
        oldest, newest = spans.get(device.target_id, (moment, moment))
        spans[device.target_id] = (min(oldest, moment), max(newest, moment))
    return spans


def _free(now: dt.datetime) -> Q:
    return Q(owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)


class Puller:
    """One owned partition: reset the durable consumer after ``committed_seq``, fetch, ingest, acknowledge."""

    def __init__(self, worker: Worker, number: int) -> None:
        self.worker = worker
        self.number = number
        self.halt = threading.Event()
        self.thread: threading.Thread | None = None
        self.sub: Any = None
        self.last_seq = 0
        self.consumed = 0

    # --- driven by its thread, or step by step in tests ---

    def open(self) -> None:
        nats_client, name = self.worker.client, self.worker.stream_name
        committed = StreamPartition.objects.get(number=self.number).committed_seq
        durable = f"pingan-p{self.number}"
        subject = f"{self.worker.subject}.{self.number}"

        async def reset() -> Any:
            js = await nats_client.ensure_stream(name, self.worker.subject)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_consumer(name, durable)
            await js.add_consumer(name, js_api.ConsumerConfig(
                durable_name=durable, deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=committed + 1, filter_subject=subject, ack_policy=js_api.AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT, max_ack_pending=FETCH_BATCH * 4, max_deliver=-1))
            return await js.pull_subscribe_bind(durable=durable, stream=name)

        self.sub = nats_client.call(reset)
        self.last_seq = committed
        log.info("partition %d: consuming %s from sequence %d", self.number, subject, committed + 1)

    def step(self, wait: float = FETCH_WAIT) -> int:
        """Fetch one batch and handle it; return the number of messages handled (0 when none came)."""
        sub = self.sub

        async def fetch() -> list[Any]:
            try:
                return list(await sub.fetch(FETCH_BATCH, timeout=wait))
            except TimeoutError:  # nothing came (nats.errors.TimeoutError and asyncio's are TimeoutErrors)
                return []

        messages = self.worker.client.call(fetch, timeout=wait + PUBLISH_TIMEOUT)
        if not messages:
            return 0
        return self.handle(messages)

    def close(self) -> None:
        sub, self.sub = self.sub, None
        if sub is None:
            return
        try:
            self.worker.client.call(sub.unsubscribe, timeout=5)
        except Exception:
            log.debug("partition %d: unsubscribe failed", self.number, exc_info=True)

    # --- one batch ---

    def handle(self, messages: Sequence[Any]) -> int:
        """Ingest a fetched batch in stream order: runs of messages from the same door go in one transaction
        (at most ``MAX_BATCH_FIXES`` fixes), with the run's highest sequence; acknowledge after each commit."""
        entries: list[tuple[int, Any, Decoded | None]] = []
        stale: list[Any] = []
        for message in sorted(messages, key=lambda m: m.metadata.sequence.stream):
            seq = message.metadata.sequence.stream
            if seq <= self.last_seq:
                stale.append(message)  # delivered again after it was committed: only acknowledge
                continue
            try:
                decoded: Decoded | None = decode(message.data)
            except (ValueError, UnicodeDecodeError):
                decoded = None
            entries.append((seq, message, decoded))
        if stale:
            self._ack(stale)
        uids = {f.get("device") for _s, _m, d in entries if d for f in d.fixes if isinstance(f, dict)}
        devices = pipeline.devices_by_uid(u for u in uids if isinstance(u, str))
        handled = 0
        run: list[tuple[int, Any, Decoded | None]] = []
        run_source: str | None = None
        run_fixes = 0
        run_newest: dict[int, str] = {}  # per target: its newest device time in the run (ISO, UTC: sorts as text)
        for entry in entries:
            decoded = entry[2]
            spans = _spans(decoded, devices) if decoded else {}
            # A message joins the run unless it comes from another door, the run is full, or it holds a fix not
            # newer than one the run already has for that target: the engine sorts a batch by device time, so
            # that fix must wait for the next batch to be judged (late) exactly as a door's own batch would be.
            overlaps = any(oldest <= run_newest.get(target, "") for target, (oldest, _newest) in spans.items())
            other_door = decoded is not None and run_source is not None and decoded.source != run_source
            if run and (other_door or overlaps or run_fixes >= MAX_BATCH_FIXES):
                if not self._commit(run, devices):
                    return handled
                handled += len(run)
                run, run_source, run_fixes, run_newest = [], None, 0, {}
            run.append(entry)
            if decoded is not None:
                run_source = run_source or decoded.source
                run_fixes += len(decoded.fixes)
            for target, (_oldest, newest) in spans.items():
                run_newest[target] = max(run_newest.get(target, ""), newest)
        if run and self._commit(run, devices):
            handled += len(run)
        return handled

    def _commit(self, run: Sequence[tuple[int, Any, Decoded | None]], devices: dict[str, pipeline.DeviceRef]) -> bool:
        seq = run[-1][0]
        source = next((e[2].source for e in run if e[2]), DOOR)
        clean: list[pipeline.CleanFix] = []
        problems: dict[str, int] = defaultdict(int)
        for _seq, _message, decoded in run:
            if decoded is None:
                problems["malformed_message"] += 1
                continue
            rows, found = to_clean([f for f in decoded.fixes if isinstance(f, dict)], devices)
            clean += rows
            for reason, n in found.items():
                problems[reason] += n
            not_objects = sum(1 for f in decoded.fixes if not isinstance(f, dict))
            if not_objects:
                problems["malformed_fix"] += not_objects
        try:
            if not self._store(seq, source, clean, problems):
                return False
        except POISON_ERRORS as exc:
            # Not the database being away (that raises OperationalError and is retried from committed_seq):
            # something in these messages can't be stored. Alone, each good message still goes in; the one that
            # fails alone is skipped, counted and logged, so the partition never stalls on it.
            if len(run) > 1:
                return all(self._commit([entry], devices) for entry in run)
            return self._skip_poison(run[0], exc)
        if problems:
            log.warning("partition %d: skipped %s", self.number, ", ".join(f"{n} {r}" for r, n in sorted(problems.items())))
        self._ack([message for _seq, message, _decoded in run])
        self.last_seq = seq
        self.consumed += len(run)
        return True

    def _store(self, seq: int, source: str, clean: list[pipeline.CleanFix], problems: dict[str, int]) -> bool:
        """Ingest the run's fixes and move the partition's ``committed_seq`` to ``seq``, in one transaction,
        if this worker still holds the partition's lease."""
        now = clock.now()
        with transaction.atomic():
            held = (StreamPartition.objects.select_for_update()
                    .filter(number=self.number, owner=self.worker.owner, lease_until__gte=now).first())
            if held is None:
                log.warning("partition %d: lease lost; stopping without acknowledging", self.number)
                self.halt.set()
                return False
            if seq > held.committed_seq:
                pipeline.ingest(clean, source=source, now=now, partition=self.number, seq=seq)
            # A busy partition renews its own lease with each commit (the worker's renewal skips rows that are
            # locked, so it never waits for a batch).
            StreamPartition.objects.filter(number=self.number).update(lease_until=clock.now() + lease_ttl())
            for reason, n in problems.items():
                pipeline.bump_counter(DOOR, reason, n)
        return True

    def _skip_poison(self, entry: tuple[int, Any, Decoded | None], exc: Exception) -> bool:
        """Skip one message that can't be stored: move past its sequence, count it (``poison_message``), write
        an audit entry (sequence, error, fix count — not the positions) and acknowledge it."""
        seq, message, decoded = entry
        fixes = len(decoded.fixes) if decoded else 0
        log.error("partition %d: message %d (%d fixes) can't be stored, skipped: %s: %s", self.number, seq, fixes,
                  type(exc).__name__, exc)
        with transaction.atomic():
            held = (StreamPartition.objects.select_for_update()
                    .filter(number=self.number, owner=self.worker.owner, lease_until__gte=clock.now()).first())
            if held is None:
                self.halt.set()
                return False
            StreamPartition.objects.filter(number=self.number, committed_seq__lt=seq).update(committed_seq=seq)
            pipeline.bump_counter(DOOR, "poison_message")
            audit.record("system", "pingan.tracking.stream_message_skipped", object_type="tracking.streampartition",
                         object_id=str(self.number), object_repr=f"partition {self.number} message {seq}",
                         changes={"seq": seq, "fixes": fixes, "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        self._ack([message])
        self.last_seq = seq
        self.consumed += 1
        return True

    def _ack(self, messages: Sequence[Any]) -> None:
        async def ack_all() -> None:
            await asyncio.gather(*(m.ack() for m in messages))

        try:
            self.worker.client.call(ack_all, timeout=PUBLISH_TIMEOUT)
        except Exception:
            # Committed already: a message delivered again is skipped by its sequence.
            log.warning("partition %d: acknowledgements not sent", self.number, exc_info=True)

    # --- the thread ---

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"stream-p{self.number}", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        self.halt.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self.open()
            while not self.halt.is_set() and not self.worker.stop.is_set():
                close_old_connections()  # this thread's connection: drop it if broken or too old
                self.step()
        except Exception:
            log.exception("partition %d: puller failed; it restarts after committed_seq", self.number)
        finally:
            self.close()
            connections.close_all()


class Worker:
    """The stream consumer of one process: owns a fair share of the partitions and runs a puller for each."""

    def __init__(self, stop: threading.Event, *, owner: str | None = None, threads: bool = True) -> None:
        self.stop = stop
        self.owner = owner or jobs.new_owner()
        self.partitions = int(settings.PINGAN_STREAM_PARTITIONS)
        self.stream_name = settings.PINGAN_STREAM_NAME
        self.subject = settings.PINGAN_STREAM_SUBJECT
        self.client = client()
        self.threads = threads
        self.pullers: dict[int, Puller] = {}
        self.stopping: dict[int, Puller] = {}
        self.member = member_prefix() + self.owner
        self.ensured = False

    def owned(self, now: dt.datetime | None = None) -> set[int]:
        now = now or clock.now()
        return set(StreamPartition.objects.filter(owner=self.owner, lease_until__gte=now, number__lt=self.partitions)
                   .values_list("number", flat=True))

    def rebalance(self, now: dt.datetime | None = None) -> set[int]:
        """Renew this worker's leases, give up what is over its fair share, claim free or expired partitions
        up to it, and start or stop pullers to match. Returns the partitions it consumes.

        It never waits for a puller: one asked to stop finishes its batch in its own thread, and its partition
        is released (still renewed until then) at a later call, once the thread has ended."""
        now = now or clock.now()
        until = now + lease_ttl()
        if not self.ensured:
            ensure_partitions(self.partitions)
            self.ensured = True
        jobs.hold_lease(self.member, self.owner, lease_ttl(), now)
        live = max(1, len(jobs.live_holders(member_prefix(), now)))
        share = math.ceil(self.partitions / live)
        with transaction.atomic():
            idle = list(StreamPartition.objects.select_for_update(skip_locked=True)
                        .filter(owner=self.owner, lease_until__gte=now).values_list("number", flat=True))
            StreamPartition.objects.filter(number__in=idle, owner=self.owner).update(lease_until=until)
        held = self.owned(now)
        for number, puller in list(self.stopping.items()):  # given up earlier: release once its puller ended
            if not puller.alive():
                del self.stopping[number]
                puller.close()
                StreamPartition.objects.filter(number=number, owner=self.owner).update(owner="", lease_until=None)
                held.discard(number)
                log.info("partition %d: given up by %s (fair share)", number, self.owner)
        mine = held - set(self.stopping)
        for number in sorted(mine, reverse=True)[: max(0, len(mine) - share)]:
            self._give_up(number)
            mine.discard(number)
        if len(mine) + len(self.stopping) < share:
            start = zlib.crc32(self.owner.encode()) % self.partitions
            for offset in range(self.partitions):
                if len(mine) + len(self.stopping) >= share:
                    break
                number = (start + offset) % self.partitions
                if number in held:
                    continue
                if StreamPartition.objects.filter(_free(now), number=number).update(owner=self.owner, lease_until=until):
                    log.info("partition %d: taken by %s", number, self.owner)
                    mine.add(number)
        for number in list(self.pullers):
            puller = self.pullers[number]
            if number not in mine:  # lost (its lease expired): it stops by itself, its commits are refused
                puller.halt.set()
                del self.pullers[number]
                if not self.threads:
                    puller.close()
            elif self.threads and not puller.alive():
                del self.pullers[number]  # it failed: a fresh one starts after committed_seq
        for number in sorted(mine):
            if number not in self.pullers:
                puller = Puller(self, number)
                self.pullers[number] = puller
                if self.threads:
                    puller.start()
                else:
                    puller.open()
        return mine

    def _give_up(self, number: int) -> None:
        puller = self.pullers.pop(number, None)
        if puller is None:
            StreamPartition.objects.filter(number=number, owner=self.owner).update(owner="", lease_until=None)
            log.info("partition %d: given up by %s (fair share)", number, self.owner)
            return
        puller.halt.set()
        if self.threads:
            self.stopping[number] = puller  # released by a later rebalance, once the thread has ended
        else:
            puller.close()
            StreamPartition.objects.filter(number=number, owner=self.owner).update(owner="", lease_until=None)
            log.info("partition %d: given up by %s (fair share)", number, self.owner)

    def release(self) -> None:
        """Stop every puller (waiting for each to finish its batch) and give every lease up."""
        pullers = [*self.pullers.values(), *self.stopping.values()]
        self.pullers, self.stopping = {}, {}
        for puller in pullers:
            puller.halt.set()
        for puller in pullers:
            puller.stop()
            puller.close()
        StreamPartition.objects.filter(owner=self.owner).update(owner="", lease_until=None)
        jobs.drop_lease(self.member, self.owner)

    def run(self) -> None:
        self.client.call(lambda: self.client.ensure_stream(self.stream_name, self.subject))
        log.info("stream consumer %s on %s (%d partitions)", self.owner, self.stream_name, self.partitions)
        try:
            while not self.stop.is_set():
                close_old_connections()
                self.rebalance()
                self.stop.wait(renew_seconds())
        finally:
            try:
                self.release()
            except Exception:
                log.exception("stream consumer %s: could not release its partitions (the leases expire)", self.owner)


def drain(worker: Worker, *, idle: float = 0.15, timeout: float = 30.0) -> int:
    """Step every puller of a thread-less worker until nothing comes for ``idle`` seconds (tests)."""
    deadline = time.monotonic() + timeout
    handled = 0
    while time.monotonic() < deadline:
        got = sum(p.step(wait=idle) for p in list(worker.pullers.values()))
        handled += got
        if not got:
            break
    return handled


@jobs.consumer("tracking.stream", enabled=lambda: bool(settings.PINGAN_STREAM_URL))
def consume(stop: threading.Event) -> None:
    """Own a fair share of the stream's partitions and ingest them (see the module docstring)."""
    Worker(stop).run()

"""The fix stream against the machine's NATS JetStream: fixes from submit are published, then consumed,
stored and evaluated exactly once; partitions are shared by leases; a redelivered or stale message changes
nothing; bad messages are counted and skipped.

Each test has its own stream and subjects (``PINGAN_STREAM_NAME`` / ``PINGAN_STREAM_SUBJECT``), deleted after.
The consumer is driven in the test's thread (``Worker(threads=False)``), so it sees the test's transaction;
``test_door_reliability`` runs real ``pingan worker`` processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import nats.js.errors
import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext
from nats.js import api as js_api

from pingan.core.errors import ValidationFailed
from pingan.core.models import AuditEntry
from pingan.tracking import actions, pipeline, stream
from pingan.tracking.models import Alert, DoorCounter, Fix, StreamPartition, TargetState
from tests.conftest import TOWN_A, require_service
from tests.tracking.conftest import FAR_AWAY, START, ZONE_CENTRE

pytestmark = pytest.mark.django_db

HOST, PORT = "127.0.0.1", 4222
PARTITIONS = 4


def inside(n: int) -> list[tuple[float, float]]:
    return [(ZONE_CENTRE[0] + 0.00001 * i, ZONE_CENTRE[1]) for i in range(n)]


def counted(door: str) -> dict[str, int]:
    return dict(DoorCounter.objects.filter(door=door).values_list("reason", "count"))


class Stream:
    def __init__(self, settings: Any) -> None:
        tag = uuid.uuid4().hex[:10]
        self.name = f"PINGAN_TEST_{tag}"
        self.subject = f"pingan-test-{tag}.fixes"
        settings.PINGAN_STREAM_URL = f"nats://{HOST}:{PORT}"
        settings.PINGAN_STREAM_NAME = self.name
        settings.PINGAN_STREAM_SUBJECT = self.subject
        settings.PINGAN_STREAM_PARTITIONS = PARTITIONS
        self.client = stream.client()
        self.stops: list[threading.Event] = []
        self.workers: list[stream.Worker] = []

    def call(self, make: Any) -> Any:
        return self.client.call(make)

    def info(self) -> Any:
        async def get() -> Any:
            js = await self.client.ensure_stream(self.name, self.subject)
            return await js.stream_info(self.name)

        return self.call(get)

    def messages(self) -> int:
        return int(self.info().state.messages)

    def publish_raw(self, partition: int, payload: bytes) -> int:
        async def send() -> int:
            js = await self.client.ensure_stream(self.name, self.subject)
            return int((await js.publish(f"{self.subject}.{partition}", payload, stream=self.name)).seq)

        return int(self.call(send))

    def replay(self, partition: int) -> list[Any]:
        """Every message of a partition again, from the first (what a redelivery looks like)."""

        async def fetch() -> list[Any]:
            js = await self.client.ensure_stream(self.name, self.subject)
            durable = f"replay-{uuid.uuid4().hex[:6]}"
            await js.add_consumer(self.name, js_api.ConsumerConfig(
                durable_name=durable, filter_subject=f"{self.subject}.{partition}", ack_policy=js_api.AckPolicy.EXPLICIT))
            sub = await js.pull_subscribe_bind(durable=durable, stream=self.name)
            return list(await sub.fetch(1000, timeout=1))

        return list(self.call(fetch))

    def worker(self) -> stream.Worker:
        stop = threading.Event()
        self.stops.append(stop)
        item = stream.Worker(stop, threads=False)
        self.workers.append(item)
        return item

    def delete(self) -> None:
        for item in self.workers:
            for puller in item.pullers.values():
                puller.close()

        async def drop() -> None:
            js = await self.client.jetstream()
            with contextlib.suppress(nats.js.errors.NotFoundError):  # never created (the stream-down test)
                await js.delete_stream(self.name)

        self.call(drop)


@pytest.fixture
def nats_stream(settings, world) -> Iterator[Stream]:  # type: ignore[no-untyped-def]
    require_service("NATS", HOST, PORT)
    item = Stream(settings)
    yield item
    item.delete()


def partition(world: Any) -> int:
    return stream.partition_of(world.target.pk, PARTITIONS)


def test_fixes_from_submit_are_published_then_stored_and_evaluated_once(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    result = world.send(world.fixes([FAR_AWAY, *inside(4)]))
    assert (result.published, result.accepted) == (5, 0)
    assert Fix.objects.count() == 0 and nats_stream.messages() == 1
    worker = nats_stream.worker()
    assert worker.rebalance() == set(range(PARTITIONS))
    assert stream.drain(worker) == 1
    assert Fix.objects.count() == 5 and set(Fix.objects.values_list("source", flat=True)) == {"test"}
    alert = Alert.objects.get()
    assert (alert.rule, alert.zone_id) == ("zone_exclusion", world.zone.pk)
    assert StreamPartition.objects.get(number=partition(world)).committed_seq == 1
    assert counted("test")["accepted"] == 5
    assert stream.drain(worker) == 0  # nothing comes twice


def test_the_stream_keeps_each_fix_exactly_as_validated(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    rows = [{"t": "2026-11-30T10:00:00.123456+08:00", "lon": 120.3512345678, "lat": 30.8512345678, "accuracy": 7.5,
             "speed": 3.25, "heading": 271.5, "crs": "gcj02", "fix_type": "gnss"}]
    clean, _errors = pipeline.parse_rows(rows, device=world.device)
    world.send(rows, raw_ref="http:abc")
    worker = nats_stream.worker()
    worker.rebalance()
    stream.drain(worker)
    fix = Fix.objects.get()
    expected = clean[0]
    assert (fix.device_time, fix.lon, fix.lat, fix.accuracy_m, fix.speed_kmh, fix.heading, fix.input_crs, fix.raw_ref) == (
        expected.device_time, expected.lon, expected.lat, 7.5, 3.25, 271.5, "gcj02", "http:abc#0")
    assert fix.device_time.microsecond == 123000


def test_redelivery_of_a_committed_message_changes_nothing(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY, *inside(4)]))
    world.send(world.fixes(inside(3), start=START + dt.timedelta(minutes=10)))
    worker = nats_stream.worker()
    worker.rebalance()
    stream.drain(worker)

    def snapshot() -> Any:
        alert = Alert.objects.get()
        return (Fix.objects.count(), alert.evidence_count, alert.evidence, TargetState.objects.get().state,
                counted("test"), StreamPartition.objects.get(number=partition(world)).committed_seq)

    before = snapshot()
    puller = worker.pullers[partition(world)]
    puller.last_seq = 0  # as if this puller had forgotten what it handled: the database still knows
    again = nats_stream.replay(partition(world))
    assert len(again) == 2
    assert puller.handle(again) == 2
    assert snapshot() == before
    # And straight into the pipeline: a sequence at or below the committed one is skipped whole.
    clean, _ = pipeline.parse_rows(world.fixes(inside(2), start=START + dt.timedelta(minutes=30)), device=world.device)
    result = pipeline.ingest(clean, source="test", partition=partition(world), seq=1)
    assert (result.accepted, result.duplicates) == (0, 2)
    assert snapshot() == before


def test_a_batch_fetched_but_never_committed_is_delivered_to_the_next_owner(world, nats_stream, frozen) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY, *inside(4)]))
    crashed = nats_stream.worker()
    crashed.rebalance()
    puller = crashed.pullers[partition(world)]
    fetched = nats_stream.call(lambda: puller.sub.fetch(10, timeout=1))
    assert len(fetched) == 1  # … and then the process is killed: no commit, no ack
    frozen.advance(seconds=stream.lease_ttl().total_seconds() + 1)
    heir = nats_stream.worker()
    assert heir.rebalance() == set(range(PARTITIONS))  # the dead worker's member lease and partitions expired
    assert stream.drain(heir) == 1
    assert Fix.objects.count() == 5 and Alert.objects.count() == 1


def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_dies(world, nats_stream, frozen) -> None:  # type: ignore[no-untyped-def]
    first, second = nats_stream.worker(), nats_stream.worker()
    assert first.rebalance() == {0, 1, 2, 3}
    assert second.rebalance() == set()       # all taken; first sees two members at its next renewal …
    assert len(first.rebalance()) == 2       # … and gives up what is over its fair share
    mine = second.rebalance()
    assert len(mine) == 2 and not mine & first.owned()
    ttl = stream.lease_ttl().total_seconds()
    # first dies now; second goes on renewing.
    frozen.advance(seconds=ttl / 2)
    assert second.rebalance() == mine
    frozen.advance(seconds=ttl / 2 - 1)
    assert second.rebalance() == mine        # first's leases still run
    frozen.advance(seconds=2)
    assert second.rebalance() == {0, 1, 2, 3}  # first's member lease and partitions expired: taken over


def test_a_worker_that_lost_its_lease_commits_nothing(world, nats_stream, frozen) -> None:  # type: ignore[no-untyped-def]
    world.send(world.fixes([FAR_AWAY, FAR_AWAY]))
    slow = nats_stream.worker()
    slow.rebalance()
    puller = slow.pullers[partition(world)]
    fetched = nats_stream.call(lambda: puller.sub.fetch(10, timeout=1))
    frozen.advance(seconds=stream.lease_ttl().total_seconds() + 1)  # it stalled past its lease …
    heir = nats_stream.worker()
    heir.rebalance()
    assert puller.handle(fetched) == 0  # … so its late commit is refused, under the partition's row lock
    assert puller.halt.is_set() and Fix.objects.count() == 0
    assert stream.drain(heir) == 1
    assert Fix.objects.count() == 2


def test_bad_stream_messages_are_counted_and_skipped_and_the_partition_goes_on(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    number = partition(world)
    good = json.loads(stream.encode(pipeline.parse_rows(world.fixes([FAR_AWAY]), device=world.device)[0], "test", 10**6)[0])
    nats_stream.publish_raw(number, b"\x00 garbage")
    nats_stream.publish_raw(number, json.dumps({"v": 2, "source": "x", "fixes": []}).encode())
    nats_stream.publish_raw(number, json.dumps({**good, "source": None}).encode())
    nats_stream.publish_raw(number, json.dumps({**good, "fixes": [{**good["fixes"][0], "device": "gone"}]}).encode())
    nats_stream.publish_raw(number, json.dumps({**good, "fixes": [{**good["fixes"][0], "lon": "x"}, 7,
                                                                  {"device": world.device.uid}]}).encode())
    last = nats_stream.publish_raw(number, json.dumps(good).encode())
    worker = nats_stream.worker()
    worker.rebalance()
    assert stream.drain(worker) == 6
    assert Fix.objects.count() == 1
    assert counted("stream") == {"malformed_message": 3, "unknown_device": 1, "malformed_fix": 3}
    assert StreamPartition.objects.get(number=number).committed_seq == last


def test_a_message_that_cannot_be_stored_is_skipped_alone_and_the_others_are_kept(world, nats_stream, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The database refuses one message's fixes (here: any batch holding the fix marked "poison", as PostgreSQL
    # refuses a value that does not fit its column). The run it came in is retried message by message: the
    # good ones are stored, the bad one is skipped, counted and audited, and the partition goes on.
    real_ingest = pipeline.ingest

    def refusing(clean, **kwargs):  # type: ignore[no-untyped-def]
        if any(row.raw_ref == "poison" for row in clean):
            raise DataError("value too long for type character varying(10)")
        return real_ingest(clean, **kwargs)

    monkeypatch.setattr(pipeline, "ingest", refusing)
    number = partition(world)
    encoded = [json.loads(stream.encode(pipeline.parse_rows(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=m)),
                                                            device=world.device)[0], "test", 10**6)[0]) for m in range(3)]
    nats_stream.publish_raw(number, json.dumps(encoded[0]).encode())
    poison = nats_stream.publish_raw(number, json.dumps(
        {**encoded[1], "fixes": [{**encoded[1]["fixes"][0], "raw_ref": "poison"}]}).encode())
    last = nats_stream.publish_raw(number, json.dumps(encoded[2]).encode())
    worker = nats_stream.worker()
    worker.rebalance()
    assert stream.drain(worker) == 3
    assert Fix.objects.count() == 2
    assert counted("stream").get("poison_message") == 1
    entry = AuditEntry.objects.get(action="pingan.tracking.stream_message_skipped")
    assert entry.changes["seq"] == poison and "DataError" in entry.changes["error"]
    assert set(entry.changes) == {"seq", "fixes", "error"}  # no positions in the audit log
    assert StreamPartition.objects.get(number=number).committed_seq == last


def test_runs_of_messages_are_ingested_in_one_transaction_each(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    for minute in range(0, 30, 3):
        world.send(world.fixes([FAR_AWAY] * 3, start=START + dt.timedelta(minutes=minute)))
    pipeline.submit(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=40)), source="http", device=world.device)
    worker = nats_stream.worker()
    worker.rebalance()
    with CaptureQueriesContext(connection) as queries:
        assert stream.drain(worker) == 11
    audits = [q for q in queries.captured_queries if 'INSERT INTO "core_auditentry"' in q["sql"]]
    assert len(audits) == 2  # ten messages from "test" in one batch, then the one from "http"
    assert Fix.objects.count() == 31
    assert StreamPartition.objects.get(number=partition(world)).committed_seq == 11


def test_a_late_fix_in_a_later_message_is_judged_as_the_door_would_judge_it(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    """The engine sorts a batch by device time, so a message holding a fix older than one already in the run
    starts a new transaction: the result is what one ingest per message gives (the fix is late, evidence only)."""
    world.send(world.fixes([FAR_AWAY] * 3, start=START + dt.timedelta(minutes=10)))
    world.send(world.fixes(inside(4), start=START))  # older than what came before: late, decides nothing
    world.send(world.fixes([FAR_AWAY], start=START + dt.timedelta(minutes=20)))
    worker = nats_stream.worker()
    worker.rebalance()
    with CaptureQueriesContext(connection) as queries:
        assert stream.drain(worker) == 3
    audits = [q for q in queries.captured_queries if 'INSERT INTO "core_auditentry"' in q["sql"]]
    assert len(audits) == 2  # [first], then [late, third]: the third is newer than everything in its run
    assert Fix.objects.count() == 8
    assert not Alert.objects.exists()  # in one sorted batch, the four inside fixes would have raised one


def test_a_big_batch_is_split_under_the_payload_limit(world, nats_stream, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(stream, "PAYLOAD_MARGIN", 1024 * 1024 - 100_000)  # messages of at most ~100 kB
    rows = world.fixes([FAR_AWAY] * 1500, step_s=2)
    assert world.send(rows).published == 1500
    assert nats_stream.messages() >= 3
    worker = nats_stream.worker()
    worker.rebalance()
    stream.drain(worker)
    assert Fix.objects.count() == 1500


def test_fixes_of_many_targets_go_to_their_partitions(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    devices = [world.device]
    for i in range(5):
        target = actions.create_target("test", kind="person", label=f"对象{i}", area=world.tree[TOWN_A], monitored=True)
        devices.append(actions.register_device("test", target, uid=f"phone-1{i}")[0])
    rows = [{**world.fixes([FAR_AWAY])[0], "device": d.uid} for d in devices]
    assert pipeline.submit(rows, source="test", gateway=True).published == 6
    subjects = {m.subject for p in range(PARTITIONS) for m in nats_stream.replay(p)}
    assert subjects == {f"{nats_stream.subject}.{stream.partition_of(d.target_id, PARTITIONS)}" for d in devices}
    worker = nats_stream.worker()
    worker.rebalance()
    stream.drain(worker)
    assert Fix.objects.count() == 6


def test_a_batch_over_the_limit_publishes_nothing(world, nats_stream, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_TRACKING_BATCH_MAX = 10
    with pytest.raises(ValidationFailed) as refused:
        world.send(world.fixes([FAR_AWAY] * 11))
    assert refused.value.code == "batch_too_large"
    assert nats_stream.messages() == 0


def test_the_http_door_answers_once_the_stream_has_the_fixes(world, nats_stream, client) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps([*world.fixes([FAR_AWAY, FAR_AWAY]), {"lon": 1}])
    answer = client.post("/api/v1/tracking/fixes", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Device {world.device.uid}:{world.key}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["published"] == 2 and answer.json()["rejected"] == 1
    assert nats_stream.messages() == 1


def test_with_the_stream_down_a_door_gets_stream_unavailable_and_nothing_is_stored(world, nats_stream, settings, client) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_STREAM_URL = "nats://127.0.0.1:9"  # nothing listens there
    with pytest.raises(stream.StreamUnavailable) as refused:
        world.send(world.fixes([FAR_AWAY]))
    assert refused.value.status == 503
    answer = client.post("/api/v1/tracking/fixes", json.dumps(world.fixes([FAR_AWAY])), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Device {world.device.uid}:{world.key}")
    assert answer.status_code == 503 and answer.json()["code"] == "stream_unavailable"
    from pingan.tracking import mqtt as door_mqtt

    with pytest.raises(stream.StreamUnavailable):  # the MQTT door would not acknowledge: not a Rejected
        door_mqtt.handle(f"pingan/fixes/{world.device.uid}", door_mqtt.envelope(world.key, world.fixes([FAR_AWAY])), 1,
                         prefix="pingan/fixes")
    assert Fix.objects.count() == 0


def test_an_mqtt_redelivery_is_published_once(world, nats_stream) -> None:  # type: ignore[no-untyped-def]
    from pingan.tracking import mqtt as door_mqtt

    payload = door_mqtt.envelope(world.key, world.fixes([FAR_AWAY, FAR_AWAY]))
    for _ in range(2):  # the broker delivers it again (the PUBACK was lost): same mid, same content
        door_mqtt.handle(f"pingan/fixes/{world.device.uid}", payload, 42, prefix="pingan/fixes")
    assert nats_stream.messages() == 1  # JetStream de-duplicated it by Nats-Msg-Id

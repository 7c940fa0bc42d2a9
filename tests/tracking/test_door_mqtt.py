"""The MQTT door against the machine's Mosquitto: signed fixes with QoS 1 are stored and evaluated, bad
messages are counted and acknowledged, and a message is acknowledged only once its fixes are committed.

Each test uses its own topic prefix and client id, so parallel runs do not see each other's messages. The
door is driven in the test's thread (``Door.connect``/``poll``), so it sees the test's transaction."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from django.db import OperationalError
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pingan.tracking import actions, pipeline
from pingan.tracking import mqtt as door_mqtt
from pingan.tracking.models import Alert, DoorCounter, Fix
from tests.conftest import require_service
from tests.tracking.conftest import FAR_AWAY, START, ZONE_CENTRE

pytestmark = pytest.mark.django_db

HOST, PORT = "127.0.0.1", 1883


def inside(n: int) -> list[tuple[float, float]]:
    return [(ZONE_CENTRE[0] + 0.00001 * i, ZONE_CENTRE[1]) for i in range(n)]


def counted(door: str = "mqtt") -> dict[str, int]:
    return dict(DoorCounter.objects.filter(door=door).values_list("reason", "count"))


class Harness:
    """A door on a unique topic prefix and client id, and a device-side publisher."""

    def __init__(self, settings: Any) -> None:
        tag = uuid.uuid4().hex[:10]
        self.prefix = f"pingan-test-{tag}/fixes"
        self.client_id = f"pingan-test-{tag}"
        settings.PINGAN_MQTT_URL = f"mqtt://{HOST}:{PORT}"
        settings.PINGAN_MQTT_TOPIC = self.prefix
        settings.PINGAN_MQTT_CLIENT_ID = self.client_id
        self.stop = threading.Event()
        self.door = door_mqtt.Door(self.stop)
        self.publisher = door_mqtt.make_client(self.door.broker, f"{self.client_id}-device")
        self.publisher.connect(HOST, PORT)
        self.publisher.loop_start()

    def open(self) -> None:
        self.door.connect()
        assert self.pump(self.door.subscribed.is_set, timeout=5), "the door did not subscribe"

    def pump(self, until: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return True
            if not self.door.poll(0.05):
                return until()
        return until()

    def settle(self, seconds: float = 0.5) -> None:
        """Poll for a while (to see that nothing more arrives)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.door.poll(0.05):
            pass

    def send(self, device_uid: str, payload: bytes) -> None:
        self.publisher.publish(f"{self.prefix}/{device_uid}", payload, qos=1).wait_for_publish(5)

    def send_fixes(self, device_uid: str, key: str, rows: Any) -> None:
        door_mqtt.publish_fixes(self.publisher, device_uid, key, rows, prefix=self.prefix).wait_for_publish(5)

    def reconnect(self) -> None:
        self.door.close()
        self.door = door_mqtt.Door(self.stop)
        self.open()

    def close(self) -> None:
        self.door.close()
        self.publisher.loop_stop()
        self.publisher.disconnect()
        # Forget the persistent session on the broker.
        cleaner = door_mqtt.make_client(self.door.broker, self.client_id, persistent=False)
        cleaner.connect(HOST, PORT)
        cleaner.loop(0.2)
        cleaner.disconnect()


@pytest.fixture
def harness(settings, world) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    require_service("Mosquitto", HOST, PORT)
    item = Harness(settings)
    item.open()
    yield item
    item.close()


def test_signed_fixes_published_with_qos1_are_stored_and_evaluated(world, harness) -> None:  # type: ignore[no-untyped-def]
    rows = world.fixes([FAR_AWAY, *inside(4)])
    harness.send_fixes(world.device.uid, world.key, rows[:3])
    harness.send_fixes(world.device.uid, world.key, rows[3])  # one fix object, not an array
    harness.send_fixes(world.device.uid, world.key, rows[4:])
    assert harness.pump(lambda: Fix.objects.count() == 5)
    assert set(Fix.objects.values_list("source", flat=True)) == {"mqtt"}
    assert all(ref.startswith("mqtt:") for ref in Fix.objects.values_list("raw_ref", flat=True))
    alert = Alert.objects.get()
    assert (alert.rule, alert.zone_id, alert.target_id) == ("zone_exclusion", world.zone.pk, world.target.pk)
    assert counted()["accepted"] == 5
    assert harness.door.handled == 3


def test_bad_messages_are_rejected_counted_acknowledged_and_the_door_goes_on(world, harness) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(world.fixes([FAR_AWAY]))
    other, other_key = actions.register_device("test", world.target, uid="phone-002")
    actions.rotate_device_key("test", other)  # other_key is now an old key
    harness.send(world.device.uid, json.dumps({"body": body}).encode())                                # no signature
    harness.send(world.device.uid, json.dumps({"body": body, "sig": "ab" * 32}).encode())               # wrong one
    harness.send(other.uid, json.dumps({"body": body, "sig": pipeline.sign(other_key, body.encode())}).encode())  # revoked key
    harness.send("no-such-device", door_mqtt.envelope(world.key, world.fixes([FAR_AWAY])))
    harness.send(world.device.uid, b"\xff\xfe not json")
    harness.send(world.device.uid, json.dumps([body]).encode())                                         # not an object
    harness.send(world.device.uid, json.dumps({"body": [1, 2], "sig": "00"}).encode())                  # body not a string
    harness.send(world.device.uid, json.dumps({"body": body, "sig": 12}).encode())                      # sig not a string
    not_json = "{this is not json"
    harness.send(world.device.uid, json.dumps({"body": "[" + not_json, "sig": pipeline.sign(world.key, ("[" + not_json).encode())}).encode())
    harness.send(world.device.uid, json.dumps({"body": " ", "sig": pipeline.sign(world.key, b" ")}).encode())
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY], start=START.replace(minute=30)))
    assert harness.pump(lambda: harness.door.handled == 11)
    assert Fix.objects.count() == 1  # only the good message, after ten bad ones
    assert counted() == {"missing_signature": 1, "bad_signature": 2, "unknown_device": 1, "malformed_envelope": 4,
                         "invalid_json": 1, "empty_body": 1, "accepted": 1}
    harness.settle(0.3)  # the network loop writes the queued PUBACKs
    harness.reconnect()
    harness.settle(0.8)
    assert harness.door.handled == 0  # every message was acknowledged: none comes back


def test_a_message_is_acknowledged_only_after_its_fixes_are_committed(world, harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_submit = pipeline.submit
    calls: list[int] = []

    def flaky_submit(*args: Any, **kwargs: Any) -> pipeline.IngestResult:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("the database went away")
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "submit", flaky_submit)
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY, FAR_AWAY]))
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY], start=START.replace(minute=30)))
    assert harness.pump(lambda: harness.door.failed)
    assert not harness.door.poll(0.05)  # the door gives up this connection …
    assert Fix.objects.count() == 0 and harness.door.handled == 0
    harness.reconnect()  # … and the broker delivers both messages again, in order
    assert harness.pump(lambda: Fix.objects.count() == 3)
    assert len(calls) == 3
    assert list(Fix.objects.order_by("id").values_list("device_time__minute", flat=True)) == [0, 1, 30]


def test_the_same_fix_sent_twice_is_stored_once(world, harness) -> None:  # type: ignore[no-untyped-def]
    rows = world.fixes([FAR_AWAY, FAR_AWAY, FAR_AWAY])
    harness.send_fixes(world.device.uid, world.key, rows)
    harness.send_fixes(world.device.uid, world.key, rows)        # a device that resends (replay)
    harness.send_fixes(world.device.uid, world.key, rows[1:2])
    assert harness.pump(lambda: harness.door.handled == 3)
    assert Fix.objects.count() == 3
    assert counted()["accepted"] == 3


def test_bad_rows_in_a_good_message_are_counted_and_the_good_rows_kept(world, harness) -> None:  # type: ignore[no-untyped-def]
    good = world.fixes([FAR_AWAY, FAR_AWAY])
    rows = [good[0], {**good[1], "lon": "120.3"}, {**good[1], "lat": 95}, "not a fix", {**good[1], "device": "someone-else"},
            {**good[1], "t": True}, {**good[1], "accuracy": -1}, good[1]]
    harness.send_fixes(world.device.uid, world.key, rows)
    assert harness.pump(lambda: harness.door.handled == 1)
    assert Fix.objects.count() == 2
    assert counted() == {"accepted": 2, "malformed_field": 2, "out_of_range": 2, "malformed_row": 1, "device_mismatch": 1}


def test_a_batch_over_the_limit_is_refused_whole(world, harness, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_TRACKING_BATCH_MAX = 20
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY] * 21, step_s=10))
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY] * 20, step_s=10, start=START.replace(minute=40)))
    assert harness.pump(lambda: harness.door.handled == 2)
    assert Fix.objects.count() == 20  # the second message, whole; nothing of the first
    assert counted() == {"batch_too_large": 1, "accepted": 20}


def test_a_message_that_trips_a_bug_is_counted_and_does_not_hold_up_the_rest(world, harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_submit = pipeline.submit

    def buggy_submit(rows: Any, **kwargs: Any) -> pipeline.IngestResult:
        if len(rows) == 2:
            raise RuntimeError("a bug that only this message trips")
        return real_submit(rows, **kwargs)

    monkeypatch.setattr(pipeline, "submit", buggy_submit)
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY, FAR_AWAY]))
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY], start=START.replace(minute=30)))
    assert harness.pump(lambda: harness.door.handled == 2)
    assert Fix.objects.count() == 1 and not harness.door.failed
    assert counted() == {"internal_error": 1, "accepted": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["t", "lon", "lat", "device", "crs", "accuracy", "fix_type", "speed", "heading", "x"]), inner, max_size=6),
    max_leaves=12)


@hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=json_values, sign=st.booleans(), raw=st.binary(max_size=40))
@example(rows=[{"t": 10**400, "lon": 10**400, "lat": -10**400, "accuracy": 10**400}], sign=True, raw=b"")
@example(rows=[{"t": "0001-01-01T00:00:00+14:00", "lon": 1, "lat": 1}, {"t": "9999-12-31T23:59:59-14:00", "lon": 1,
                                                                        "lat": 1}], sign=True, raw=b"")
def test_fuzzed_messages_never_break_the_door(world, rows, sign, raw) -> None:  # type: ignore[no-untyped-def]
    """Whatever a device sends, ``handle`` either refuses the message with a reason or hands the rows to the
    pipeline, which reports bad rows by index; nothing else escapes (which would stop acknowledgements)."""
    body = json.dumps(rows)
    for payload in (raw, json.dumps({"body": body, "sig": pipeline.sign(world.key, body.encode()) if sign else "00"}).encode(),
                    json.dumps(rows).encode()):
        try:
            outcome = door_mqtt.handle(f"pingan/fixes/{world.device.uid}", payload, 1, prefix="pingan/fixes")
        except door_mqtt.Rejected as rejected:
            assert rejected.reason in {"malformed_envelope", "missing_signature", "bad_signature", "invalid_json",
                                       "empty_body", "batch_too_large"}
        else:
            assert outcome.result is not None
            assert all(e.index >= 0 for e in outcome.result.errors)
            n = len(rows) if isinstance(rows, list) else 1  # every row is accounted for: stored, a duplicate, or an error
            assert outcome.result.accepted + outcome.result.duplicates + len(outcome.result.errors) == n


def test_fuzz_through_the_broker_then_a_good_message(world, harness) -> None:  # type: ignore[no-untyped-def]
    payloads = [b"", b"null", b"[]", b"{}", b'{"body": null}', b'{"body": "", "sig": ""}', b"\x00" * 64,
                json.dumps({"body": "x" * 5000, "sig": "z"}).encode(), b'{"body": "[]", "sig": "' + b"0" * 64 + b'"}']
    for payload in payloads:
        harness.send(world.device.uid, payload)
    harness.send_fixes(world.device.uid, world.key, world.fixes([FAR_AWAY]))
    assert harness.pump(lambda: harness.door.handled == len(payloads) + 1)
    assert Fix.objects.count() == 1
    assert sum(v for k, v in counted().items() if k != "accepted") == len(payloads)


def test_the_url_names_the_broker_credentials_and_tls() -> None:
    assert door_mqtt.parse_url("mqtt://127.0.0.1") == door_mqtt.Broker("127.0.0.1", 1883, None, None, False)
    assert door_mqtt.parse_url("mqtts://pingan:s%40crt@mq.example:8884") == door_mqtt.Broker(
        "mq.example", 8884, "pingan", "s@crt", True)
    assert door_mqtt.parse_url("mqtts://mq.example").port == 8883
    with pytest.raises(ValueError, match="PINGAN_MQTT_URL"):
        door_mqtt.parse_url("http://mq.example")


def test_only_the_lease_holder_subscribes(world, harness, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A second worker's door stands by while the first holds the lease, so the session is never fought over."""
    from pingan.core import jobs

    # Door.run runs here in the test's thread, inside the test's transaction, which it must not close.
    monkeypatch.setattr(door_mqtt, "close_old_connections", lambda: None)

    settings.PINGAN_CONSUMER_LEASE_SECONDS = 1.0
    assert jobs.hold_lease(harness.door.lease, harness.door.owner, door_mqtt.lease_ttl())
    stop = threading.Event()
    second = door_mqtt.Door(stop)
    second.connect = lambda: pytest.fail("the second door connected")  # type: ignore[method-assign]
    timer = threading.Timer(0.6, stop.set)
    timer.start()
    second.run()  # returns once stopped, never having connected
    timer.join()
    assert jobs.hold_lease(harness.door.lease, harness.door.owner, door_mqtt.lease_ttl())  # still the first's


def test_publish_fixes_signs_what_the_door_checks(world) -> None:  # type: ignore[no-untyped-def]
    sent: dict[str, Any] = {}

    class Recorder:
        def publish(self, topic: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
            sent.update(topic=topic, payload=payload, qos=qos)
            return mqtt.MQTTMessageInfo(1)

    door_mqtt.publish_fixes(Recorder(), world.device.uid, world.key, world.fixes([FAR_AWAY]), prefix="p/fixes")  # type: ignore[arg-type]
    assert sent["topic"] == f"p/fixes/{world.device.uid}" and sent["qos"] == 1
    message = json.loads(sent["payload"])
    assert pipeline.signature_ok(world.device, message["body"].encode(), message["sig"])
    outcome = door_mqtt.handle(sent["topic"], sent["payload"], 7, prefix="p/fixes")
    assert outcome.result is not None and outcome.result.accepted == 1

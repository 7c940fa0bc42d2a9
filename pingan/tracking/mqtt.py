"""The MQTT door: devices publish signed fixes to ``pingan/fixes/<device uid>``; one worker subscribes.

A message is a JSON object ``{"body": "<fixes as a JSON string>", "sig": "<hex HMAC-SHA256>"}``: ``body`` is
a JSON array of fix objects, one fix object, or NDJSON (the rows the HTTP door takes), and ``sig`` is the
HMAC-SHA256 of ``body``'s UTF-8 bytes with the device's key (:func:`pipeline.device_key`). The device is the
topic's last level; rows may omit ``device`` or must name that device.

Delivery is at least once and nothing is acknowledged early:

- The consumer subscribes to ``<PINGAN_MQTT_TOPIC>/+`` with QoS 1, a persistent session (``clean_session``
  off, client id ``PINGAN_MQTT_CLIENT_ID``) and manual acknowledgements. Messages are handled one at a time,
  in arrival order, on one subscription (no shared subscriptions), so each device's fixes keep their order.
- A good message is handed to :func:`pipeline.submit`; only when it returns (committed, or acknowledged by
  the stream when ``PINGAN_STREAM_URL`` is set) is the PUBACK sent. If it raises (database or stream
  down), nothing more is acknowledged: the client disconnects and reconnects after a back-off, and the
  broker delivers the unacknowledged messages again, in order. A message handled twice changes nothing
  (a fix is stored once per device and device time).
- A bad message (malformed envelope, unknown device, missing or wrong signature, a body that is not JSON,
  too many rows) is counted in ``DoorCounter`` (door ``mqtt``, by reason), logged at most once a minute per
  reason, and acknowledged, so the broker does not send it forever. Bad rows inside a good message are
  counted by the pipeline by reason, and the good rows are kept. A message that raises anything but a
  database, stream or network error (a bug) is logged with its traceback, counted as ``internal_error``
  and acknowledged too, so it cannot hold up every message behind it.
- Only one process subscribes: the consumer holds the lease ``tracking.mqtt:<client id>`` (renewed every
  few seconds). With several ``pingan worker`` processes the others wait, and take over within
  ``PINGAN_CONSUMER_LEASE_SECONDS`` (default 12 s) when the holder dies; the persistent session keeps the messages that arrived meanwhile
  (up to the broker's per-client queue limit, ``max_queued_messages`` in Mosquitto).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import InterfaceError, InternalError, OperationalError, close_old_connections
from paho.mqtt.enums import CallbackAPIVersion

from pingan.core import jobs
from pingan.core.errors import ValidationFailed
from pingan.tracking import pipeline
from pingan.tracking.models import Device
from pingan.tracking.stream import StreamUnavailable

log = logging.getLogger("pingan.tracking.mqtt")

# What "the pipeline cannot take it now" looks like: the message is not acknowledged and comes again.
UNAVAILABLE = (OperationalError, InterfaceError, InternalError, StreamUnavailable, OSError, TimeoutError)

DOOR = "mqtt"
RECONNECT_FIRST = 1.0  # seconds; doubles up to RECONNECT_MAX while the broker or the database is down
RECONNECT_MAX = 30.0
KEEPALIVE = 30
LOG_EVERY = 60.0  # seconds: a reason of rejection is logged at most this often


def lease_ttl() -> dt.timedelta:
    """Another worker takes the subscription over this long after the holder died."""
    return dt.timedelta(seconds=float(settings.PINGAN_CONSUMER_LEASE_SECONDS))


def renew_seconds() -> float:
    return max(0.2, float(settings.PINGAN_CONSUMER_LEASE_SECONDS) / 4)


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_url(url: str) -> Broker:
    """``mqtt://[user:pass@]host[:1883]`` or ``mqtts://[user:pass@]host[:8883]`` (TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"PINGAN_MQTT_URL must be mqtt://host[:port] or mqtts://host[:port], not {url!r}")
    tls = parts.scheme == "mqtts"
    return Broker(host=parts.hostname, port=parts.port or (8883 if tls else 1883),
                  username=unquote(parts.username) if parts.username else None,
                  password=unquote(parts.password) if parts.password else None, tls=tls)


def make_client(broker: Broker, client_id: str = "", *, persistent: bool = False, manual_ack: bool = False) -> mqtt.Client:
    """A paho client (callback API 2, MQTT 3.1.1) set up for ``broker``; not connected yet."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=settings.PINGAN_MQTT_CA_FILE or None, cert_reqs=ssl.CERT_REQUIRED)
    return client


def topic_for(device_uid: str, prefix: str | None = None) -> str:
    return f"{prefix or settings.PINGAN_MQTT_TOPIC}/{device_uid}"


def envelope(key: str, rows: Any) -> bytes:
    """The message a device sends: its fixes as a JSON string and that string's signature."""
    body = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({"body": body, "sig": pipeline.sign(key, body.encode())}).encode()


def publish_fixes(client: mqtt.Client, device_uid: str, key: str, rows: Any, *, qos: int = 1,
                  prefix: str | None = None) -> mqtt.MQTTMessageInfo:
    """Publish ``rows`` (a list of fix objects, or one) for a device, signed with its key (tests, bench, and
    the reference for device makers). Returns paho's message info (``wait_for_publish()`` for QoS 1)."""
    return client.publish(topic_for(device_uid, prefix), envelope(key, rows), qos=qos)


class _Throttle:
    """Log a line per reason at most once per ``LOG_EVERY``, saying how many were not logged."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def warn(self, reason: str, message: str, *args: Any) -> None:
        moment = time.monotonic()
        if moment - self._last.get(reason, -LOG_EVERY) < LOG_EVERY:
            self._quiet[reason] = self._quiet.get(reason, 0) + 1
            return
        quiet = self._quiet.pop(reason, 0)
        self._last[reason] = moment
        log.warning(message + (" (and %d more since the last report)" if quiet else ""), *args, *([quiet] if quiet else []))


class Rejected(Exception):
    """A message that will never be good: counted, logged (throttled) and acknowledged."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass
class Outcome:
    device: str
    result: pipeline.IngestResult | None = None


def _device_uid(topic: str, prefix: str) -> str:
    uid = topic[len(prefix) + 1:] if topic.startswith(prefix + "/") else ""
    if not uid or "/" in uid or len(uid) > 40:
        raise Rejected("bad_topic", f"topic {topic[:120]!r} is not {prefix}/<device id>")
    return uid


def handle(topic: str, payload: bytes | bytearray, mid: int, *, prefix: str | None = None) -> Outcome:
    """Check one message and hand its fixes to the pipeline. Raises :class:`Rejected` for a bad message;
    anything else it raises (the database or the stream is down) means: do not acknowledge, try again."""
    prefix = prefix or settings.PINGAN_MQTT_TOPIC
    uid = _device_uid(topic, prefix)
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("malformed_envelope", "the payload is not a JSON object") from None
    if not isinstance(message, dict) or not isinstance(message.get("body"), str):
        raise Rejected("malformed_envelope", 'the payload must be {"body": "<fixes as JSON>", "sig": "<hex>"}')
    sig = message.get("sig")
    if sig is not None and not isinstance(sig, str):
        raise Rejected("malformed_envelope", "sig must be a hex string")
    device = Device.objects.select_related("target").filter(uid=uid, is_active=True).first()
    if device is None:
        raise Rejected("unknown_device", f"unknown or inactive device {uid!r}")
    if not sig:
        raise Rejected("missing_signature", f"message from {uid} without a signature")
    body = message["body"].encode("utf-8", errors="surrogatepass")
    if not pipeline.signature_ok(device, body, sig):
        raise Rejected("bad_signature", f"message from {uid} with a wrong signature")
    try:
        rows = pipeline.parse_body(body)
        result = pipeline.submit(rows, source=DOOR, device=device, raw_ref=f"mqtt:{mid}")
    except ValidationFailed as exc:  # empty or non-JSON body, too many rows: nothing stored
        raise Rejected(exc.code, f"message from {uid}: {exc.message}") from None
    return Outcome(device=uid, result=result)


class Door:
    """The subscribing side, run by the ``tracking.mqtt`` consumer in ``pingan worker``."""

    def __init__(self, stop: threading.Event, *, url: str | None = None, client_id: str | None = None,
                 prefix: str | None = None) -> None:
        self.stop = stop
        self.broker = parse_url(url or settings.PINGAN_MQTT_URL)
        self.client_id = client_id or settings.PINGAN_MQTT_CLIENT_ID
        self.prefix = prefix or settings.PINGAN_MQTT_TOPIC
        self.owner = jobs.new_owner()
        self.lease = f"tracking.mqtt:{self.client_id}"
        self.throttle = _Throttle()
        self.failed = False     # a message could not be handed over: acknowledge nothing more, reconnect
        self.subscribed = threading.Event()
        self.client: mqtt.Client | None = None
        self.handled = 0

    # --- paho callbacks (all run in this consumer's thread, inside client.loop) ---

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%s refused the connection: %s", self.broker.host, self.broker.port, reason)
            self.failed = True
            return
        client.subscribe(f"{self.prefix}/+", qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("MQTT broker refused the subscription to %s/+ (check its ACL): %s", self.prefix, reasons)
            self.failed = True
            return
        log.info("MQTT: subscribed to %s/+ on %s:%s as %s", self.prefix, self.broker.host, self.broker.port,
                 self.client_id)
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.failed:
            return  # not acknowledged: the broker sends it again after the reconnect, in order
        try:
            outcome = handle(message.topic, message.payload, message.mid, prefix=self.prefix)
        except Rejected as rejected:
            try:
                pipeline.bump_counter(DOOR, rejected.reason)
            except Exception:
                self._fail(client, "could not count a rejected message")
                return
            self.throttle.warn(rejected.reason, "MQTT message rejected (%s): %s", rejected.reason, rejected.detail)
        except UNAVAILABLE:
            self._fail(client, "could not hand a message to the pipeline")
            return
        except Exception:
            # Not the database or the stream: something in this message trips a bug. Acknowledging it (loudly)
            # keeps one poisoned message from blocking every device's fixes behind it.
            log.exception("MQTT: message %s on %s could not be handled; counted as internal_error and acknowledged",
                          message.mid, message.topic[:120])
            try:
                pipeline.bump_counter(DOOR, "internal_error")
            except Exception:
                self._fail(client, "could not count a failed message")
                return
        else:
            if outcome.result is not None and outcome.result.errors:
                codes = sorted({e.code for e in outcome.result.errors})
                self.throttle.warn("rows:" + ",".join(codes), "MQTT message from %s: %d rows rejected (%s)",
                                   outcome.device, len(outcome.result.errors), ", ".join(codes))
        client.ack(message.mid, message.qos)
        self.handled += 1

    def _fail(self, client: mqtt.Client, what: str) -> None:
        # Disconnecting happens in close(), outside the callback, so the PUBACKs queued before go out first.
        log.exception("MQTT: %s; not acknowledged, reconnecting (the broker will deliver it again)", what)
        self.failed = True

    # --- the loop (also driven step by step by the tests) ---

    def connect(self) -> mqtt.Client:
        """A fresh client on the persistent session; it subscribes once the broker accepts it (in :meth:`poll`)."""
        client = make_client(self.broker, self.client_id, persistent=True, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.failed = False
        self.subscribed.clear()
        client.connect(self.broker.host, self.broker.port, keepalive=KEEPALIVE)
        self.client = client
        return client

    def poll(self, timeout: float = 0.2) -> bool:
        """Run the network loop once (handling what arrived); False when the connection is gone or a message
        could not be handed over (then :meth:`close` and connect again)."""
        assert self.client is not None
        rc = self.client.loop(timeout=timeout)
        if rc != mqtt.MQTT_ERR_SUCCESS and not self.failed and not self.stop.is_set():
            log.warning("MQTT connection to %s:%s lost: %s", self.broker.host, self.broker.port, mqtt.error_string(rc))
        return rc == mqtt.MQTT_ERR_SUCCESS and not self.failed

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _close(client)

    def _serve(self) -> None:
        """Poll until the connection drops, a message fails, the lease is lost or the worker stops."""
        renew_at = time.monotonic() + renew_seconds()
        while not self.stop.is_set() and self.poll():
            if time.monotonic() >= renew_at:
                close_old_connections()  # this thread's connection: drop it if broken or too old
                if not jobs.hold_lease(self.lease, self.owner, lease_ttl()):
                    log.warning("MQTT: lease %s lost to another worker; unsubscribing", self.lease)
                    return
                renew_at = time.monotonic() + renew_seconds()

    def run(self) -> None:
        delay = RECONNECT_FIRST
        waiting_logged = False
        try:
            while not self.stop.is_set():
                close_old_connections()  # after a database failure, start from a fresh connection
                if not jobs.hold_lease(self.lease, self.owner, lease_ttl()):
                    if not waiting_logged:
                        log.info("MQTT: another worker holds %s; standing by", self.lease)
                        waiting_logged = True
                    self.stop.wait(renew_seconds())
                    continue
                waiting_logged = False
                started = time.monotonic()
                try:
                    self.connect()
                    self._serve()
                except OSError as exc:
                    log.warning("MQTT broker %s:%s not reachable (%s); retrying in %.0f s", self.broker.host,
                                self.broker.port, exc, delay)
                finally:
                    self.close()
                if self.stop.is_set():
                    break
                if time.monotonic() - started > 60:
                    delay = RECONNECT_FIRST
                self.stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
        finally:
            try:
                jobs.drop_lease(self.lease, self.owner)
            except Exception:
                log.exception("MQTT: could not drop the lease %s (it expires by itself)", self.lease)


def _close(client: mqtt.Client) -> None:
    """Disconnect and let the queued packets (PUBACKs first, then DISCONNECT) go out."""
    try:
        # Write out what is queued (the PUBACKs) before the DISCONNECT, so the broker does not send again
        # what was handled; on a busy machine one loop pass may not drain the queue.
        for _ in range(50):
            if not client.want_write() or client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                break
        client.disconnect()
        for _ in range(20):
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
    except Exception:
        log.debug("MQTT: error while closing", exc_info=True)


@jobs.consumer("tracking.mqtt", enabled=lambda: bool(settings.PINGAN_MQTT_URL))
def consume(stop: threading.Event) -> None:
    """Subscribe to the devices' topics while this worker holds the MQTT lease (see the module docstring)."""
    Door(stop).run()

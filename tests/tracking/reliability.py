"""The child processes of ``test_door_reliability``, on a scratch database named by ``DATABASE_URL``:

    python -m tests.tracking.reliability setup                  # areas, targets, devices, an exclusion zone
    python -m tests.tracking.reliability publish --anchor T --seconds S [--mqtt-port P]
    python -m tests.tracking.reliability reference --anchor T   # the same scenario, in-process, no stream

The scenario is a pure function of the anchor time, so the publisher and the reference send exactly the
same messages in the same order: twelve people walking around a 300 m exclusion circle, 300 fixes each,
20 s apart; the even ones walk into the circle twice and stay (true violations), one jumps across it
between two fixes (a crossing), one lingers at the border (undecided), a few fixes are too coarse to
decide. Targets 0–5 send through the HTTP door's path (``pipeline.submit`` → stream), 6–11 through MQTT;
every 13th message is sent twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TARGETS = 12
FIXES = 300
STEP_S = 20
CHUNK = 6
ZONE = (120.35, 30.85)
RADIUS_M = 300.0
M_LAT = 110574.0
M_LON = 111320.0 * math.cos(math.radians(ZONE[1]))


def uid(i: int) -> str:
    return f"rel-{i:02d}"


def door(i: int) -> str:
    return "http" if i < TARGETS // 2 else "mqtt"


def _radial(i: int, k: int, rng: random.Random) -> tuple[float, float]:
    """Metres east and north of the zone's centre for fix k of target i."""
    angle = 2 * math.pi * i / TARGETS
    if i == 3:  # walks east towards the zone, jumps 1 km across it between fixes 150 and 151 (180 km/h)
        return (-500.0 - 5.0 * (150 - k) if k <= 150 else 500.0 + 5.0 * (k - 151)), 0.0
    if i % 2 == 0:  # two true violations
        plan = [(0, 1500.0), (60, 60.0), (80, 60.0), (140, 1500.0), (180, 1500.0), (210, 60.0), (230, 60.0),
                (300, 1500.0)]
        r = 1500.0
        for (k0, r0), (k1, r1) in zip(plan, plan[1:], strict=False):
            if k0 <= k < k1:
                r = r0 + (r1 - r0) * (k - k0) / (k1 - k0)
                break
    elif i == 5 and 100 <= k < 200:  # at the border, inside the undecided band
        r = RADIUS_M + 15.0 + rng.uniform(-8, 8)
    else:
        r = 800.0 + 400.0 * math.sin(k / 30.0)
        angle += k / 400.0
    return r * math.cos(angle), r * math.sin(angle)


def track(i: int, anchor: float) -> list[dict[str, Any]]:
    rng = random.Random(1000 + i)
    rows = []
    for k in range(FIXES):
        x, y = _radial(i, k, rng)
        x += rng.gauss(0, 3)
        y += rng.gauss(0, 3)
        accuracy = 150.0 if rng.random() < 0.04 else round(rng.uniform(5, 15), 1)
        moment = dt.datetime.fromtimestamp(anchor + k * STEP_S + i, tz=dt.UTC)
        rows.append({"t": moment.isoformat(timespec="milliseconds"), "lon": round(ZONE[0] + x / M_LON, 7),
                     "lat": round(ZONE[1] + y / M_LAT, 7), "accuracy": accuracy})
    return rows


@dataclass(frozen=True)
class Message:
    target: int
    rows: list[dict[str, Any]]


def scenario(anchor: float) -> Iterator[Message]:
    """Every message in sending order: chunks of each track, interleaved across targets; every 13th twice."""
    tracks = [track(i, anchor) for i in range(TARGETS)]
    n = 0
    for start in range(0, FIXES, CHUNK):
        for i in range(TARGETS):
            message = Message(i, tracks[i][start:start + CHUNK])
            yield message
            n += 1
            if n % 13 == 0:
                yield message


def unique_fixes() -> int:
    return TARGETS * FIXES


# --- the commands --------------------------------------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pingan.settings")
    import django

    django.setup()


def setup() -> dict[str, Any]:
    from pingan.accounts.setup import ensure_default_roles
    from pingan.geo import actions as geo_actions
    from pingan.geo.importer import ParsedArea, ParseResult
    from pingan.tracking import actions
    from tests.conftest import TOWN_A, TREE

    geo_actions.import_areas("test", ParseResult(areas=[ParsedArea(n, c, name, "", level, parent, geometry)
                                                        for n, (c, name, level, parent, geometry) in enumerate(TREE)]))
    ensure_default_roles()
    from pingan.geo.models import Area

    town = Area.objects.get(code=TOWN_A)
    zone = actions.create_zone("test", name="核心区", kind="exclusion", shape="circle", coords=list(ZONE),
                               radius_m=RADIUS_M, area=town, applies_to_all=True)
    devices = []
    for i in range(TARGETS):
        target = actions.create_target("test", kind="person", label=f"对象{i:02d}", area=town, monitored=True,
                                       interval_s=86400)
        device, _key = actions.register_device("test", target, uid=uid(i))
        devices.append({"uid": device.uid, "target": target.pk, "door": door(i)})
    return {"zone": zone.pk, "devices": devices}


def publish(anchor: float, seconds: float, mqtt_port: int | None) -> dict[str, Any]:
    """Send the scenario at an even pace over ``seconds``: HTTP-door targets through ``pipeline.submit`` (which
    publishes to the stream), MQTT targets as signed QoS 1 messages to the broker."""
    from pingan.tracking import mqtt as door_mqtt
    from pingan.tracking import pipeline
    from pingan.tracking.models import Device

    devices = {d.uid: d for d in Device.objects.select_related("target")}
    messages = list(scenario(anchor))
    publisher = None
    if mqtt_port is not None:
        publisher = door_mqtt.make_client(door_mqtt.Broker("127.0.0.1", mqtt_port, None, None, False), "reliability-devices")
        publisher.max_inflight_messages_set(100)
        publisher.connect("127.0.0.1", mqtt_port)
        publisher.loop_start()
    infos = []
    started = time.monotonic()
    published = sent_mqtt = 0
    for n, message in enumerate(messages):
        wait = started + n * seconds / len(messages) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        device = devices[uid(message.target)]
        if door(message.target) == "http" or publisher is None:
            for attempt in range(20):  # what an HTTP client does with a 503
                try:
                    published += pipeline.submit(message.rows, source="http", device=device).published
                    break
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.25)
        else:
            key = pipeline.device_key(device.uid, device.key_version)
            infos.append(door_mqtt.publish_fixes(publisher, device.uid, key, message.rows))
            sent_mqtt += 1
    for info in infos:
        info.wait_for_publish(30)
    if publisher is not None:
        publisher.loop_stop()
        publisher.disconnect()
    return {"messages": len(messages), "mqtt_messages": sent_mqtt, "stream_fixes": published,
            "seconds": round(time.monotonic() - started, 2)}


def reference(anchor: float) -> dict[str, Any]:
    """The same messages through the in-process pipeline (no stream, no broker), one submit per message."""
    from django.conf import settings

    from pingan.tracking import pipeline
    from pingan.tracking.models import Device

    assert not settings.PINGAN_STREAM_URL
    devices = {d.uid: d for d in Device.objects.select_related("target")}
    accepted = 0
    for message in scenario(anchor):
        accepted += pipeline.submit(message.rows, source=door(message.target), device=devices[uid(message.target)]).accepted
    return {"accepted": accepted}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="reliability")
    parser.add_argument("command", choices=["setup", "publish", "reference"])
    parser.add_argument("--anchor", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mqtt-port", type=int)
    args = parser.parse_args(argv)
    _django()
    if args.command == "setup":
        out = setup()
    elif args.command == "publish":
        out = publish(args.anchor, args.seconds, args.mqtt_port)
    else:
        out = reference(args.anchor)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Positions that need no monitoring authorisation: follow-code scans, the subject's own check-ins, the
carrier network's cell positions and the phone's network position during a phone check.

社区矫正法 art. 29 limits *electronic monitoring* (a device reporting on its own) to an authorised period, so
the tracking pipeline refuses device fixes of a target whose monitoring is off (``not_monitored``). A scan at a
checkpoint, or a check-in the subject makes, is a report, not monitoring: it counts as a position whatever the
monitoring state. Each subject's target has one device per such source (``rx<target>-scan``,
``rx<target>-checkin``, ``rx<target>-carrier``, ``rx<target>-phonecheck``), registered with the target; its key is never handed out, so nothing but this module
sends fixes for it.

Every position goes through ``pipeline.submit`` like any door's; the tracking setting
``PINGAN_TRACKING_SOURCES_WITHOUT_AUTHORISATION`` (default: these four) lets them pass the monitoring check. The engine ignores fixes of unmonitored targets, so no rule runs on them; the fix
is stored and becomes the latest position.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings

from pingan.core import clock
from pingan.core.errors import ConflictError, ValidationFailed
from pingan.corrections import screening
from pingan.tracking import actions as tracking_actions
from pingan.tracking import pipeline
from pingan.tracking.models import Device, Fix, Target

#: the sources whose fixes count while monitoring is off
SOURCES = ("scan", "checkin", "carrier", "phonecheck")


def device_uid(target: Target, source: str) -> str:
    return f"rx{target.pk}-{source}"


def ensure_devices(target: Target) -> None:
    """The target's devices for these sources (called when the subject is registered)."""
    for source in SOURCES:
        device_for(target, source)


def device_for(target: Target, source: str) -> Device:
    uid = device_uid(target, source)
    found = Device.objects.select_related("target").filter(uid=uid).first()
    if found is not None:
        return found
    try:
        device, _key = tracking_actions.register_device("corrections", target, uid=uid, name=f"corrections {source}")
    except ConflictError:  # registered at the same moment by another request
        return Device.objects.select_related("target").get(uid=uid)
    return device


def check_lonlat(lon: float, lat: float, accuracy_m: float | None) -> None:
    for name, value in (("lon", lon), ("lat", lat)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ValidationFailed("not_finite", f"{name} must be a finite number", field=name)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationFailed("out_of_range", "lon must be within ±180 and lat within ±90", field="lon")
    if accuracy_m is not None and (not math.isfinite(accuracy_m) or accuracy_m < 0 or accuracy_m > 100_000):
        raise ValidationFailed("out_of_range", "accuracy must be 0–100,000 m", field="accuracy_m")


def record(target: Target, *, source: str, lon: float, lat: float, accuracy_m: float | None = None,
           at: dt.datetime | None = None, fix_type: str = "gnss", mock: bool = False) -> int | None:
    """Store one position of the target from ``source`` (one of ``SOURCES``); ``fix_type`` is ``cell`` for a
    carrier's coarse position, ``mock`` the phone's mock-location flag. Then run the screening checks
    (``screening.run``). Return the fix id (None when the fix went to the stream, whose workers store it)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    check_lonlat(lon, lat, accuracy_m)
    at = (at or clock.now()).astimezone(dt.UTC)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    accuracy = float(accuracy_m) if accuracy_m is not None else 10.0
    device = device_for(target, source)
    device.target = Target.objects.get(pk=target.pk)  # the monitoring switch as it is now
    row = {"t": at.isoformat(), "lon": lon, "lat": lat, "accuracy": accuracy, "fix_type": fix_type}
    result = pipeline.submit([row], source=source, device=device, now=at)
    if result.errors:
        raise ValidationFailed(result.errors[0].code, result.errors[0].message)
    fix_id = None if settings.PINGAN_STREAM_URL else (
        Fix.objects.filter(device=device, device_time=at).values_list("pk", flat=True).first())
    screening.run(screening.Position(target=device.target, fix_id=fix_id, source=source, lon=lon, lat=lat,
                                     accuracy_m=accuracy, at=at, fix_type=fix_type, mock=mock))
    return fix_id

"""The demo district's tracking: a few monitored persons in 双林镇 and vehicles in 南浔镇, each with a device,
and the zones they are held to — a core area (核心区) that alerts without dwell, a school that is closed to
them on school days, the district as the persons' permitted area, and a speed-limited road.

``feed(now)`` moves them a little every time the demo's worker calls it (job ``tracking.demo_feed``, only with
``PINGAN_ENV=demo`` and ``PINGAN_DEMO_FEED`` on), through the same pipeline as real devices; one subject walks
into the core area for a few minutes every half hour, so the alert queue and its alarm have something to show.
Idempotent: loading again reuses what exists.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from pingan.accounts.models import Organisation, OrgKind
from pingan.geo.models import Area
from pingan.tracking import actions, pipeline
from pingan.tracking.models import Device, LatestPosition, TargetGroup

PREFIX = "demo-"  # the demo's devices (its targets and zones are ordinary tracking ones)
PERSONS = ["王某", "李某", "张某", "刘某", "陈某", "杨某", "赵某", "黄某"]
PLATES = ["浙E·A1234", "浙E·B5678", "浙E·C9012", "浙E·D3456"]
INTRUDER = "demo-phone-01"


def _area_centre(area: Area) -> tuple[float, float]:
    return float(area.centroid_lon), float(area.centroid_lat)


def load() -> int:
    """The demo's targets, devices and zones (nothing when they exist already). Returns the targets made."""
    if Device.objects.filter(uid__startswith=PREFIX).exists():
        return 0
    shuanglin = Area.objects.get(code="330503101")
    nanxun = Area.objects.get(code="330503100")
    district = Area.objects.get(level="district")
    office = Organisation.objects.filter(kind=OrgKind.JUDICIAL_OFFICE, areas=shuanglin).first()
    group, _ = TargetGroup.objects.get_or_create(code="demo-subjects", defaults={"name": "演示 社区矫正对象"})
    made = 0
    for i, label in enumerate(PERSONS, start=1):
        target = actions.create_target("demo", kind="person", label=label, area=shuanglin, organisation=office,
                                       interval_s=600, groups=[group], monitored=True)
        actions.register_device("demo", target, uid=f"demo-phone-{i:02d}", name=f"{label}的手机")
        made += 1
    for i, plate in enumerate(PLATES, start=1):
        target = actions.create_target("demo", kind="vehicle", label=plate, area=nanxun, interval_s=300, monitored=True)
        actions.register_device("demo", target, uid=f"demo-car-{i:02d}", name=plate)
        made += 1
    lon, lat = _area_centre(shuanglin)
    actions.create_zone("demo", name="双林镇 核心区", kind="exclusion", shape="circle", coords=[lon, lat], radius_m=250,
                        ring_m=150, fast=True, area=shuanglin, groups=[group])
    actions.create_zone("demo", name="双林镇 中心小学", kind="exclusion", shape="circle", coords=[lon + 0.012, lat - 0.006],
                        radius_m=150, area=shuanglin, groups=[group],
                        schedule={"weekdays": [1, 2, 3, 4, 5], "windows": [["07:00", "17:00"]]})
    outline = district.geometry.simplify(0.002)
    if outline.geom_type == "Polygon":
        actions.create_zone("demo", name="南浔区 (准许活动范围)", kind="inclusion", shape="polygon",
                            coords=[list(map(list, outline.exterior.coords))], area=district, groups=[group])
    nlon, nlat = _area_centre(nanxun)
    actions.create_zone("demo", name="南浔大道 限速 60", kind="speed", shape="corridor",
                        coords=[[nlon - 0.05, nlat], [nlon + 0.05, nlat + 0.01]], width_m=60, speed_limit_kmh=60,
                        speed_duration_s=60, area=nanxun, applies_to_all=True)
    return made


def feed(now: dt.datetime) -> int:
    """One step of the demo's devices: a small random walk each, sent through the pipeline."""
    devices = list(Device.objects.filter(uid__startswith=PREFIX, is_active=True).select_related("target", "target__area"))
    if not devices:
        return 0
    latest = {p.target_id: p for p in LatestPosition.objects.filter(target_id__in=[d.target_id for d in devices])}
    core = _core_centre()
    sent = 0
    rng = random.Random(int(now.timestamp()) // 30)
    for device in devices:
        here = latest.get(device.target_id)
        home = _area_centre(device.target.area)
        lon, lat = (here.lon, here.lat) if here else (home[0] + rng.uniform(-0.02, 0.02), home[1] + rng.uniform(-0.02, 0.02))
        if device.uid == INTRUDER and core is not None and (now.minute % 30) < 4:
            lon, lat = core[0] + rng.gauss(0, 0.0001), core[1] + rng.gauss(0, 0.0001)
        else:
            step = 0.004 if device.target.kind == "vehicle" else 0.0008
            angle = rng.uniform(0, 2 * math.pi)
            lon, lat = lon + step * math.cos(angle), lat + step * math.sin(angle)
            # drift back home so nobody wanders out of the district
            lon, lat = lon + (home[0] - lon) * 0.05, lat + (home[1] - lat) * 0.05
            if core is not None and _metres(lon, lat, *core) < 500 and device.uid != INTRUDER:
                lon, lat = lon + 0.006, lat
        row: dict[str, Any] = {"t": now.timestamp(), "lon": round(lon, 6), "lat": round(lat, 6), "accuracy": 8,
                               "speed": rng.uniform(20, 70) if device.target.kind == "vehicle" else rng.uniform(0, 5)}
        sent += pipeline.submit([row], source="demo", device=device).accepted
    return sent


def _core_centre() -> tuple[float, float] | None:
    from pingan.tracking.models import Zone

    zone = Zone.objects.filter(groups__code="demo-subjects", fast=True, shape="circle", is_active=True).first()
    return (float(zone.coords[0]), float(zone.coords[1])) if zone else None


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    kx = 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon1 - lon2) * kx, (lat1 - lat2) * 110_574)

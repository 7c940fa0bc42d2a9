"""API schemas of tracking."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from pingan.events.schemas import ErrorOut  # noqa: F401  (one error shape for the whole API)

Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


class RowErrorOut(Schema):
    index: int
    code: str
    message: str


class IngestOut(Schema):
    accepted: int
    duplicates: int
    published: int = 0
    rejected: int
    errors: list[RowErrorOut]
    alerts: list[int]


class TargetIn(Schema):
    kind: Literal["person", "vehicle"]
    label: str = Field(min_length=1, max_length=80)
    area: str = Field(description="Area code of the target's home area")
    organisation: str = Field(default="", description="Organisation code responsible for it")
    interval_s: int = Field(default=3600, ge=30, le=7 * 86400)
    monitored: bool = False


class TargetOut(Schema):
    id: int
    kind: str
    label: str
    area: str
    organisation: str | None
    owner: str
    monitored: bool
    interval_s: int
    devices: list[str]
    latest: dict[str, Any] | None


class MonitoringIn(Schema):
    on: bool
    reason: str = Field(default="", max_length=200)


class DeviceIn(Schema):
    uid: str = Field(min_length=1, max_length=40)
    name: str = Field(default="", max_length=80)
    crs: Crs = "wgs84"


class DeviceKeyOut(Schema):
    uid: str
    key: str = Field(description="Shown once. Devices send it as 'Authorization: Device <uid>:<key>' and sign MQTT "
                                 "messages with it.")


class FixOut(Schema):
    id: int
    t: dt.datetime
    lon: float
    lat: float
    accuracy_m: float
    fix_type: str
    speed_kmh: float | None
    heading: float | None
    source: str


class ZoneIn(Schema):
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["exclusion", "inclusion", "speed", "watch"]
    shape: Literal["polygon", "circle", "corridor"]
    coords: Any = Field(description="polygon: [[[lon, lat], …]] rings; circle: [lon, lat]; corridor: [[lon, lat], …]")
    area: str
    radius_m: float = 0
    width_m: float = 0
    ring_m: float = 0
    fast: bool = False
    speed_limit_kmh: float | None = None
    speed_duration_s: int = Field(default=60, ge=0, le=86400)
    schedule: dict[str, Any] | None = None
    applies_to_all: bool = False
    targets: list[int] = Field(default_factory=list)


class ZoneOut(Schema):
    id: int
    name: str
    kind: str
    shape: str
    coords: Any
    radius_m: float
    width_m: float
    ring_m: float
    fast: bool
    speed_limit_kmh: float | None
    schedule: dict[str, Any] | None
    applies_to_all: bool
    area: str
    is_active: bool


class AlertOut(Schema):
    id: int
    number: str
    rule: str
    rule_label: str
    severity: str
    state: str
    target_id: int
    target_label: str
    zone_id: int | None
    zone_name: str | None
    first_at: dt.datetime
    last_at: dt.datetime
    raised_at: dt.datetime
    verify_by: dt.datetime
    seconds_left: int
    late: bool
    rearmed: bool
    lon: float | None
    lat: float | None
    place: str | None
    evidence_count: int
    event_id: int | None
    event_number: str | None
    dismiss_reason: str
    version: int


class AlertStepOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    at: dt.datetime
    note: str


class AlertDetailOut(AlertOut):
    steps: list[AlertStepOut]
    evidence: list[int]
    actions: list[str]


class AlertActIn(Schema):
    note: str = Field(default="", max_length=500)
    version: int | None = None


class DismissIn(AlertActIn):
    reason: Literal["authorised", "position_error", "device_fault", "other"]


class NoteIn(Schema):
    note: str = Field(min_length=1, max_length=500)


class PositionsOut(Schema):
    cell_deg: float
    total: int
    clusters: list[dict[str, Any]]

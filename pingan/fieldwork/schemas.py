from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    code: str
    message: str
    details: dict | None = None


class EventRef(Schema):
    id: int
    number: str
    state: str
    title: str


class ReportIn(Schema):
    """An event found on a patrol or brought by a visitor (the source is set by the endpoint)."""

    event_type: str = Field(max_length=40)
    title: str = Field(max_length=120)
    description: str = Field(max_length=5000)
    lon: float
    lat: float
    crs: str = "wgs84"
    address: str = Field(default="", max_length=200)
    priority: str = "normal"
    person_ids: list[int] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


# --- patrols ---------------------------------------------------------------------------------


class PatrolStartIn(Schema):
    grid_code: str = Field(max_length=32)


class PointIn(Schema):
    lon: float
    lat: float
    crs: str = "wgs84"
    at: dt.datetime | None = None


class PatrolEndIn(Schema):
    notes: str = Field(default="", max_length=2000)
    places_checked: int | None = Field(default=None, ge=0, le=10000)


class PatrolOut(Schema):
    id: int
    worker: str
    grid_code: str
    grid_name: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    points: int
    distance_m: float
    places_checked: int
    events_reported: int
    notes: str


class PatrolEventOut(Schema):
    event: EventRef
    found_at: dt.datetime
    reported_at: dt.datetime
    minutes: float


class PatrolDetailOut(PatrolOut):
    track: list[tuple[float, float, str]]
    events: list[PatrolEventOut]


# --- visits ----------------------------------------------------------------------------------


class VisitorIn(Schema):
    name: str = Field(max_length=60)
    id_number: str | None = Field(default=None, max_length=18)
    phone: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=200)
    area_code: str | None = Field(default=None, max_length=32)


class VisitIn(Schema):
    workstation_id: int
    person_id: int | None = None
    person: VisitorIn | None = None
    matter: str = Field(max_length=2000)
    category: str = "consultation"
    departments: list[int] = Field(default_factory=list)
    outcome: str = "pending"
    at: dt.datetime | None = None


class VisitOut(Schema):
    id: int
    workstation_id: int
    workstation: str
    visitor_id: int
    visitor: str
    at: dt.datetime
    matter: str
    category: str
    departments: list[str]
    outcome: str
    event: EventRef | None
    received_by: str | None
    visits_by_person: int


# --- places and inspections ------------------------------------------------------------------


class PlaceIn(Schema):
    name: str = Field(max_length=120)
    kind: str
    lon: float
    lat: float
    crs: str = "wgs84"
    address: str = Field(default="", max_length=200)
    enterprise_id: int | None = None


class PlaceOut(Schema):
    id: int
    name: str
    kind: str
    area_code: str
    lon: float
    lat: float
    address: str
    enterprise_id: int | None
    inspections: int


class InspectionIn(Schema):
    place_id: int
    findings: str = Field(max_length=5000)
    hazard: bool = False
    hazard_level: str = ""
    at: dt.datetime | None = None
    patrol_id: int | None = None
    event_type: str = Field(default="", max_length=40)


class InspectionOut(Schema):
    id: int
    place_id: int
    place: str
    inspector: str | None
    at: dt.datetime
    findings: str
    hazard: bool
    hazard_level: str
    patrol_id: int | None
    event: EventRef | None


# --- joint enforcement -----------------------------------------------------------------------


class JointEnforcementIn(Schema):
    workstation_id: int
    departments: list[int]
    findings: str = Field(max_length=5000)
    at: dt.datetime | None = None
    place_id: int | None = None
    address: str = Field(default="", max_length=200)
    event_ids: list[int] = Field(default_factory=list)


class JointEnforcementOut(Schema):
    id: int
    workstation_id: int
    workstation: str
    at: dt.datetime
    place_id: int | None
    address: str
    departments: list[str]
    findings: str
    events: list[EventRef]

"""API schemas of the closed loop: what comes in (one body per transition) and what goes out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


class ErrorOut(Schema):
    code: str
    message: str
    details: dict[str, Any] | None = None


# -- in ---------------------------------------------------------------------------------------------


class ReportIn(Schema):
    event_type: str = Field(max_length=40, description="EventType.code")
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1, max_length=5000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = "wgs84"
    address: str = Field(default="", max_length=200)
    source: str = Field(default="grid_patrol", max_length=24)
    priority: str = Field(default="normal", max_length=10)
    reporter_name: str = Field(default="", max_length=60)
    reporter_phone: str = Field(default="", max_length=20)
    person_ids: list[int] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class VersionIn(Schema):
    version: int | None = Field(default=None, description="The version you saw; a stale one gets 409 stale_version.")


class NoteIn(VersionIn):
    note: str = Field(default="", max_length=2000)


class RequiredNoteIn(Schema):
    note: str = Field(min_length=1, max_length=2000)


class ReasonIn(VersionIn):
    reason: str = Field(min_length=1, max_length=200)


class MergeIn(VersionIn):
    into: int = Field(description="The id of the event this one duplicates.")


class DispatchIn(VersionIn):
    lead_unit: str = Field(max_length=40, description="Organisation code of the lead unit.")
    assisting_units: list[str] = Field(default_factory=list, description="Organisation codes.")
    note: str = Field(default="", max_length=2000)


class CompleteTaskIn(Schema):
    task: int | None = Field(default=None, description="Task id; empty: the caller's unit's task on this event.")
    note: str = Field(default="", max_length=2000)


class ResolveIn(VersionIn):
    result: str = Field(min_length=1, max_length=5000)
    measures: str = Field(default="", max_length=5000)
    method: str = Field(max_length=12, description="mediated, enforced, advised, referred, repaired or other")


class CloseIn(VersionIn):
    satisfaction: int = Field(ge=1, le=5)
    note: str = Field(default="", max_length=2000)


class SuperviseIn(VersionIn):
    note: str = Field(min_length=1, max_length=200)
    due: dt.datetime | None = None


class ParkIn(VersionIn):
    reason: str = Field(min_length=1, max_length=200)
    review_on: dt.date


class ExtensionRequestIn(Schema):
    reason: str = Field(min_length=1, max_length=200)
    new_due: dt.datetime


class ExtensionDecideIn(Schema):
    extension: int | None = Field(default=None, description="Extension id; empty: the event's pending request.")
    approve: bool
    note: str = Field(default="", max_length=2000)


class MarkReadIn(Schema):
    ids: list[int] = Field(default_factory=list, description="Notification ids; empty: all of yours.")


# -- out --------------------------------------------------------------------------------------------


class EventTypeOut(Schema):
    code: str
    name: str
    name_en: str
    parent_code: str | None
    is_dispute: bool


class EventListOut(Schema):
    id: int
    number: str
    title: str
    event_type: str
    type_name: str
    source: str
    priority: str
    state: str
    level: str
    area_code: str
    lon: float
    lat: float
    lead_unit: str | None
    created_at: dt.datetime
    accept_due: dt.datetime | None
    resolve_due: dt.datetime | None
    warned: bool
    overdue: bool
    supervised: bool
    version: int


class PersonOut(Schema):
    id: int
    role: str
    name: str
    id_number: str
    phone: str
    masked: bool = True


class TaskOut(Schema):
    id: int
    unit: str
    unit_name: str
    is_lead: bool
    state: str
    due: dt.datetime | None
    notes: str
    done_at: dt.datetime | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    is_image: bool
    stage: str
    url: str
    created_at: dt.datetime


class ExtensionOut(Schema):
    id: int
    reason: str
    new_due: dt.datetime
    decision: str
    created_at: dt.datetime


class DeadlinesOut(Schema):
    accept_due: dt.datetime | None
    resolve_due: dt.datetime | None
    warn_at: dt.datetime | None
    overdue_since: dt.datetime | None
    supervise_due: dt.datetime | None
    parked_until: dt.date | None


class FlagsOut(Schema):
    warned: bool
    overdue: bool
    supervised: bool
    supervise_lapsed: bool
    parked: bool
    repeat_count: int
    reopened_count: int


class EventOut(EventListOut):
    description: str
    address: str
    tags: list[str]
    reporter: str
    reporter_phone: str
    village_code: str | None
    town_code: str | None
    workstation: str | None
    supervise_note: str
    parked_reason: str
    merged_into: int | None
    result: str
    measures: str
    resolution_method: str
    satisfaction: int | None
    reject_reason: str
    on_time: bool | None
    deadlines: DeadlinesOut
    flags: FlagsOut
    persons: list[PersonOut]
    tasks: list[TaskOut]
    attachments: list[AttachmentOut]
    extensions: list[ExtensionOut]
    actions: list[str] = Field(description="The transitions the caller may do now (path names).")


class TimelineOut(Schema):
    at: dt.datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    data: dict[str, Any]


class ExtensionResultOut(ExtensionOut):
    event_id: int


class TaskResultOut(TaskOut):
    event_id: int


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    event_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class MarkedOut(Schema):
    marked: int


class ClusterOut(Schema):
    lon: float
    lat: float
    count: int
    id: int | None = Field(default=None, description="The event, when the cluster holds only one.")
    number: str | None = None
    state: str | None = None
    overdue: bool = False


class ClustersOut(Schema):
    cell_deg: float
    total: int
    clusters: list[ClusterOut]

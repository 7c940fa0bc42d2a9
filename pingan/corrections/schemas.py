"""API schemas of 如燕: what comes in (one body per action) and what goes out (identities masked)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from pingan.events.schemas import ErrorOut  # noqa: F401  (one error shape for the whole API)

CorrectionTypeIn = Literal["control", "probation", "parole", "outside_prison"]
LevelIn = Literal["strict", "ordinary", "lenient"]
GroundIn = Literal["prohibition_order", "left_area", "refused_report", "administrative_penalty", "revocation_pending"]


class PersonIn(Schema):
    name: str = Field(min_length=1, max_length=60)
    id_number: str | None = Field(default=None, max_length=18)
    phone: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=200)


class SubjectIn(Schema):
    person_id: int | None = Field(default=None, description="An existing person; or give `person`")
    person: PersonIn | None = None
    correction_type: CorrectionTypeIn
    decision_body: str = Field(min_length=1, max_length=120, description="The court or authority that decided")
    decision_number: str = Field(min_length=1, max_length=60, description="The decision document number (文书号)")
    decision_effective_on: dt.date
    offence_on: dt.date | None = None
    supervision_start: dt.date
    supervision_end: dt.date
    level: LevelIn = "ordinary"
    judicial_office: str = Field(description="Organisation code of the judicial office (司法所)")
    officer: str = Field(description="Username of the supervising officer")
    area: str = Field(description="Area code of the residence")
    permitted_area: str = Field(default="", description="Area code; default: the residence's district")
    phone: str = Field(min_length=1, max_length=20)
    is_minor: bool = False
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    home_lat: float | None = Field(default=None, ge=-90, le=90)


class SubjectOut(Schema):
    id: int
    number: str
    name: str
    correction_type: str
    level: str
    state: str
    is_minor: bool
    judicial_office: str
    judicial_office_name: str
    officer: str
    officer_name: str
    area: str
    area_name: str
    supervision_start: dt.date
    supervision_end: dt.date
    intake_due: dt.date
    intake_at: dt.datetime | None
    intake_late: bool
    monitored: bool
    archived_at: dt.datetime | None


class AuthorisationPeriodOut(Schema):
    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    approver: str
    assessment: str
    reminded_7d_at: dt.datetime | None
    reminded_1d_at: dt.datetime | None


class AuthorisationOut(Schema):
    id: int
    subject_id: int
    ground: str
    facts: str
    state: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    approver: str
    ended_at: dt.datetime | None
    end_reason: str
    periods: list[AuthorisationPeriodOut]


class SubjectDetailOut(SubjectOut):
    id_number: str
    phone: str
    decision_body: str
    decision_number: str
    decision_effective_on: dt.date
    permitted_area: str
    ended_on: dt.date | None
    end_reason: str
    has_home: bool
    has_login: bool
    colour: str
    reasons: list[str]
    prohibitions: list[dict[str, Any]]
    curfews: list[dict[str, Any]]
    authorisation: AuthorisationOut | None
    counts: dict[str, int]
    community_service_hours: float
    can: list[str]
    can_reveal: bool


class PurposeIn(Schema):
    purpose: str = Field(min_length=1, max_length=200, description="Why the identity is needed (audited)")


class IdentityOut(Schema):
    name: str
    id_number: str
    phone: str
    person_phone: str
    address: str


class IntakeIn(Schema):
    at: dt.datetime | None = None
    note: str = Field(default="", max_length=500)


class LevelChangeIn(Schema):
    level: LevelIn
    reason: str = Field(min_length=1, max_length=1000)


class TransferIn(Schema):
    to_office: str = Field(description="Organisation code of the receiving judicial office")
    to_officer: str = Field(description="Username of the new supervising officer")
    area: str = Field(default="", description="Area code of the new residence, when it moves")
    reason: str = Field(min_length=1, max_length=1000)


class TransferOut(Schema):
    id: int
    from_office: str
    to_office: str
    from_officer: str
    to_officer: str
    at: dt.datetime


class RecordIn(Schema):
    kind: Literal["education", "community_service", "commendation", "warning", "revoke_proposal", "lost_contact"]
    text: str = Field(min_length=1, max_length=4000)
    occurred_on: dt.date | None = None
    hours: float | None = Field(default=None, gt=0, le=999)
    serious: bool = False


class RecordOut(Schema):
    id: int
    kind: str
    occurred_on: dt.date
    text: str
    hours: float | None
    serious: bool
    is_open: bool
    outcome: str
    outcome_note: str
    closed_at: dt.datetime | None
    by: str
    created_at: dt.datetime


class CloseRecordIn(Schema):
    outcome: Literal["rectified", "contact_restored", "revoked", "rejected"]
    note: str = Field(default="", max_length=1000)


class ZoneShapeIn(Schema):
    name: str = Field(min_length=1, max_length=80)
    shape: Literal["polygon", "circle", "corridor"]
    coords: Any = Field(description="polygon: rings [[lon, lat], …]; circle: [lon, lat]; corridor: a line")
    radius_m: float = Field(default=0, ge=0, le=200_000)
    width_m: float = Field(default=0, ge=0, le=200_000)
    ring_m: float = Field(default=0, ge=0, le=200_000)
    fast: bool = Field(default=False, description="A core area: alert at the second fix inside, without dwell")


class ProhibitionIn(Schema):
    text: str = Field(min_length=1, max_length=4000)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    zones: list[ZoneShapeIn] = Field(default_factory=list, max_length=20)


class ProhibitionOut(Schema):
    id: int
    text: str
    starts_on: dt.date
    ends_on: dt.date | None
    zones: list[int]


class CurfewIn(Schema):
    start: dt.time
    end: dt.time
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    radius_m: float = Field(default=200, ge=50, le=5000)


class CurfewOut(Schema):
    id: int
    start: str
    end: str
    weekdays: list[int]
    radius_m: float
    zone: int


class DeviceIn(Schema):
    uid: str = Field(min_length=1, max_length=40)
    name: str = Field(default="", max_length=80)
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = "wgs84"


class DeviceKeyOut(Schema):
    uid: str
    key: str


class LinkUserIn(Schema):
    username: str = Field(min_length=1, max_length=150)


class ReleaseIn(Schema):
    on: dt.date | None = None
    note: str = Field(default="", max_length=1000)


class TerminateIn(Schema):
    reason: Literal["revoked", "committed", "new_sentence", "death"]
    on: dt.date | None = None
    note: str = Field(default="", max_length=1000)


class GrantIn(Schema):
    ground: GroundIn
    facts: str = Field(min_length=1, max_length=4000)
    approver: str = Field(description="Username of the approver (holds corrections.approve_monitoring)")
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime


class RenewIn(Schema):
    assessment: str = Field(min_length=1, max_length=4000)
    approver: str
    ends_at: dt.datetime


class EndIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class ScanRowOut(Schema):
    id: int
    at: dt.datetime
    result: str
    reason: str
    colour: str
    typed: bool
    repeat: bool
    lon: float
    lat: float
    scanner: str
    fix_id: int | None


class CodeOut(Schema):
    token: str = Field(description="What the QR code carries")
    short: str = Field(description="8 characters to type when the QR code cannot be read")
    window_start: dt.datetime
    refresh_at: dt.datetime = Field(description="When the page fetches the next code")
    expires_at: dt.datetime = Field(description="The last moment this code is accepted")


class ScanIn(Schema):
    code: str = Field(min_length=1, max_length=200, description="The scanned token, or the typed short code")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    subject_id: int | None = Field(default=None, description="An officer checking a known subject: reject another's")


class ScanSubjectOut(Schema):
    id: int
    number: str
    name: str


class ScanOut(Schema):
    valid: bool
    reason: str
    colour: str
    action: str
    advice: str
    repeat: bool
    scan_id: int | None
    at: dt.datetime | None
    reasons: list[str]
    subject: ScanSubjectOut | None


class CheckInIn(Schema):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    mock_location: bool = Field(default=False, description="The phone's mock-location flag")


class CheckInOut(Schema):
    id: int
    at: dt.datetime
    day: dt.date
    fix_id: int | None


# Leave and boundary ------------------------------------------------------------------------------


class LeaveIn(Schema):
    destination: str = Field(min_length=1, max_length=200, description="Where the subject goes (address text)")
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str = Field(min_length=1, max_length=1000)
    dest_lon: float | None = Field(default=None, description="The destination's point (WGS-84), optional")
    dest_lat: float | None = None
    radius_km: float = Field(default=10, description="How far around the destination point counts as there")


class LeaveNoteIn(Schema):
    note: str = Field(default="", max_length=500)


class LeaveStepOut(Schema):
    action: str
    level: str
    by: str
    at: dt.datetime
    note: str


class LeaveOut(Schema):
    id: int
    subject_id: int
    subject_number: str
    subject_name: str
    judicial_office: str
    officer: str
    destination: str
    dest_lon: float | None
    dest_lat: float | None
    radius_km: float
    starts_at: dt.datetime
    ends_at: dt.datetime
    days: int
    reason: str
    state: str
    state_label: str
    level: Literal["office", "bureau"] = Field(description="Who the rule asks to approve: the judicial office "
                                                           "(up to 7 days) or the county justice bureau")
    level_label: str
    stage: str = Field(description="While pending: who decides next (office or bureau)")
    requested_by: str
    approver: str | None
    decided_at: dt.datetime | None
    started_at: dt.datetime | None
    returned_at: dt.datetime | None
    overdue_at: dt.datetime | None
    suspended: bool = Field(description="The boundary rule is suspended for the subject now")
    steps: list[LeaveStepOut]
    can: list[str]


# Carrier feed ------------------------------------------------------------------------------------


class CarrierRowError(Schema):
    index: int
    code: str
    message: str


class CarrierOut(Schema):
    accepted: int
    rejected: int
    errors: list[CarrierRowError]


# Phone checks ---------------------------------------------------------------------------------------


class PhoneCheckOut(Schema):
    id: int
    subject_id: int
    subject_number: str
    subject_name: str
    level: str
    judicial_office: str
    officer: str
    scheduled_at: dt.datetime
    planned: bool
    requested_by: str | None
    state: str
    attempts: int
    due_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    answered: bool | None
    voice: str
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    fix_id: int | None
    expected_area: str | None
    expected_area_name: str | None
    leave_id: int | None = Field(description="the approved leave in force at the call: its destination counted as allowed")
    leave_destination: str = ""
    outside_m: float | None = Field(description="metres outside where the subject may be (the permitted area and, "
                                    "during a leave, the leave's area); null during a leave without a destination point")
    home_m: float | None
    verdict: str
    alert_id: int | None
    alert_number: str | None
    provider: str
    provider_ref: str
    error: str


# Core areas and reverse warnings ----------------------------------------------------------------------

AppliesToIn = Literal["all", "levels", "groups"]


class CoreAreaIn(Schema):
    name: str = Field(min_length=1, max_length=70)
    description: str = Field(default="", max_length=2000)
    area: str = Field(description="Area code the core area belongs to (its scope)")
    shape: Literal["polygon", "circle"] = "polygon"
    coords: Any = Field(description="polygon: rings [[lon, lat], …]; circle: [lon, lat]")
    radius_m: float = Field(default=0, ge=0, le=200_000)
    schedule: dict[str, Any] | None = Field(default=None, description="windows, weekdays, dates, except; empty: always")
    applies_to: AppliesToIn = "all"
    levels: list[LevelIn] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list, description="Target group codes")
    police_post: str | None = Field(default=None, description="Organisation code of a police station")
    verify_minutes: int | None = Field(default=None, ge=1, le=1440)
    buffer_m: float = Field(default=50, ge=0, le=2000)


class CoreAreaUpdateIn(Schema):
    version: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=70)
    description: str | None = Field(default=None, max_length=2000)
    schedule: dict[str, Any] | None = None
    clear_schedule: bool = Field(default=False, description="Make the core area active at all times")
    applies_to: AppliesToIn | None = None
    levels: list[LevelIn] | None = None
    groups: list[str] | None = None
    police_post: str | None = None
    clear_police_post: bool = False
    verify_minutes: int | None = Field(default=None, ge=1, le=1440)
    buffer_m: float | None = Field(default=None, ge=0, le=2000)


class VersionIn(Schema):
    version: int | None = None


class CoreAreaOut(Schema):
    id: int
    name: str
    description: str
    area: str
    area_name: str
    zone_id: int
    shape: str
    coords: Any
    radius_m: float
    schedule: dict[str, Any] | None
    applies_to: str
    levels: list[str]
    groups: list[str]
    police_post: str | None
    police_post_name: str
    verify_minutes: int
    buffer_m: float
    is_active: bool
    version: int
    updated_at: dt.datetime


class WarningOut(Schema):
    id: int
    number: str
    rule: str
    rule_label: str
    severity: str
    state: str
    version: int
    core_area_id: int | None
    core_area: str
    subject_id: int | None
    subject_number: str
    subject_name: str
    officer: str
    town: str
    raised_at: dt.datetime
    verify_by: dt.datetime
    late: bool
    first_at: dt.datetime
    last_at: dt.datetime
    lon: float | None
    lat: float | None
    place: str
    source: str
    share: float | None
    accuracy_m: float | None
    dismiss_reason: str
    event: str | None
    active: bool
    can_act: bool


class WarningStepOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    at: dt.datetime
    note: str
    method: str
    method_label: str
    data: dict[str, Any]


class WarningDetailOut(WarningOut):
    steps: list[WarningStepOut]


class VerifyIn(Schema):
    version: int | None = None
    note: str = Field(default="", max_length=500)


class FoundIn(Schema):
    method: Literal["phoned_subject", "phoned_officer", "on_site", "other"]
    text: str = Field(min_length=1, max_length=480)


class WarningDismissIn(Schema):
    reason: Literal["authorised", "position_error", "other"]
    note: str = Field(default="", max_length=500)
    version: int | None = None


class WarningEscalateIn(Schema):
    note: str = Field(default="", max_length=500)
    version: int | None = None


class FigureOut(Schema):
    key: str
    label: str
    raised: int
    verified_in_time: int
    verified_late: int
    dismissed: int
    escalated_by_person: int
    escalated_automatically: int
    open: int

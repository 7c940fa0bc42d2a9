"""The 如燕 API: subjects (masked) and their file, the monitoring authorisations, and the follow code (the
subject's phone page, checkpoint scans, check-ins). Subjects the caller may not see answer 404."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from pingan.accounts import policy
from pingan.accounts.actions import PersonInput
from pingan.accounts.models import Organisation, Person
from pingan.core.errors import ValidationFailed
from pingan.corrections import actions, presenters, queries
from pingan.corrections import permissions as perms
from pingan.corrections.models import Subject
from pingan.corrections.schemas import (
    AuthorisationOut,
    CheckInIn,
    CheckInOut,
    CloseRecordIn,
    CodeOut,
    CurfewIn,
    CurfewOut,
    DeviceIn,
    DeviceKeyOut,
    EndIn,
    ErrorOut,
    GrantIn,
    IdentityOut,
    IntakeIn,
    LevelChangeIn,
    LinkUserIn,
    PhoneCheckOut,
    ProhibitionIn,
    ProhibitionOut,
    PurposeIn,
    RecordIn,
    RecordOut,
    ReleaseIn,
    RenewIn,
    ScanIn,
    ScanOut,
    ScanRowOut,
    SubjectDetailOut,
    SubjectIn,
    SubjectOut,
    TerminateIn,
    TransferIn,
    TransferOut,
)
from pingan.geo import queries as geo_queries

router = Router(tags=["corrections"])

ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ACT = {200: SubjectDetailOut, **ERRORS}


class SubjectFilters(Schema):
    state: str = Field(default="", description="One state, or several separated by commas")
    level: str = ""
    office: str = Field(default="", description="Organisation code of a judicial office")
    area: str = Field(default="", description="Area code: subjects residing in its subtree")


def _org(code: str) -> Organisation | None:
    """The organisation with this code (the action checks that it is an active judicial office)."""
    return Organisation.objects.filter(code=code).first()


def _visible(request: HttpRequest, subject_id: int) -> Subject:
    return queries.subject(request.user, subject_id)


def _detail(request: HttpRequest, subject: Subject) -> dict[str, Any]:
    return presenters.subject_detail(queries.subject(request.user, subject.pk, perms.MANAGE_SUBJECT.code), request.user)


# -- subjects ----------------------------------------------------------------------------------------


@router.get("/subjects", response={200: list[SubjectOut], 403: ErrorOut})
@paginate
def list_correction_subjects(request: HttpRequest, filters: Query[SubjectFilters]) -> Any:
    """The subjects in the caller's scope (names masked), newest first."""
    policy.require(request.user, perms.VIEW_SUBJECT.code)
    return [presenters.subject_row(s) for s in queries.subjects(request.user, **filters.dict())]


@router.post("/subjects", response={201: SubjectDetailOut, **ERRORS})
def register_correction_subject(request: HttpRequest, body: SubjectIn) -> Any:
    """Register a subject (pending intake, due within ten days of the decision taking effect), with an existing
    person (``person_id``) or a new one (``person``)."""
    policy.require(request.user, perms.MANAGE_SUBJECT.code)
    person = None
    if body.person_id is not None:
        person = Person.objects.filter(pk=body.person_id).first()
        if person is None:
            raise ValidationFailed("unknown_person", "no such person", field="person_id")
    person_input = None
    if body.person is not None:
        person_input = PersonInput(name=body.person.name, id_number=body.person.id_number, phone=body.person.phone,
                                   address=body.person.address, area_code=body.area)
    subject = actions.register_subject(request.user, actions.SubjectInput(
        person=person, person_input=person_input, correction_type=body.correction_type, decision_body=body.decision_body,
        decision_number=body.decision_number, decision_effective_on=body.decision_effective_on, offence_on=body.offence_on,
        supervision_start=body.supervision_start, supervision_end=body.supervision_end, level=body.level,
        judicial_office=_org(body.judicial_office), officer=queries.active_user(body.officer, "officer"),
        area=geo_queries.area_by_code(body.area, "area"), permitted_area=geo_queries.area_by_code(body.permitted_area, "permitted_area") if body.permitted_area else None,
        phone=body.phone, is_minor=body.is_minor, home_lon=body.home_lon, home_lat=body.home_lat))
    return Status(201, presenters.subject_detail(Subject.objects.select_related(*queries.RELATED).get(pk=subject.pk),
                                                 request.user))


@router.get("/subjects/{subject_id}", response={200: SubjectDetailOut, 404: ErrorOut})
def get_correction_subject(request: HttpRequest, subject_id: int) -> Any:
    """One subject: masked identity, the decision, restrictions, monitoring, counts of records, status colour."""
    return presenters.subject_detail(_visible(request, subject_id), request.user)


@router.post("/subjects/{subject_id}/reveal", response={200: IdentityOut, **ERRORS})
def reveal_correction_subject(request: HttpRequest, subject_id: int, body: PurposeIn) -> Any:
    """The identity in full, with a purpose; audited (a minor's only to the supervising officer)."""
    return actions.reveal_subject(request.user, _visible(request, subject_id), purpose=body.purpose)


@router.post("/subjects/{subject_id}/intake", response=ACT)
def correction_intake(request: HttpRequest, subject_id: int, body: IntakeIn | None = None) -> Any:
    """入矫: pending → in correction (late after the tenth day)."""
    body = body or IntakeIn()
    subject = actions.record_intake(request.user, _visible(request, subject_id), at=body.at, note=body.note)
    return _detail(request, subject)


@router.post("/subjects/{subject_id}/level", response=ACT)
def correction_level(request: HttpRequest, subject_id: int, body: LevelChangeIn) -> Any:
    """Change the management level (strict / ordinary / lenient), with the reason."""
    subject = _visible(request, subject_id)
    actions.change_level(request.user, subject, level=body.level, reason=body.reason)
    return _detail(request, subject)


@router.post("/subjects/{subject_id}/transfer", response={200: TransferOut, **ERRORS})
def correction_transfer(request: HttpRequest, subject_id: int, body: TransferIn) -> Any:
    """To another judicial office and officer (and residence area); the tracking target follows."""
    subject = _visible(request, subject_id)
    transfer = actions.transfer_subject(request.user, subject, to_office=_org(body.to_office),
                                        to_officer=queries.active_user(body.to_officer, "to_officer"), reason=body.reason,
                                        area=geo_queries.area_by_code(body.area, "area") if body.area else None)
    return {"id": transfer.pk, "from_office": transfer.from_office.code, "to_office": transfer.to_office.code,
            "from_officer": transfer.from_officer.username, "to_officer": transfer.to_officer.username, "at": transfer.at}


@router.get("/subjects/{subject_id}/records", response={200: list[RecordOut], 404: ErrorOut})
def list_correction_records(request: HttpRequest, subject_id: int, kind: str = "") -> Any:
    """The subject's file: education, community service, commendations, warnings, proposals, lost contact."""
    return [presenters.record_row(r) for r in queries.records(_visible(request, subject_id), kind=kind)]


@router.post("/subjects/{subject_id}/records", response={201: RecordOut, **ERRORS})
def add_correction_record(request: HttpRequest, subject_id: int, body: RecordIn) -> Any:
    """Add an entry (a proposal to revoke needs three warnings or a serious violation)."""
    record = actions.add_record(request.user, _visible(request, subject_id), kind=body.kind, text=body.text,
                                occurred_on=body.occurred_on, hours=body.hours, serious=body.serious)
    return Status(201, presenters.record_row(record))


@router.post("/records/{record_id}/close", response={200: RecordOut, **ERRORS})
def close_correction_record(request: HttpRequest, record_id: int, body: CloseRecordIn) -> Any:
    """Close an open warning, lost contact or proposal to revoke with its outcome."""
    record = actions.close_record(request.user, queries.record(request.user, record_id), outcome=body.outcome,
                                  note=body.note)
    return presenters.record_row(record)


@router.post("/subjects/{subject_id}/prohibitions", response={201: ProhibitionOut, **ERRORS})
def add_correction_prohibition(request: HttpRequest, subject_id: int, body: ProhibitionIn) -> Any:
    """A court prohibition order (禁止令) and its forbidden zones."""
    order = actions.add_prohibition_order(
        request.user, _visible(request, subject_id), text=body.text, starts_on=body.starts_on, ends_on=body.ends_on,
        zones=[actions.ZoneInput(**z.dict()) for z in body.zones])
    return Status(201, {"id": order.pk, "text": order.text, "starts_on": order.starts_on, "ends_on": order.ends_on,
                        "zones": [z.pk for z in order.zones.all()]})


@router.post("/subjects/{subject_id}/curfews", response={201: CurfewOut, **ERRORS})
def add_correction_curfew(request: HttpRequest, subject_id: int, body: CurfewIn) -> Any:
    """Curfew hours at home (a circle around the home point on the window's schedule)."""
    curfew = actions.add_curfew(request.user, _visible(request, subject_id), start=body.start, end=body.end,
                                weekdays=body.weekdays, radius_m=body.radius_m)
    return Status(201, {"id": curfew.pk, "start": curfew.start.strftime("%H:%M"), "end": curfew.end.strftime("%H:%M"),
                        "weekdays": curfew.weekdays, "radius_m": curfew.radius_m, "zone": curfew.zone_id})


@router.post("/subjects/{subject_id}/devices", response={201: DeviceKeyOut, **ERRORS})
def register_correction_device(request: HttpRequest, subject_id: int, body: DeviceIn) -> Any:
    """A locating device for the subject; its key is shown once. It reports only while monitoring is authorised."""
    device, key = actions.register_subject_device(request.user, _visible(request, subject_id), uid=body.uid,
                                                  name=body.name, crs=body.crs)
    return Status(201, {"uid": device.uid, "key": key})


@router.post("/subjects/{subject_id}/user", response=ACT)
def link_correction_user(request: HttpRequest, subject_id: int, body: LinkUserIn) -> Any:
    """The subject's own login (role correction_subject) for the phone page."""
    subject = actions.link_user(request.user, _visible(request, subject_id), queries.active_user(body.username, "username"))
    return _detail(request, subject)


@router.post("/subjects/{subject_id}/release", response={**ACT, 204: None})
def correction_release(request: HttpRequest, subject_id: int, body: ReleaseIn | None = None) -> Any:
    """解矫 at the end of the term: all monitoring stops, the file is archived (sealed for a minor)."""
    body = body or ReleaseIn()
    subject = actions.release_subject(request.user, _visible(request, subject_id), on=body.on, note=body.note)
    return _archived(request, subject)


@router.post("/subjects/{subject_id}/terminate", response={**ACT, 204: None})
def correction_terminate(request: HttpRequest, subject_id: int, body: TerminateIn) -> Any:
    """终止 before the end of the term: all monitoring stops, the file is archived (sealed for a minor)."""
    subject = actions.terminate_subject(request.user, _visible(request, subject_id), reason=body.reason, on=body.on,
                                        note=body.note)
    return _archived(request, subject)


def _archived(request: HttpRequest, subject: Subject) -> Any:
    """After release or termination; a sealed file is not shown any more, even to the one who closed it."""
    fresh = Subject.objects.select_related(*queries.RELATED).get(pk=subject.pk)
    if not policy.can(request.user, perms.VIEW_SUBJECT.code, fresh):
        return Status(204, None)
    return presenters.subject_detail(fresh, request.user)


@router.get("/subjects/{subject_id}/scans", response={200: list[ScanRowOut], 404: ErrorOut})
def list_correction_scans(request: HttpRequest, subject_id: int) -> Any:
    """Follow-code scans of the subject, newest first."""
    return [presenters.scan_row(s) for s in queries.scans(_visible(request, subject_id))[:500]]


# -- monitoring authorisations (社区矫正法 art. 29) ------------------------------------------------------


@router.get("/subjects/{subject_id}/authorisations", response={200: list[AuthorisationOut], 404: ErrorOut})
def list_correction_authorisations(request: HttpRequest, subject_id: int) -> Any:
    return [presenters.authorisation_row(a) for a in queries.authorisations(_visible(request, subject_id))]


@router.post("/subjects/{subject_id}/authorisations", response={201: AuthorisationOut, **ERRORS})
def grant_correction_authorisation(request: HttpRequest, subject_id: int, body: GrantIn) -> Any:
    """Electronic monitoring on one of the five grounds, approved by the head of the justice bureau, ≤ 3 months."""
    subject = queries.subject(request.user, subject_id, perms.APPROVE_MONITORING.code)
    authorisation = actions.grant_authorisation(request.user, subject, ground=body.ground, facts=body.facts,
                                                approver=queries.active_user(body.approver, "approver"), starts_at=body.starts_at,
                                                ends_at=body.ends_at)
    return Status(201, presenters.authorisation_row(authorisation))


@router.post("/authorisations/{authorisation_id}/renew", response={200: AuthorisationOut, **ERRORS})
def renew_correction_authorisation(request: HttpRequest, authorisation_id: int, body: RenewIn) -> Any:
    """Another period of at most three months, after an assessment."""
    authorisation = queries.authorisation(request.user, authorisation_id)
    actions.renew_authorisation(request.user, authorisation, assessment=body.assessment,
                                approver=queries.active_user(body.approver, "approver"), ends_at=body.ends_at)
    return presenters.authorisation_row(queries.authorisation(request.user, authorisation_id))


@router.post("/authorisations/{authorisation_id}/end", response={200: AuthorisationOut, **ERRORS})
def end_correction_authorisation(request: HttpRequest, authorisation_id: int, body: EndIn) -> Any:
    """End monitoring now."""
    authorisation = actions.end_authorisation(request.user, queries.authorisation(request.user, authorisation_id),
                                              reason=body.reason)
    return presenters.authorisation_row(authorisation)


# -- the follow code -----------------------------------------------------------------------------------


@router.get("/me/code", response={200: CodeOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut})
def my_follow_code(request: HttpRequest) -> Any:
    """The subject's own follow code (role correction_subject): the token for the QR code and the short code.
    It changes every window (at most 60 s); fetch again at ``refresh_at``."""
    return actions.issue_code(request.user).__dict__


@router.post("/scan", response={200: ScanOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut})
def scan_follow_code(request: HttpRequest, body: ScanIn) -> Any:
    """A checkpoint scans (or types) a follow code: the status colour and what to do, without the identity.
    Rejected codes answer ``valid: false`` with the reason."""
    expected = _visible(request, body.subject_id) if body.subject_id is not None else None
    out = actions.verify_code(request.user, body.code, lon=body.lon, lat=body.lat, accuracy_m=body.accuracy_m,
                              expected_subject=expected)
    return presenters.scan_out(out)


@router.post("/me/check-in", response={200: CheckInOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut})
def my_check_in(request: HttpRequest, body: CheckInIn) -> Any:
    """The subject's daily check-in: a report and a position."""
    row = actions.check_in(request.user, lon=body.lon, lat=body.lat, accuracy_m=body.accuracy_m,
                           mock_location=body.mock_location)
    return {"id": row.pk, "at": row.at, "day": row.day, "fix_id": row.fix_id}



# -- Leave and boundary (请假外出) ---------------------------------------------------------------------

from pingan.corrections.schemas import CarrierOut, LeaveIn, LeaveNoteIn, LeaveOut  # noqa: E402


def _own_or_visible(request: HttpRequest, subject_id: int) -> Subject:
    """The subject for the justice roles that see it, and for the subject's own login (404 otherwise)."""
    return queries.subject(request.user, subject_id, perms.REQUEST_LEAVE.code)


@router.get("/subjects/{subject_id}/leave", response={200: list[LeaveOut], 404: ErrorOut})
def list_correction_leaves(request: HttpRequest, subject_id: int) -> Any:
    """The subject's leave requests, newest first, with their steps."""
    return [presenters.leave_row(x, request.user) for x in queries.leaves(_own_or_visible(request, subject_id))]


@router.post("/subjects/{subject_id}/leave", response={201: LeaveOut, **ERRORS})
def request_correction_leave(request: HttpRequest, subject_id: int, body: LeaveIn) -> Any:
    """A leave request (by the officer, or the subject's own login): at most 30 days; up to 7 days the judicial
    office approves, longer the county justice bureau (``level``)."""
    leave = actions.request_leave(request.user, _own_or_visible(request, subject_id), actions.LeaveInput(
        destination=body.destination, starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason,
        dest_lon=body.dest_lon, dest_lat=body.dest_lat, radius_km=body.radius_km))
    return Status(201, presenters.leave_row(queries.leave(request.user, leave.pk), request.user))


@router.get("/leave", response={200: list[LeaveOut], 403: ErrorOut})
def list_correction_leave(request: HttpRequest, state: str = "pending", decide: bool = False) -> Any:
    """Leaves of the subjects the caller sees (default: the pending ones); ``decide=true``: only those the caller
    may approve or refuse now (the approver's queue)."""
    user = request.user
    if not any(policy.has_perm(user, code) for code in (perms.VIEW_SUBJECT.code, perms.APPROVE_LEAVE.code,
                                                         perms.APPROVE_LONG_LEAVE.code)):
        policy.require(user, perms.APPROVE_LEAVE.code)
    rows = queries.leaves_to_decide(user) if decide else queries.visible_leaves(user, state=state)
    return [presenters.leave_row(x, user) for x in rows[:500]]


def _leave_out(request: HttpRequest, leave_id: int) -> dict[str, Any]:
    return presenters.leave_row(queries.leave(request.user, leave_id), request.user)


@router.post("/leave/{leave_id}/approve", response={200: LeaveOut, **ERRORS})
def approve_correction_leave(request: HttpRequest, leave_id: int, body: LeaveNoteIn | None = None) -> Any:
    """Approve at the caller's level (a judicial office's head forwards a longer leave to the bureau)."""
    actions.approve_leave(request.user, queries.leave(request.user, leave_id), note=(body or LeaveNoteIn()).note)
    return _leave_out(request, leave_id)


@router.post("/leave/{leave_id}/refuse", response={200: LeaveOut, **ERRORS})
def refuse_correction_leave(request: HttpRequest, leave_id: int, body: LeaveNoteIn) -> Any:
    """Refuse, with the reason."""
    actions.refuse_leave(request.user, queries.leave(request.user, leave_id), note=body.note)
    return _leave_out(request, leave_id)


@router.post("/leave/{leave_id}/cancel", response={200: LeaveOut, **ERRORS})
def cancel_correction_leave(request: HttpRequest, leave_id: int, body: LeaveNoteIn | None = None) -> Any:
    """Withdraw before the start (the officer or the subject)."""
    actions.cancel_leave(request.user, queries.leave(request.user, leave_id), note=(body or LeaveNoteIn()).note)
    return _leave_out(request, leave_id)


@router.post("/leave/{leave_id}/return", response={200: LeaveOut, **ERRORS})
def return_correction_leave(request: HttpRequest, leave_id: int, body: LeaveNoteIn | None = None) -> Any:
    """销假: the subject reported back (recorded by the officer)."""
    actions.report_return(request.user, queries.leave(request.user, leave_id), note=(body or LeaveNoteIn()).note)
    return _leave_out(request, leave_id)


# -- Carrier feed ----------------------------------------------------------------------------------------


def _gateway(request: HttpRequest) -> Any:
    """A carrier gateway's API token (``Authorization: Bearer …``) whose user holds ``corrections.ingest_carrier``;
    a browser session is not accepted, so no page can be made to send positions."""
    from pingan.api import TokenAuth
    from pingan.core.errors import PermissionDeniedError

    header = request.headers.get("Authorization", "")
    user = TokenAuth()(request) if header.startswith("Bearer ") else None
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDeniedError("unauthenticated", "send 'Authorization: Bearer <gateway token>'")
    policy.require(user, perms.INGEST_CARRIER.code)
    return user


@router.post("/carrier/positions", auth=None, response={200: CarrierOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut})
def post_carrier_positions(request: HttpRequest) -> Any:
    """A batch of carrier cell positions, a JSON array (or ``{"rows": [...]}``) of
    ``{"phone", "t", "lon", "lat", "accuracy_m", "crs"?}``. Each row is taken on its own: good rows are stored as
    positions of the subject (source ``carrier``), bad ones come back with their index, code and message; a phone
    of no subject in correction is ``unknown_phone``."""
    import json

    user = _gateway(request)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise ValidationFailed("malformed", "the body must be JSON") from None
    rows = body.get("rows") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise ValidationFailed("malformed", "send a JSON array of rows, or {\"rows\": [...]}")
    result = actions.ingest_carrier(user, rows)
    return {"accepted": result.accepted, "rejected": result.rejected, "errors": result.errors}

# -- phone checks (智能电话核查) ---------------------------------------------------------------------------


class PhoneCheckFilters(Schema):
    day: str = Field(default="", description="YYYY-MM-DD (Asia/Shanghai), or 'today'")
    office: str = Field(default="", description="Organisation code of a judicial office")
    level: str = ""
    verdict: str = Field(default="", description="One verdict, or several separated by commas")
    state: str = Field(default="", description="One state, or several separated by commas")


def _day(raw: str) -> Any:
    import datetime as dt

    if not raw:
        return None
    if raw == "today":
        return actions.local_today()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("invalid_day", "day must be YYYY-MM-DD or 'today'", field="day") from None


@router.get("/phone-checks", response={200: list[PhoneCheckOut], 403: ErrorOut, 422: ErrorOut})
@paginate
def list_phone_checks(request: HttpRequest, filters: Query[PhoneCheckFilters]) -> Any:
    """Phone checks of the subjects in the caller's scope, newest first: a day's schedule (``day=today``), the
    missed and failed ones (``state=missed,failed``), by office, level and verdict."""
    policy.require(request.user, perms.VIEW_SUBJECT.code)
    f = filters.dict()
    return [presenters.phone_check_row(c) for c in queries.phone_checks(
        request.user, day=_day(f["day"]), office=f["office"], level=f["level"], verdict=f["verdict"], state=f["state"])]


@router.get("/phone-checks/{check_id}", response={200: PhoneCheckOut, 404: ErrorOut})
def get_phone_check(request: HttpRequest, check_id: int) -> Any:
    return presenters.phone_check_row(queries.phone_check(request.user, check_id))


@router.get("/subjects/{subject_id}/phone-checks", response={200: list[PhoneCheckOut], 404: ErrorOut})
def list_subject_phone_checks(request: HttpRequest, subject_id: int) -> Any:
    """The subject's schedule and results, newest first."""
    subject = _visible(request, subject_id)
    return [presenters.phone_check_row(c) for c in queries.phone_checks(request.user, subject=subject)[:500]]


@router.post("/subjects/{subject_id}/phone-checks", response={201: PhoneCheckOut, **ERRORS})
def start_subject_phone_check(request: HttpRequest, subject_id: int) -> Any:
    """Check the subject now: the call is placed at once (retries, if any, follow by the job)."""
    check = actions.start_phone_check(request.user, _visible(request, subject_id))
    return Status(201, presenters.phone_check_row(queries.phone_check(request.user, check.pk)))


# -- the subject's track (pages: track playback) -----------------------------------------------------


class SubjectTrackQuery(Schema):
    start: dt.datetime = Field(alias="from")
    end: dt.datetime = Field(alias="to")


class SubjectFixOut(Schema):
    id: int
    t: dt.datetime
    lon: float
    lat: float
    accuracy_m: float
    fix_type: str
    source: str


@router.get("/subjects/{subject_id}/track", response={200: list[SubjectFixOut], **ERRORS})
def get_correction_track(request: HttpRequest, subject_id: int, params: Query[SubjectTrackQuery]) -> Any:
    """The subject's positions in a time range (device fixes, scans, check-ins …), in time order, at most 31 days.
    Only for roles that play back tracks and see the subject (a minor's: the supervising officer); every read is
    audited as ``pingan.subject.track_viewed``."""
    subject = _visible(request, subject_id)
    return [{"id": f.pk, "t": f.device_time, "lon": f.lon, "lat": f.lat, "accuracy_m": f.accuracy_m,
             "fix_type": f.fix_type, "source": f.source}
            for f in queries.track(request.user, subject, params.start, params.end)]


# Core areas and reverse warnings ----------------------------------------------------------------------

import datetime as _dt  # noqa: E402

from pingan.corrections.schemas import (  # noqa: E402
    CoreAreaIn,
    CoreAreaOut,
    CoreAreaUpdateIn,
    FigureOut,
    FoundIn,
    VerifyIn,
    VersionIn,
    WarningDetailOut,
    WarningDismissIn,
    WarningEscalateIn,
    WarningOut,
)
from pingan.tracking.models import TargetGroup  # noqa: E402


class CoreAreaFilters(Schema):
    active: bool | None = None


class WarningFilters(Schema):
    state: str = Field(default="active", description="active (open or being verified), recent, or states by comma")
    core_area: int | None = None
    late: bool | None = None
    since_id: int | None = None


class FigureQuery(Schema):
    start: _dt.datetime
    end: _dt.datetime
    group_by: str = Field(default="town", description="town, officer or day")


def _groups(codes: list[str]) -> list[TargetGroup]:
    found = {g.code: g for g in TargetGroup.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationFailed("unknown_group", f"no target group {missing[0]!r}", field="groups")
    return [found[c] for c in codes]


def _post(code: str | None) -> Organisation | None:
    if not code:
        return None
    org = Organisation.objects.filter(code=code).first()
    if org is None:
        raise ValidationFailed("unknown_organisation", f"no organisation {code!r}", field="police_post")
    return org


@router.get("/core-areas", response={200: list[CoreAreaOut], 403: ErrorOut})
def list_core_areas(request: HttpRequest, filters: Query[CoreAreaFilters]) -> Any:
    """The core areas the caller manages (the head of the justice bureau, the district admin)."""
    policy.require(request.user, perms.MANAGE_CORE_AREA.code)
    return [presenters.core_area_row(c) for c in queries.core_areas(request.user, active=filters.active)]


@router.post("/core-areas", response={201: CoreAreaOut, **ERRORS})
def create_core_area(request: HttpRequest, body: CoreAreaIn) -> Any:
    """A core area: its shape, schedule, whom it applies to, its police post and verification time limit."""
    policy.require(request.user, perms.MANAGE_CORE_AREA.code)
    core = actions.create_core_area(request.user, actions.CoreAreaInput(
        name=body.name, description=body.description, area=geo_queries.area_by_code(body.area, "area"), shape=body.shape,
        coords=body.coords, radius_m=body.radius_m, schedule=body.schedule, applies_to=body.applies_to,
        levels=list(body.levels), groups=_groups(body.groups), police_post=_post(body.police_post),
        verify_minutes=body.verify_minutes, buffer_m=body.buffer_m))
    return Status(201, presenters.core_area_row(queries.core_area(request.user, core.pk)))


@router.get("/core-areas/{core_id}", response={200: CoreAreaOut, 403: ErrorOut, 404: ErrorOut})
def get_core_area(request: HttpRequest, core_id: int) -> Any:
    policy.require(request.user, perms.MANAGE_CORE_AREA.code)
    return presenters.core_area_row(queries.core_area(request.user, core_id))


@router.post("/core-areas/{core_id}", response={200: CoreAreaOut, **ERRORS})
def update_core_area(request: HttpRequest, core_id: int, body: CoreAreaUpdateIn) -> Any:
    """Change the schedule, whom it applies to, the police post, the time limit (409 on a stale version)."""
    policy.require(request.user, perms.MANAGE_CORE_AREA.code)
    core = queries.core_area(request.user, core_id)
    kwargs: dict[str, Any] = {}
    if body.schedule is not None or body.clear_schedule:
        kwargs["schedule"] = None if body.clear_schedule else body.schedule
    if body.police_post is not None or body.clear_police_post:
        kwargs["police_post"] = None if body.clear_police_post else _post(body.police_post)
    actions.update_core_area(request.user, core, version=body.version, name=body.name, description=body.description,
                             applies_to=body.applies_to, levels=body.levels,
                             groups=_groups(body.groups) if body.groups is not None else None,
                             verify_minutes=body.verify_minutes, buffer_m=body.buffer_m, **kwargs)
    return presenters.core_area_row(queries.core_area(request.user, core_id))


@router.post("/core-areas/{core_id}/deactivate", response={200: CoreAreaOut, **ERRORS})
def deactivate_core_area(request: HttpRequest, core_id: int, body: VersionIn) -> Any:
    policy.require(request.user, perms.MANAGE_CORE_AREA.code)
    core = queries.core_area(request.user, core_id)
    actions.deactivate_core_area(request.user, core, version=body.version)
    return presenters.core_area_row(queries.core_area(request.user, core_id))


@router.get("/warnings", response={200: list[WarningOut], 403: ErrorOut})
@paginate
def list_core_area_warnings(request: HttpRequest, filters: Query[WarningFilters]) -> Any:
    """Core-area warnings of the subjects the caller may see, newest first, each with its deadline."""
    policy.require(request.user, perms.VIEW_SUBJECT.code)
    return presenters.WarningPage(queries.warnings(
        request.user, state=filters.state, core_area_id=filters.core_area, late=filters.late, since_id=filters.since_id),
        request.user)


@router.get("/warnings/figures", response={200: list[FigureOut], 403: ErrorOut, 422: ErrorOut})
def core_area_warning_figures(request: HttpRequest, params: Query[FigureQuery]) -> Any:
    """Raised, verified in time or late, dismissed, escalated (by a person, automatically), open — by town,
    officer or day."""
    policy.require(request.user, perms.VIEW_SUBJECT.code)
    return queries.warning_figures(request.user, params.start, params.end, group_by=params.group_by)


def _warning(request: HttpRequest, alert_id: int) -> Any:
    return queries.warning(request.user, alert_id)


def _warning_out(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    return presenters.warning_detail(queries.warning(request.user, alert_id), request.user)


@router.get("/warnings/{alert_id}", response={200: WarningDetailOut, 404: ErrorOut})
def get_core_area_warning(request: HttpRequest, alert_id: int) -> Any:
    """One warning with its steps so far."""
    return _warning_out(request, alert_id)


@router.post("/warnings/{alert_id}/verify", response={200: WarningDetailOut, **ERRORS})
def verify_core_area_warning(request: HttpRequest, alert_id: int, body: VerifyIn) -> Any:
    """Start verifying (the officer contacts the subject or goes on site)."""
    actions.start_verifying(request.user, _warning(request, alert_id), note=body.note, version=body.version)
    return _warning_out(request, alert_id)


@router.post("/warnings/{alert_id}/found", response={200: WarningDetailOut, **ERRORS})
def record_core_area_finding(request: HttpRequest, alert_id: int, body: FoundIn) -> Any:
    """What verifying found, and how."""
    actions.record_finding(request.user, _warning(request, alert_id), method=body.method, text=body.text)
    return _warning_out(request, alert_id)


@router.post("/warnings/{alert_id}/dismiss", response={200: WarningDetailOut, **ERRORS})
def dismiss_core_area_warning(request: HttpRequest, alert_id: int, body: WarningDismissIn) -> Any:
    """Nothing wrong: an authorised visit, a position error, or another reason (with a note)."""
    actions.dismiss_warning(request.user, _warning(request, alert_id), reason=body.reason, note=body.note,
                            version=body.version)
    return _warning_out(request, alert_id)


@router.post("/warnings/{alert_id}/escalate", response={200: WarningDetailOut, **ERRORS})
def escalate_core_area_warning(request: HttpRequest, alert_id: int, body: WarningEscalateIn) -> Any:
    """Something is wrong: a police event in the closed loop, routed to the place's area."""
    actions.escalate_warning(request.user, _warning(request, alert_id), note=body.note, version=body.version)
    return _warning_out(request, alert_id)

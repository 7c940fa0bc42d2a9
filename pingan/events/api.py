import datetime as dt
from typing import Any

from django.db.models import Avg, Count, F, Min, Q
from django.db.models.functions import Floor
from django.http import FileResponse, HttpRequest
from ninja import File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core.errors import NotFoundError, ValidationFailed
from pingan.events import actions, notify, presenters, queries
from pingan.events import permissions as ep
from pingan.events.models import Attachment, Event, EventType, Extension, Task
from pingan.events.schemas import (
    AttachmentOut,
    CloseIn,
    ClustersOut,
    CompleteTaskIn,
    DispatchIn,
    ErrorOut,
    EventListOut,
    EventOut,
    EventTypeOut,
    ExtensionDecideIn,
    ExtensionRequestIn,
    MarkedOut,
    MarkReadIn,
    MergeIn,
    NoteIn,
    NotificationOut,
    ParkIn,
    ReasonIn,
    ReportIn,
    RequiredNoteIn,
    ResolveIn,
    SuperviseIn,
    TimelineOut,
    VersionIn,
)
from pingan.geo.queries import cell_size

router = Router(tags=["events"])

ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ACT = {200: EventOut, **ERRORS}
RELATED = ("event_type", "event_type__parent", "area", "lead_unit", "reporter", "village", "town", "workstation")


class EventFilters(Schema):
    state: str = Field(default="", description="One state, or several separated by commas.")
    type: str = Field(default="", description="EventType code (a first-level type includes its subtypes).")
    area: str = Field(default="", description="Area code: events in its subtree.")
    date_from: dt.date | None = Field(default=None, alias="from", description="Reported on or after.")
    date_to: dt.date | None = Field(default=None, alias="to", description="Reported on or before.")
    overdue: bool | None = None
    unit: str = Field(default="", description="Organisation code of a handling unit.")
    box: str = Field(default="", description="An inbox: to_accept, to_handle, to_verify, returned, overdue, "
                                               "supervised, parked, mine.")


class ClusterQuery(EventFilters):
    zoom: int = Field(default=12, ge=0, le=22)
    bbox: str = Field(default="", description="min_lon,min_lat,max_lon,max_lat")


def filtered_events(request: HttpRequest, filters: EventFilters) -> Any:
    """The caller's events (policy-scoped by the queries), narrowed by the filters."""
    return queries.filtered(request.user, **filters.dict(by_alias=False))


def get_visible(request: HttpRequest, event_id: int) -> Event:
    """The event when the caller may see it; 404 otherwise (never confirm what is out of scope)."""
    event = Event.objects.select_related(*RELATED).filter(pk=event_id).first()
    if event is None or not policy.can(request.user, ep.VIEW_EVENT.code, event):
        raise NotFoundError("not_found", "no such event")
    return event


def detail(request: HttpRequest, event: Event) -> dict[str, Any]:
    return presenters.event_detail(get_visible(request, event.pk), request.user)


def organisation(code: str) -> Organisation:
    org = Organisation.objects.filter(code=code, is_active=True).first()
    if org is None:
        raise ValidationFailed("unknown_unit", f"no active organisation {code!r}", unit=code)
    return org


# -- lists, types, notifications, map clusters ------------------------------------------------------


@router.get("", response={200: list[EventListOut], 403: ErrorOut})
@paginate
def list_events(request: HttpRequest, filters: Query[EventFilters]) -> Any:
    """Events in the caller's scope, newest first, with filters (and ``box`` for one inbox)."""
    policy.require(request.user, ep.VIEW_EVENT.code)
    qs = filtered_events(request, filters).select_related("event_type", "event_type__parent", "area", "lead_unit")
    return [presenters.event_row(e) for e in qs]


@router.post("", response={201: EventOut, **ERRORS, 429: ErrorOut})
def create_event(request: HttpRequest, body: ReportIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """Report an event. Send an ``Idempotency-Key`` header to make retries safe: the same key (per user)
    with the same body returns the same event; with a different body, 422."""
    data = actions.ReportInput(**body.dict())
    event = actions.report_event(request.user, data, idempotency_key=idempotency_key,
                                 client_ip=request.META.get("REMOTE_ADDR"))
    # The reporter gets their report back even when it lies outside what they may otherwise see. An event
    # reported now comes back with its relations loaded; a replayed one (same Idempotency-Key) is read again.
    if not event.reported_now:
        event = Event.objects.select_related(*RELATED).get(pk=event.pk)
        return Status(201, presenters.event_detail(event, request.user))
    return Status(201, presenters.event_detail(event, request.user, just_reported=True,
                                               with_persons=bool(data.person_ids)))


@router.get("/types", response=list[EventTypeOut])
def list_event_types(request: HttpRequest) -> Any:
    """The active event types (two levels)."""
    return [
        {"code": t.code, "name": t.name, "name_en": t.name_en, "parent_code": t.parent.code if t.parent else None,
         "is_dispute": t.is_dispute}
        for t in EventType.objects.filter(is_active=True).select_related("parent").order_by("order", "code")
    ]


@router.get("/notifications", response=list[NotificationOut])
def list_event_notifications(request: HttpRequest) -> Any:
    """The caller's unread in-app notifications."""
    return [
        {"id": n.pk, "kind": n.kind, "text": n.text, "event_id": n.event_id, "created_at": n.created_at, "read_at": n.read_at}
        for n in notify.unread_for(request.user)  # type: ignore[arg-type]  # auth guarantees a User
    ]


@router.post("/notifications/read", response=MarkedOut)
def read_event_notifications(request: HttpRequest, body: MarkReadIn) -> Any:
    """Mark the caller's notifications read (the given ids, or all when empty)."""
    return {"marked": notify.mark_read(request.user, body.ids or None)}  # type: ignore[arg-type]


@router.get("/clusters", response={200: ClustersOut, 403: ErrorOut, 422: ErrorOut})
def event_clusters(request: HttpRequest, params: Query[ClusterQuery]) -> Any:
    """Events on the map, grouped into grid cells for the zoom level (server-side clustering)."""
    policy.require(request.user, ep.VIEW_EVENT.code)
    filters = EventFilters(**params.dict(by_alias=True, exclude={"zoom", "bbox"}))
    ids = filtered_events(request, filters).order_by().values("pk")
    qs = Event.objects.filter(pk__in=ids)
    if params.bbox:
        try:
            x0, y0, x1, y1 = (float(v) for v in params.bbox.split(","))
        except ValueError:
            raise ValidationFailed("bad_bbox", "bbox is min_lon,min_lat,max_lon,max_lat") from None
        qs = qs.filter(lon__gte=x0, lon__lte=x1, lat__gte=y0, lat__lte=y1)
    size = cell_size(params.zoom)
    cells = list(
        qs.annotate(cx=Floor(F("lon") / size), cy=Floor(F("lat") / size))
        .values("cx", "cy")
        .annotate(n=Count("id"), lon=Avg("lon"), lat=Avg("lat"), first=Min("id"),
                  late=Count("id", filter=Q(overdue=True)))
        .order_by("cx", "cy")
    )
    singles = {e.pk: e for e in Event.objects.filter(pk__in=[c["first"] for c in cells if c["n"] == 1])
               .only("id", "number", "state", "overdue", "lon", "lat")}
    clusters = []
    for c in cells:
        one = singles.get(c["first"]) if c["n"] == 1 else None
        clusters.append({
            "lon": one.lon if one else c["lon"], "lat": one.lat if one else c["lat"], "count": c["n"],
            "id": one.pk if one else None, "number": one.number if one else None, "state": one.state if one else None,
            "overdue": bool(c["late"]),
        })
    return {"cell_deg": size, "total": sum(c["n"] for c in cells), "clusters": clusters}


@router.get("/attachments/{attachment_id}", response={200: None, 404: ErrorOut})
def get_event_attachment(request: HttpRequest, attachment_id: int) -> Any:
    """An attachment's file, only to those who may see its event."""
    attachment = Attachment.objects.select_related("event").filter(pk=attachment_id).first()
    if attachment is None or not policy.can(request.user, ep.VIEW_EVENT.code, attachment.event):
        raise NotFoundError("not_found", "no such attachment")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type,
                            as_attachment=not attachment.is_image, filename=attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


# -- one event --------------------------------------------------------------------------------------


@router.get("/{event_id}", response={200: EventOut, 404: ErrorOut})
def get_event(request: HttpRequest, event_id: int) -> Any:
    """The event: masked persons, tasks, deadlines, flags, and the transitions the caller may do now."""
    return presenters.event_detail(get_visible(request, event_id), request.user)


@router.get("/{event_id}/timeline", response={200: list[TimelineOut], 404: ErrorOut})
def event_timeline(request: HttpRequest, event_id: int) -> Any:
    """Every transition and note, oldest first."""
    return presenters.timeline_rows(queries.timeline(get_visible(request, event_id)))


@router.get("/{event_id}/duplicates", response={200: list[EventListOut], 404: ErrorOut})
def event_duplicates(request: HttpRequest, event_id: int) -> Any:
    """Open events of the same type nearby (200 m, 7 days) that the caller may see: candidates to merge."""
    event = get_visible(request, event_id)
    candidates = actions.possible_duplicates(event)
    visible = policy.restrict(request.user, ep.VIEW_EVENT.code, candidates)
    return [presenters.event_row(e) for e in visible.select_related("event_type", "event_type__parent", "area", "lead_unit")]


@router.post("/{event_id}/attachments", response={201: AttachmentOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                                   413: ErrorOut, 422: ErrorOut})
def upload_event_attachment(request: HttpRequest, event_id: int, file: File[UploadedFile | None] = None,
                      stage: Form[str] = "report") -> Any:
    """Attach a photo (JPEG, PNG, WebP; location and other metadata are stripped) or a PDF, as the multipart
    field ``file``. The type is checked by content; the size limit is PINGAN_UPLOAD_MAX_BYTES (413 above it)."""
    event = get_visible(request, event_id)
    if file is None:
        raise ValidationFailed("file_required", "send the file as the multipart field 'file'", field="file")
    attachment = actions.add_attachment(request.user, event, upload=file, stage=stage)
    return Status(201, next(a for a in presenters.attachments(event) if a["id"] == attachment.pk))


# -- transitions: POST /{event_id}/{action}, each with its own body --------------------------------


@router.post("/{event_id}/accept", response=ACT)
def event_accept(request: HttpRequest, event_id: int, body: NoteIn | None = None) -> Any:
    """reported → accepted."""
    body = body or NoteIn()
    event = actions.accept_event(request.user, get_visible(request, event_id), note=body.note, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/reject", response=ACT)
def event_reject(request: HttpRequest, event_id: int, body: ReasonIn) -> Any:
    """reported → rejected, with a reason."""
    event = actions.reject_event(request.user, get_visible(request, event_id), reason=body.reason, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/merge", response=ACT)
def event_merge(request: HttpRequest, event_id: int, body: MergeIn) -> Any:
    """reported | accepted → merged into another event (a duplicate)."""
    event = get_visible(request, event_id)
    try:
        into = get_visible(request, body.into)
    except NotFoundError:
        raise ValidationFailed("unknown_event", "no such event to merge into", into=body.into) from None
    event = actions.merge_event(request.user, event, into=into, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/dispatch", response=ACT)
def event_dispatch(request: HttpRequest, event_id: int, body: DispatchIn) -> Any:
    """accepted | returned → dispatched to a lead unit and optional assisting units (one task each)."""
    event = get_visible(request, event_id)
    lead = organisation(body.lead_unit)
    assisting = [organisation(code) for code in body.assisting_units]
    event = actions.dispatch_event(request.user, event, lead_unit=lead, assisting_units=assisting, note=body.note,
                                   version=body.version)
    return detail(request, event)


@router.post("/{event_id}/return", response=ACT)
def event_send_back(request: HttpRequest, event_id: int, body: ReasonIn) -> Any:
    """dispatched → returned (退回) to the dispatcher by a lead unit that is not responsible."""
    event = actions.return_event(request.user, get_visible(request, event_id), reason=body.reason, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/start", response=ACT)
def event_start(request: HttpRequest, event_id: int, body: VersionIn | None = None) -> Any:
    """dispatched → in progress (the lead unit)."""
    body = body or VersionIn()
    event = actions.start_event(request.user, get_visible(request, event_id), version=body.version)
    return detail(request, event)


@router.post("/{event_id}/progress", response=ACT)
def event_progress(request: HttpRequest, event_id: int, body: RequiredNoteIn) -> Any:
    """A progress note while in progress."""
    event = get_visible(request, event_id)
    actions.add_progress(request.user, event, note=body.note)
    return detail(request, event)


@router.post("/{event_id}/complete-task", response=ACT)
def event_complete_task(request: HttpRequest, event_id: int, body: CompleteTaskIn) -> Any:
    """An assisting unit finishes its task."""
    event = get_visible(request, event_id)
    if body.task is not None:
        task = Task.objects.filter(pk=body.task, event=event).first()
    else:
        task = presenters.own_open_task(request.user, event)
    if task is None:
        raise NotFoundError("no_task", "no such task on this event")
    actions.complete_task(request.user, task, note=body.note)
    return detail(request, event)


@router.post("/{event_id}/resolve", response=ACT)
def event_resolve(request: HttpRequest, event_id: int, body: ResolveIn) -> Any:
    """in progress → resolved (result, measures, how), once every assisting task is done."""
    event = actions.resolve_event(request.user, get_visible(request, event_id), result=body.result,
                                  measures=body.measures, method=body.method, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/verify", response=ACT)
def event_verify(request: HttpRequest, event_id: int, body: NoteIn | None = None) -> Any:
    """resolved → verified (the reporter or a grid worker of the event's grid)."""
    body = body or NoteIn()
    event = actions.verify_event(request.user, get_visible(request, event_id), note=body.note, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/rework", response=ACT)
def event_rework(request: HttpRequest, event_id: int, body: ReasonIn) -> Any:
    """resolved → in progress again, with a reason."""
    event = actions.rework_event(request.user, get_visible(request, event_id), reason=body.reason, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/close", response=ACT)
def event_close(request: HttpRequest, event_id: int, body: CloseIn) -> Any:
    """verified → closed with the reporter's satisfaction (1–5); 1 or 2 reopens it at once."""
    event = actions.close_event(request.user, get_visible(request, event_id), satisfaction=body.satisfaction,
                                note=body.note, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/escalate", response=ACT)
def event_escalate(request: HttpRequest, event_id: int, body: ReasonIn) -> Any:
    """Up one level (grid → workstation → town → district); the state stays."""
    event = actions.escalate_event(request.user, get_visible(request, event_id), reason=body.reason, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/supervise", response=ACT)
def event_supervise(request: HttpRequest, event_id: int, body: SuperviseIn) -> Any:
    """Mark for attention from above (督办), with a note and a deadline."""
    event = actions.supervise_event(request.user, get_visible(request, event_id), note=body.note, due=body.due,
                                    version=body.version)
    return detail(request, event)


@router.post("/{event_id}/reopen", response=ACT)
def event_reopen(request: HttpRequest, event_id: int, body: ReasonIn) -> Any:
    """closed → dispatched again (same number, history kept), within the reopen window."""
    event = actions.reopen_event(request.user, get_visible(request, event_id), reason=body.reason, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/park", response=ACT)
def event_park(request: HttpRequest, event_id: int, body: ParkIn) -> Any:
    """Park (挂账) with a reason and a review date."""
    event = actions.park_event(request.user, get_visible(request, event_id), reason=body.reason,
                               review_on=body.review_on, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/unpark", response=ACT)
def event_unpark(request: HttpRequest, event_id: int, body: NoteIn | None = None) -> Any:
    """parked → the state it came from."""
    body = body or NoteIn()
    event = actions.unpark_event(request.user, get_visible(request, event_id), note=body.note, version=body.version)
    return detail(request, event)


@router.post("/{event_id}/extension-request", response=ACT)
def event_extension_request(request: HttpRequest, event_id: int, body: ExtensionRequestIn) -> Any:
    """The handling unit asks for more time (延期申请)."""
    event = get_visible(request, event_id)
    actions.request_extension(request.user, event, reason=body.reason, new_due=body.new_due)
    return detail(request, event)


@router.post("/{event_id}/extension-decide", response=ACT)
def event_extension_decide(request: HttpRequest, event_id: int, body: ExtensionDecideIn) -> Any:
    """The dispatcher approves (the deadline moves) or refuses an extension request."""
    event = get_visible(request, event_id)
    if body.extension is not None:
        extension = Extension.objects.filter(pk=body.extension, event=event).first()
    else:
        extension = presenters.pending_extension(event)
    if extension is None:
        raise NotFoundError("no_extension", "no such extension request on this event")
    actions.decide_extension(request.user, extension, approve=body.approve, note=body.note)
    return detail(request, event)

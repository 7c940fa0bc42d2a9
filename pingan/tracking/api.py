"""The tracking API: the HTTP door for fixes, targets, devices, zones, positions, tracks and alerts."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from pingan.accounts import policy
from pingan.accounts.models import Organisation
from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.geo import queries as geo_queries
from pingan.tracking import actions, pipeline, presenters, queries
from pingan.tracking import permissions as perms
from pingan.tracking.schemas import (
    AlertActIn,
    AlertDetailOut,
    AlertOut,
    DeviceIn,
    DeviceKeyOut,
    DismissIn,
    ErrorOut,
    FixOut,
    IngestOut,
    MonitoringIn,
    NoteIn,
    PositionsOut,
    TargetIn,
    TargetOut,
    ZoneIn,
    ZoneOut,
)

router = Router(tags=["tracking"])

ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ACT = {200: AlertDetailOut, **ERRORS}


# --- the HTTP door --------------------------------------------------------------------------------


def _device_auth(request: HttpRequest) -> tuple[Any, bool]:
    """``Authorization: Device <uid>:<key>`` → that device; otherwise a gateway's API token (``Bearer``; a
    browser session is not accepted here, so no page can be tricked into sending fixes) whose user holds
    ``tracking.ingest_fixes`` may send rows naming any device."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Device "):
        uid, _sep, key = header[7:].strip().partition(":")
        device = pipeline.authenticate_device(uid, key)
        if device is None:
            pipeline.bump_counter("http", "bad_device_key")
            raise PermissionDeniedError("bad_device_key", "unknown device or wrong key")
        return device, False
    from pingan.api import TokenAuth

    user = TokenAuth()(request) if header.startswith("Bearer ") else None
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDeniedError("unauthenticated", "send 'Authorization: Device <uid>:<key>' or a gateway token")
    if not policy.has_perm(user, perms.INGEST_FIXES.code):
        raise PermissionDeniedError("permission_denied", f"not allowed: {perms.INGEST_FIXES.code}")
    return None, True


@router.post("/fixes", auth=None, response={200: IngestOut, 400: ErrorOut, 403: ErrorOut, 413: ErrorOut, 422: ErrorOut})
def post_fixes(request: HttpRequest) -> Any:
    """Fixes as a JSON array or NDJSON (``{"t", "lon", "lat", "crs", "accuracy", "fix_type", "speed", "heading"}``,
    plus ``device`` from a gateway). Each row is checked on its own: good rows are stored and evaluated, bad
    ones come back with their index and reason. A fix sent again (same device and device time) changes nothing."""
    device, gateway = _device_auth(request)
    rows = pipeline.parse_body(request.body)
    result = pipeline.submit(rows, source="http", device=device, gateway=gateway,
                             raw_ref=f"http:{request.META.get('HTTP_X_REQUEST_ID', '')[:40]}")
    return {"accepted": result.accepted, "duplicates": result.duplicates, "published": result.published,
            "rejected": len(result.errors), "errors": [e.__dict__ for e in result.errors], "alerts": result.alerts}


# --- targets, devices, tracks ----------------------------------------------------------------------


class TargetFilters(Schema):
    monitored: bool | None = None
    kind: str = ""
    area: str = Field(default="", description="Area code: targets whose home area is in its subtree")


@router.get("/targets", response={200: list[TargetOut], 403: ErrorOut})
@paginate
def list_targets(request: HttpRequest, filters: Query[TargetFilters]) -> Any:
    policy.require(request.user, perms.VIEW_TARGET.code)
    qs = queries.targets(request.user).order_by("id")
    if filters.monitored is not None:
        qs = qs.filter(monitored=filters.monitored)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.area:
        qs = qs.filter(area__code__startswith=filters.area)
    return [presenters.target_row(t) for t in qs]


@router.post("/targets", response={201: TargetOut, **ERRORS})
def create_target(request: HttpRequest, body: TargetIn) -> Any:
    organisation = None
    if body.organisation:
        organisation = Organisation.objects.filter(code=body.organisation).first()
        if organisation is None:
            raise ValidationFailed("unknown_organisation", f"no organisation {body.organisation}", field="organisation")
    target = actions.create_target(request.user, kind=body.kind, label=body.label, area=geo_queries.area_by_code(body.area),
                                   organisation=organisation, interval_s=body.interval_s, monitored=body.monitored)
    return Status(201, presenters.target_row(target))


@router.get("/targets/{target_id}", response={200: TargetOut, 404: ErrorOut})
def get_target(request: HttpRequest, target_id: int) -> Any:
    return presenters.target_row(queries.target(request.user, target_id))


@router.post("/targets/{target_id}/monitoring", response={200: TargetOut, **ERRORS})
def set_monitoring(request: HttpRequest, target_id: int, body: MonitoringIn) -> Any:
    target = queries.target(request.user, target_id)
    return presenters.target_row(actions.set_monitoring(request.user, target, on=body.on, reason=body.reason))


@router.post("/targets/{target_id}/devices", response={201: DeviceKeyOut, **ERRORS})
def register_device(request: HttpRequest, target_id: int, body: DeviceIn) -> Any:
    target = queries.target(request.user, target_id)
    device, key = actions.register_device(request.user, target, uid=body.uid, name=body.name, crs=body.crs)
    return Status(201, {"uid": device.uid, "key": key})


class TrackQuery(Schema):
    start: dt.datetime = Field(alias="from")
    end: dt.datetime = Field(alias="to")


@router.get("/targets/{target_id}/track", response={200: list[FixOut], **ERRORS})
def get_track(request: HttpRequest, target_id: int, params: Query[TrackQuery]) -> Any:
    """The target's fixes in a time range, in device-time order (at most 20,000). Every call is audited."""
    target = queries.target(request.user, target_id)
    return [{"id": f.pk, "t": f.device_time, "lon": f.lon, "lat": f.lat, "accuracy_m": f.accuracy_m,
             "fix_type": f.fix_type, "speed_kmh": f.speed_kmh, "heading": f.heading, "source": f.source}
            for f in queries.track(request.user, target, params.start, params.end)]


class PositionQuery(Schema):
    zoom: int = Field(default=12, ge=0, le=22)
    bbox: str = Field(default="", description="min_lon,min_lat,max_lon,max_lat")


@router.get("/positions", response={200: PositionsOut, 403: ErrorOut, 422: ErrorOut})
def positions(request: HttpRequest, params: Query[PositionQuery]) -> Any:
    """The latest positions of the targets the caller may see, clustered on the server for the zoom."""
    policy.require(request.user, perms.VIEW_TARGET.code)
    bbox = None
    if params.bbox:
        try:
            x0, y0, x1, y1 = (float(v) for v in params.bbox.split(","))
        except ValueError:
            raise ValidationFailed("bad_bbox", "bbox is min_lon,min_lat,max_lon,max_lat") from None
        bbox = (x0, y0, x1, y1)
    return queries.positions(request.user, zoom=params.zoom, bbox=bbox)


# --- zones ----------------------------------------------------------------------------------------


def _zone_row(zone: Any) -> dict[str, Any]:
    return {"id": zone.pk, "name": zone.name, "kind": zone.kind, "shape": zone.shape, "coords": zone.coords,
            "radius_m": zone.radius_m, "width_m": zone.width_m, "ring_m": zone.ring_m, "fast": zone.fast,
            "speed_limit_kmh": zone.speed_limit_kmh, "schedule": zone.schedule, "applies_to_all": zone.applies_to_all,
            "area": zone.area.code, "is_active": zone.is_active}


@router.get("/zones", response={200: list[ZoneOut], 403: ErrorOut})
@paginate
def list_zones(request: HttpRequest) -> Any:
    policy.require(request.user, perms.VIEW_TARGET.code)
    return [_zone_row(z) for z in queries.zones(request.user).order_by("id")]


@router.post("/zones", response={201: ZoneOut, **ERRORS})
def create_zone(request: HttpRequest, body: ZoneIn) -> Any:
    members = list(queries.targets(request.user).filter(pk__in=body.targets))
    if len(members) != len(set(body.targets)):
        raise ValidationFailed("unknown_target", "some targets are unknown or out of scope", field="targets")
    zone = actions.create_zone(request.user, name=body.name, kind=body.kind, shape=body.shape, coords=body.coords,
                               area=geo_queries.area_by_code(body.area), radius_m=body.radius_m, width_m=body.width_m, ring_m=body.ring_m,
                               fast=body.fast, speed_limit_kmh=body.speed_limit_kmh,
                               speed_duration_s=body.speed_duration_s, schedule=body.schedule,
                               applies_to_all=body.applies_to_all, targets=members)
    return Status(201, _zone_row(zone))


@router.get("/zones/{zone_id}", response={200: ZoneOut, 404: ErrorOut})
def get_zone(request: HttpRequest, zone_id: int) -> Any:
    zone = queries.zones(request.user).filter(pk=zone_id).first()
    if zone is None:
        raise NotFoundError("not_found", "no such zone")
    return _zone_row(zone)


# --- alerts ---------------------------------------------------------------------------------------


class AlertFilters(Schema):
    state: str = Field(default="", description="A state, several separated by commas, or 'active' (open + acknowledged)")
    rule: str = ""
    target: int | None = None
    since_id: int | None = Field(default=None, description="Only alerts newer than this id (for polling)")


@router.get("/alerts", response={200: list[AlertOut], 403: ErrorOut})
@paginate
def list_alerts(request: HttpRequest, filters: Query[AlertFilters]) -> Any:
    """Alerts in the caller's scope, newest first."""
    policy.require(request.user, perms.VIEW_ALERT.code)
    qs = queries.alerts(request.user, state=filters.state, rule=filters.rule, target_id=filters.target,
                        since_id=filters.since_id)
    return [presenters.alert_row(a) for a in qs]


@router.get("/alerts/{alert_id}", response={200: AlertDetailOut, 404: ErrorOut})
def get_alert(request: HttpRequest, alert_id: int) -> Any:
    return presenters.alert_detail(queries.alert(request.user, alert_id), request.user)


@router.post("/alerts/{alert_id}/acknowledge", response=ACT)
def acknowledge(request: HttpRequest, alert_id: int, body: AlertActIn) -> Any:
    alert = actions.acknowledge_alert(request.user, queries.alert(request.user, alert_id), note=body.note,
                                      version=body.version)
    return presenters.alert_detail(alert, request.user)


@router.post("/alerts/{alert_id}/dismiss", response=ACT)
def dismiss(request: HttpRequest, alert_id: int, body: DismissIn) -> Any:
    alert = actions.dismiss_alert(request.user, queries.alert(request.user, alert_id), reason=body.reason, note=body.note,
                                  version=body.version)
    return presenters.alert_detail(alert, request.user)


@router.post("/alerts/{alert_id}/escalate", response=ACT)
def escalate(request: HttpRequest, alert_id: int, body: AlertActIn) -> Any:
    alert = actions.escalate_alert(request.user, queries.alert(request.user, alert_id), note=body.note,
                                   version=body.version)
    return presenters.alert_detail(alert, request.user)


@router.post("/alerts/{alert_id}/close", response=ACT)
def close(request: HttpRequest, alert_id: int, body: AlertActIn) -> Any:
    alert = actions.close_alert(request.user, queries.alert(request.user, alert_id), note=body.note, version=body.version)
    return presenters.alert_detail(alert, request.user)


@router.post("/alerts/{alert_id}/note", response=ACT)
def note(request: HttpRequest, alert_id: int, body: NoteIn) -> Any:
    alert = queries.alert(request.user, alert_id)
    actions.note_alert(request.user, alert, note=body.note)
    return presenters.alert_detail(alert, request.user)

"""Every change of tracking state: targets, devices and monitoring; zones; the alert lifecycle
(open → acknowledged → dismissed | escalated → closed).

Like the closed loop's actions: the permission and scope are checked with the access policy, the state is
checked, the write is a conditional ``UPDATE … WHERE version = ?`` (a concurrent writer gets 409
``stale_version``), each step is one ``AlertStep`` and one audit entry ``pingan.alert.<verb>``, and
notifications go out after the commit. ``actor`` may be a string naming a system channel (``"system"``,
``"demo"``, ``"test"``), which skips the permission checks.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from pingan.accounts import policy
from pingan.accounts.models import Organisation, Person, User
from pingan.core import audit, clock, counters
from pingan.core.errors import ConflictError, PermissionDeniedError, ValidationFailed, clean_text
from pingan.geo.coords import CRS_NAMES
from pingan.geo.models import Area
from pingan.tracking import engine as eng
from pingan.tracking import permissions as perms
from pingan.tracking.models import (
    ACTIVE_ALERT_STATES,
    Alert,
    AlertSequence,
    AlertState,
    AlertStep,
    Device,
    DismissReason,
    Fix,
    Severity,
    Target,
    TargetGroup,
    TargetKind,
    Zone,
    ZoneKind,
    ZoneShape,
)
from pingan.tracking.schedule import Schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
Actor = Any

RULE_LABELS = {
    "zone_exclusion": _("entered a forbidden zone"),
    "zone_inclusion": _("left the permitted zone"),
    "zone_ring": _("near a forbidden zone"),
    "speed": _("over the speed limit"),
    "crossing": _("crossed a forbidden zone"),
    "lost_contact": _("lost contact"),
}


def label_rule(rule: str, label: Any) -> None:
    """The words for an extension's rule (如燕, 途安在线) in alert texts and pages."""
    RULE_LABELS[rule] = label


#: called with each new alert inside the transaction that opens it (after its "raised" step)
_opened_hooks: list[Any] = []


def on_alert_opened(fn: Any) -> Any:
    """Register ``fn(alert)``, run for every alert :func:`open_alert` creates, in its transaction: an extension
    that owns the target or the zone sets its own verification deadline (``verify_by``) or queues its own
    notices (如燕's core areas). A hook must not raise."""
    if fn not in _opened_hooks:
        _opened_hooks.append(fn)
    return fn


def _user(actor: Actor) -> User | None:
    return actor if getattr(actor, "is_authenticated", False) else None


def _name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else getattr(_user(actor), "username", "")


def _require(actor: Actor, perm: str, obj: Any = None) -> None:
    if isinstance(actor, str):
        return
    # What the user may not even see is not found (404); what they see but may not change is refused (403).
    if obj is not None and not policy.can(actor, perms.VIEW_ALERT.code if isinstance(obj, Alert) else perms.VIEW_TARGET.code, obj):
        from pingan.core.errors import NotFoundError

        raise NotFoundError("not_found", "no such object")
    policy.require(actor, perm, obj)




# --- targets and devices ------------------------------------------------------------------------


def create_target(actor: Actor, *, kind: str, label: str, area: Area, organisation: Organisation | None = None,
                  person: Person | None = None, interval_s: int = 3600, groups: Sequence[TargetGroup] = (),
                  owner: str = "tracking", monitored: bool = False) -> Target:
    _require(actor, perms.MANAGE_TARGET.code)
    if kind not in TargetKind.values:
        raise ValidationFailed("invalid_kind", "kind must be person or vehicle", field="kind")
    if not 30 <= int(interval_s) <= 7 * 86400:
        raise ValidationFailed("out_of_range", "the fix interval is 30 s to 7 days", field="interval_s")
    with transaction.atomic():
        target = Target.objects.create(kind=kind, label=clean_text(label, "label", max_length=80), area=area,
                                       organisation=organisation, person=person, interval_s=int(interval_s),
                                       owner=owner, monitored=monitored,
                                       monitored_changed_at=clock.now() if monitored else None)
        if groups:
            target.groups.set(groups)
        if not isinstance(actor, str) and not policy.can(actor, perms.MANAGE_TARGET.code, target):
            raise PermissionDeniedError("out_of_scope", "the target's area or organisation is outside your scope")
        audit.record(actor, "pingan.target.created", target,
                     changes={"kind": kind, "area": area.code, "owner": owner, "monitored": monitored})
    return target


def _check_owner(target: Target, owner: str) -> None:
    if target.owner != owner:
        raise ConflictError("owned_elsewhere", f"this target belongs to {target.owner}; change it there",
                            owner=target.owner)


def set_monitoring(actor: Actor, target: Target, *, on: bool, reason: str = "", owner: str = "tracking") -> Target:
    """Switch monitoring of a target on or off. Only the owning module may (如燕 from its authorisation
    record, never the tracking pages for a correction subject); while off, device fixes are refused and no
    rule runs."""
    _require(actor, perms.MANAGE_TARGET.code, target)
    _check_owner(target, owner)
    if target.monitored == on:
        return target
    with transaction.atomic():
        Target.objects.filter(pk=target.pk).update(monitored=on, monitored_changed_at=clock.now())
        target.monitored = on
        audit.record(actor, "pingan.target.monitoring_" + ("started" if on else "stopped"), target,
                     changes={"monitored": [not on, on], "reason": reason[:200]})
    return target


def update_target(actor: Actor, target: Target, *, owner: str, label: str | None = None, area: Area | None = None,
                  organisation: Organisation | None = None, sealed: bool | None = None,
                  groups: Sequence[TargetGroup] | None = None) -> Target:
    """The owning module renames, moves, seals or regroups its target (a transfer between judicial offices, a
    minor's file sealed after release, a subject's management level as a group)."""
    _require(actor, perms.MANAGE_TARGET.code, target)
    _check_owner(target, owner)
    values: dict[str, Any] = {}
    if label is not None:
        values["label"] = clean_text(label, "label", max_length=80)
    if area is not None:
        values["area"] = area
    if organisation is not None:
        values["organisation"] = organisation
    if sealed is not None:
        values["sealed"] = sealed
    if groups is not None:
        wanted = {g.pk for g in groups}
        current = set(target.groups.values_list("pk", flat=True))
        if wanted != current:
            with transaction.atomic():
                target.groups.set(list(groups))
                audit.record(actor, "pingan.target.groups_changed", target,
                             changes={"groups": [sorted(current), sorted(wanted)]})
    if not values:
        return target
    with transaction.atomic():
        Target.objects.filter(pk=target.pk).update(**values)
        for name, value in values.items():
            setattr(target, name, value)
        audit.record(actor, "pingan.target.updated", target,
                     changes={k: getattr(v, "code", v) if not isinstance(v, bool | str) else v for k, v in values.items()})
    return target


def ensure_group(actor: Actor, *, code: str, name: str) -> TargetGroup:
    """The target group with this code, created (audited) when missing."""
    _require(actor, perms.MANAGE_TARGET.code)
    found = TargetGroup.objects.filter(code=code).first()
    if found is not None:
        return found
    with transaction.atomic():
        group, created = TargetGroup.objects.get_or_create(code=code, defaults={"name": name[:80]})
        if created:
            audit.record(actor, "pingan.target_group.created", group, changes={"code": code})
    return group


def register_device(actor: Actor, target: Target, *, uid: str, name: str = "", crs: str = "wgs84") -> tuple[Device, str]:
    """A device for a target; returns it with its key (shown once; derived, not stored)."""
    from pingan.tracking.pipeline import device_key

    _require(actor, perms.MANAGE_TARGET.code, target)
    uid = clean_text(uid, "uid", max_length=40)
    if not all(c.isalnum() or c in "-_." for c in uid):
        raise ValidationFailed("invalid_uid", "a device id has letters, digits, - _ . only", field="uid")
    if crs not in CRS_NAMES:
        raise ValidationFailed("unknown_crs", f"crs must be one of {', '.join(CRS_NAMES)}", field="crs")
    if Device.objects.filter(uid=uid).exists():
        raise ConflictError("duplicate_device", "a device with this id exists")
    with transaction.atomic():
        device = Device.objects.create(uid=uid, target=target, name=name[:80], crs=crs)
        audit.record(actor, "pingan.device.registered", device, changes={"target": target.pk, "crs": crs})
    return device, device_key(device.uid, device.key_version)


def rotate_device_key(actor: Actor, device: Device) -> str:
    from pingan.tracking.pipeline import device_key

    _require(actor, perms.MANAGE_TARGET.code, device.target)
    with transaction.atomic():
        Device.objects.filter(pk=device.pk).update(key_version=F("key_version") + 1)
        device.refresh_from_db(fields=["key_version"])
        audit.record(actor, "pingan.device.key_rotated", device, changes={"key_version": device.key_version})
    return device_key(device.uid, device.key_version)


# --- zones ------------------------------------------------------------------------------------


def _clean_zone(kind: str, shape: str, coords: Any, radius_m: float, width_m: float, ring_m: float,
                speed_limit_kmh: float | None, schedule: dict[str, Any] | None) -> None:
    if kind not in ZoneKind.values:
        raise ValidationFailed("invalid_kind", "kind must be exclusion, inclusion, speed or watch", field="kind")
    if shape not in ZoneShape.values:
        raise ValidationFailed("invalid_shape", "shape must be polygon, circle or corridor", field="shape")
    for name, value in (("radius_m", radius_m), ("width_m", width_m), ("ring_m", ring_m)):
        if not math.isfinite(value) or value < 0 or value > 200_000:
            raise ValidationFailed("out_of_range", f"{name} must be 0–200,000 m", field=name)
    if shape == ZoneShape.CIRCLE and radius_m <= 0:
        raise ValidationFailed("required", "a circle needs a radius", field="radius_m")
    if shape == ZoneShape.CORRIDOR and width_m <= 0:
        raise ValidationFailed("required", "a corridor needs a width", field="width_m")
    if kind == ZoneKind.SPEED and not speed_limit_kmh:
        raise ValidationFailed("required", "a speed zone needs a limit", field="speed_limit_kmh")
    try:
        geometry = eng.zone_geometry_lonlat(shape, coords, radius_m=radius_m, width_m=width_m)
    except (TypeError, ValueError, IndexError, shapely.errors.ShapelyError) as exc:
        raise ValidationFailed("invalid_geometry", f"the zone's coordinates are not a {shape}: {exc}", field="coords") from None
    lon0, lat0, lon1, lat1 = geometry.bounds
    if not (-180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
        raise ValidationFailed("out_of_range", "coordinates must be within ±180 / ±90", field="coords")
    if not geometry.is_valid:
        raise ValidationFailed("invalid_geometry", shapely.is_valid_reason(geometry), field="coords")
    if schedule is not None:
        try:
            Schedule.from_dict(schedule)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValidationFailed("invalid_schedule", f"the schedule is not valid: {exc}", field="schedule") from None


def create_zone(actor: Actor, *, name: str, kind: str, shape: str, coords: Any, area: Area, radius_m: float = 0,
                width_m: float = 0, ring_m: float = 0, fast: bool = False, speed_limit_kmh: float | None = None,
                speed_duration_s: int = 60, schedule: dict[str, Any] | None = None, applies_to_all: bool = False,
                targets: Sequence[Target] = (), groups: Sequence[TargetGroup] = (),
                organisation: Organisation | None = None, owner: str = "tracking") -> Zone:
    _require(actor, perms.MANAGE_ZONE.code)
    _clean_zone(kind, shape, coords, radius_m, width_m, ring_m, speed_limit_kmh, schedule)
    with transaction.atomic():
        zone = Zone.objects.create(name=clean_text(name, "name", max_length=80), kind=kind, shape=shape, coords=coords,
                                   radius_m=radius_m, width_m=width_m, ring_m=ring_m, fast=fast,
                                   speed_limit_kmh=speed_limit_kmh, speed_duration_s=int(speed_duration_s),
                                   schedule=schedule, applies_to_all=applies_to_all, area=area,
                                   organisation=organisation, owner=owner)
        if targets:
            zone.targets.set(targets)
        if groups:
            zone.groups.set(groups)
        if not isinstance(actor, str) and not policy.can(actor, perms.MANAGE_ZONE.code, zone):
            raise PermissionDeniedError("out_of_scope", "the zone's area is outside your scope")
        audit.record(actor, "pingan.zone.created", zone, changes={"kind": kind, "shape": shape, "area": area.code,
                                                                  "applies_to_all": applies_to_all})
    return zone


def set_zone_members(actor: Actor, zone: Zone, *, targets: Sequence[Target] = (), groups: Sequence[TargetGroup] = (),
                     applies_to_all: bool | None = None) -> Zone:
    _require(actor, perms.MANAGE_ZONE.code, zone)
    with transaction.atomic():
        zone.targets.set(targets)
        zone.groups.set(groups)
        if applies_to_all is not None:
            zone.applies_to_all = applies_to_all
        zone.save(update_fields=["applies_to_all", "updated_at"])  # the engines follow updated_at
        audit.record(actor, "pingan.zone.members_changed", zone,
                     changes={"targets": len(targets), "groups": len(groups), "applies_to_all": zone.applies_to_all})
    return zone


def set_zone_schedule(actor: Actor, zone: Zone, *, schedule: dict[str, Any] | None, name: str | None = None) -> Zone:
    """A new schedule (None: always active) and optionally a new name; the engines follow ``updated_at``."""
    _require(actor, perms.MANAGE_ZONE.code, zone)
    if schedule is not None:
        try:
            Schedule.from_dict(schedule)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValidationFailed("invalid_schedule", f"the schedule is not valid: {exc}", field="schedule") from None
    with transaction.atomic():
        zone.schedule = schedule
        zone.schedule_state = None
        fields = ["schedule", "schedule_state", "updated_at"]
        if name is not None:
            zone.name = clean_text(name, "name", max_length=80)
            fields.append("name")
        zone.save(update_fields=fields)
        audit.record(actor, "pingan.zone.schedule_changed", zone, changes={"schedule": schedule})
    return zone


def deactivate_zone(actor: Actor, zone: Zone) -> Zone:
    _require(actor, perms.MANAGE_ZONE.code, zone)
    with transaction.atomic():
        zone.is_active = False
        zone.save(update_fields=["is_active", "updated_at"])
        audit.record(actor, "pingan.zone.deactivated", zone, changes={"is_active": [True, False]})
    return zone


# --- alerts -----------------------------------------------------------------------------------


def _next_numbers(now: dt.datetime, n: int) -> list[str]:
    """``n`` new alert numbers of the day (Asia/Shanghai), TA-YYYYMMDD-NNNNNN, in one upsert."""
    day = now.astimezone(SHANGHAI).date()
    last = counters.count_up(AlertSequence, "day", day, n)
    return [f"TA-{day:%Y%m%d}-{k:06d}" for k in range(last - n + 1, last + 1)]


def verify_minutes(target: Target) -> int:
    return int(settings.PINGAN_ALERT_VERIFY_MINUTES)


def open_alert(effect: eng.Effect, now: dt.datetime, fixes: Mapping[int, Any] | None = None) -> Alert:
    """A new alert from a ``raise`` effect (:func:`open_alerts` for one)."""
    return open_alerts([effect], now, fixes)[0]


def open_alerts(effects: Sequence[eng.Effect], now: dt.datetime, fixes: Mapping[int, Any] | None = None) -> list[Alert]:
    """New alerts from ``raise`` effects, one each (called by the pipeline inside its batch's transaction, for
    effects of distinct target × rule × zone); ``fixes`` are the batch's fixes by id (anything with ``lon``
    and ``lat``). However many: one query for the targets, one for the places, one for the numbers, one
    insert each for the alerts and their "raised" steps, one audit append and one notification pass after
    the commit."""
    from pingan.geo.queries import locate

    if not effects:
        return []
    fixes = fixes or {}
    targets = Target.objects.in_bulk({e.target for e in effects})
    positions: list[tuple[float | None, float | None]] = []
    for effect in effects:
        here = next((fixes[r] for r in reversed(effect.refs) if r in fixes), None)
        positions.append((here.lon, here.lat) if here is not None else (effect.detail.get("lon"), effect.detail.get("lat")))
    unplaced = {e.refs[-1] for e, (lon, _lat) in zip(effects, positions, strict=True) if lon is None and e.refs}
    stored = {pk: (lon, lat) for pk, lon, lat in Fix.objects.filter(pk__in=unplaced).values_list("pk", "lon", "lat")}
    codes: list[str | None] = []
    for k, effect in enumerate(effects):
        lon, lat = positions[k]
        if lon is None and effect.refs:
            lon, lat = positions[k] = stored.get(effect.refs[-1], (None, None))
        found = locate(lon, lat) if lon is not None and lat is not None else None
        codes.append(found and (found.microgrid or found.grid or found.village or found.town or found.district))
    places = Area.objects.in_bulk({c for c in codes if c}, field_name="code")
    numbers = _next_numbers(now, len(effects))
    alerts = []
    for effect, (lon, lat), code, number in zip(effects, positions, codes, numbers, strict=True):
        refs = list(effect.refs)
        at = dt.datetime.fromtimestamp(effect.t, tz=dt.UTC)
        since = effect.detail.get("since")
        target = targets[effect.target]
        alerts.append(Alert(
            number=number, target=target, rule=effect.rule, zone_id=effect.zone, zone_key=effect.zone or 0,
            severity=effect.severity if effect.severity in Severity.values else Severity.ALARM,
            first_fix_id=refs[0] if refs else None, last_fix_id=refs[-1] if refs else None,
            first_at=dt.datetime.fromtimestamp(since, tz=dt.UTC) if isinstance(since, int | float) else at, last_at=at,
            lon=lon, lat=lat, place=places.get(code) if code else None, evidence=refs[:100], evidence_count=len(refs),
            detail={k: v for k, v in effect.detail.items() if isinstance(v, str | int | float | bool | None)},
            raised_at=now, verify_by=now + dt.timedelta(minutes=verify_minutes(target))))
    Alert.objects.bulk_create(alerts)
    AlertStep.objects.bulk_create([
        AlertStep(alert=alert, action="raised", from_state="", to_state=AlertState.OPEN, actor_name="system", at=now,
                  data={"rule": effect.rule, "zone": effect.zone, "fixes": len(effect.refs)})
        for alert, effect in zip(alerts, effects, strict=True)])
    for alert in alerts:
        for hook in list(_opened_hooks):
            hook(alert)
    audit.record_many([audit.Pending("system", "pingan.alert.raised", alert, changes={
        "rule": alert.rule, "zone": alert.zone_id, "target": alert.target_id, "severity": alert.severity})
        for alert in alerts])
    ids = [alert.pk for alert in alerts]
    transaction.on_commit(lambda: _notify(ids, "alert.raised"))
    return alerts


def _notify(alert_ids: Sequence[int], kind: str) -> None:
    """Tell the users who may handle the alerts (the policy decides, for each alert and candidate)."""
    from pingan.events.notify import notify_many

    alerts = list(Alert.objects.select_related("target", "zone").filter(pk__in=alert_ids).order_by("pk"))
    if not alerts:
        return
    responders = policy.holders_many(perms.HANDLE_ALERT.code, alerts)
    notify_many([(None, kind, _("Alert {number}: {target} {what}{zone}").format(
        number=alert.number, target=alert.target.label, what=RULE_LABELS.get(alert.rule, alert.rule),
        zone=f" — {alert.zone.name}" if alert.zone else ""), responders[alert.pk]) for alert in alerts])


def _step(actor: Actor, alert: Alert, action: str, *, to_state: str, version: int | None, fields: dict[str, Any] | None = None,
          note: str = "", data: dict[str, Any] | None = None) -> Alert:
    expected = alert.version if version is None else version
    now = clock.now()
    from_state = alert.state
    values = {"state": to_state, **(fields or {})}
    if not Alert.objects.filter(pk=alert.pk, version=expected).update(**values, version=F("version") + 1):
        current: dict[str, Any] = dict(Alert.objects.filter(pk=alert.pk).values("state", "version").first() or {})
        raise ConflictError("stale_version", "the alert was changed by someone else", state=current.get("state"),
                            version=current.get("version"))
    for name, value in values.items():
        setattr(alert, name, value)
    alert.version = expected + 1
    AlertStep.objects.create(alert=alert, action=action, from_state=from_state, to_state=to_state, actor=_user(actor),
                             actor_name=_name(actor), at=now, note=note, data=data or {})
    audit.record(actor, f"pingan.alert.{action}", alert,
                 changes={"state": [from_state, to_state], "version": alert.version, **(data or {})})
    return alert


def _check(alert: Alert, allowed: Iterable[str], action: str) -> None:
    if alert.state not in tuple(allowed):
        raise ConflictError("illegal_transition", f"cannot {action} an alert that is {alert.state}", state=alert.state,
                            version=alert.version)


def acknowledge_alert(actor: Actor, alert: Alert, *, note: str = "", version: int | None = None) -> Alert:
    """The operator has seen it and is verifying (contacting the subject, the driver, the officer)."""
    _require(actor, perms.HANDLE_ALERT.code, alert)
    _check(alert, (AlertState.OPEN,), "acknowledge")
    with transaction.atomic():
        return _step(actor, alert, "acknowledged", to_state=AlertState.ACKNOWLEDGED, version=version,
                     note=clean_text(note, "note", max_length=500, required=False))


def note_alert(actor: Actor, alert: Alert, *, note: str, data: dict[str, Any] | None = None) -> AlertStep:
    """What was found while verifying (a call made, a check on site); changes no state. ``data``: what an
    extension keeps with the step (如燕: how it was verified)."""
    _require(actor, perms.HANDLE_ALERT.code, alert)
    _check(alert, (*ACTIVE_ALERT_STATES, AlertState.ESCALATED), "note")
    note = clean_text(note, "note", max_length=500)
    with transaction.atomic():
        step = AlertStep.objects.create(alert=alert, action="noted", from_state=alert.state, to_state=alert.state,
                                        actor=_user(actor), actor_name=_name(actor), at=clock.now(), note=note,
                                        data=data or {})
        audit.record(actor, "pingan.alert.noted", alert, changes={"state": alert.state, **(data or {})})
    return step


def dismiss_alert(actor: Actor, alert: Alert, *, reason: str, note: str = "", version: int | None = None) -> Alert:
    """Verified, nothing wrong: an authorised visit, a position error, a device fault, or another reason."""
    _require(actor, perms.HANDLE_ALERT.code, alert)
    _check(alert, ACTIVE_ALERT_STATES, "dismiss")
    if reason not in DismissReason.values:
        raise ValidationFailed("invalid_reason", "reason must be one of " + ", ".join(DismissReason.values), field="reason")
    note = clean_text(note, "note", max_length=500, required=reason == DismissReason.OTHER)
    with transaction.atomic():
        return _step(actor, alert, "dismissed", to_state=AlertState.DISMISSED, version=version,
                     fields={"dismiss_reason": reason}, note=note, data={"reason": reason})


def escalate_alert(actor: Actor, alert: Alert, *, note: str = "", version: int | None = None,
                   event_type: str | None = None) -> Alert:
    """Verified, something is wrong: open an event in the closed loop, linked both ways."""
    from pingan.events import actions as event_actions
    from pingan.events.models import Source

    _require(actor, perms.HANDLE_ALERT.code, alert)
    _check(alert, (*ACTIVE_ALERT_STATES, AlertState.ESCALATED), "escalate")
    if alert.state == AlertState.ESCALATED:
        raise ConflictError("illegal_transition", "this alert is escalated already", state=alert.state, version=alert.version)
    if alert.lon is None or alert.lat is None:
        raise ValidationFailed("no_position", "an alert without a position cannot open an event")
    note = clean_text(note, "note", max_length=500, required=False)
    label = RULE_LABELS.get(alert.rule, alert.rule)
    with transaction.atomic():
        event = event_actions.report_event("system", event_actions.ReportInput(
            event_type=event_type or settings.PINGAN_ALERT_EVENT_TYPE,
            title=_("Tracking alert {number}: {what}").format(number=alert.number, what=label)[:120],
            description=_("{target} {what}{zone} at {time}. {note}").format(
                target=alert.target.label, what=label, zone=f" ({alert.zone.name})" if alert.zone else "",
                time=alert.last_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), note=note).strip(),
            lon=alert.lon, lat=alert.lat, source=Source.TRACKING_ALERT, priority="high",
            reporter_name=_name(actor)[:60], tags=[f"alert:{alert.number}"]))
        return _step(actor, alert, "escalated", to_state=AlertState.ESCALATED, version=version, fields={"event": event},
                     note=note, data={"event": event.number})


def close_alert(actor: Actor, alert: Alert, *, note: str = "", version: int | None = None) -> Alert:
    """An escalated alert is closed once its event has been handed on (the event carries on in the loop)."""
    _require(actor, perms.HANDLE_ALERT.code, alert)
    _check(alert, (AlertState.ESCALATED,), "close")
    with transaction.atomic():
        return _step(actor, alert, "closed", to_state=AlertState.CLOSED, version=version,
                     note=clean_text(note, "note", max_length=500, required=False))


def mark_late(alert_id: int, now: dt.datetime) -> bool:
    """The verification deadline passed while the alert was still open (the sweep calls this once)."""
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert_id, late=False, state=AlertState.OPEN, verify_by__lte=now).update(late=True):
            return False
        alert = Alert.objects.get(pk=alert_id)
        AlertStep.objects.create(alert=alert, action="late", from_state=alert.state, to_state=alert.state,
                                 actor_name="system", at=now)
        audit.record("system", "pingan.alert.late", alert, changes={"verify_by": alert.verify_by.isoformat()})
        transaction.on_commit(lambda: _notify([alert_id], "alert.late"))
    return True

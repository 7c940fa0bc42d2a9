"""Tracking data: targets and their devices, zones, fixes, the latest position, per-target engine state,
alerts with their steps, door counters and stream positions. No workflow here (see ``actions`` and
``pipeline``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TargetKind(models.TextChoices):
    PERSON = "person", _("person")
    VEHICLE = "vehicle", _("vehicle")


class TargetGroup(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        verbose_name = _("target group")
        verbose_name_plural = _("target groups")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Target(models.Model):
    """A person or a vehicle whose positions are evaluated. The module that owns it (``owner``: corrections,
    vehicles, or tracking itself) switches monitoring on and off; no rule runs while it is off."""

    kind = models.CharField(_("kind"), max_length=10, choices=TargetKind.choices)
    label = models.CharField(_("label"), max_length=80, help_text=_("What operators see: a masked name or a plate"))
    person = models.ForeignKey("accounts.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("person"))
    owner = models.CharField(_("owning module"), max_length=20, default="tracking")
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("home area"))
    organisation = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("responsible organisation"))
    groups = models.ManyToManyField(TargetGroup, blank=True, related_name="targets", verbose_name=_("groups"))
    monitored = models.BooleanField(_("monitored"), default=False)
    monitored_changed_at = models.DateTimeField(null=True, blank=True)
    interval_s = models.PositiveIntegerField(_("expected fix interval (s)"), default=3600)
    sealed = models.BooleanField(_("sealed"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label


class Device(models.Model):
    """A device reporting fixes for one target. Its key is derived from the signing key, the device id and
    ``key_version`` (see ``pipeline.device_key``), so the database holds no device secret; bumping
    ``key_version`` revokes the old key."""

    uid = models.CharField(_("device id"), max_length=40, unique=True)
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="devices", verbose_name=_("target"))
    name = models.CharField(_("name"), max_length=80, blank=True)
    key_version = models.PositiveIntegerField(default=1)
    crs = models.CharField(_("coordinate system it sends"), max_length=10, default="wgs84")
    is_active = models.BooleanField(_("active"), default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["uid"]

    def __str__(self) -> str:
        return self.uid


class ZoneKind(models.TextChoices):
    EXCLUSION = "exclusion", _("exclusion (must not enter)")
    INCLUSION = "inclusion", _("inclusion (must not leave)")
    SPEED = "speed", _("speed limit")
    WATCH = "watch", _("watch (report only)")


class ZoneShape(models.TextChoices):
    POLYGON = "polygon", _("polygon")
    CIRCLE = "circle", _("circle")
    CORRIDOR = "corridor", _("corridor")


class Zone(models.Model):
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=ZoneKind.choices)
    shape = models.CharField(_("shape"), max_length=10, choices=ZoneShape.choices)
    coords = models.JSONField(_("coordinates (WGS-84)"))
    radius_m = models.FloatField(_("radius (m)"), default=0)
    width_m = models.FloatField(_("width (m)"), default=0)
    ring_m = models.FloatField(_("warning ring (m)"), default=0)
    fast = models.BooleanField(_("core area: alert without dwell"), default=False)
    speed_limit_kmh = models.FloatField(_("speed limit (km/h)"), null=True, blank=True)
    speed_duration_s = models.PositiveIntegerField(_("over the limit for (s)"), default=60)
    schedule = models.JSONField(_("schedule"), null=True, blank=True)
    applies_to_all = models.BooleanField(_("applies to every target"), default=False)
    targets = models.ManyToManyField(Target, blank=True, related_name="zones", verbose_name=_("targets"))
    groups = models.ManyToManyField(TargetGroup, blank=True, related_name="zones", verbose_name=_("groups"))
    owner = models.CharField(_("owning module"), max_length=20, default="tracking")
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    organisation = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("organisation"))
    is_active = models.BooleanField(_("active"), default=True)
    schedule_state = models.BooleanField(null=True, blank=True, editable=False,
                                         help_text="whether the schedule was active at the last tick (set with update())")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class FixType(models.TextChoices):
    GNSS = "gnss", _("GNSS")
    CELL = "cell", _("cell")
    WIFI = "wifi", _("Wi-Fi")


class Fix(models.Model):
    """One position, append-only. On PostgreSQL the table is partitioned by day on ``device_time``
    (migration 0002); ``(device, device_time)`` is unique, so a fix sent twice is stored once."""

    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="+", db_index=False)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    device_time = models.DateTimeField()
    received_at = models.DateTimeField()
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField(default=10)
    fix_type = models.CharField(max_length=4, choices=FixType.choices, default=FixType.GNSS)
    speed_kmh = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=12)
    input_crs = models.CharField(max_length=10, default="wgs84")
    raw_ref = models.CharField(max_length=60, blank=True)

    class Meta:
        verbose_name = _("fix")
        verbose_name_plural = _("fixes")
        constraints = [models.UniqueConstraint(fields=["device", "device_time"], name="tracking_fix_once_per_device_time")]
        indexes = [models.Index(fields=["target", "device_time"], name="tracking_fix_target_time")]

    def __str__(self) -> str:
        return f"{self.target_id}@{self.device_time:%Y-%m-%d %H:%M:%S}"


class LatestPosition(models.Model):
    """The newest fix per target (by device time), kept apart for maps."""

    target = models.OneToOneField(Target, primary_key=True, on_delete=models.CASCADE, related_name="latest")
    fix_id = models.BigIntegerField()
    device_time = models.DateTimeField()
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField()
    speed_kmh = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = _("latest position")

    def __str__(self) -> str:
        return f"{self.target_id}@{self.device_time:%Y-%m-%d %H:%M:%S}"


class TargetState(models.Model):
    """The engine's state for one target, committed with the fixes and effects that produced it."""

    target = models.OneToOneField(Target, primary_key=True, on_delete=models.CASCADE, related_name="+")
    state = models.JSONField(default=dict)
    # Not indexed: every batch moves its targets' due times, and an index on it would make every one of
    # those updates a non-HOT one (a new entry in each index); the tick's scan every 15 s is cheaper.
    due_at = models.DateTimeField(null=True, blank=True,
                                  help_text="when the periodic tick must look at this target next (lost contact, re-arm)")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"state of {self.target_id}"


class AlertState(models.TextChoices):
    OPEN = "open", _("open")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    DISMISSED = "dismissed", _("dismissed")
    ESCALATED = "escalated", _("escalated")
    CLOSED = "closed", _("closed")


ACTIVE_ALERT_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
FINAL_ALERT_STATES = (AlertState.DISMISSED, AlertState.CLOSED)


class Severity(models.TextChoices):
    ALARM = "alarm", _("alarm")
    WARNING = "warning", _("warning")


class DismissReason(models.TextChoices):
    AUTHORISED = "authorised", _("authorised visit")
    POSITION_ERROR = "position_error", _("position error")
    DEVICE_FAULT = "device_fault", _("device fault")
    OTHER = "other", _("other")


class Alert(models.Model):
    number = models.CharField(_("number"), max_length=24, unique=True)
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("target"))
    rule = models.CharField(_("rule"), max_length=30)
    zone = models.ForeignKey(Zone, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts",
                             verbose_name=_("zone"))
    zone_key = models.BigIntegerField(default=0, help_text="zone id, or 0: makes the open-alert constraint hold without a zone")
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.ALARM)
    state = models.CharField(_("state"), max_length=12, choices=AlertState.choices, default=AlertState.OPEN,
                             db_index=True)
    first_fix_id = models.BigIntegerField(null=True, blank=True)
    last_fix_id = models.BigIntegerField(null=True, blank=True)
    first_at = models.DateTimeField(_("first fix at"))
    last_at = models.DateTimeField(_("last fix at"))
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    place = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("where"))
    evidence = models.JSONField(default=list, help_text="fix ids, the first ones and the newest ones (capped)")
    evidence_count = models.PositiveIntegerField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"), db_index=True)
    verify_by = models.DateTimeField(_("verify by"))
    late = models.BooleanField(_("verification late"), default=False)
    rearmed = models.BooleanField(_("condition cleared"), default=False)
    dismiss_reason = models.CharField(_("dismiss reason"), max_length=16, choices=DismissReason.choices, blank=True)
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("event"))
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "rule", "zone_key"], condition=Q(state__in=["open", "acknowledged"]),
                                    name="tracking_one_active_alert"),
        ]
        indexes = [models.Index(fields=["state", "verify_by"], name="tracking_alert_state_due")]

    def __str__(self) -> str:
        return self.number

    def audit_repr(self) -> str:
        return f"{self.number} {self.rule}"


class AlertSequence(models.Model):
    """The last alert number handed out per day (Asia/Shanghai), for TA-YYYYMMDD-NNNNNN."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class AlertStep(models.Model):
    """One step of an alert's life: raised, acknowledged, dismissed, escalated, closed, noted, late."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=20)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"


class DoorCounter(models.Model):
    """How many fixes each door accepted and refused, by reason (e.g. ``mqtt`` / ``bad_signature``)."""

    door = models.CharField(max_length=12)
    reason = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["door", "reason"], name="tracking_door_counter_once")]

    def __str__(self) -> str:
        return f"{self.door}/{self.reason}: {self.count}"


class StreamPartition(models.Model):
    """A partition of the fix stream: which worker holds it (a lease) and the last stream sequence whose
    fixes, effects and engine state were committed."""

    number = models.PositiveIntegerField(primary_key=True)
    owner = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    committed_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"partition {self.number} ({self.owner or 'free'})"


def zone_spec_kwargs(zone: Zone) -> dict[str, Any]:
    """The engine's view of a zone (without targets/groups, which the pipeline adds)."""
    return {
        "id": zone.pk, "kind": zone.kind, "shape": zone.shape, "coords": zone.coords, "radius_m": zone.radius_m,
        "width_m": zone.width_m, "ring_m": zone.ring_m, "fast": zone.fast, "speed_limit_kmh": zone.speed_limit_kmh,
        "speed_duration_s": zone.speed_duration_s,
    }

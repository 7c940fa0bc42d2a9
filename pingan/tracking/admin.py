"""Tracking in Django admin: groups are edited here; targets, devices, zones and alerts are read here and
changed through the actions (pages, API), which audit and notify."""

from __future__ import annotations

from django.contrib import admin

from pingan.core.admin import ReadOnlyAdmin
from pingan.tracking.models import Alert, Device, DoorCounter, Target, TargetGroup, Zone


@admin.register(TargetGroup)
class TargetGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Target)
class TargetAdmin(ReadOnlyAdmin):
    list_display = ["id", "label", "kind", "owner", "area", "organisation", "monitored", "interval_s"]
    list_filter = ["kind", "owner", "monitored"]
    search_fields = ["label"]


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ["uid", "target", "crs", "is_active", "last_seen_at"]
    search_fields = ["uid"]


@admin.register(Zone)
class ZoneAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "shape", "fast", "applies_to_all", "owner", "area", "is_active"]
    list_filter = ["kind", "shape", "owner", "is_active"]
    search_fields = ["name"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["number", "rule", "severity", "state", "target", "zone", "raised_at", "verify_by", "late"]
    list_filter = ["state", "rule", "severity", "late"]
    search_fields = ["number"]


@admin.register(DoorCounter)
class DoorCounterAdmin(ReadOnlyAdmin):
    list_display = ["door", "reason", "count", "updated_at"]
    list_filter = ["door"]

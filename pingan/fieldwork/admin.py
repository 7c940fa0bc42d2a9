"""Field-work records in Django admin: browsed and corrected there; created through the actions."""

from __future__ import annotations

from django.contrib import admin

from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, PatrolEvent, Place, Visit


class NoAddAdmin(admin.ModelAdmin):
    """Records are created by the actions (which check, validate, audit and open events)."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Patrol)
class PatrolAdmin(NoAddAdmin):
    list_display = ["id", "worker", "grid", "started_at", "ended_at", "distance_m", "places_checked"]
    list_filter = ["ended_at"]
    search_fields = ["worker__username", "grid__code", "grid__name"]
    readonly_fields = ["worker", "grid", "started_at", "ended_at", "track", "distance_m"]
    date_hierarchy = "started_at"


@admin.register(PatrolEvent)
class PatrolEventAdmin(NoAddAdmin):
    list_display = ["patrol", "event", "found_at"]
    readonly_fields = ["patrol", "event", "found_at"]


@admin.register(Visit)
class VisitAdmin(NoAddAdmin):
    list_display = ["id", "workstation", "visitor", "at", "category", "outcome", "event"]
    list_filter = ["category", "outcome", "workstation"]
    readonly_fields = ["workstation", "visitor", "at", "event", "received_by"]
    date_hierarchy = "at"


@admin.register(Place)
class PlaceAdmin(NoAddAdmin):
    list_display = ["name", "kind", "area", "address", "enterprise"]
    list_filter = ["kind"]
    search_fields = ["name", "address", "area__code"]
    readonly_fields = ["area", "lon", "lat", "created_at"]


@admin.register(Inspection)
class InspectionAdmin(NoAddAdmin):
    list_display = ["id", "place", "inspector", "at", "hazard", "hazard_level", "event"]
    list_filter = ["hazard", "hazard_level"]
    readonly_fields = ["place", "inspector", "at", "patrol", "event"]
    date_hierarchy = "at"


@admin.register(JointEnforcement)
class JointEnforcementAdmin(NoAddAdmin):
    list_display = ["id", "workstation", "at", "address"]
    list_filter = ["workstation"]
    readonly_fields = ["workstation", "at", "recorded_by"]
    filter_horizontal = ["departments"]
    raw_id_fields = ["events"]
    date_hierarchy = "at"

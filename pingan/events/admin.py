from __future__ import annotations

from django.contrib import admin

from pingan.core.admin import PolicyAdmin
from pingan.events.models import Event, EventType, RoutingRule, WorkCalendarDay
from pingan.events.permissions import CHANGE_ROUTING


@admin.register(EventType)
class EventTypeAdmin(PolicyAdmin):
    perm = CHANGE_ROUTING.code
    list_display = ["code", "name", "name_en", "parent", "is_dispute", "is_active", "order"]
    list_filter = ["is_active", "is_dispute", "parent"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["order", "code"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(PolicyAdmin):
    perm = CHANGE_ROUTING.code
    list_display = ["name", "event_type", "area", "priority", "lead_unit", "auto_dispatch", "accept_minutes",
                    "resolve_minutes", "time_basis", "order", "is_active"]
    list_filter = ["is_active", "auto_dispatch", "time_basis", "priority"]
    search_fields = ["name"]
    autocomplete_fields = ["area", "lead_unit"]
    filter_horizontal = ["assisting_units"]


@admin.register(WorkCalendarDay)
class WorkCalendarDayAdmin(PolicyAdmin):
    perm = CHANGE_ROUTING.code
    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events are read here; every change goes through the actions (timeline, audit, notifications)."""

    list_display = ["number", "title", "event_type", "state", "level", "priority", "area", "lead_unit", "overdue",
                    "created_at"]
    list_filter = ["state", "level", "priority", "overdue", "supervised", "source"]
    search_fields = ["number", "title"]
    date_hierarchy = "created_at"
    exclude = ["reporter_name", "reporter_phone"]  # personal data: shown masked on the event page only

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

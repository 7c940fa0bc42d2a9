from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pingan.core.models import AuditEntry, JobLease


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that only reads: the records it shows change through actions (which check access, audit and
    notify), never from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the audit log cannot be changed from any page (the database refuses it too)."""

    list_display = ["at", "actor_username", "action", "object_type", "object_id", "object_repr", "ip"]
    list_filter = ["action", "channel"]
    search_fields = ["actor_username", "action", "object_id", "request_id"]
    date_hierarchy = "at"


@admin.register(JobLease)
class JobLeaseAdmin(admin.ModelAdmin):
    list_display = ["name", "next_run_at", "lease_owner", "lease_until", "last_finished_at", "runs"]
    readonly_fields = ["name", "lease_owner", "lease_until", "last_started_at", "last_finished_at", "last_error", "runs"]

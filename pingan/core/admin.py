from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pingan.accounts import policy
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


class PolicyAdmin(admin.ModelAdmin):
    """An admin for configuration that the access policy guards with ``perm`` (Django's staff flag is still
    needed to reach the admin site at all). Its saves and deletes reach the audit log as every admin change
    does (``core.signals.mirror_admin_entry``: ``pingan.admin.added``, ``changed``, ``deleted``)."""

    perm: str = ""

    def _allowed(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(self.perm) and user.is_active and user.is_staff and policy.has_perm(user, self.perm)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)


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

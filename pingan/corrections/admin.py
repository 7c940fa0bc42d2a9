"""如燕 in Django admin: read-only. Every change goes through the actions (API), which check access, audit and
notify; identities are not listed (the file number and the masked name are)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pingan.corrections.models import MonitoringAuthorisation, Record, Scan, Subject


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Subject)
class SubjectAdmin(ReadOnly):
    list_display = ["number", "correction_type", "level", "state", "judicial_office", "supervision_end", "sealed"]
    list_filter = ["state", "level", "correction_type"]
    search_fields = ["number"]
    exclude = ["person", "phone", "handle", "home_lon", "home_lat"]


@admin.register(MonitoringAuthorisation)
class AuthorisationAdmin(ReadOnly):
    list_display = ["subject", "ground", "state", "starts_at", "ends_at", "approver"]
    list_filter = ["state", "ground"]


@admin.register(Record)
class RecordAdmin(ReadOnly):
    list_display = ["subject", "kind", "occurred_on", "is_open", "outcome"]
    list_filter = ["kind", "is_open"]


@admin.register(Scan)
class ScanAdmin(ReadOnly):
    list_display = ["subject", "at", "result", "reason", "colour", "scanner"]
    list_filter = ["result", "colour"]

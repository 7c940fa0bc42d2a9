"""如燕 in Django admin: read-only. Every change goes through the actions (API), which check access, audit and
notify; identities are not listed (the file number and the masked name are)."""

from __future__ import annotations

from django.contrib import admin

from pingan.core.admin import ReadOnlyAdmin
from pingan.corrections.models import MonitoringAuthorisation, Record, Scan, Subject


@admin.register(Subject)
class SubjectAdmin(ReadOnlyAdmin):
    list_display = ["number", "correction_type", "level", "state", "judicial_office", "supervision_end", "sealed"]
    list_filter = ["state", "level", "correction_type"]
    search_fields = ["number"]
    exclude = ["person", "phone", "handle", "home_lon", "home_lat"]


@admin.register(MonitoringAuthorisation)
class AuthorisationAdmin(ReadOnlyAdmin):
    list_display = ["subject", "ground", "state", "starts_at", "ends_at", "approver"]
    list_filter = ["state", "ground"]


@admin.register(Record)
class RecordAdmin(ReadOnlyAdmin):
    list_display = ["subject", "kind", "occurred_on", "is_open", "outcome"]
    list_filter = ["kind", "is_open"]


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = ["subject", "at", "result", "reason", "colour", "scanner"]
    list_filter = ["result", "colour"]

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from pingan.accounts.models import ApiToken, ObjectGrant, Organisation, Role, RoleAssignment, User


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ["area", "organisation"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "organisation", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "assignments__role"]
    search_fields = ["username", "display_name"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Pingan"), {"fields": ("display_name", "phone", "organisation")}),
    )
    inlines = [RoleAssignmentInline]
    autocomplete_fields = ["organisation"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "scope"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent", "area", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "name_en"]
    autocomplete_fields = ["parent", "area", "areas"]


@admin.register(ObjectGrant)
class ObjectGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "permission", "content_type", "object_id", "expires_at", "granted_by"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["user", "name", "prefix", "token_hash", "scopes", "created_at", "expires_at", "last_used_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

from __future__ import annotations

from django.contrib import admin

from pingan.geo.models import Area


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    """Areas are browsed here; the tree is changed by `pingan areas import` (checked, all or nothing)."""

    list_display = ["code", "name", "name_en", "level", "parent", "area_km2", "vertex_count", "local_code"]
    list_filter = ["level", "local_code"]
    search_fields = ["code", "name", "name_en"]
    readonly_fields = ["code", "level", "parent", "centroid_lon", "centroid_lat", "min_lon", "min_lat", "max_lon",
                       "max_lat", "area_km2", "vertex_count"]
    exclude = ["geometry_wkb"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

from __future__ import annotations

import shapely
from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    DISTRICT = "district", _("district")
    TOWN = "town", _("town / subdistrict")
    VILLAGE = "village", _("village / community")
    GRID = "grid", _("grid")
    MICROGRID = "microgrid", _("micro-grid")


LEVEL_ORDER = [Level.DISTRICT, Level.TOWN, Level.VILLAGE, Level.GRID, Level.MICROGRID]
LEVEL_DEPTH = {level.value: i for i, level in enumerate(LEVEL_ORDER)}


class Area(models.Model):
    """A node of the one area tree: district → town → village → grid → micro-grid.

    Codes extend their parent's code (GB/T 2260 → 统计用区划代码 → grid codes), so a subtree is
    ``code__startswith`` — the access policy's area scope relies on that. The polygon is WGS-84,
    kept as WKB; centroid and bounding box are derived on save for cheap queries.
    """

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    level = models.CharField(_("level"), max_length=12, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    local_code = models.BooleanField(
        _("local code"), default=False, help_text=_("The code was assigned locally, not taken from a published table.")
    )
    geometry_wkb = models.BinaryField(_("polygon (WKB, WGS-84)"))
    centroid_lon = models.FloatField(_("centroid longitude"))
    centroid_lat = models.FloatField(_("centroid latitude"))
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    area_km2 = models.FloatField(_("area (km²)"), default=0)
    vertex_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def geometry(self) -> shapely.Geometry:
        return shapely.from_wkb(bytes(self.geometry_wkb))

    def set_geometry(self, geom: shapely.Geometry) -> None:
        from pingan.geo.measure import area_km2

        self.geometry_wkb = shapely.to_wkb(geom)
        c = geom.centroid
        self.centroid_lon, self.centroid_lat = c.x, c.y
        self.min_lon, self.min_lat, self.max_lon, self.max_lat = geom.bounds
        self.area_km2 = area_km2(geom)
        self.vertex_count = int(shapely.get_num_coordinates(geom))

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[self.level]


class GeoState(models.Model):
    """One row: the version of the area tree. Actions that change areas bump it; every process's
    locate index compares it (at most once a second) and rebuilds when it moved."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("geography state")

    def __str__(self) -> str:
        return f"area tree v{self.version}"

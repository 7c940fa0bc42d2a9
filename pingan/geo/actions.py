"""Changes to the area tree. Each bumps the tree's version so every process's index follows."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.core import audit
from pingan.geo.importer import ParseResult
from pingan.geo.models import Area, GeoState


def bump_version() -> None:
    updated = GeoState.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        GeoState.objects.create(pk=1, version=1)


def import_areas(actor: Any, parsed: ParseResult) -> dict[str, int]:
    """Write parsed areas (parents first) in one transaction: new codes are created, known codes
    updated. Returns counts. ``actor`` is a user allowed to change areas or a system channel name."""
    if not isinstance(actor, str):
        policy.require(actor, p.CHANGE_AREA.code)
    created = updated = 0
    with transaction.atomic():
        known = {a.code: a for a in Area.objects.filter(code__in=[x.code for x in parsed.areas])}
        parents: dict[str, Area] = {}
        parent_codes = {x.parent_code for x in parsed.areas if x.parent_code}
        parents.update({a.code: a for a in Area.objects.filter(code__in=parent_codes)})
        for item in parsed.areas:  # sorted parents first
            area = known.get(item.code) or Area(code=item.code)
            is_new = area.pk is None
            area.name, area.name_en, area.level, area.local_code = item.name, item.name_en, item.level, item.local_code
            area.parent = parents.get(item.parent_code) if item.parent_code else None
            area.set_geometry(item.geometry)
            area.save()
            parents[area.code] = area
            created += is_new
            updated += not is_new
        bump_version()
        audit.record(
            actor,
            "pingan.areas.imported",
            object_type="geo.area",
            object_repr=f"{len(parsed.areas)} areas",
            changes={"created": created, "updated": updated, "repaired": parsed.repaired[:50]},
        )
    return {"created": created, "updated": updated, "repaired": len(parsed.repaired)}

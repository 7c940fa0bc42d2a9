"""Core areas and reverse warnings: corrections.manage_core_area for the head of the justice bureau and the district
admin (added, never removed from what an admin set)."""

from django.db import migrations

from pingan.corrections.permissions import CORE_AREA_GRANTS
from pingan.corrections.setup import ensure_core_area_grants


def grant(apps, schema_editor):
    ensure_core_area_grants(apps)


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    codes = {c for grants in CORE_AREA_GRANTS.values() for c in grants}
    for role in Role.objects.filter(code__in=CORE_AREA_GRANTS):
        role.permissions = [code for code in role.permissions or [] if code not in codes]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("corrections", "0006_core_areas"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

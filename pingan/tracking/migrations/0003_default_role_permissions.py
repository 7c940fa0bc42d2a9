"""The default roles get the tracking permissions (added, never removed)."""

from django.db import migrations

from pingan.tracking.permissions import ALL, GRANTS


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS):
        perms = list(role.permissions or [])
        perms += [code for code in GRANTS[role.code] if code not in perms]
        role.permissions = perms
        role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS):
        role.permissions = [code for code in role.permissions or [] if code not in ALL]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_default_roles_and_departments"),
        ("tracking", "0002_partition_fixes"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

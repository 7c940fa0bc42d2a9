"""The default roles get the permissions of grid and workstation work (added, never removed).

Department staff also get ``events.report_event``: an inspection that finds a hazard opens an event
in the inspector's name, and departments inspect."""

from django.db import migrations

from pingan.fieldwork.permissions import ALL, GRANTS


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
        # events.report_event stays: the events migration may have granted it too.
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_default_roles_and_departments"),
        ("events", "0002_defaults"),
        ("fieldwork", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

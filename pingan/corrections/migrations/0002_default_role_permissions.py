"""The role of the head of the county justice bureau (who approves electronic monitoring, 社区矫正法 art. 29), and
the corrections permissions of the default roles (added, never removed from what an admin set)."""

from django.db import migrations

from pingan.corrections.permissions import ALL, GRANTS, HEAD_ROLE
from pingan.corrections.setup import ensure_roles


def grant(apps, schema_editor):
    ensure_roles(apps)


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=GRANTS):
        role.permissions = [code for code in role.permissions or [] if code not in ALL]
        role.save(update_fields=["permissions"])
    Role.objects.filter(code=HEAD_ROLE[0], assignments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_default_roles_and_departments"),
        ("corrections", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

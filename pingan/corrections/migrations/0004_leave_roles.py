"""Leave and the carrier feed: the roles of the head of a judicial office (approves leave of up to seven days,
社区矫正法实施办法 art. 26) and of a carrier's gateway, and the leave and carrier permissions of the default roles
(added, never removed from what an admin set)."""

from django.db import migrations

from pingan.corrections.permissions import LEAVE_ALL, LEAVE_GRANTS, LEAVE_ROLES
from pingan.corrections.setup import ensure_leave_roles


def grant(apps, schema_editor):
    ensure_leave_roles(apps)


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=LEAVE_GRANTS):
        role.permissions = [code for code in role.permissions or [] if code not in LEAVE_ALL]
        role.save(update_fields=["permissions"])
    Role.objects.filter(code__in=[r[0] for r in LEAVE_ROLES], assignments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("corrections", "0003_leave"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

"""Every installation starts with the default roles and departments; afterwards they are data."""

from django.db import migrations

from pingan.accounts.defaults import DEPARTMENTS, ROLES


def install(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    Organisation = apps.get_model("accounts", "Organisation")
    for code, name, name_en, scope, perms, description in ROLES:
        Role.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "scope": scope, "permissions": perms, "description": description}
        )
    created = {}
    for code, name, name_en, kind, parent in DEPARTMENTS:
        created[code], _ = Organisation.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "kind": kind, "parent": created.get(parent) if parent else None}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

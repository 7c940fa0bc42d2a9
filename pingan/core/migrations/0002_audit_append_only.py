"""Make the audit log append-only in the database itself: UPDATE, DELETE (and TRUNCATE) are refused."""

from django.db import migrations

from pingan.core.dbtriggers import INSTALL, REMOVE


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(_run(INSTALL), _run(REMOVE))]

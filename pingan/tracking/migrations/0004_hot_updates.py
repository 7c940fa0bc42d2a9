"""The rows every batch rewrites — each target's engine state and latest position, each device's last
sighting — are updated in place where PostgreSQL can (HOT updates: no new index entries): the state's due
time loses its index, and the three tables keep a fifth of each page free for new row versions."""

from django.db import migrations, models

HOT_TABLES = ("tracking_targetstate", "tracking_latestposition", "tracking_device")


def fillfactor(value):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in HOT_TABLES:
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {int(value)})")

    return run


class Migration(migrations.Migration):
    dependencies = [("tracking", "0003_default_role_permissions")]

    operations = [
        migrations.AlterField(
            model_name="targetstate",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True,
                                       help_text="when the periodic tick must look at this target next (lost contact, re-arm)"),
        ),
        migrations.RunPython(fillfactor(80), fillfactor(100)),
    ]

"""On PostgreSQL, ``tracking_fix`` becomes a table partitioned by day on ``device_time`` (see
``pingan.tracking.partitions``). SQLite keeps the plain table."""

from django.db import migrations

from pingan.tracking.partitions import CREATE_PARTITIONED, ensure_partitions


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    import datetime as dt

    with schema_editor.connection.cursor() as cur:
        cur.execute(CREATE_PARTITIONED)
    ensure_partitions(dt.datetime.now(dt.UTC))


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]

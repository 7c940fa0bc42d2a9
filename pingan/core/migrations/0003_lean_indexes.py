"""Leaner audit indexes: one per search, no doubled LIKE-pattern indexes (see ``AuditEntry.Meta``).

SQLite alters these fields by rebuilding the table, which drops its triggers: the append-only triggers
are installed again last (idempotent on both databases)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from pingan.core.dbtriggers import INSTALL


def _install_triggers(apps, schema_editor):
    for sql in INSTALL.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_audit_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(max_length=100, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='actor'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='hash',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='object_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='object id'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='object_type',
            field=models.CharField(blank=True, max_length=100, verbose_name='object type'),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='request_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='request id'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['action'], name='core_audit_action', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['actor_username'], name='core_audit_actor'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['object_id', 'object_type'], name='core_audit_object'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(condition=models.Q(('request_id', ''), _negated=True), fields=['request_id'], name='core_audit_request'),
        ),
        migrations.AddConstraint(
            model_name='auditentry',
            constraint=models.UniqueConstraint(fields=('hash',), name='unique_audit_hash'),
        ),
        migrations.RunPython(_install_triggers, migrations.RunPython.noop),
    ]

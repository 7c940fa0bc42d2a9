"""Leaner event indexes: none repeats a composite's leading column; partial indexes for the few overdue,
supervised and merged events; the number's uniqueness as a constraint (no second LIKE-pattern index)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_default_roles_and_departments'),
        ('events', '0003_indexes_for_figures'),
        ('geo', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='event',
            name='events_even_overdue_5789d0_idx',
        ),
        migrations.AlterField(
            model_name='event',
            name='event_type',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, to='events.eventtype', verbose_name='type'),
        ),
        migrations.AlterField(
            model_name='event',
            name='merged_into',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='duplicates', to='events.event'),
        ),
        migrations.AlterField(
            model_name='event',
            name='number',
            field=models.CharField(max_length=24, verbose_name='number'),
        ),
        migrations.AlterField(
            model_name='event',
            name='overdue',
            field=models.BooleanField(default=False, verbose_name='overdue (red)'),
        ),
        migrations.AlterField(
            model_name='event',
            name='state',
            field=models.CharField(choices=[('reported', 'reported'), ('accepted', 'accepted'), ('rejected', 'rejected'), ('merged', 'merged'), ('dispatched', 'dispatched'), ('returned', 'sent back'), ('in_progress', 'in progress'), ('resolved', 'resolved'), ('verified', 'verified'), ('closed', 'closed'), ('parked', 'parked')], default='reported', max_length=12, verbose_name='state'),
        ),
        migrations.AlterField(
            model_name='event',
            name='supervised',
            field=models.BooleanField(default=False, verbose_name='supervised'),
        ),
        migrations.AlterField(
            model_name='event',
            name='town',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='geo.area'),
        ),
        migrations.AlterField(
            model_name='event',
            name='workstation',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='workstation_events', to='accounts.organisation', verbose_name='workstation'),
        ),
        migrations.AlterField(
            model_name='idempotencykey',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='notification',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='task',
            name='event',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='events.event'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('overdue', True)), fields=['state'], name='events_event_overdue'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('supervised', True)), fields=['state'], name='events_event_supervised'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('merged_into__isnull', False)), fields=['merged_into'], name='events_event_merged'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('number',), name='unique_event_number'),
        ),
    ]

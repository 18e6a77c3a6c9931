"""Add the pre-aggregated figures of the analysis for the next campaign, rebuilt every 15
minutes by a beat schedule that administrators can change under "Periodic tasks"."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

SUMMARY_TASK = "portal.refresh_analysis_summary"
SUMMARY_NAME = "Next-campaign analysis figures"


def schedule_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # Keep equal to settings.ANALYSIS_SUMMARY_REFRESH_MINUTES, which the analysis page states.
    every_fifteen_minutes, _created = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=SUMMARY_NAME,
        defaults={
            "task": SUMMARY_TASK,
            "interval": every_fifteen_minutes,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Rebuilds the pre-aggregated figures of the analysis for the next campaign.",
        },
    )
    # The historical model skips PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=SUMMARY_NAME, task=SUMMARY_TASK).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0013_task_list_order_indexes'),
        ('customers', '0009_roster_order_composite_indexes'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.CreateModel(
            name='AnalysisSummaryRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('as_of', models.DateField()),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['-finished_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='AnalysisSummary',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('roster', 'Roster'), ('response', 'Response')], max_length=10)),
                ('dimension', models.CharField(max_length=20)),
                ('key', models.TextField(null=True)),
                ('customers', models.PositiveIntegerField(default=0)),
                ('aum', models.DecimalField(decimal_places=2, default=0, max_digits=24)),
                ('converted', models.PositiveIntegerField(default=0)),
                ('branch', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='customers.branch')),
                ('tier', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='customers.tier')),
            ],
            options={
                'indexes': [models.Index(fields=['kind', 'dimension', 'branch'], name='analysis_summary_lookup_idx')],
            },
        ),
        migrations.RunPython(schedule_create, schedule_delete),
    ]

"""Let ExportLog describe an export written to a file by a Celery worker, and schedule the
hourly removal of expired export files with django-celery-beat. Administrators can change the
interval or disable the task in the admin under "Periodic tasks"."""

from django.db import migrations, models
from django.utils import timezone

TASK_NAME = "portal.export_files_remove"
PERIODIC_TASK_NAME = "Removal of expired export files"


def schedule_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="17", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.update_or_create(
        name=PERIODIC_TASK_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Deletes background export files older than EXPORT_FILE_RETENTION_HOURS.",
        },
    )
    # The historical model skips PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME, task=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0006_amount_in_wan'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.AddField(
            model_name='exportlog',
            name='download_name',
            field=models.CharField(blank=True, max_length=200, verbose_name='download name'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='expected_rows',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='expected rows'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='failure',
            field=models.TextField(blank=True, verbose_name='failure'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='file_path',
            field=models.CharField(blank=True, max_length=200, verbose_name='file'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='file_status',
            field=models.CharField(blank=True, choices=[('queued', 'Waiting for a worker'), ('running', 'Writing the file'), ('ready', 'Ready to download'), ('failed', 'Failed'), ('expired', 'Expired')], max_length=10, verbose_name='file status'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='language',
            field=models.CharField(blank=True, max_length=10, verbose_name='language'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='path',
            field=models.CharField(blank=True, max_length=200, verbose_name='path'),
        ),
        migrations.AddField(
            model_name='exportlog',
            name='rows_written',
            field=models.PositiveIntegerField(default=0, verbose_name='rows written'),
        ),
        migrations.RunPython(schedule_create, schedule_delete),
    ]

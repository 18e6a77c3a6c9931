"""Let imports run without a user (command line, scheduled folder imports) and schedule the
folder import every 10 minutes with django-celery-beat.

The schedule is enabled. The task returns at once unless settings.ROSTER_IMPORT_FOLDER names
a folder, so setting that variable is all it takes to start folder imports. Administrators can
change the interval or disable the task in the admin under "Periodic tasks"."""

from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion
from django.utils import timezone

TASK_NAME = "customers.roster_folder_import"
PERIODIC_TASK_NAME = "Roster imports from the import folder"


def schedule_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="*/10",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    PeriodicTask.objects.update_or_create(
        name=PERIODIC_TASK_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Imports the roster files in ROSTER_IMPORT_FOLDER; does nothing while it is not set.",
        },
    )
    # The historical model skips PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME, task=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_branch_head"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="rosterimport",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="uploaded by",
            ),
        ),
        migrations.RunPython(schedule_create, schedule_delete),
    ]

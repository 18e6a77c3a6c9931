"""Schedule the daily jobs that create tasks: next follow-ups at 06:30 and tier service
standard care tasks at 06:40 Asia/Shanghai, before the 08:00 morning reminders include them.
Administrators can change or disable both in the admin under "Periodic tasks"."""

from django.db import migrations
from django.utils import timezone

FOLLOW_UPS_TASK = "campaigns.create_due_follow_ups"
FOLLOW_UPS_NAME = "Next follow-up tasks"
CARE_TASK = "campaigns.create_care_tasks"
CARE_NAME = "Tier service standard care tasks"


def schedules_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    for name, task, minute, description in (
        (FOLLOW_UPS_NAME, FOLLOW_UPS_TASK, "30",
         "Creates the next task of each done task whose next follow-up date has come."),
        (CARE_NAME, CARE_TASK, "40",
         "Creates a care task for each customer not contacted within their tier's contact interval."),
    ):
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour="6",
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="Asia/Shanghai",
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": crontab,
                "args": "[]",
                "kwargs": "{}",
                "enabled": True,
                "description": description,
            },
        )
    # The historical model skips PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedules_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=FOLLOW_UPS_NAME, task=FOLLOW_UPS_TASK).delete()
    PeriodicTask.objects.filter(name=CARE_NAME, task=CARE_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0009_design_launch_summary"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]

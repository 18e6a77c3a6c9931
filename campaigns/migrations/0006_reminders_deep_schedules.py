"""Schedule the returned-task notices every 10 minutes and the beat heartbeat every minute,
and describe the morning run's wider content. Administrators can change both in the admin."""

from django.db import migrations
from django.utils import timezone

MORNING_TASK = "campaigns.send_daily_reminders"
MORNING_NAME = "Morning reminders (digests and escalations)"
NOTICES_TASK = "campaigns.send_task_notices"
NOTICES_NAME = "Returned-task notices"
HEARTBEAT_TASK = "campaigns.beat_heartbeat"
HEARTBEAT_NAME = "Beat heartbeat"


def schedules_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    every_ten_minutes, _created = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    every_minute, _created = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NOTICES_NAME,
        defaults={
            "task": NOTICES_TASK,
            "interval": every_ten_minutes,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Tells client managers about returned tasks without waiting for the morning run.",
        },
    )
    PeriodicTask.objects.update_or_create(
        name=HEARTBEAT_NAME,
        defaults={
            "task": HEARTBEAT_TASK,
            "interval": every_minute,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Shows on the reminder status page that beat and a worker are running.",
        },
    )
    PeriodicTask.objects.filter(name=MORNING_NAME, task=MORNING_TASK).update(
        description=(
            "Sends the digests, due-soon reminders, escalations, returned-task notices, the weekly campaign "
            "owner summaries and the daily platform summary."
        )
    )
    # The historical model skips PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedules_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NOTICES_NAME, task=NOTICES_TASK).delete()
    PeriodicTask.objects.filter(name=HEARTBEAT_NAME, task=HEARTBEAT_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_reminders_deep_ledger"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]

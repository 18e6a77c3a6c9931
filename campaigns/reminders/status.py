"""Read the state of the reminder schedules for the administrators' status page."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from ..models import BeatHeartbeat, Reminder, ReminderRun
from .delivery import max_attempts

# Beat runs the heartbeat every minute, so a heartbeat older than this means beat, the
# broker or every worker has stopped.
HEARTBEAT_STALE_AFTER = datetime.timedelta(minutes=5)
LEDGER_DAYS = 7
FAILED_ROWS_SHOWN = 50
# Display names of the portal's own schedules. A schedule's stored name is data that the
# administrator can change in the admin, so the page shows it only for other tasks.
SCHEDULE_LABELS = {
    "campaigns.send_daily_reminders": _("Morning reminders (digests and escalations)"),
    "campaigns.send_task_notices": _("Returned-task notices"),
    "campaigns.beat_heartbeat": _("Beat heartbeat"),
    "campaigns.create_due_follow_ups": _("Next follow-up tasks"),
    "campaigns.create_care_tasks": _("Tier service standard care tasks"),
}


@dataclass
class ScheduleStatus:
    """One periodic task of the campaigns app and its last recorded run."""

    periodic_task: PeriodicTask
    last_run: ReminderRun | None

    @property
    def label(self) -> str:
        return str(SCHEDULE_LABELS.get(self.periodic_task.task, self.periodic_task.name))


@dataclass
class ReminderStatus:
    schedules: list[ScheduleStatus]
    heartbeat_at: datetime.datetime | None
    heartbeat_stale: bool
    ledger_since: datetime.date
    ledger_counts: list[dict]
    failed_rows: list[Reminder]
    max_attempts: int


def reminder_status_get(*, today: datetime.date) -> ReminderStatus:
    periodic_tasks = list(
        PeriodicTask.objects.filter(task__startswith="campaigns.")
        .select_related("crontab", "interval")
        .order_by("name")
    )
    # The latest run of each schedule: runs are few per day, so the last week is enough.
    recent_runs = ReminderRun.objects.filter(started_at__gte=timezone.now() - datetime.timedelta(days=LEDGER_DAYS))
    last_runs: dict[str, ReminderRun] = {}
    for run in recent_runs.order_by("-started_at", "-id"):
        last_runs.setdefault(run.schedule, run)

    heartbeat = BeatHeartbeat.objects.filter(name="beat").first()
    heartbeat_at = heartbeat.beat_at if heartbeat else None
    heartbeat_stale = heartbeat_at is None or timezone.now() - heartbeat_at > HEARTBEAT_STALE_AFTER

    ledger_since = today - datetime.timedelta(days=LEDGER_DAYS - 1)
    attempts_limit = max_attempts()
    ledger_counts = list(
        Reminder.objects.filter(business_date__gte=ledger_since)
        .values("kind")
        .annotate(
            sent=Count("pk", filter=Q(status=Reminder.Status.SENT)),
            pending=Count("pk", filter=Q(status=Reminder.Status.PENDING)),
            retrying=Count("pk", filter=Q(status=Reminder.Status.FAILED, attempts__lt=attempts_limit)),
            failed=Count("pk", filter=Q(status=Reminder.Status.FAILED, attempts__gte=attempts_limit)),
            cancelled=Count("pk", filter=Q(status=Reminder.Status.CANCELLED)),
        )
        .order_by("kind")
    )
    labels = dict(Reminder.Kind.choices)
    for row in ledger_counts:
        row["label"] = labels.get(row["kind"], row["kind"])

    failed_rows = list(
        Reminder.objects.filter(status=Reminder.Status.FAILED)
        .select_related("recipient")
        .order_by("-business_date", "-id")[:FAILED_ROWS_SHOWN]
    )
    return ReminderStatus(
        schedules=[ScheduleStatus(periodic_task=task, last_run=last_runs.get(task.task)) for task in periodic_tasks],
        heartbeat_at=heartbeat_at,
        heartbeat_stale=heartbeat_stale,
        ledger_since=ledger_since,
        ledger_counts=ledger_counts,
        failed_rows=failed_rows,
        max_attempts=attempts_limit,
    )

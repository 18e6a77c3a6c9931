"""Celery tasks of the campaigns app. Each task calls a service that is safe to run twice."""

import datetime
import logging
from typing import NoReturn

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from .models import BeatHeartbeat, ReminderRun
from .reminders import DAILY_KINDS, NOTICE_KINDS, ReminderRunResult, reminders_business_date_today, reminders_run
from .reminders.catch_up import missed_morning_run_date

logger = logging.getLogger(__name__)

SEND_DAILY_REMINDERS_MAX_RETRIES = 5
# Before retry number n (counted from 0) the task waits a random 0 to min(60 * 2**n, 1800) seconds.
RETRY_BACKOFF_FACTOR = 60
RETRY_BACKOFF_MAX = 30 * 60


class RemindersIncompleteError(Exception):
    """Some reminder mails of a run failed, so the task runs again to resend them."""


HEARTBEAT_NAME = "beat"


@shared_task(
    bind=True,
    name="campaigns.send_daily_reminders",
    acks_late=True,
    max_retries=SEND_DAILY_REMINDERS_MAX_RETRIES,
)
def send_daily_reminders(self, business_date: str | None = None) -> dict[str, int]:
    """Send the digests, due-soon reminders, escalations, returned-task notices and summaries
    of `business_date` (ISO format, default today in Asia/Shanghai). Retries on database
    connection errors and on failed mails."""
    return _reminders_task_run(self, schedule=self.name, business_date=business_date, kinds=DAILY_KINDS)


@shared_task(
    bind=True,
    name="campaigns.send_task_notices",
    acks_late=True,
    max_retries=SEND_DAILY_REMINDERS_MAX_RETRIES,
)
def send_task_notices(self, business_date: str | None = None, catch_up: bool = False) -> dict[str, int]:
    """Send the returned-task notices not yet sent. Beat runs this every few minutes.

    When today's morning run has not started well after its scheduled time (its message was
    lost with the broker), this run sends the morning reminders instead, recorded under the
    morning schedule. `catch_up` keeps a retry of such a run on the morning reminders."""
    missed_date = None if (catch_up or business_date) else missed_morning_run_date()
    if catch_up or missed_date:
        return _reminders_task_run(
            self,
            schedule=send_daily_reminders.name,
            business_date=business_date or missed_date.isoformat(),
            kinds=DAILY_KINDS,
            retry_kwargs={"catch_up": True},
        )
    return _reminders_task_run(self, schedule=self.name, business_date=business_date, kinds=NOTICE_KINDS)


@shared_task(name="campaigns.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Record that beat scheduled this task and a worker ran it; the status page shows it."""
    BeatHeartbeat.objects.update_or_create(name=HEARTBEAT_NAME, defaults={"beat_at": timezone.now()})


def _reminders_task_run(
    task, *, schedule: str, business_date: str | None, kinds, retry_kwargs: dict | None = None
) -> dict[str, int]:
    date = datetime.date.fromisoformat(business_date) if business_date else reminders_business_date_today()
    attempt = task.request.retries + 1
    logger.info("Task %s: %s of %s started, attempt %s", task.request.id, schedule, date, attempt)
    run = ReminderRun(schedule=schedule, business_date=date, started_at=timezone.now())

    try:
        run.save()
        result = reminders_run(business_date=date, kinds=kinds)
    except (OperationalError, InterfaceError) as error:
        logger.warning(
            "Task %s: %s of %s hit a database error on attempt %s: %s", task.request.id, schedule, date, attempt, error
        )
        _run_record(run, error=error)
        _retry(task, date=date, error=error, extra_kwargs=retry_kwargs)

    _run_record(run, result=result)
    logger.info(
        "Task %s: %s of %s finished, %s sent, %s already sent, %s in progress elsewhere, %s without e-mail, "
        "%s cancelled, %s failed",
        task.request.id,
        schedule,
        date,
        result.sent,
        result.skipped_already_sent,
        result.skipped_in_progress,
        result.skipped_no_email,
        result.skipped_cancelled,
        result.failed,
    )
    if result.failed:
        _retry(
            task,
            date=date,
            error=RemindersIncompleteError(f"{result.failed} reminder mails of {date} failed"),
            extra_kwargs=retry_kwargs,
        )
    return result.as_dict()


def _run_record(run: ReminderRun, *, result: ReminderRunResult | None = None, error: Exception | None = None) -> None:
    """Store the outcome of a run for the status page. A database error leaves the row
    unfinished, because the database may be what failed."""
    run.finished_at = timezone.now()
    if result is not None:
        run.sent = result.sent
        run.failed = result.failed
    if error is not None:
        run.error = f"{type(error).__name__}: {error}"[:2000]
    try:
        run.save()
    except (OperationalError, InterfaceError) as save_error:
        logger.warning("Reminder run %s of %s: recording its outcome failed: %s", run.pk, run.schedule, save_error)


def _retry(task, *, date: datetime.date, error: Exception, extra_kwargs: dict | None = None) -> NoReturn:
    """Schedule the task again for the same business date, or log the final failure and
    re-raise `error` once the retries are used up."""
    if task.request.retries >= task.max_retries:
        logger.error(
            "Task %s: reminders of %s failed after %s attempts, giving up: %s",
            task.request.id,
            date,
            task.request.retries + 1,
            error,
        )
        raise error
    countdown = get_exponential_backoff_interval(
        factor=RETRY_BACKOFF_FACTOR, retries=task.request.retries, maximum=RETRY_BACKOFF_MAX, full_jitter=True
    )
    logger.info("Task %s: reminders of %s retry in %s s", task.request.id, date, countdown)
    # The date is passed explicitly, so a retry after midnight still sends the same day's mails.
    kwargs = {"business_date": date.isoformat(), **(extra_kwargs or {})}
    raise task.retry(kwargs=kwargs, exc=error, countdown=countdown)


@shared_task(name="campaigns.create_due_follow_ups", acks_late=True)
def create_due_follow_ups(business_date: str | None = None) -> dict[str, int]:
    """Create the next tasks whose follow-up date has come by `business_date` (ISO format,
    default today in Asia/Shanghai). A second run on the same day creates nothing more."""
    # Imported here so that the tasks of these jobs stay together at the end of the file.
    from .followups import followups_create_due

    day = datetime.date.fromisoformat(business_date) if business_date else None
    result = followups_create_due(day=day)
    return {"created": result.created, "without_assignee": result.without_assignee}


@shared_task(name="campaigns.create_care_tasks", acks_late=True)
def create_care_tasks(business_date: str | None = None) -> dict[str, int]:
    """Create the tier service standard care tasks due by `business_date` (ISO format, default
    today in Asia/Shanghai). A second run in the same month creates nothing more."""
    from .followups import care_tasks_create

    day = datetime.date.fromisoformat(business_date) if business_date else None
    result = care_tasks_create(day=day)
    return {"created": result.created, "without_assignee": result.without_assignee}


@shared_task(name="campaigns.campaign_launch", acks_late=True)
def campaign_launch_task(*, campaign_id: int, user_id: int, expected_fingerprint: str | None) -> dict[str, int]:
    """Launch a campaign queued by launch_background.campaign_launch_queue and return the number
    of tasks created. A redelivered message finds the campaign active or back in draft and does
    nothing, because the status changes in the launch's transaction."""
    from .launch_background import campaign_launch_run

    created = campaign_launch_run(campaign_id=campaign_id, user_id=user_id, expected_fingerprint=expected_fingerprint)
    return {"created": created or 0}

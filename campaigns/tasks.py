"""Celery tasks of the campaigns app. Each task calls a service that is safe to run twice."""

import datetime
import logging
from typing import NoReturn

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError

from .reminders import reminders_business_date_today, reminders_run

logger = logging.getLogger(__name__)

SEND_DAILY_REMINDERS_MAX_RETRIES = 5
# Before retry number n (counted from 0) the task waits a random 0 to min(60 * 2**n, 1800) seconds.
RETRY_BACKOFF_FACTOR = 60
RETRY_BACKOFF_MAX = 30 * 60


class RemindersIncompleteError(Exception):
    """Some reminder mails of a run failed, so the task runs again to resend them."""


@shared_task(
    bind=True,
    name="campaigns.send_daily_reminders",
    acks_late=True,
    max_retries=SEND_DAILY_REMINDERS_MAX_RETRIES,
)
def send_daily_reminders(self, business_date: str | None = None) -> dict[str, int]:
    """Send the morning digests and escalations of `business_date` (ISO format, default today
    in Asia/Shanghai). Retries on database connection errors and on failed mails."""
    date = datetime.date.fromisoformat(business_date) if business_date else reminders_business_date_today()
    attempt = self.request.retries + 1
    logger.info("Task %s: reminders of %s started, attempt %s", self.request.id, date, attempt)

    try:
        result = reminders_run(business_date=date)
    except (OperationalError, InterfaceError) as error:
        logger.warning("Task %s: reminders of %s hit a database error on attempt %s: %s", self.request.id, date, attempt, error)
        _retry(self, date=date, error=error)

    logger.info(
        "Task %s: reminders of %s finished, %s sent, %s already sent, %s in progress elsewhere, %s without e-mail, "
        "%s failed",
        self.request.id,
        date,
        result.sent,
        result.skipped_already_sent,
        result.skipped_in_progress,
        result.skipped_no_email,
        result.failed,
    )
    if result.failed:
        _retry(self, date=date, error=RemindersIncompleteError(f"{result.failed} reminder mails of {date} failed"))
    return result.as_dict()


def _retry(task, *, date: datetime.date, error: Exception) -> NoReturn:
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
    raise task.retry(kwargs={"business_date": date.isoformat()}, exc=error, countdown=countdown)

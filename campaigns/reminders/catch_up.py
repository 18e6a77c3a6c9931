"""Catch up a morning run that never reached a worker.

Beat publishes the morning run once a day. If the broker is down at that moment, or restarts
empty before a worker takes the message, that run is lost and with it the day's digests. The
returned-task notices run every few minutes, so each of them checks whether today's morning run
has started and, when it has not by CATCH_UP_GRACE after its scheduled time, sends the morning
reminders itself. The ledger keeps the two paths from sending any mail twice."""

import datetime
import logging

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ..models import ReminderRun
from .scan import BUSINESS_TIMEZONE

logger = logging.getLogger(__name__)

MORNING_TASK = "campaigns.send_daily_reminders"
# A morning run that is due less than this long ago may still be queued behind other work.
CATCH_UP_GRACE = datetime.timedelta(minutes=15)


def current_time() -> datetime.datetime:
    return timezone.now()


def morning_run_first_time(periodic_task: PeriodicTask, day: datetime.date) -> datetime.datetime | None:
    """Return the first time on `day` at which the crontab of `periodic_task` fires, in its
    own time zone, or None when it does not fire that day."""
    schedule = periodic_task.crontab.schedule
    # Cron counts weekdays from Sunday = 0.
    if day.isoweekday() % 7 not in schedule.day_of_week:
        return None
    if day.day not in schedule.day_of_month or day.month not in schedule.month_of_year:
        return None
    return datetime.datetime.combine(
        day, datetime.time(min(schedule.hour), min(schedule.minute)), tzinfo=periodic_task.crontab.timezone
    )


def missed_morning_run_date(*, now: datetime.datetime | None = None) -> datetime.date | None:
    """Return today's business date when today's morning run was due more than CATCH_UP_GRACE
    ago and has not started, else None. Only an enabled crontab schedule of the morning task
    is checked."""
    now = now or current_time()
    periodic_task = (
        PeriodicTask.objects.select_related("crontab")
        .filter(task=MORNING_TASK, enabled=True, crontab__isnull=False)
        .order_by("pk")
        .first()
    )
    if periodic_task is None:
        return None
    local_now = now.astimezone(periodic_task.crontab.timezone)
    first_time = morning_run_first_time(periodic_task, local_now.date())
    if first_time is None or local_now < first_time + CATCH_UP_GRACE:
        return None
    business_date = timezone.localdate(now, timezone=BUSINESS_TIMEZONE)
    started = ReminderRun.objects.filter(schedule=MORNING_TASK, business_date=business_date).exists()
    if started:
        return None
    logger.warning(
        "Reminders %s: the morning run due at %s has not started, so the morning reminders are sent now",
        business_date,
        first_time.isoformat(),
    )
    return business_date

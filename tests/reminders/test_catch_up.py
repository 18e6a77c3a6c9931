"""A morning run lost with the broker is caught up by the next returned-task notices run."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from campaigns.models import Reminder, ReminderRun
from campaigns.reminders import catch_up
from campaigns.tasks import send_task_notices

from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(hour, minute=0, day=BUSINESS_DATE):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (shanghai(7, 59), None),
        # Inside the grace period the morning run may still be queued.
        (shanghai(8, 10), None),
        (shanghai(8, 16), BUSINESS_DATE),
        (shanghai(23, 30), BUSINESS_DATE),
    ],
)
def test_missed_run_after_grace_only(moment, expected):
    assert catch_up.missed_morning_run_date(now=moment) == expected


def test_started_run_is_not_missed():
    ReminderRun.objects.create(
        schedule=catch_up.MORNING_TASK, business_date=BUSINESS_DATE, started_at=shanghai(8, 0)
    )

    assert catch_up.missed_morning_run_date(now=shanghai(9, 0)) is None


def test_disabled_schedule_is_not_caught_up():
    PeriodicTask.objects.filter(task=catch_up.MORNING_TASK).update(enabled=False)

    assert catch_up.missed_morning_run_date(now=shanghai(9, 0)) is None


def test_schedule_off_that_weekday():
    periodic_task = PeriodicTask.objects.select_related("crontab").get(task=catch_up.MORNING_TASK)
    periodic_task.crontab.day_of_week = "1-5"
    periodic_task.crontab.save()
    sunday = BUSINESS_DATE - datetime.timedelta(days=1)

    assert catch_up.missed_morning_run_date(now=shanghai(9, 0, day=sunday)) is None
    assert catch_up.missed_morning_run_date(now=shanghai(9, 0)) == BUSINESS_DATE


def test_notices_run_sends_missed_morning_once(monkeypatch, users, make_task):
    make_task(assignee=users["manager_a"], days=0)
    monkeypatch.setattr(catch_up, "current_time", lambda: shanghai(9, 30))

    first = send_task_notices.apply()
    second = send_task_notices.apply()

    assert first.successful()
    assert second.successful()
    digests = [message for message in mail.outbox if message.to == [users["manager_a"].email]]
    assert len(digests) == 1
    assert Reminder.objects.get(kind=Reminder.Kind.DIGEST).status == Reminder.Status.SENT
    run = ReminderRun.objects.get(schedule=catch_up.MORNING_TASK)
    assert run.business_date == BUSINESS_DATE
    assert run.sent >= 1
    # The second run found the morning run started and sent only the notices, of which there were none.
    assert second.result["sent"] == 0

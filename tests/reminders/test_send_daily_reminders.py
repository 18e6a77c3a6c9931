"""The Celery task and its beat schedule, run in-process (no broker)."""

import datetime

import pytest
from django.core import mail
from django.db import OperationalError
from django_celery_beat.models import PeriodicTask

from campaigns.models import Reminder
from campaigns.reminders import reminders_business_date_today, reminders_run
from campaigns.tasks import SEND_DAILY_REMINDERS_MAX_RETRIES, RemindersIncompleteError, send_daily_reminders
from portal.celery import app

from .backends import REFUSED_DOMAIN
from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db


def test_beat_schedule_row_exists():
    periodic_task = PeriodicTask.objects.select_related("crontab").get(task="campaigns.send_daily_reminders")

    assert periodic_task.enabled
    assert periodic_task.crontab is not None
    assert str(periodic_task.crontab.timezone) == "Asia/Shanghai"
    assert (periodic_task.crontab.hour, periodic_task.crontab.minute) == ("8", "0")
    assert periodic_task.crontab.day_of_week == "*"
    assert periodic_task.args == "[]"
    assert periodic_task.kwargs == "{}"
    assert str(periodic_task.crontab.schedule.tz) == "Asia/Shanghai"


def test_task_registered_under_schedule_name():
    app.loader.import_default_modules()

    registered = app.tasks["campaigns.send_daily_reminders"]
    assert registered.run.__module__ == "campaigns.tasks"
    assert registered.acks_late is True
    assert registered.max_retries == SEND_DAILY_REMINDERS_MAX_RETRIES


def test_task_returns_counts(users, make_task):
    make_task(assignee=users["manager_a"], days=0)

    outcome = send_daily_reminders.apply(kwargs={"business_date": BUSINESS_DATE.isoformat()})

    assert outcome.successful()
    # The digest, and the platform user's daily summary and weekly campaign summary.
    assert outcome.result == {
        "sent": 3,
        "skipped_already_sent": 0,
        "skipped_in_progress": 0,
        "skipped_no_email": 0,
        "skipped_cancelled": 0,
        "failed": 0,
    }
    assert Reminder.objects.get(kind=Reminder.Kind.DIGEST).business_date == BUSINESS_DATE


def test_task_retries_failed_mails_bounded(users, make_task, settings):
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    manager = users["manager_a"]
    manager.email = f"cm_a{REFUSED_DOMAIN}"
    manager.save()
    make_task(assignee=manager, days=0)
    make_task(assignee=users["manager_b"], days=0)

    # apply() runs each retry at once, in this process, without its countdown.
    outcome = send_daily_reminders.apply(kwargs={"business_date": BUSINESS_DATE.isoformat()})

    assert outcome.failed()
    assert isinstance(outcome.result, RemindersIncompleteError)
    failed = Reminder.objects.get(recipient=manager)
    assert failed.status == Reminder.Status.FAILED
    assert failed.attempts == SEND_DAILY_REMINDERS_MAX_RETRIES + 1
    delivered = Reminder.objects.get(recipient=users["manager_b"])
    assert delivered.status == Reminder.Status.SENT
    assert delivered.attempts == 1
    assert sorted(message.to[0] for message in mail.outbox) == ["cm_b@bank.example", "platform@bank.example", "platform@bank.example"]


def test_task_retries_database_errors(users, make_task, monkeypatch):
    make_task(assignee=users["manager_a"], days=0)
    calls = []

    def flaky_reminders_run(*, business_date, kinds):
        calls.append(business_date)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return reminders_run(business_date=business_date, kinds=kinds)

    monkeypatch.setattr("campaigns.tasks.reminders_run", flaky_reminders_run)

    outcome = send_daily_reminders.apply(kwargs={"business_date": BUSINESS_DATE.isoformat()})

    assert outcome.successful()
    assert calls == [BUSINESS_DATE, BUSINESS_DATE]
    assert outcome.result["sent"] == 3
    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}


def test_default_date_is_shanghai_today(users, make_task, monkeypatch):
    # 17:00 UTC on 1 March is 01:00 on 2 March in Shanghai.
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime.datetime(2026, 3, 1, 17, 0, tzinfo=datetime.timezone.utc)
    )
    make_task(assignee=users["manager_a"], days=0)

    outcome = send_daily_reminders.apply()

    assert outcome.successful()
    assert reminders_business_date_today() == BUSINESS_DATE
    assert Reminder.objects.get(kind=Reminder.Kind.DIGEST).business_date == BUSINESS_DATE
    digests = [message for message in mail.outbox if message.to == [users["manager_a"].email]]
    assert [message.subject for message in digests] == ["Morning digest for 2026-03-02: 1 open task"]

"""django-celery-beat reads the reminder schedules from the database and picks up a change
made in the admin without a restart."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from portal.celery import app as celery_app

MORNING = "Morning reminders (digests and escalations)"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEVEN_AM = datetime.datetime(2026, 3, 2, 7, 0, tzinfo=SHANGHAI)


def next_run_at(entry, now: datetime.datetime) -> datetime.datetime:
    schedule = entry.schedule
    schedule.nowfun = lambda: now
    return now + schedule.remaining_estimate(now)


def test_schedules_exist_in_database(db):
    tasks = dict(PeriodicTask.objects.filter(task__startswith="campaigns.").values_list("name", "task"))

    assert tasks == {
        MORNING: "campaigns.send_daily_reminders",
        "Returned-task notices": "campaigns.send_task_notices",
        "Beat heartbeat": "campaigns.beat_heartbeat",
        "Next follow-up tasks": "campaigns.create_due_follow_ups",
        "Tier service standard care tasks": "campaigns.create_care_tasks",
    }
    notices = PeriodicTask.objects.select_related("interval").get(task="campaigns.send_task_notices")
    assert (notices.interval.every, notices.interval.period) == (10, "minutes")


@pytest.fixture
def beat_clock_at_seven(monkeypatch):
    """Set beat's clock to 07:00 in Shanghai. django-celery-beat 2.9 loads only the crontab
    entries whose hour lies within two hours of its clock, and loads the rest at a later sync."""
    monkeypatch.setattr("django_celery_beat.schedulers.aware_now", lambda: SEVEN_AM)


def test_changed_schedule_moves_next_run(transactional_db, beat_clock_at_seven):
    # The scheduler closes and commits the connection, so this test runs outside a transaction.
    scheduler = DatabaseScheduler(app=celery_app)
    before = next_run_at(scheduler.schedule[MORNING], SEVEN_AM)

    crontab = PeriodicTask.objects.get(name=MORNING).crontab
    crontab.hour = "9"
    crontab.minute = "30"
    crontab.save()
    after = next_run_at(scheduler.schedule[MORNING], SEVEN_AM)

    assert before == datetime.datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)
    assert after == datetime.datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)


def test_disabled_schedule_leaves_beat(transactional_db, beat_clock_at_seven):
    scheduler = DatabaseScheduler(app=celery_app)
    assert MORNING in scheduler.schedule

    periodic_task = PeriodicTask.objects.get(name=MORNING)
    periodic_task.enabled = False
    periodic_task.save()

    assert MORNING not in scheduler.schedule

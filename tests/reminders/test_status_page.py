"""The administrators' reminder status page and the reminder admin."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import BeatHeartbeat, Reminder, ReminderRun
from campaigns.tasks import beat_heartbeat, send_task_notices

from .conftest import BUSINESS_DATE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.reminders.urls")]

STATUS_URL = "/reminders/"


def test_status_url_is_reminders_root():
    assert reverse("reminders:status") == STATUS_URL


@pytest.mark.parametrize("role", ["platform", "supervisor_a", "manager_a"])
def test_status_forbidden_to_other_roles(client, users, role):
    client.force_login(users[role])

    response = client.get(STATUS_URL)

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_status_needs_login(client):
    response = client.get(STATUS_URL)

    assert response.status_code == HTTPStatus.FOUND
    assert "/accounts/login/" in response["Location"]


def test_status_shows_schedules_and_heartbeat(client, users):
    beat_heartbeat.apply()
    ReminderRun.objects.create(
        schedule="campaigns.send_daily_reminders",
        business_date=BUSINESS_DATE,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        sent=41,
        failed=2,
    )
    client.force_login(users["admin"])

    response = client.get(STATUS_URL)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    status = response.context["status"]
    assert status.heartbeat_stale is False
    names = [schedule.periodic_task.name for schedule in status.schedules]
    assert names == [
        "Beat heartbeat", "Morning reminders (digests and escalations)", "Next follow-up tasks", "Returned-task notices",
        "Tier service standard care tasks",
    ]
    morning = status.schedules[1]
    assert (morning.last_run.sent, morning.last_run.failed) == (41, 2)
    assert "Last beat heartbeat" in page
    assert "alert-success" in page


def test_status_flags_stale_heartbeat(client, users):
    BeatHeartbeat.objects.create(name="beat", beat_at=timezone.now() - datetime.timedelta(minutes=6))
    client.force_login(users["admin"])

    response = client.get(STATUS_URL)

    assert response.context["status"].heartbeat_stale is True
    assert "Beat or the Celery worker is not running" in response.content.decode()


def test_status_counts_and_lists_failures(client, users, settings):
    settings.REMINDER_MAX_ATTEMPTS = 3
    today = timezone.localdate()
    manager = users["manager_a"]
    Reminder.objects.create(recipient=manager, kind="digest", business_date=today, status="sent", attempts=1)
    Reminder.objects.create(
        recipient=manager, kind="due_soon", subject_key="task:1:due:x", business_date=today, status="failed",
        attempts=1, last_error="SMTPRecipientsRefused: retry me",
    )
    Reminder.objects.create(
        recipient=manager, kind="due_soon", subject_key="task:2:due:x", business_date=today, status="failed",
        attempts=3, last_error="SMTPDataError: given up",
    )
    client.force_login(users["admin"])

    response = client.get(STATUS_URL)

    counts = {row["kind"]: row for row in response.context["status"].ledger_counts}
    assert (counts["digest"]["sent"], counts["digest"]["failed"]) == (1, 0)
    assert (counts["due_soon"]["retrying"], counts["due_soon"]["failed"]) == (1, 1)
    page = response.content.decode()
    assert "SMTPDataError: given up" in page
    assert "SMTPRecipientsRefused: retry me" in page


def test_status_queries_do_not_grow(client, users, django_assert_max_num_queries):
    client.force_login(users["admin"])
    with django_assert_max_num_queries(12) as few:
        client.get(STATUS_URL)
    for number in range(30):
        Reminder.objects.create(
            recipient=users["manager_a"], kind="due_soon", subject_key=f"task:{number}", business_date=timezone.localdate(),
            status="failed", attempts=1,
        )
        ReminderRun.objects.create(schedule="campaigns.send_task_notices", business_date=BUSINESS_DATE, started_at=timezone.now())

    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(STATUS_URL)


def test_send_again_action_resets_failed(admin_client, users):
    manager = users["manager_a"]
    failed = Reminder.objects.create(
        recipient=manager, kind="digest", business_date=BUSINESS_DATE, status="failed", attempts=6, last_error="x"
    )
    sent = Reminder.objects.create(
        recipient=manager, kind="due_soon", subject_key="task:1", business_date=BUSINESS_DATE, status="sent", attempts=1
    )

    response = admin_client.post(
        reverse("admin:campaigns_reminder_changelist"),
        {"action": "reminder_send_again", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )

    assert response.status_code == HTTPStatus.OK
    assert "1 failed reminder will be sent at the next run." in response.content.decode()
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 0, "")
    assert (sent.status, sent.attempts) == ("sent", 1)


def test_notice_task_records_run(users):
    outcome = send_task_notices.apply(kwargs={"business_date": BUSINESS_DATE.isoformat()})

    assert outcome.successful()
    run = ReminderRun.objects.get()
    assert run.schedule == "campaigns.send_task_notices"
    assert run.business_date == BUSINESS_DATE
    assert run.finished_at is not None
    assert (run.sent, run.failed, run.error) == (0, 0, "")


def test_status_schedule_names_translated(client, users):
    from django.utils import translation

    client.force_login(users["admin"])
    client.post(reverse("language_switch"), {"language": "zh-hans", "next": "/"})
    with translation.override("zh-hans"):
        expected = translation.gettext("Morning reminders (digests and escalations)")

    response = client.get(reverse("reminders:status"))

    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert expected != "Morning reminders (digests and escalations)"
    assert expected in body
    assert "Morning reminders (digests and escalations)" not in body

"""Concurrent runs on PostgreSQL: the ledger row lock makes every mail go out once.

SQLite has no row locks (Django ignores select_for_update there), so these tests skip on it."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from campaigns.models import Reminder
from campaigns.reminders import reminders_run
from tests.factories import UserFactory

from .conftest import BUSINESS_DATE

THREAD_TIMEOUT_SECONDS = 30


@pytest.fixture
def postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; set DATABASE_URL to run this test")


def run_in_thread(target):
    """Run `target` in a thread with its own database connection, closed at the end."""
    errors = []

    def wrapper():
        try:
            target()
        except Exception as error:  # noqa: BLE001 - reported to the test thread below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=wrapper)
    thread.start()
    return thread, errors


def test_locked_ledger_row_is_skipped(postgresql, users, make_task):
    make_task(assignee=users["manager_a"], days=0)
    make_task(assignee=users["manager_b"], days=0)
    locked_reminder = Reminder.objects.create(recipient=users["manager_a"], kind=Reminder.Kind.DIGEST, business_date=BUSINESS_DATE)
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        with transaction.atomic():
            Reminder.objects.select_for_update().get(pk=locked_reminder.pk)
            locked.set()
            release.wait(THREAD_TIMEOUT_SECONDS)

    thread, errors = run_in_thread(hold_lock)
    assert locked.wait(THREAD_TIMEOUT_SECONDS)
    try:
        result = reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,))
    finally:
        release.set()
        thread.join(THREAD_TIMEOUT_SECONDS)

    assert errors == []
    assert (result.sent, result.skipped_in_progress) == (1, 1)
    assert [message.to for message in mail.outbox] == [["cm_b@bank.example"]]
    locked_reminder.refresh_from_db()
    assert locked_reminder.status == Reminder.Status.PENDING
    assert locked_reminder.attempts == 0


def test_parallel_runs_send_each_mail_once(postgresql, users, make_task):
    managers = [UserFactory(username=f"cm_parallel_{number}", branch=users["manager_a"].branch) for number in range(12)]
    for manager in managers:
        make_task(assignee=manager, days=0)
    results = []
    start = threading.Barrier(3)

    def run():
        start.wait(THREAD_TIMEOUT_SECONDS)
        results.append(reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,)))

    threads = [run_in_thread(run) for _ in range(3)]
    for thread, _errors in threads:
        thread.join(THREAD_TIMEOUT_SECONDS)

    assert [errors for _thread, errors in threads] == [[], [], []]
    assert len(results) == 3
    assert sum(result.sent for result in results) == len(managers)
    assert sum(result.failed for result in results) == 0
    for result in results:
        assert result.sent + result.skipped_already_sent + result.skipped_in_progress == len(managers)
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == sorted(manager.email for manager in managers)
    assert Reminder.objects.filter(status=Reminder.Status.SENT, attempts=1).count() == len(managers)

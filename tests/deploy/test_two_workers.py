"""Two Celery worker processes on one queue run the reminder task over the same large batch at
once. Every mail arrives exactly once at a real SMTP server on loopback. The workers' JSON log
lines carry the task id and no customer's phone number."""

import json
import time
import uuid
from collections import Counter

import pytest
import redis
from django.db import connection

from campaigns.models import Reminder, ReminderRun
from campaigns.tasks import send_daily_reminders
from portal.celery import app as celery_app
from tests.celery_workers import reset_broker_connections
from tests.conftest import need
from tests.factories import UserFactory
from tests.reminders.conftest import BUSINESS_DATE, make_task, reminder_campaign, reminder_settings  # noqa: F401
from tests.reminders.test_faults import (
    FaultySmtpHandler,
    log_tail,
    postgresql_test_url,
    processes_stop,
    start_smtp,
    worker_process,
)

pytestmark = pytest.mark.redis

MANAGER_COUNT = 150
# One digest per client manager, and the platform user's daily summary and weekly campaign summary.
EXPECTED_MAILS = MANAGER_COUNT + 2
# Copies of the reminder task published at once, as a beat fired twice or a manual rerun would.
TASK_COPIES = 4
DELIVERY_TIMEOUT_SECONDS = 180


@pytest.fixture
def large_batch(transactional_db, users, make_task):  # noqa: F811
    managers = [
        UserFactory(username=f"cm_batch_{number}", branch=users["manager_a"].branch) for number in range(MANAGER_COUNT)
    ]
    return [make_task(assignee=manager, days=0) for manager in managers]


def wait_until(condition, timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message())


def test_two_workers_mail_once(large_batch, redis_url, settings, tmp_path, monkeypatch):
    need(connection.vendor == "postgresql", "worker processes need the test database on PostgreSQL")
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_STREAM", "stdout")
    database_url = postgresql_test_url()
    # Each RCPT takes 20 ms, so one run sends for a few seconds while the other copies start.
    handler = FaultySmtpHandler(rcpt_delay=0.02)
    controller = start_smtp(handler)
    queue = f"deploy-workers-{uuid.uuid4().hex}"
    worker_logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    celery_app.conf.update(broker_url=redis_url)
    reset_broker_connections(celery_app)
    workers = []
    runs = ReminderRun.objects.filter(schedule="campaigns.send_daily_reminders", finished_at__isnull=False)
    try:
        for log_path in worker_logs:
            workers.append(
                worker_process(
                    queue=queue, database_url=database_url, redis_url=redis_url, smtp_port=controller.port,
                    log_path=log_path,
                )
            )
        task_ids = [
            send_daily_reminders.apply_async(kwargs={"business_date": BUSINESS_DATE.isoformat()}, queue=queue).id
            for _copy in range(TASK_COPIES)
        ]
        handler.wait_for(EXPECTED_MAILS, DELIVERY_TIMEOUT_SECONDS)
        wait_until(
            lambda: runs.count() >= TASK_COPIES,
            DELIVERY_TIMEOUT_SECONDS,
            lambda: f"{TASK_COPIES} tasks published, {runs.count()} finished\n{log_tail(worker_logs[0])}",
        )
        time.sleep(1)  # a duplicate would arrive now
        accepted = handler.accepted
    finally:
        processes_stop(workers)
        controller.stop()
        celery_app.conf.update(broker_url=settings.CELERY_BROKER_URL)
        reset_broker_connections(celery_app)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()

    counts = Counter((recipient, subject) for recipient, subject, _message_id in accepted)
    assert {key: count for key, count in counts.items() if count > 1} == {}
    assert len(accepted) == EXPECTED_MAILS
    assert Reminder.objects.filter(status=Reminder.Status.SENT).count() == EXPECTED_MAILS
    assert sum(run.sent for run in runs) == EXPECTED_MAILS
    assert sum(run.failed for run in runs) == 0

    entries_per_worker = [
        [json.loads(line) for line in log_path.read_text(errors="replace").splitlines() if line.startswith("{")]
        for log_path in worker_logs
    ]
    task_ids_per_worker = [{entry["task_id"] for entry in entries} - {None} for entries in entries_per_worker]
    # Both workers ran copies of the task, so they really worked on the batch side by side.
    assert all(ids and ids <= set(task_ids) for ids in task_ids_per_worker), task_ids_per_worker
    assert set().union(*task_ids_per_worker) == set(task_ids)
    worker_log_text = "".join(log_path.read_text(errors="replace") for log_path in worker_logs)
    for task in large_batch:
        assert task.customer.phone not in worker_log_text

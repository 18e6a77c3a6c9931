"""Two celery beat processes at once, each with django-celery-beat's DatabaseScheduler on the
same database and broker, both firing the reminder schedule every second. Two worker processes
run the duplicate tasks concurrently, and every mail arrives exactly once at a real SMTP server
on loopback."""

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from campaigns.models import ReminderRun
from tests.conftest import need

from .conftest import BUSINESS_DATE
from .test_faults import (  # noqa: F401
    DELIVERY_TIMEOUT_SECONDS,
    EXPECTED_MAILS,
    ROOT,
    FaultySmtpHandler,
    assert_each_mail_once,
    fault_process_env,
    log_tail,
    managers,
    postgresql_test_url,
    processes_stop,
    start_smtp,
    worker_process,
)

pytestmark = pytest.mark.redis

SCHEDULE_NAME = "Reminders, fired by two beats"
# Each beat must have sent the task this many times before the test stops them.
FIRINGS_PER_BEAT = 3
BEAT_TIMEOUT_SECONDS = 60
DRAIN_TIMEOUT_SECONDS = 60


def beat_process(*, database_url: str, broker_url: str, smtp_port: int, log_path: Path, schedule_path: Path):
    env = fault_process_env(database_url=database_url, broker_url=broker_url, smtp_port=smtp_port)
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "beat",
        "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
        "--schedule", str(schedule_path), "--max-interval", "1", "--loglevel=INFO",
    ]
    log = open(log_path, "ab")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def firings(log_path: Path) -> int:
    """Count the times a beat sent the test schedule's task, from its log."""
    if not log_path.exists():
        return 0
    pattern = re.compile(rf"Scheduler: Sending due task {re.escape(SCHEDULE_NAME)} ")
    return len(pattern.findall(log_path.read_text(errors="replace")))


def wait_until(condition, timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message())


@pytest.fixture
def every_second_schedule(transactional_db):
    """Disable the project's schedules and add one that sends the reminders of BUSINESS_DATE
    every second to a queue of its own. The flush after the test restores the schedules."""
    PeriodicTask.objects.update(enabled=False)
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    queue = f"reminders-beats-{uuid.uuid4().hex}"
    periodic_task = PeriodicTask.objects.create(
        name=SCHEDULE_NAME,
        task="campaigns.send_daily_reminders",
        kwargs=json.dumps({"business_date": BUSINESS_DATE.isoformat()}),
        interval=interval,
        queue=queue,
    )
    return periodic_task


def test_two_beats_mail_once(managers, every_second_schedule, redis_url, tmp_path):
    need(connection.vendor == "postgresql", "beat and worker processes need the test database on PostgreSQL")
    database_url = postgresql_test_url()
    queue = every_second_schedule.queue
    # Each RCPT takes 0.2 s, so a run sends for about two seconds while the next tasks arrive.
    handler = FaultySmtpHandler(rcpt_delay=0.2)
    controller = start_smtp(handler)
    beat_logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    worker_logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    processes = []
    try:
        for log_path in worker_logs:
            processes.append(
                worker_process(
                    queue=queue, database_url=database_url, redis_url=redis_url, smtp_port=controller.port,
                    log_path=log_path,
                )
            )
        beats = [
            beat_process(
                database_url=database_url, broker_url=redis_url, smtp_port=controller.port, log_path=log_path,
                schedule_path=tmp_path / f"schedule-{number}",
            )
            for number, log_path in enumerate(beat_logs, start=1)
        ]
        processes.extend(beats)

        handler.wait_for(EXPECTED_MAILS, DELIVERY_TIMEOUT_SECONDS)
        wait_until(
            lambda: all(firings(log_path) >= FIRINGS_PER_BEAT for log_path in beat_logs),
            BEAT_TIMEOUT_SECONDS,
            lambda: "each beat should fire the schedule {} times: {}\n{}".format(
                FIRINGS_PER_BEAT, [firings(log_path) for log_path in beat_logs], log_tail(beat_logs[0])
            ),
        )
        # Stop the beats first, so that no task is published after the count below.
        processes_stop(beats)
        published = sum(firings(log_path) for log_path in beat_logs)
        runs = ReminderRun.objects.filter(schedule="campaigns.send_daily_reminders", finished_at__isnull=False)
        wait_until(
            lambda: runs.count() >= published,
            DRAIN_TIMEOUT_SECONDS,
            lambda: f"{published} tasks published, {runs.count()} finished\n{log_tail(worker_logs[0])}",
        )
        time.sleep(1)  # a duplicate would arrive now
        accepted = handler.accepted
    finally:
        processes_stop(processes)
        controller.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()

    assert [firings(log_path) >= FIRINGS_PER_BEAT for log_path in beat_logs] == [True, True]
    assert runs.count() == published
    assert sum(run.sent for run in runs) == EXPECTED_MAILS
    assert sum(run.failed for run in runs) == 0
    # Both workers ran tasks, so duplicates really ran side by side.
    assert all("campaigns.send_daily_reminders" in log_path.read_text(errors="replace") for log_path in worker_logs)
    assert_each_mail_once(accepted)

"""Faults on the delivery path, counted at a real SMTP server on loopback: a worker killed
with SIGKILL in the middle of a batch, and an SMTP server that refuses mail for a while.
In each case every mail arrives exactly once."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from django.db import connection

from campaigns.models import Reminder
from campaigns.tasks import send_daily_reminders
from portal.celery import app as celery_app
from tests.celery_workers import reset_broker_connections
from tests.conftest import need
from tests.factories import UserFactory

from .conftest import BUSINESS_DATE
from .test_reminders_celery import finished_tasks, free_loopback_port, reminder_worker  # noqa: F401

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
MANAGER_COUNT = 8
# Eight digests, and the platform user's daily summary and weekly campaign summary.
EXPECTED_MAILS = MANAGER_COUNT + 2
DELIVERY_TIMEOUT_SECONDS = 90


class FaultySmtpHandler:
    """An aiosmtpd handler that replies to RCPT slowly and can reject the first messages with a
    temporary error, keeping every accepted message."""

    def __init__(self, *, rcpt_delay: float = 0.0, reject_first: int = 0):
        self.rcpt_delay = rcpt_delay
        self.reject_first = reject_first
        self.rejected = 0
        self._lock = threading.Lock()
        self._accepted = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.rejected < self.reject_first:
                self.rejected += 1
                return "451 4.3.0 Temporary failure, try again later"
            message = message_from_bytes(envelope.content, policy=default_policy)
            self._accepted.append((envelope.rcpt_tos[0], message["Subject"], message["Message-ID"]))
        return "250 Message accepted for delivery"

    @property
    def accepted(self):
        with self._lock:
            return list(self._accepted)

    def wait_for(self, count: int, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted) >= count:
                return self.accepted
            time.sleep(0.1)
        raise AssertionError(f"expected {count} mails within {timeout} s, received {len(self.accepted)}")


def start_smtp(handler):
    controller = Controller(handler, hostname="127.0.0.1", port=free_loopback_port())
    controller.start()
    return controller


@pytest.fixture
def managers(transactional_db, users, make_task):
    created = [
        UserFactory(username=f"cm_fault_{number}", branch=users["manager_a"].branch) for number in range(MANAGER_COUNT)
    ]
    for manager in created:
        make_task(assignee=manager, days=0)
    return created


def assert_each_mail_once(accepted):
    counts = Counter((recipient, subject) for recipient, subject, _message_id in accepted)
    duplicates = {key: count for key, count in counts.items() if count > 1}
    assert duplicates == {}
    assert len(accepted) == EXPECTED_MAILS
    assert Reminder.objects.filter(status=Reminder.Status.SENT).count() == EXPECTED_MAILS


def test_smtp_rejections_retried_once(managers, settings, redis_url, reminder_worker, finished_tasks, monkeypatch):  # noqa: F811
    # Retries wait 0 to 2 s instead of up to 30 minutes.
    monkeypatch.setattr("campaigns.tasks.RETRY_BACKOFF_FACTOR", 1)
    monkeypatch.setattr("campaigns.tasks.RETRY_BACKOFF_MAX", 2)
    handler = FaultySmtpHandler(reject_first=3)
    controller = start_smtp(handler)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    try:
        send_daily_reminders.delay(BUSINESS_DATE.isoformat())
        accepted = handler.wait_for(EXPECTED_MAILS, DELIVERY_TIMEOUT_SECONDS)
        time.sleep(1)  # a duplicate would arrive now
        accepted = handler.accepted
    finally:
        controller.stop()

    assert handler.rejected == 3
    assert_each_mail_once(accepted)
    retried = Reminder.objects.filter(attempts=2)
    assert retried.count() == 3
    assert set(retried.values_list("last_error", flat=True)) == {""}


def fault_process_env(*, database_url: str, broker_url: str, smtp_port: int) -> dict[str, str]:
    """The environment of a worker or beat process that shares the test database and sends to
    the test's SMTP server."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reminders.fault_settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "false",
        "DEFAULT_FROM_EMAIL": "portal@bank.example",
        "PORTAL_BASE_URL": "https://portal.bank.example",
    }


def worker_process(
    *, queue: str, database_url: str, redis_url: str, smtp_port: int, log_path: Path | None = None
) -> subprocess.Popen:
    """Start `celery worker` on `queue`, logging to `log_path` (default FAULT_WORKER_LOG or nowhere)."""
    env = fault_process_env(database_url=database_url, broker_url=redis_url, smtp_port=smtp_port)
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-Q", queue,
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
    ]
    log = open(log_path or os.environ.get("FAULT_WORKER_LOG", os.devnull), "ab")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def postgresql_test_url() -> str:
    """The URL of the PostgreSQL test database, for processes started by a test."""
    settings_dict = connection.settings_dict
    return (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )


def processes_stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def test_killed_worker_mails_once(managers, redis_url, settings):
    need(connection.vendor == "postgresql", "a worker process needs the test database on PostgreSQL")
    database_url = postgresql_test_url()
    # Each RCPT takes 0.4 s. The kill comes 0.2 s after the third mail was accepted, so it lands
    # in the fourth mail's RCPT, after the ledger recorded the third as sent.
    # NOTE: a kill between the server's reply to DATA and the ledger's commit (an UPDATE and a
    # COMMIT, a few milliseconds) still sends that mail twice, with the same Message-ID.
    handler = FaultySmtpHandler(rcpt_delay=0.4)
    controller = start_smtp(handler)
    queue = f"reminders-fault-{uuid.uuid4().hex}"
    celery_app.conf.update(broker_url=redis_url)
    reset_broker_connections(celery_app)
    workers = []
    try:
        workers.append(worker_process(queue=queue, database_url=database_url, redis_url=redis_url, smtp_port=controller.port))
        send_daily_reminders.apply_async(kwargs={"business_date": BUSINESS_DATE.isoformat()}, queue=queue)
        handler.wait_for(3, DELIVERY_TIMEOUT_SECONDS)
        time.sleep(0.2)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        received_before_restart = len(handler.accepted)

        workers.append(worker_process(queue=queue, database_url=database_url, redis_url=redis_url, smtp_port=controller.port))
        handler.wait_for(EXPECTED_MAILS, DELIVERY_TIMEOUT_SECONDS)
        time.sleep(2)  # a duplicate would arrive now
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

    assert 3 <= received_before_restart < EXPECTED_MAILS
    assert_each_mail_once(accepted)

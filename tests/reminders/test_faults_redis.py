"""A Redis outage of a minute in the middle of a batch, counted at a real SMTP server on
loopback: the worker reconnects when Redis is back, and every mail arrives exactly once.

The test starts a redis-server of its own on a free loopback port and kills that one, never the
shared server. It runs without persistence (--save "" --appendonly no), so Redis comes back
empty: the unacknowledged message of the interrupted run is gone. Sending needs only the
database and the SMTP server, so the run finishes during the outage. The next run (the one a
persistent broker would have redelivered, or beat's next run of the schedule) finds every mail
in the ledger and sends nothing."""

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from campaigns.models import Reminder, ReminderRun
from campaigns.tasks import send_daily_reminders
from portal.celery import app as celery_app
from tests.conftest import need

from .conftest import BUSINESS_DATE
from .test_faults import (  # noqa: F401
    DELIVERY_TIMEOUT_SECONDS,
    EXPECTED_MAILS,
    FaultySmtpHandler,
    assert_each_mail_once,
    log_tail,
    managers,
    postgresql_test_url,
    processes_stop,
    start_smtp,
    worker_process,
)
from .test_reminders_celery import free_loopback_port

pytestmark = pytest.mark.redis

# How long the test keeps Redis down, in seconds.
REDIS_OUTAGE_SECONDS = 60
REDIS_START_TIMEOUT_SECONDS = 10
# The worker retries the broker connection with growing pauses of up to 30 s (kombu 5.7's
# ensure_connection defaults), so it can need that long after Redis is back.
RECOVERY_TIMEOUT_SECONDS = 60


class OwnRedisServer:
    """A redis-server process on a loopback port, without persistence, that the test may kill."""

    def __init__(self, *, port: int, directory: Path, log_path: Path):
        self.port = port
        self.directory = directory
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.directory), "--daemonize", "no",
        ]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"redis-server on port {self.port} exited:\n{log_tail(self.log_path)}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.1)
        finally:
            client.close()
        raise AssertionError(f"redis-server on port {self.port} did not answer within {REDIS_START_TIMEOUT_SECONDS} s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path):
    need(shutil.which("redis-server") is not None, "redis-server is not installed (apt-get install redis-server)")
    server = OwnRedisServer(port=free_loopback_port(), directory=tmp_path, log_path=tmp_path / "redis.log")
    server.start()
    yield server
    server.kill()


def reminders_publish(*, broker_url: str, queue: str) -> None:
    """Publish the reminders of BUSINESS_DATE over a broker connection of its own, closed on
    return, so that the Celery app's pooled connections never hold a socket to the dying server."""
    with celery_app.connection_for_write(broker_url) as broker_connection:
        celery_app.amqp.queues[queue](broker_connection.default_channel).declare()
        send_daily_reminders.apply_async(
            kwargs={"business_date": BUSINESS_DATE.isoformat()}, queue=queue, connection=broker_connection
        )


def finished_runs_wait(count: int, timeout: float, worker_log: Path) -> list[ReminderRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(ReminderRun.objects.filter(finished_at__isnull=False).order_by("started_at"))
        if len(runs) >= count:
            return runs
        time.sleep(0.5)
    raise AssertionError(f"expected {count} finished runs within {timeout} s; worker log:\n{log_tail(worker_log)}")


def test_redis_outage_mails_once(managers, own_redis, tmp_path):
    # The worker runs as a process of its own. An in-thread worker would share this process's
    # Celery app and kombu connection pools, so their state after the broker's death would leak
    # into later tests. A process takes its broker from CELERY_BROKER_URL and ends with it.
    need(connection.vendor == "postgresql", "a worker process needs the test database on PostgreSQL")
    worker_log = tmp_path / "worker.log"
    # Each RCPT takes 0.4 s, so the ten mails take about four seconds and Redis dies among them.
    handler = FaultySmtpHandler(rcpt_delay=0.4)
    controller = start_smtp(handler)
    queue = f"reminders-outage-{uuid.uuid4().hex}"
    workers = []
    try:
        workers.append(
            worker_process(
                queue=queue,
                database_url=postgresql_test_url(),
                redis_url=own_redis.url,
                smtp_port=controller.port,
                log_path=worker_log,
            )
        )
        reminders_publish(broker_url=own_redis.url, queue=queue)
        handler.wait_for(3, DELIVERY_TIMEOUT_SECONDS)
        own_redis.kill()
        outage_started = time.monotonic()
        received_at_kill = len(handler.accepted)

        time.sleep(max(0.0, outage_started + REDIS_OUTAGE_SECONDS - time.monotonic()))
        received_during_outage = len(handler.accepted)
        worker_alive_during_outage = workers[0].poll() is None
        own_redis.start()

        # The run a persistent broker would redeliver, or beat's next run of the schedule.
        reminders_publish(broker_url=own_redis.url, queue=queue)
        runs = finished_runs_wait(2, RECOVERY_TIMEOUT_SECONDS, worker_log)
        time.sleep(1)  # a duplicate would arrive now
        accepted = handler.accepted
        worker_alive_after = workers[0].poll() is None
    finally:
        processes_stop(workers)
        controller.stop()

    assert 3 <= received_at_kill < EXPECTED_MAILS
    # The batch does not need the broker to finish.
    assert received_during_outage == EXPECTED_MAILS
    assert worker_alive_during_outage
    assert worker_alive_after, log_tail(worker_log)
    assert [(run.sent, run.failed) for run in runs] == [(EXPECTED_MAILS, 0), (0, 0)]
    assert_each_mail_once(accepted)
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert "Connection to broker lost" in worker_log.read_text(errors="replace")

"""The end-to-end path: a real Celery worker consuming from a real Redis and delivering to a
real SMTP server on loopback (aiosmtpd), twice for the same business date."""

import socket
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from celery.signals import task_postrun

from campaigns.models import Reminder
from campaigns.tasks import send_daily_reminders
from tests.celery_workers import worker_on_own_queue

from .conftest import BUSINESS_DATE, PORTAL_BASE_URL

pytestmark = pytest.mark.redis

DELIVERY_TIMEOUT_SECONDS = 30


class RecordingHandler:
    """An aiosmtpd handler that keeps every accepted message in memory."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.1)
        raise AssertionError(f"expected {count} mails within {timeout} s, received {len(self.messages)}")


class FinishedTasks:
    """The final states and return values of tasks the in-thread worker finished, by task id."""

    def __init__(self):
        self._condition = threading.Condition()
        self._results = {}

    def record(self, task_id=None, retval=None, state=None, **kwargs):
        with self._condition:
            self._results[task_id] = (state, retval)
            self._condition.notify_all()

    def wait_for(self, task_id: str, timeout: float):
        with self._condition:
            if not self._condition.wait_for(lambda: task_id in self._results, timeout=timeout):
                raise AssertionError(f"task {task_id} did not finish within {timeout} s")
            return self._results[task_id]


@pytest.fixture
def finished_tasks():
    finished = FinishedTasks()
    task_postrun.connect(finished.record, weak=False)
    yield finished
    task_postrun.disconnect(finished.record)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_loopback_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 10
    yield handler
    controller.stop()


@pytest.fixture
def reminder_worker(redis_url):
    with worker_on_own_queue(redis_url, "reminders-test") as worker:
        yield worker


def part_content(message, content_type):
    part = message.get_body(preferencelist=(content_type.split("/")[1],))
    assert part is not None, f"no {content_type} part"
    assert part.get_content_type() == content_type
    return part.get_content()


def test_worker_delivers_over_smtp_once(
    transactional_db, users, make_task, smtp_server, reminder_worker, finished_tasks
):
    make_task(assignee=users["manager_a"], days=-5, customer__name="Smtp Overdue Lin", customer__phone="13912345678")
    make_task(assignee=users["manager_b"], days=2, customer__name="Smtp Week Guo")

    first_run = send_daily_reminders.delay(BUSINESS_DATE.isoformat())
    # Two digests, the overdue task's escalation to its manager and supervisor, and the
    # platform user's daily summary and weekly campaign summary.
    received = smtp_server.wait_for(6, DELIVERY_TIMEOUT_SECONDS)
    state, counts = finished_tasks.wait_for(first_run.id, DELIVERY_TIMEOUT_SECONDS)
    assert state == "SUCCESS"
    assert (counts["sent"], counts["failed"]) == (6, 0)
    assert all(len(recipients) == 1 for recipients, _message in received)

    by_subject = {(recipients[0], message["Subject"]): message for recipients, message in received}
    assert sorted(by_subject) == [
        ("cm_a@bank.example", "Escalation: 1 task overdue by one working day or more"),
        ("cm_a@bank.example", "Morning digest for 2026-03-02: 1 open task"),
        ("cm_b@bank.example", "Morning digest for 2026-03-02: 1 open task"),
        ("platform@bank.example", "Platform summary for 2026-03-02: 2 open tasks, 1 overdue"),
        ("platform@bank.example", "Weekly summary from 2026-03-02: 1 active campaign"),
        ("sup_a@bank.example", "Escalation: 1 task overdue by 3 working days or more"),
    ]

    digest = by_subject[("cm_a@bank.example", "Morning digest for 2026-03-02: 1 open task")]
    assert digest["From"] == "portal@bank.example"
    assert digest["Message-ID"].startswith("<reminder.digest.")
    assert digest.get_content_type() == "multipart/alternative"
    digest_text = part_content(digest, "text/plain")
    digest_html = part_content(digest, "text/html")
    assert "Smtp Overdue Lin" in digest_text
    assert "Smtp Overdue Lin" in digest_html
    assert "139****5678" in digest_text
    assert "13912345678" not in digest_text
    assert "13912345678" not in digest_html
    assert f"{PORTAL_BASE_URL}/campaigns/tasks/mine/" in digest_text

    escalation = by_subject[("sup_a@bank.example", "Escalation: 1 task overdue by 3 working days or more")]
    assert "Smtp Overdue Lin" in part_content(escalation, "text/plain")
    assert "<table" in part_content(escalation, "text/html")

    week_digest = by_subject[("cm_b@bank.example", "Morning digest for 2026-03-02: 1 open task")]
    assert "Smtp Week Guo" in part_content(week_digest, "text/plain")

    assert Reminder.objects.filter(status=Reminder.Status.SENT).count() == 6

    # The same date again: the worker runs the task, and the ledger stops every mail.
    second_run = send_daily_reminders.delay(BUSINESS_DATE.isoformat())
    state, counts = finished_tasks.wait_for(second_run.id, DELIVERY_TIMEOUT_SECONDS)
    assert state == "SUCCESS"
    assert (counts["sent"], counts["skipped_already_sent"], counts["failed"]) == (0, 6, 0)
    assert len(smtp_server.messages) == 6
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}

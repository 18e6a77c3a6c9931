"""The ledger records a mail as sent before the SMTP connection is closed, so the QUIT round
trip is not part of the window in which a crash would leave a delivered mail unrecorded."""

import asyncio

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from campaigns.models import Reminder
from campaigns.reminders import reminders_run

from .conftest import BUSINESS_DATE
from .test_reminders_celery import free_loopback_port


def sent_rows_count() -> int:
    try:
        return Reminder.objects.filter(status=Reminder.Status.SENT).count()
    finally:
        connection.close()


class QuitRecordingHandler:
    """An aiosmtpd handler that reads the ledger, from a connection of its own, whenever a
    client sends QUIT."""

    def __init__(self):
        self.accepted = 0
        self.sent_rows_at_quit = []

    async def handle_DATA(self, server, session, envelope):
        self.accepted += 1
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope):
        self.sent_rows_at_quit.append(await asyncio.to_thread(sent_rows_count))
        return "221 Bye"


@pytest.fixture
def quit_recording_smtp(settings):
    handler = QuitRecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_loopback_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 10
    yield handler
    controller.stop()


def test_ledger_committed_before_quit(transactional_db, users, make_task, quit_recording_smtp):
    make_task(assignee=users["manager_a"], days=0)
    make_task(assignee=users["manager_b"], days=0)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,))

    assert result.sent == 2
    assert quit_recording_smtp.accepted == 2
    assert quit_recording_smtp.sent_rows_at_quit == [1, 2]

"""The main job with known personal data: nothing of it leaves unmasked in logs or e-mails.

The roster file contains phone numbers, ID numbers and e-mail addresses. The platform imports
it through the pages, exports the roster and launches a campaign. A client manager reveals a
phone and records contacts, with a phone number typed into the note. The platform verifies one
task and returns another, quoting a phone in the reason. The reminders of two days then go to a
real SMTP server on loopback. Every logger runs at DEBUG and SQL is logged with its parameters,
so the values do reach log records, and only the masking filter keeps them out of the output."""

import datetime
import io
import logging
import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from http import HTTPStatus

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, FollowUpTask, Segment
from campaigns.reminders import reminders_run
from customers.models import Customer, RosterImport
from portal.logging import MaskPersonalDataFilter
from portal.masking import mask_phone

pytestmark = pytest.mark.django_db

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
# Loggers of the portal's own code, whose messages must be free of identifiers before masking.
OWN_LOGGERS = ("portal", "customers", "campaigns")


def id_number(first_seventeen: str) -> str:
    """Return the 18-character ID number with the GB 11643 check character."""
    total = sum(int(digit) * weight for digit, weight in zip(first_seventeen, ID_WEIGHTS))
    return first_seventeen + ID_CHECK_CHARACTERS[total % 11]


SEEDED_CUSTOMERS = [
    {"customer_no": "PD0001", "phone": "13911112222", "id_number": id_number("11010519800101123"), "email": "li.na@mail.example"},
    {"customer_no": "PD0002", "phone": "13633334444", "id_number": id_number("31010419751231456"), "email": "wang.fang@mail.example"},
    {"customer_no": "PD0003", "phone": "18755556666", "id_number": id_number("44030519900615789"), "email": "chen.jie@mail.example"},
]
# A row the import rejects, because its ID number has a wrong check character.
INVALID_ROW = {"customer_no": "PD0004", "phone": "15877778888", "id_number": "440305199006157890", "email": "zhou.min@mail.example"}


def seeded_values() -> list[str]:
    values = []
    for row in [*SEEDED_CUSTOMERS, INVALID_ROW]:
        values += [row["phone"], row["id_number"], row["email"]]
    return values


def roster_file() -> SimpleUploadedFile:
    lines = ["客户号,姓名,手机,身份证号,邮箱,职业,网点,客户经理,资产"]
    for number, row in enumerate([*SEEDED_CUSTOMERS, INVALID_ROW], start=1):
        lines.append(
            f"{row['customer_no']},客户{number},{row['phone']},{row['id_number']},{row['email']},"
            f"management,BA,cm_a,\"1,200,000\""
        )
    return SimpleUploadedFile("roster.csv", ("\n".join(lines) + "\n").encode("utf-8"))


class RecordingHandler:
    """An aiosmtpd handler that keeps the raw bytes of every accepted message."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages = []

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self._messages.append(envelope.content)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[bytes]:
        with self._lock:
            return list(self._messages)


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


class RawMessages:
    """Record factory that stores the message of every record from the portal's own loggers as
    created, before any filter runs, so the test reads what the code itself passed to the logger."""

    def __init__(self):
        self.entries = []
        self._factory = logging.getLogRecordFactory()

    def __call__(self, *args, **kwargs):
        record = self._factory(*args, **kwargs)
        if record.name.split(".")[0] in OWN_LOGGERS:
            self.entries.append((record.name, record.getMessage()))
        return record

    def __enter__(self):
        logging.setLogRecordFactory(self)
        return self

    def __exit__(self, *exc):
        logging.setLogRecordFactory(self._factory)


@pytest.fixture
def log_output(caplog):
    """Return a stream that receives every log record at DEBUG through the filters of the
    root handler that settings.LOGGING configures, and turn on SQL logging with parameters."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if isinstance(logging.root.manager.loggerDict[name], logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
    configured = [handler for handler in logging.getLogger().handlers if handler.get_name() == "console"]
    assert configured, "the root logger has no console handler from settings.LOGGING"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    for log_filter in configured[0].filters:
        handler.addFilter(log_filter)
    assert any(isinstance(item, MaskPersonalDataFilter) for item in handler.filters)
    logging.getLogger().addHandler(handler)
    connection.force_debug_cursor = True
    yield stream
    connection.force_debug_cursor = False
    logging.getLogger().removeHandler(handler)


def mail_texts(raw: bytes) -> list[str]:
    """Return the raw message and the decoded text of each of its parts."""
    message = message_from_bytes(raw, policy=default_policy)
    texts = [raw.decode("utf-8", errors="replace"), str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    return texts


def import_roster(client):
    response = client.post(
        reverse("customers:import_upload"), {"file": roster_file(), "kind": "roster", "delimiter": ""}
    )
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    roster_import = RosterImport.objects.latest("pk")
    mapping_page = client.get(reverse("customers:import_mapping", args=[roster_import.pk]))
    form = mapping_page.context["form"]
    suggested = {name: form[name].initial for name in form.fields}
    response = client.post(reverse("customers:import_mapping", args=[roster_import.pk]), suggested)
    assert response.status_code == HTTPStatus.FOUND
    response = client.post(reverse("customers:import_commit", args=[roster_import.pk]))
    assert response.status_code == HTTPStatus.FOUND
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.COMMITTED
    return roster_import


def launch_campaign(client, branch):
    response = client.post(
        reverse("campaigns:segment_create") + "?occupation=management",
        {"name": "Managers", "description": "Managers in the roster"},
    )
    assert response.status_code == HTTPStatus.FOUND
    today = timezone.localdate()
    response = client.post(
        reverse("campaigns:create"),
        {
            "name": "Wealth review",
            "objective": "Review the portfolio",
            "segment": Segment.objects.get(name="Managers").pk,
            "talking_points": "Ask about the term deposit",
            "starts_on": today.isoformat(),
            "due_on": (today + datetime.timedelta(days=10)).isoformat(),
            "fallback_branch": branch.pk,
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Wealth review")
    response = client.post(reverse("campaigns:launch", args=[campaign.pk]))
    assert response.status_code == HTTPStatus.FOUND
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    return campaign


def test_main_job_keeps_identifiers_masked(
    client, settings, tmp_path, caplog, users, branch_tree, smtp_server, log_output
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_BASE_URL = "https://portal.bank.example"
    platform, manager = users["platform"], users["manager_a"]

    with RawMessages() as raw_messages:
        # 1. Import and export the roster as the platform.
        client.force_login(platform)
        roster_import = import_roster(client)
        assert roster_import.summary["new"] == len(SEEDED_CUSTOMERS)
        assert roster_import.summary["invalid"] == 1
        assert Customer.objects.filter(phone=SEEDED_CUSTOMERS[0]["phone"]).exists()
        export = client.get(reverse("customers:list") + "?_export=csv")
        assert export.status_code == HTTPStatus.OK
        b"".join(export.streaming_content)

        # 2. Launch a campaign over the imported customers.
        campaign = launch_campaign(client, branch_tree["a"])
        tasks = list(FollowUpTask.objects.filter(campaign=campaign).select_related("customer").order_by("pk"))
        assert len(tasks) == len(SEEDED_CUSTOMERS)

        # 3. The client manager reveals a phone and records contacts, the first two done.
        client.force_login(manager)
        reveal = client.post(reverse("customers:reveal", args=[tasks[0].customer.pk, "phone"]))
        assert SEEDED_CUSTOMERS[0]["phone"] in reveal.content.decode()
        for index, task in enumerate(tasks):
            data = {
                "channel": "phone",
                "outcome": "reached",
                "note": f"Called back on {task.customer.phone}",
                "version": task.version,
            }
            if index < 2:
                data["complete"] = "on"
            response = client.post(reverse("campaigns:task_record_contact", args=[task.pk]), data)
            assert response.status_code == HTTPStatus.FOUND

        # 4. The platform verifies the first task and returns the second.
        client.force_login(platform)
        for task in tasks:
            task.refresh_from_db()
        response = client.post(reverse("campaigns:task_verify", args=[tasks[0].pk]), {"version": tasks[0].version})
        assert response.status_code == HTTPStatus.FOUND
        reason = f"The number {tasks[1].customer.phone} in the note is not the one on file"
        response = client.post(
            reverse("campaigns:task_return", args=[tasks[1].pk]), {"reason": reason, "version": tasks[1].version}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert FollowUpTask.objects.filter(status=FollowUpTask.Status.RETURNED).count() == 1

        # 5. Today's reminders, then those of a day after the due date, with escalations.
        reminders_run(business_date=timezone.localdate())
        reminders_run(business_date=campaign.due_on + datetime.timedelta(days=7))

    output = log_output.getvalue()
    mails = smtp_server.messages
    assert mails, "no reminder mail was sent"
    # The values did reach the log records (SQL parameters) and were masked on the way out.
    assert mask_phone(SEEDED_CUSTOMERS[0]["phone"]) in output
    for value in seeded_values():
        assert value not in output, f"{value} appears unmasked in the log output"
        # The filter masks records in place, so pytest's handler, added after the configured one, gets them masked.
        assert value not in caplog.text, f"{value} appears unmasked in the records caplog captured"
        for name, message in raw_messages.entries:
            assert value not in message, f"logger {name} was given {value} unmasked: {message}"
        for number, raw in enumerate(mails):
            for text in mail_texts(raw):
                assert value not in text, f"{value} appears unmasked in mail {number}"
    returned_notices = [raw for raw in mails if mask_phone(tasks[1].customer.phone).encode() in raw]
    assert returned_notices, "no mail shows the masked phone"

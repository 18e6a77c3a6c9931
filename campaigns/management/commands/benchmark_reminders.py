"""Measure the morning digest for many client managers, delivered to an SMTP sink on loopback."""

import datetime
import socket
import threading
import time
from decimal import Decimal

from aiosmtpd.controller import Controller
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import override_settings

from campaigns.models import Campaign, FollowUpTask, Reminder
from campaigns.reminders import reminders_run
from customers.models import Branch, Customer
from portal.models import Role, User

PREFIX = "bench_"
INSERT_BATCH_SIZE = 2000


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_sink_settings(port: int) -> override_settings:
    """Return settings that send mail over plain SMTP to the sink on 127.0.0.1:`port`."""
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
    )


class CountingHandler:
    """An aiosmtpd handler that counts accepted messages and stores when the last arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.last_at = None

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            self.last_at = time.perf_counter()
        return "250 Message accepted for delivery"


class Command(BaseCommand):
    help = (
        "Create N client managers with one task each due on a fixed Monday, send their morning digest to an "
        "SMTP sink on 127.0.0.1, print the time until the last mail arrived, and delete the data again. "
        "Run it against a scratch database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--managers", type=int, default=10_000, help="Number of client managers (default 10000).")
        parser.add_argument("--port", type=int, default=0, help="Port of the SMTP sink (default: any free port).")

    def handle(self, *args, **options):
        count = options["managers"]
        if count < 1:
            raise CommandError(f"Invalid --managers {count}: expected a positive number")
        if User.objects.filter(username__startswith=PREFIX).exists():
            raise CommandError(f"Users named {PREFIX}* exist already: delete them or use a scratch database")

        business_date = datetime.date(2026, 3, 2)
        handler = CountingHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=options["port"] or free_loopback_port())
        controller.start()
        sink_settings = smtp_sink_settings(controller.port)
        try:
            started = time.perf_counter()
            self._data_create(count=count, business_date=business_date)
            created = time.perf_counter()
            with sink_settings:
                result = reminders_run(business_date=business_date, kinds=(Reminder.Kind.DIGEST,))
            finished = time.perf_counter()
        finally:
            controller.stop()
            self._data_delete()

        if handler.count != count or result.sent != count:
            raise CommandError(f"Expected {count} mails, the sink received {handler.count} and the run sent {result.sent}")
        seconds = handler.last_at - created
        self.stdout.write(
            f"{count} client managers on {connection.vendor}: data created in {created - started:.1f} s, "
            f"{handler.count} digests at the sink {seconds:.1f} s after the run started "
            f"({handler.count / seconds:.0f} mails/s), run returned after {finished - created:.1f} s, "
            "one process sending (worker concurrency 1)."
        )

    @transaction.atomic
    def _data_create(self, *, count: int, business_date: datetime.date) -> None:
        branch = Branch.objects.create(code=f"{PREFIX}BR", name="Benchmark branch")
        password = make_password(None)
        supervisor = User.objects.create(
            username=f"{PREFIX}supervisor", role=Role.SUPERVISOR, branch=branch, email="sup@bench.example"
        )
        managers = User.objects.bulk_create(
            [
                User(
                    username=f"{PREFIX}cm_{number:05d}",
                    email=f"cm_{number:05d}@bench.example",
                    role=Role.CLIENT_MANAGER,
                    branch=branch,
                    supervisor=supervisor,
                    language="zh-hans" if number % 2 else "en",
                    password=password,
                )
                for number in range(count)
            ],
            batch_size=INSERT_BATCH_SIZE,
        )
        customers = Customer.objects.bulk_create(
            [
                Customer(
                    customer_no=f"{PREFIX}{number:08d}",
                    name=f"Customer {number}",
                    phone=f"138{number:08d}",
                    branch=branch,
                    aum=Decimal("800000.00"),
                )
                for number in range(count)
            ],
            batch_size=INSERT_BATCH_SIZE,
        )
        campaign = Campaign.objects.create(
            name=f"{PREFIX}campaign",
            owner=supervisor,
            status=Campaign.Status.ACTIVE,
            starts_on=business_date - datetime.timedelta(days=30),
            due_on=business_date + datetime.timedelta(days=30),
        )
        FollowUpTask.objects.bulk_create(
            [
                FollowUpTask(campaign=campaign, customer=customer, assignee=manager, branch=branch, due_on=business_date)
                for manager, customer in zip(managers, customers)
            ],
            batch_size=INSERT_BATCH_SIZE,
        )

    @transaction.atomic
    def _data_delete(self) -> None:
        Campaign.objects.filter(name__startswith=PREFIX).delete()
        Customer.objects.filter(customer_no__startswith=PREFIX).delete()
        Reminder.objects.filter(recipient__username__startswith=PREFIX).delete()
        User.objects.filter(username__startswith=PREFIX, role=Role.CLIENT_MANAGER).delete()
        User.objects.filter(username__startswith=PREFIX).delete()
        Branch.objects.filter(code__startswith=PREFIX).delete()

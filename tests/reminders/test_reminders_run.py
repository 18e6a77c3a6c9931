"""reminders_run with Django's locmem mail backend: content, grouping, thresholds, the
once-per-day ledger, failures and languages."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import FollowUpTask, Reminder
from campaigns.reminders import reminders_run
from tests.factories import CustomerFactory

from .backends import REFUSED_DOMAIN
from .conftest import BUSINESS_DATE, PORTAL_BASE_URL

pytestmark = pytest.mark.django_db

DIGEST = (Reminder.Kind.DIGEST,)
DIGEST_AND_ESCALATION = (Reminder.Kind.DIGEST, Reminder.Kind.ESCALATION)


def mails_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def only_mail_to(address):
    messages = mails_to(address)
    assert len(messages) == 1, f"expected one mail to {address}, got {len(messages)}"
    return messages[0]


def html_part(message):
    assert len(message.alternatives) == 1
    content, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    return content


def test_digest_groups_overdue_today_and_week(users, make_task):
    manager = users["manager_a"]
    overdue = make_task(assignee=manager, days=-2, customer__name="Overdue Wang")
    returned = make_task(assignee=manager, days=-1, customer__name="Returned Li", status=FollowUpTask.Status.RETURNED)
    today = make_task(assignee=manager, days=0, customer__name="Today Zhang", status=FollowUpTask.Status.IN_PROGRESS)
    week_end = make_task(assignee=manager, days=6, customer__name="Sunday Zhao")
    make_task(assignee=manager, days=7, customer__name="Next Week Sun")
    make_task(assignee=manager, days=-5, customer__name="Done Zhou", status=FollowUpTask.Status.DONE)
    make_task(assignee=manager, days=-5, customer__name="Verified Wu", status=FollowUpTask.Status.VERIFIED)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert result.sent == 1
    message = only_mail_to(manager.email)
    assert message.subject == "Morning digest for 2026-03-02: 4 open tasks"
    body = message.body
    overdue_at = body.index("\nOverdue\n")
    today_at = body.index("\nDue today\n")
    week_at = body.index("\nDue this week\n")
    assert overdue_at < body.index("Overdue Wang") < today_at
    assert overdue_at < body.index("Returned Li") < today_at
    assert today_at < body.index("Today Zhang") < week_at
    assert week_at < body.index("Sunday Zhao")
    assert "2 days overdue" in body
    assert "1 day overdue" in body
    assert "Next Week Sun" not in body
    assert "Done Zhou" not in body
    assert "Verified Wu" not in body
    for task in (overdue, returned, today, week_end):
        assert f"{PORTAL_BASE_URL}/campaigns/tasks/{task.pk}/" in body


def test_digest_skips_managers_without_digest(users, make_task):
    make_task(assignee=users["manager_a"], days=0)
    opted_out = users["manager_a1"]
    opted_out.receive_digest = False
    opted_out.save()
    make_task(assignee=opted_out, days=0)
    inactive = users["manager_b"]
    inactive.is_active = False
    inactive.save()
    make_task(assignee=inactive, days=0)
    make_task(assignee=users["platform"], days=0)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert result.sent == 1
    assert [message.to for message in mail.outbox] == [[users["manager_a"].email]]
    assert list(Reminder.objects.values_list("recipient__username", "kind")) == [("cm_a", "digest")]


def test_second_run_sends_nothing(users, make_task):
    make_task(assignee=users["manager_a"], days=-5)
    make_task(assignee=users["manager_b"], days=1)

    first = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST_AND_ESCALATION)
    second = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST_AND_ESCALATION)

    # Two digests, and the overdue task's escalation to its manager and to the supervisor.
    assert (first.sent, first.skipped_already_sent, first.failed) == (4, 0, 0)
    assert (second.sent, second.skipped_already_sent, second.failed) == (0, 4, 0)
    assert len(mail.outbox) == 4
    ledger = list(
        Reminder.objects.order_by("recipient__username", "kind").values_list(
            "recipient__username", "kind", "escalation_level", "status", "attempts"
        )
    )
    assert ledger == [
        ("cm_a", "digest", None, "sent", 1),
        ("cm_a", "escalation", 1, "sent", 1),
        ("cm_b", "digest", None, "sent", 1),
        ("sup_a", "escalation", 2, "sent", 1),
    ]
    assert all(reminder.sent_at is not None for reminder in Reminder.objects.all())


def test_next_day_sends_again(users, make_task):
    make_task(assignee=users["manager_a"], days=3)

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)
    result = reminders_run(business_date=BUSINESS_DATE + datetime.timedelta(days=1), kinds=DIGEST)

    assert result.sent == 1
    assert len(mail.outbox) == 2
    assert Reminder.objects.filter(recipient=users["manager_a"], status=Reminder.Status.SENT).count() == 2


def test_pending_ledger_row_is_sent(users, make_task):
    # A run that claimed the row but died before sending leaves it pending.
    make_task(assignee=users["manager_a"], days=0)
    Reminder.objects.create(recipient=users["manager_a"], kind=Reminder.Kind.DIGEST, business_date=BUSINESS_DATE)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert result.sent == 1
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SENT
    assert reminder.attempts == 1


def test_refused_recipient_does_not_stop_others(users, make_task, settings):
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    refused = users["manager_a"]
    refused.email = f"cm_a{REFUSED_DOMAIN}"
    refused.save()
    make_task(assignee=refused, days=0)
    make_task(assignee=users["manager_a1"], days=0)
    make_task(assignee=users["manager_b"], days=0)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert (result.sent, result.failed) == (2, 1)
    assert sorted(message.to[0] for message in mail.outbox) == ["cm_a1@bank.example", "cm_b@bank.example"]
    failed = Reminder.objects.get(recipient=refused)
    assert failed.status == Reminder.Status.FAILED
    assert failed.attempts == 1
    assert failed.sent_at is None
    assert failed.last_error.startswith("SMTPRecipientsRefused")


def test_failed_mail_is_retried_next_run(users, make_task, settings):
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    manager = users["manager_a"]
    manager.email = f"cm_a{REFUSED_DOMAIN}"
    manager.save()
    make_task(assignee=manager, days=0)
    make_task(assignee=users["manager_b"], days=0)
    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    manager.email = "cm_a@bank.example"
    manager.save()
    result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert (result.sent, result.skipped_already_sent, result.failed) == (1, 1, 0)
    assert [message.to for message in mail.outbox] == [["cm_b@bank.example"], ["cm_a@bank.example"]]
    reminder = Reminder.objects.get(recipient=manager)
    assert reminder.status == Reminder.Status.SENT
    assert reminder.attempts == 2
    assert reminder.last_error == ""


def test_recipient_without_email_is_skipped(users, make_task, caplog):
    manager = users["manager_a"]
    manager.email = ""
    manager.save()
    make_task(assignee=manager, days=0)
    make_task(assignee=users["manager_b"], days=0)

    with caplog.at_level("WARNING", logger="campaigns.reminders"):
        result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    assert (result.sent, result.skipped_no_email) == (1, 1)
    assert [message.to for message in mail.outbox] == [["cm_b@bank.example"]]
    assert not Reminder.objects.filter(recipient=manager).exists()
    assert f"user {manager.pk} has no e-mail address" in caplog.text


def test_language_follows_recipient(users, make_task, zh_hans_catalog):
    english = users["manager_a"]
    chinese = users["manager_b"]
    chinese.language = "zh-hans"
    chinese.save()
    make_task(assignee=english, days=-1)
    make_task(assignee=chinese, days=-1)
    make_task(assignee=chinese, days=2)

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    english_mail = only_mail_to(english.email)
    assert english_mail.subject == "Morning digest for 2026-03-02: 1 open task"
    assert "Hello " in english_mail.body
    assert "\nOverdue\n" in english_mail.body
    assert 'lang="en"' in html_part(english_mail)

    chinese_mail = only_mail_to(chinese.email)
    assert chinese_mail.subject == "2026-03-02 晨间提醒：2 项待跟进任务"
    assert "\n已逾期\n" in chinese_mail.body
    assert "\n本周到期\n" in chinese_mail.body
    assert "逾期 1 天" in chinese_mail.body
    chinese_html = html_part(chinese_mail)
    assert 'lang="zh-hans"' in chinese_html
    assert "到期日" in chinese_html
    assert "Overdue" not in chinese_html


def test_mail_has_text_and_html_parts(users, make_task):
    task = make_task(assignee=users["manager_a"], days=0, customer__name="Html Part Ma")

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    message = only_mail_to(users["manager_a"].email)
    assert message.content_subtype == "plain"
    assert message.from_email == "portal@bank.example"
    html = html_part(message)
    assert "<table" in html
    assert "Html Part Ma" in html
    assert f'href="{PORTAL_BASE_URL}/campaigns/tasks/mine/"' in html
    assert f'href="{PORTAL_BASE_URL}/campaigns/tasks/{task.pk}/"' in html
    assert f"{PORTAL_BASE_URL}/campaigns/tasks/mine/" in message.body
    assert "<" not in message.body


def test_mail_masks_customer_identifiers(users, make_task):
    customer = CustomerFactory(
        name="Masked Huang", phone="13812345678", id_number="110105194912310021", aum=Decimal("12345678.90")
    )
    make_task(assignee=users["manager_b"], days=-5, customer=customer)

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST_AND_ESCALATION)

    assert len(mail.outbox) == 3  # the digest and two escalation levels
    for message in mail.outbox:
        texts = [message.subject, message.body, html_part(message)]
        for text in texts:
            assert "13812345678" not in text
            assert "110105194912310021" not in text
            assert "12345678" not in text
            assert customer.customer_no not in text
        assert "138****5678" in message.body
        assert "138****5678" in html_part(message)


def test_html_escapes_customer_name(users, make_task):
    make_task(assignee=users["manager_a"], days=0, customer__name="<b>Bold</b>")

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    message = only_mail_to(users["manager_a"].email)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html_part(message)
    assert "<b>Bold</b>" in message.body


# Scans (overrides, digest managers, overdue tasks, branch heads), recipients, the ledger
# insert and the unsent rows.
QUERIES_PER_RUN = 7
# Savepoint, row lock, the mail's tasks, the update and the release.
QUERIES_PER_MAIL = 5
# A digest reads its tasks in two queries: the ids and due dates of all, then the listed ones.
QUERIES_PER_DIGEST = QUERIES_PER_MAIL + 1


def count_run_queries(business_date):
    with CaptureQueriesContext(connection) as queries:
        result = reminders_run(business_date=business_date, kinds=DIGEST_AND_ESCALATION)
    return len(queries), result


def test_queries_do_not_grow_with_tasks(users, make_task):
    managers = [users["manager_a"], users["manager_b"]]
    for manager in managers:
        make_task(assignee=manager, days=-5)
    few_count, few_result = count_run_queries(BUSINESS_DATE)

    for manager in managers:
        for days in range(-9, 5):
            make_task(assignee=manager, days=days)
    many_count, many_result = count_run_queries(BUSINESS_DATE + datetime.timedelta(days=1))

    # Six mails both times: two digests, and escalations to two managers and two supervisors.
    assert few_result.sent == 6
    assert many_result.sent == 6
    assert many_count == few_count
    assert few_count == QUERIES_PER_RUN + 2 * QUERIES_PER_DIGEST + 4 * QUERIES_PER_MAIL

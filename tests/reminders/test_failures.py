"""One bad recipient or template never stops a batch, and a failed mail is retried by later
runs until REMINDER_MAX_ATTEMPTS, then left failed for the administrator."""

import pytest
from django.core import mail
from django.template import TemplateSyntaxError

from campaigns.models import Reminder
from campaigns.reminders import reminders_run
from campaigns.reminders import delivery

from .backends import REFUSED_DOMAIN
from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db

DIGEST_AND_SUMMARY = (Reminder.Kind.DIGEST, Reminder.Kind.PLATFORM_SUMMARY)


def test_broken_template_does_not_stop_batch(users, make_task, monkeypatch, caplog):
    make_task(assignee=users["manager_a"], days=0)
    make_task(assignee=users["manager_b"], days=0)
    real_render = delivery.render_to_string

    def render_breaking_digest(template_name, context=None):
        if template_name.startswith("emails/reminder_digest"):
            raise TemplateSyntaxError("Invalid block tag on line 3: 'endfor'")
        return real_render(template_name, context)

    monkeypatch.setattr(delivery, "render_to_string", render_breaking_digest)

    with caplog.at_level("ERROR", logger="campaigns.reminders.delivery"):
        result = reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST_AND_SUMMARY)

    assert (result.sent, result.failed) == (1, 2)
    assert [message.to for message in mail.outbox] == [[users["platform"].email]]
    failed = Reminder.objects.filter(kind=Reminder.Kind.DIGEST)
    assert set(failed.values_list("status", flat=True)) == {Reminder.Status.FAILED}
    assert all(row.last_error.startswith("TemplateSyntaxError: Invalid block tag") for row in failed)
    assert "building the digest of user" in caplog.text


def test_failed_mail_given_up_after_limit(users, make_task, settings):
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    settings.REMINDER_MAX_ATTEMPTS = 3
    manager = users["manager_a"]
    manager.email = f"cm_a{REFUSED_DOMAIN}"
    manager.save()
    make_task(assignee=manager, days=0)

    results = [reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,)) for _ in range(5)]

    assert [result.failed for result in results] == [1, 1, 1, 0, 0]
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.FAILED
    assert reminder.attempts == 3
    assert mail.outbox == []


def test_resend_keeps_message_id(users, make_task, settings):
    # A row left pending (the process died after sending) is sent again with the same id,
    # so the receiving side can drop the copy.
    make_task(assignee=users["manager_a"], days=0)
    reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,))
    Reminder.objects.update(status=Reminder.Status.PENDING)

    reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST,))

    assert len(mail.outbox) == 2
    first_id = mail.outbox[0].extra_headers["Message-ID"]
    assert first_id.startswith("<reminder.digest.")
    assert first_id.endswith("@bank.example>")
    assert mail.outbox[1].extra_headers["Message-ID"] == first_id

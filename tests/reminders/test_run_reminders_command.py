"""The run_reminders management command."""

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from campaigns.models import Reminder

from .backends import REFUSED_DOMAIN
from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db


def run_command(*args):
    output = StringIO()
    call_command("run_reminders", *args, stdout=output)
    return output.getvalue()


def test_command_twice_sends_once(users, make_task):
    make_task(assignee=users["manager_a"], days=-4)
    make_task(assignee=users["manager_b"], days=2)

    first = run_command("--date", "2026-03-02")
    second = run_command("--date", "2026-03-02")

    # Two digests, two escalation levels, and the platform user's two summaries.
    assert first.startswith("Reminders of 2026-03-02: 6 sent, 0 already sent,")
    assert first.strip().endswith("0 failed.")
    assert second.startswith("Reminders of 2026-03-02: 0 sent, 6 already sent,")
    assert len(mail.outbox) == 6
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    # An escalation is dated the working day its level fell due: Friday 27 February for the
    # first level, and Monday 2 March for the second after the make-up working Saturday.
    escalation_dates = dict(
        Reminder.objects.filter(kind=Reminder.Kind.ESCALATION).values_list("escalation_level", "business_date")
    )
    assert escalation_dates == {1: datetime.date(2026, 2, 27), 2: BUSINESS_DATE}


def test_command_rejects_invalid_date(users, make_task):
    make_task(assignee=users["manager_a"], days=0)

    with pytest.raises(CommandError, match=r"Invalid --date '2026-02-30': expected YYYY-MM-DD"):
        run_command("--date", "2026-02-30")

    assert mail.outbox == []
    assert not Reminder.objects.exists()


def test_command_fails_when_a_mail_fails(users, make_task, settings):
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    manager = users["manager_a"]
    manager.email = f"cm_a{REFUSED_DOMAIN}"
    manager.save()
    make_task(assignee=manager, days=0)

    with pytest.raises(CommandError, match="1 reminder mails failed. Run the command again"):
        run_command("--date", "2026-03-02")

    assert Reminder.objects.get(recipient=manager, kind=Reminder.Kind.DIGEST).status == Reminder.Status.FAILED


def test_command_sends_only_given_kind(users, make_task):
    make_task(assignee=users["manager_a"], days=-4)

    output = run_command("--date", "2026-03-02", "--kind", "digest")

    assert output.startswith("Reminders of 2026-03-02: 1 sent, 0 already sent,")
    assert list(Reminder.objects.values_list("kind", flat=True)) == ["digest"]
    assert [message.to for message in mail.outbox] == [[users["manager_a"].email]]


def test_command_rejects_unknown_kind(users):
    with pytest.raises(CommandError, match="invalid choice: 'weekly'"):
        run_command("--date", "2026-03-02", "--kind", "weekly")

    assert not Reminder.objects.exists()


def test_benchmark_command_small_run(db):
    output = StringIO()

    call_command("benchmark_reminders", "--managers", "5", stdout=output)

    assert output.getvalue().startswith("5 client managers on ")
    assert "5 digests at the sink" in output.getvalue()
    assert not Reminder.objects.exists()
    assert mail.outbox == []


def test_benchmark_command_rejects_zero(db):
    with pytest.raises(CommandError, match="Invalid --managers 0: expected a positive number"):
        call_command("benchmark_reminders", "--managers", "0")

"""The morning digest lists at most REMINDER_DIGEST_MAX_TASKS tasks, the most urgent first,
keeps the exact totals in its heading, and links to the task list for the rest."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse

from campaigns.models import FollowUpTask, Reminder
from campaigns.reminders import reminders_run

from .conftest import BUSINESS_DATE, PORTAL_BASE_URL
from .test_reminders_run import html_part, only_mail_to

pytestmark = pytest.mark.django_db

DIGEST = (Reminder.Kind.DIGEST,)
# The digest window ends on Sunday 8 March (REMINDER_DUE_SOON_DAYS = 7).
MORE_URL = f"{PORTAL_BASE_URL}/campaigns/tasks/mine/?due_to=2026-03-08"


@pytest.fixture
def capped_tasks(users, make_task, settings):
    """Five open tasks of manager_a, created out of order, with a cap of three lines."""
    settings.REMINDER_DIGEST_MAX_TASKS = 3
    manager = users["manager_a"]
    make_task(assignee=manager, days=3, customer__name="Thursday Sun")
    make_task(assignee=manager, days=-2, customer__name="Overdue Two Li")
    make_task(assignee=manager, days=1, customer__name="Tuesday Zhao")
    make_task(assignee=manager, days=0, customer__name="Today Zhang")
    make_task(assignee=manager, days=-4, customer__name="Overdue Four Wang")
    make_task(assignee=manager, days=-9, customer__name="Done Zhou", status=FollowUpTask.Status.DONE)
    make_task(assignee=manager, days=7, customer__name="Next Week Qian")
    return manager


def test_digest_cap_lists_most_urgent(capped_tasks):
    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    body = only_mail_to(capped_tasks.email).body
    assert body.index("Overdue Four Wang") < body.index("Overdue Two Li") < body.index("Today Zhang")
    assert "Tuesday Zhao" not in body
    assert "Thursday Sun" not in body
    assert "\nDue this week\n" not in body


def test_digest_cap_more_line_english(capped_tasks):
    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    message = only_mail_to(capped_tasks.email)
    assert message.subject == "Morning digest for 2026-03-02: 5 open tasks"
    assert "5 open tasks in all: 2 overdue, 1 due today, 2 due this week." in message.body
    assert f"... and 2 more tasks, listed in your task list: {MORE_URL}\n" in message.body
    html = html_part(message)
    assert "5 open tasks in all: 2 overdue, 1 due today, 2 due this week." in html
    assert f'<a href="{MORE_URL}">... and 2 more tasks, listed in your task list</a>' in html
    assert "Tuesday Zhao" not in html


def test_digest_cap_more_line_chinese(capped_tasks, zh_hans_catalog):
    capped_tasks.language = "zh-hans"
    capped_tasks.save()

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    message = only_mail_to(capped_tasks.email)
    assert message.subject == "2026-03-02 晨间提醒：5 项待跟进任务"
    totals = "共 5 项待跟进任务：逾期 2 项，今日到期 1 项，本周到期 2 项。"
    assert totals in message.body
    assert f"……另有 2 项任务，请在您的任务列表中查看: {MORE_URL}\n" in message.body
    html = html_part(message)
    assert totals in html
    assert f'<a href="{MORE_URL}">……另有 2 项任务，请在您的任务列表中查看</a>' in html
    assert "more task" not in message.body


def test_digest_cap_cuts_overdue(users, make_task, settings):
    settings.REMINDER_DIGEST_MAX_TASKS = 2
    manager = users["manager_a"]
    for days, name in [(-1, "Minus One"), (-3, "Minus Three"), (2, "Plus Two"), (-2, "Minus Two")]:
        make_task(assignee=manager, days=days, customer__name=name)

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    body = only_mail_to(manager.email).body
    assert body.index("Minus Three") < body.index("Minus Two")
    assert "Minus One" not in body
    assert "Plus Two" not in body
    assert "4 open tasks in all: 3 overdue, 0 due today, 1 due this week." in body
    assert "... and 2 more tasks, listed in your task list" in body


def test_digest_within_cap_has_no_more_line(users, make_task, settings):
    settings.REMINDER_DIGEST_MAX_TASKS = 2
    manager = users["manager_a"]
    make_task(assignee=manager, days=-1)
    make_task(assignee=manager, days=2)

    reminders_run(business_date=BUSINESS_DATE, kinds=DIGEST)

    message = only_mail_to(manager.email)
    assert "2 open tasks in all: 1 overdue, 0 due today, 1 due this week." in message.body
    assert "more task" not in message.body
    assert "due_to=" not in html_part(message)
    assert len(mail.outbox) == 1


def test_my_tasks_due_to_matches_digest(client, users, make_task):
    """The digest's "more" link lists the same tasks as the digest covers."""
    manager = users["manager_a"]
    in_window = make_task(assignee=manager, days=6, customer__name="Sunday Zhao")
    overdue = make_task(assignee=manager, days=-3, customer__name="Overdue Wang")
    make_task(assignee=manager, days=7, customer__name="Next Week Qian")
    client.force_login(manager)

    filtered = client.get(reverse("campaigns:my_tasks"), {"due_to": "2026-03-08"})
    everything = client.get(reverse("campaigns:my_tasks"), {"due_to": "not a date"})

    assert filtered.status_code == 200
    listed = [task.pk for task in filtered.context["page"]]
    assert listed == [overdue.pk, in_window.pk]
    assert "Showing the tasks due on or before 2026-03-08." in filtered.content.decode()
    assert len(everything.context["page"]) == 3
    assert "Showing the tasks" not in everything.content.decode()


def test_my_tasks_due_to_keeps_page_links(client, users, make_task, settings):
    settings.PORTAL_PAGE_SIZE = 1
    manager = users["manager_a"]
    make_task(assignee=manager, days=-1)
    make_task(assignee=manager, days=1)
    client.force_login(manager)

    response = client.get(reverse("campaigns:my_tasks"), {"due_to": "2026-03-08"})

    assert '?page=2&amp;due_to=2026-03-08"' in response.content.decode()

"""Escalation mails count overdue time in working days in the subject, the heading and every
task line, in English and in Chinese, also across a weekend or a public holiday."""

import datetime

import pytest
from django.core import mail

from campaigns.models import Reminder
from campaigns.reminders import reminders_run

pytestmark = pytest.mark.django_db

ESCALATION = (Reminder.Kind.ESCALATION,)

# (due date, run date, working days overdue, calendar days overdue)
OVER_A_WEEKEND = (datetime.date(2026, 3, 6), datetime.date(2026, 3, 10), 2, 4)
# Spring Festival 2026: Saturday 14 February is a make-up working day, 15 to 23 February are off.
OVER_SPRING_FESTIVAL = (datetime.date(2026, 2, 13), datetime.date(2026, 2, 24), 2, 11)

EXPECTED = {
    "en": {
        "subject": "Escalation: 1 task overdue by one working day or more",
        "heading": "These follow-up tasks of yours are overdue by one working day or more.",
        "line": "{working} working days overdue",
        "calendar_line": "{calendar} days overdue",
        "column": "Working days overdue",
    },
    "zh-hans": {
        "subject": "升级提醒：1 项任务逾期 1 个工作日及以上",
        "heading": "您的以下跟进任务已逾期 1 个工作日及以上。",
        "line": "逾期 {working} 个工作日",
        "calendar_line": "逾期 {calendar} 天",
        "column": "逾期工作日数",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(("due_on", "run_on", "working", "calendar"), [OVER_A_WEEKEND, OVER_SPRING_FESTIVAL])
def test_escalation_counts_working_days(users, make_task, language, due_on, run_on, working, calendar):
    manager = users["manager_a"]
    manager.language = language
    manager.save()
    task = make_task(assignee=manager, days=0, customer__name="Weekend Wang")
    task.due_on = due_on
    task.save()
    expected = EXPECTED[language]

    result = reminders_run(business_date=run_on, kinds=ESCALATION)

    assert result.sent == 1
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert message.subject == expected["subject"]
    assert expected["heading"] in message.body
    assert expected["heading"] in html
    assert expected["line"].format(working=working) in message.body
    assert expected["calendar_line"].format(calendar=calendar) not in message.body
    assert expected["column"] in html
    assert f'<td style="padding: 4px 8px;">{working}</td>' in html
    assert f'<td style="padding: 4px 8px;">{calendar}</td>' not in html

"""Due-soon reminders, the escalation chain, returned-task notices and the summaries: each
goes out once through the ledger, on the mainland China working-day calendar."""

import datetime

import pytest
from django.core import mail

from campaigns.models import FollowUpTask, Reminder, WorkingDayOverride
from campaigns.reminders import NOTICE_KINDS, reminders_business_date_today, reminders_run
from campaigns.services import task_return, task_transition
from customers.models import Branch
from portal.models import Role
from tests.factories import UserFactory

from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db

DUE_SOON = (Reminder.Kind.DUE_SOON,)
ESCALATION = (Reminder.Kind.ESCALATION,)
SUMMARIES = (Reminder.Kind.OWNER_SUMMARY, Reminder.Kind.PLATFORM_SUMMARY)
# 2026: Saturday 28 February is an official make-up working day after the Spring Festival.
MAKE_UP_SATURDAY = datetime.date(2026, 2, 28)
FRIDAY_BEFORE = datetime.date(2026, 2, 27)
SUNDAY_BEFORE = datetime.date(2026, 3, 1)


def day(offset: int) -> datetime.date:
    return BUSINESS_DATE + datetime.timedelta(days=offset)


def mails_to(address):
    return [message for message in mail.outbox if message.to == [address]]


@pytest.fixture
def due_soon_campaign(reminder_campaign):
    reminder_campaign.due_soon_working_days = 2
    reminder_campaign.save()
    return reminder_campaign


# Due-soon reminders


def test_due_soon_sent_once_on_its_day(users, make_task, due_soon_campaign):
    manager = users["manager_a"]
    make_task(assignee=manager, days=2, customer__name="Wednesday Ma")  # due Wednesday 4 March

    before = reminders_run(business_date=FRIDAY_BEFORE, kinds=DUE_SOON)
    on_day = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)
    day_after = reminders_run(business_date=day(1), kinds=DUE_SOON)

    assert before.sent == 0
    assert on_day.sent == 1
    assert day_after.sent == 0
    assert day_after.skipped_already_sent == 1
    [message] = mails_to(manager.email)
    assert message.subject == "Due soon: 1 follow-up task"
    assert "Wednesday Ma" in message.body
    reminder = Reminder.objects.get()
    assert (reminder.kind, reminder.business_date, reminder.status) == ("due_soon", BUSINESS_DATE, "sent")
    assert reminder.subject_key.endswith(":due:2026-03-04")


def test_due_soon_counts_make_up_saturday(users, make_task, due_soon_campaign):
    # Due Tuesday 3 March: two working days before is the make-up Saturday, not Thursday.
    make_task(assignee=users["manager_a"], days=1)

    friday = reminders_run(business_date=FRIDAY_BEFORE, kinds=DUE_SOON)
    saturday = reminders_run(business_date=MAKE_UP_SATURDAY, kinds=DUE_SOON)

    assert friday.sent == 0
    assert saturday.sent == 1
    assert Reminder.objects.get().business_date == MAKE_UP_SATURDAY


def test_due_soon_missed_day_sent_late(users, make_task, due_soon_campaign):
    # The reminder fell due on the make-up Saturday; beat was down until Monday.
    make_task(assignee=users["manager_a"], days=1)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)
    again = reminders_run(business_date=day(1), kinds=DUE_SOON)

    assert result.sent == 1
    assert again.sent == 0
    assert Reminder.objects.get().business_date == MAKE_UP_SATURDAY
    assert len(mail.outbox) == 1


def test_rescheduled_task_reminded_again(users, make_task, due_soon_campaign):
    task = make_task(assignee=users["manager_a"], days=2)
    reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)

    task.due_on = day(9)  # Wednesday 11 March
    task.save()
    before_new_day = reminders_run(business_date=day(6), kinds=DUE_SOON)
    on_new_day = reminders_run(business_date=day(7), kinds=DUE_SOON)

    assert before_new_day.sent == 0
    assert on_new_day.sent == 1
    assert len(mail.outbox) == 2
    keys = sorted(Reminder.objects.values_list("subject_key", flat=True))
    assert keys == [f"task:{task.pk}:due:2026-03-04", f"task:{task.pk}:due:2026-03-11"]


def test_done_task_gets_no_reminder(users, make_task, due_soon_campaign):
    manager = users["manager_a"]
    task = make_task(assignee=manager, days=2)
    task_transition(task=task, to_status=FollowUpTask.Status.DONE, actor=manager)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)

    assert result.sent == 0
    assert mail.outbox == []
    assert not Reminder.objects.exists()


def test_task_closed_after_failure_cancelled(users, make_task, due_soon_campaign, settings):
    # The first attempt failed; the manager finished the task before the next run.
    settings.EMAIL_BACKEND = "tests.reminders.backends.RefusingEmailBackend"
    manager = users["manager_a"]
    manager.email = "cm_a@refused.example"
    manager.save()
    task = make_task(assignee=manager, days=2)
    first = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)
    task_transition(task=task, to_status=FollowUpTask.Status.DONE, actor=manager)
    manager.email = "cm_a@bank.example"
    manager.save()

    second = reminders_run(business_date=day(1), kinds=DUE_SOON)

    assert first.failed == 1
    assert second.skipped_cancelled == 1
    assert second.sent == 0
    assert mail.outbox == []
    assert Reminder.objects.get().status == Reminder.Status.CANCELLED


def test_due_soon_off_for_campaign(users, make_task):
    make_task(assignee=users["manager_a"], days=1)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)

    assert result.sent == 0
    assert not Reminder.objects.exists()


def test_due_soon_ignores_digest_preference(users, make_task, due_soon_campaign):
    manager = users["manager_a"]
    manager.receive_digest = False
    manager.save()
    make_task(assignee=manager, days=2)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST, Reminder.Kind.DUE_SOON))

    assert result.sent == 1
    assert list(Reminder.objects.values_list("kind", flat=True)) == ["due_soon"]


def test_due_soon_groups_one_mail(users, make_task, due_soon_campaign):
    manager = users["manager_a"]
    for name in ("First Qi", "Second Lu"):
        make_task(assignee=manager, days=2, customer__name=name)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=DUE_SOON)

    assert result.sent == 1
    [message] = mail.outbox
    assert message.subject == "Due soon: 2 follow-up tasks"
    assert "First Qi" in message.body
    assert "Second Lu" in message.body
    assert Reminder.objects.filter(status=Reminder.Status.SENT).count() == 2


# Escalation chain


@pytest.fixture
def chain(users, branch_tree):
    """A client manager and their supervisor in sub-branch B1, below branch B, whose head is
    sup_b: three different people on the three levels."""
    sub_b1 = Branch.objects.create(code="BB1", name="Sub-branch B1", parent=branch_tree["b"], level=Branch.Level.SUB_BRANCH)
    supervisor = UserFactory(username="sup_chain", role=Role.SUPERVISOR, branch=sub_b1)
    manager = UserFactory(username="cm_chain", branch=sub_b1, supervisor=supervisor)
    return {"manager": manager, "supervisor": supervisor, "head": users["supervisor_b"]}


def escalation_levels_by_user():
    return sorted(
        Reminder.objects.filter(kind=Reminder.Kind.ESCALATION).values_list("recipient__username", "escalation_level")
    )


def test_escalation_chain_by_working_days(chain, make_task):
    # Due Thursday 26 February; working days overdue: Fri 27 (1), make-up Sat 28 (2),
    # Mon 2 March (3), Tue 3 (4), Wed 4 (5).
    make_task(assignee=chain["manager"], days=-4, customer__name="Chain Tang")

    by_day = {}
    for current in (FRIDAY_BEFORE, MAKE_UP_SATURDAY, SUNDAY_BEFORE, BUSINESS_DATE, day(1), day(2), day(3)):
        by_day[current] = reminders_run(business_date=current, kinds=ESCALATION).sent

    assert by_day == {
        FRIDAY_BEFORE: 1,
        MAKE_UP_SATURDAY: 0,
        SUNDAY_BEFORE: 0,
        BUSINESS_DATE: 1,
        day(1): 0,
        day(2): 1,
        day(3): 0,
    }
    assert escalation_levels_by_user() == [("cm_chain", 1), ("sup_b", 3), ("sup_chain", 2)]
    assert [message.to[0] for message in mail.outbox] == [
        "cm_chain@bank.example",
        "sup_chain@bank.example",
        "sup_b@bank.example",
    ]
    assert mail.outbox[0].subject == "Escalation: 1 task overdue by one working day or more"
    assert "These follow-up tasks of yours are overdue by one working day or more." in mail.outbox[0].body
    assert "1 working days" not in mail.outbox[0].body
    assert "of your client managers" in mail.outbox[1].body
    assert "in a branch under yours" in mail.outbox[2].body
    assert "Chain Tang" in mail.outbox[2].body


def test_escalation_late_run_sends_all_levels(chain, make_task):
    make_task(assignee=chain["manager"], days=-10)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)
    again = reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert result.sent == 3
    assert again.sent == 0
    assert again.skipped_already_sent == 3
    assert len(mail.outbox) == 3


def test_escalation_head_same_as_supervisor_once(users, make_task):
    # cm_a1 sits in A1; the supervisor sup_a is the only supervisor of branch A, A1's parent.
    make_task(assignee=users["manager_a1"], days=-10)

    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert escalation_levels_by_user() == [("cm_a1", 1), ("sup_a", 2)]
    assert len(mails_to(users["supervisor_a"].email)) == 1


def test_escalation_ignores_digest_preference(chain, make_task):
    for person in chain.values():
        person.receive_digest = False
        person.save()
    make_task(assignee=chain["manager"], days=-10)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert result.sent == 3


def test_escalation_skips_inactive_supervisor(chain, make_task):
    chain["supervisor"].is_active = False
    chain["supervisor"].save()
    make_task(assignee=chain["manager"], days=-10)

    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert escalation_levels_by_user() == [("cm_chain", 1), ("sup_b", 3)]


def test_rescheduled_overdue_task_escalates_again(chain, make_task):
    task = make_task(assignee=chain["manager"], days=-4)
    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)
    task.due_on = day(1)
    task.save()

    not_yet = reminders_run(business_date=day(1), kinds=ESCALATION)
    overdue_again = reminders_run(business_date=day(2), kinds=ESCALATION)

    assert not_yet.sent == 0
    assert overdue_again.sent == 1
    assert Reminder.objects.filter(kind=Reminder.Kind.ESCALATION, escalation_level=1).count() == 2


def test_escalation_thresholds_follow_setting(chain, make_task, settings):
    settings.REMINDER_ESCALATION_WORKING_DAYS = (2, 4, 6)
    make_task(assignee=chain["manager"], days=-4)  # 3 working days overdue

    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert escalation_levels_by_user() == [("cm_chain", 1)]
    assert mail.outbox[0].subject == "Escalation: 1 task overdue by 2 working days or more"


def test_invalid_escalation_setting_rejected(chain, make_task, settings):
    settings.REMINDER_ESCALATION_WORKING_DAYS = (3, 1, 5)
    make_task(assignee=chain["manager"], days=-4)

    with pytest.raises(ValueError, match=r"Invalid REMINDER_ESCALATION_WORKING_DAYS \(3, 1, 5\)"):
        reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert not Reminder.objects.exists()


# Returned-task notices


@pytest.fixture
def today():
    # The return event carries the real clock's time, so these runs use today's date.
    return reminders_business_date_today()


def returned_task(users, make_task, reason="Call again: the customer asked about fees"):
    manager = users["manager_a"]
    task = make_task(assignee=manager, days=3, customer__name="Returned Bai")
    task_transition(task=task, to_status=FollowUpTask.Status.DONE, actor=manager)
    return task_return(task=task, actor=users["platform"], reason=reason)


def test_returned_notice_sent_once(users, make_task, today):
    task = returned_task(users, make_task)

    first = reminders_run(business_date=today, kinds=NOTICE_KINDS)
    second = reminders_run(business_date=today, kinds=NOTICE_KINDS)
    next_day = reminders_run(business_date=today + datetime.timedelta(days=1), kinds=NOTICE_KINDS)

    assert (first.sent, second.sent, next_day.sent) == (1, 0, 0)
    [message] = mail.outbox
    assert message.to == [users["manager_a"].email]
    assert message.subject == "Returned: 1 follow-up task needs more work"
    assert "Call again: the customer asked about fees" in message.body
    assert "Returned Bai" in message.body
    reminder = Reminder.objects.get()
    assert reminder.task_id == task.pk
    assert reminder.status == Reminder.Status.SENT


def test_second_return_sends_second_notice(users, make_task, today):
    task = returned_task(users, make_task)
    reminders_run(business_date=today, kinds=NOTICE_KINDS)
    task_transition(task=task, to_status=FollowUpTask.Status.DONE, actor=users["manager_a"])
    task_return(task=task, actor=users["platform"], reason="Still missing the outcome")

    result = reminders_run(business_date=today, kinds=NOTICE_KINDS)

    assert result.sent == 1
    assert len(mail.outbox) == 2
    assert "Still missing the outcome" in mail.outbox[1].body
    assert Reminder.objects.filter(kind=Reminder.Kind.RETURNED).count() == 2


def test_redone_task_gets_no_notice(users, make_task, today):
    task = returned_task(users, make_task)
    task_transition(task=task, to_status=FollowUpTask.Status.DONE, actor=users["manager_a"])

    result = reminders_run(business_date=today, kinds=NOTICE_KINDS)

    assert result.sent == 0
    assert not Reminder.objects.exists()


# Summaries


def test_owner_summary_weekly(users, make_task):
    make_task(assignee=users["manager_a"], days=-1)
    make_task(assignee=users["manager_b"], days=5)
    owner_kind = (Reminder.Kind.OWNER_SUMMARY,)

    monday = reminders_run(business_date=BUSINESS_DATE, kinds=owner_kind)
    tuesday = reminders_run(business_date=day(1), kinds=owner_kind)
    next_monday = reminders_run(business_date=day(7), kinds=owner_kind)

    assert (monday.sent, tuesday.sent, next_monday.sent) == (1, 0, 1)
    message = mails_to(users["platform"].email)[0]
    assert message.subject == "Weekly summary from 2026-03-02: 1 active campaign"
    assert "Spring wealth review" in message.body
    assert "2 tasks, 2 open, 1 overdue, 0 awaiting verification, 0 verified" in message.body
    dates = sorted(Reminder.objects.values_list("business_date", flat=True))
    assert dates == [BUSINESS_DATE, day(7)]


def test_platform_summary_on_working_days(users, make_task):
    make_task(assignee=users["manager_a"], days=-1)
    platform_kind = (Reminder.Kind.PLATFORM_SUMMARY,)

    sent = {
        current: reminders_run(business_date=current, kinds=platform_kind).sent
        for current in (FRIDAY_BEFORE, MAKE_UP_SATURDAY, SUNDAY_BEFORE, BUSINESS_DATE)
    }
    reminders_run(business_date=BUSINESS_DATE, kinds=platform_kind)

    assert sent == {FRIDAY_BEFORE: 1, MAKE_UP_SATURDAY: 1, SUNDAY_BEFORE: 0, BUSINESS_DATE: 1}
    assert len(mail.outbox) == 3
    assert mail.outbox[-1].subject == "Platform summary for 2026-03-02: 1 open tasks, 1 overdue"


def test_summaries_skip_inactive_users(users, make_task):
    users["platform"].is_active = False
    users["platform"].save()
    make_task(assignee=users["manager_a"], days=1)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=SUMMARIES)

    assert result.sent == 0
    assert not Reminder.objects.exists()


def test_override_makes_holiday(users, make_task):
    WorkingDayOverride.objects.create(date=BUSINESS_DATE, is_working_day=False, note="Branch system migration")
    make_task(assignee=users["manager_a"], days=0)

    result = reminders_run(business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DIGEST, Reminder.Kind.PLATFORM_SUMMARY))

    assert result.sent == 0
    assert not Reminder.objects.exists()


# Languages


def test_new_kinds_render_in_chinese(chain, make_task, due_soon_campaign, users, zh_hans_catalog):
    for person in (chain["manager"], chain["supervisor"], users["platform"]):
        person.language = "zh-hans"
        person.save()
    make_task(assignee=chain["manager"], days=-1)
    make_task(assignee=chain["manager"], days=2)

    reminders_run(
        business_date=BUSINESS_DATE, kinds=(Reminder.Kind.DUE_SOON, Reminder.Kind.ESCALATION, *SUMMARIES)
    )

    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "2026-03-02 中台日报：待处理任务 2 项，逾期 1 项",
        "2026-03-02 起周报：1 个进行中的活动",
        "升级提醒：1 项任务逾期 1 个工作日及以上",
        "即将到期：1 项跟进任务",
    ]
    for message in mail.outbox:
        html = message.alternatives[0][0]
        assert 'lang="zh-hans"' in html
        assert "Hello" not in message.body
        assert "您好" in message.body

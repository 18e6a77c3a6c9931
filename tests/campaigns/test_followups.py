"""Next follow-up tasks and tier service standard care tasks, and their beat schedules."""

import datetime
import threading
from decimal import Decimal

import pytest
from celery.signals import task_postrun
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.followups import care_campaign_name, care_tasks_create, followups_create_due
from campaigns.models import Campaign, FollowUpTask, TaskEvent
from customers.models import Tier
from portal.models import Leave
from tests.conftest import need
from tests.factories import ContactRecordFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status
DAY = datetime.date(2026, 12, 7)


def done_task(manager, *, follow_up_on, **fields):
    fields.setdefault("customer", CustomerFactory(branch=manager.branch, client_manager=manager))
    return TaskFactory(assignee=manager, status="done", next_follow_up_on=follow_up_on, **fields)


# Next follow-ups


def test_followup_created_when_due(users):
    manager = users["manager_a"]
    source = done_task(manager, follow_up_on=DAY)
    done_task(manager, follow_up_on=DAY + datetime.timedelta(days=1))

    result = followups_create_due(day=DAY)

    assert result.created == 1
    follow_up = FollowUpTask.objects.get(previous_task=source)
    assert (follow_up.campaign, follow_up.customer, follow_up.assignee) == (source.campaign, source.customer, manager)
    assert follow_up.status == Status.OPEN
    assert follow_up.due_on == DAY
    event = TaskEvent.objects.get(task=follow_up)
    assert (event.to_status, event.actor) == ("open", None)
    assert f"#{source.pk}" in event.note


def test_followup_idempotent(users):
    done_task(users["manager_a"], follow_up_on=DAY)
    assert followups_create_due(day=DAY).created == 1
    assert followups_create_due(day=DAY).created == 0
    assert followups_create_due(day=DAY + datetime.timedelta(days=3)).created == 0
    assert FollowUpTask.objects.filter(previous_task__isnull=False).count() == 1


def test_followup_late_run_due_today(users):
    done_task(users["manager_a"], follow_up_on=DAY - datetime.timedelta(days=4))
    followups_create_due(day=DAY)
    assert FollowUpTask.objects.get(previous_task__isnull=False).due_on == DAY


def test_followup_skips_open_cancelled_and_dnc(users):
    manager = users["manager_a"]
    TaskFactory(assignee=manager, status="in_progress", next_follow_up_on=DAY)
    TaskFactory(assignee=manager, status="cancelled", next_follow_up_on=DAY)
    done_task(manager, follow_up_on=DAY, customer=CustomerFactory(branch=manager.branch, do_not_contact=True))
    done_task(manager, follow_up_on=DAY, customer=CustomerFactory(branch=manager.branch, missing_since=DAY))
    assert followups_create_due(day=DAY).created == 0


def test_followup_manager_on_leave_goes_to_customer_manager(users):
    manager, colleague = users["manager_a"], users["manager_a1"]
    customer = CustomerFactory(branch=manager.branch, client_manager=colleague)
    source = done_task(manager, follow_up_on=DAY, customer=customer)
    Leave.objects.create(user=manager, starts_on=DAY, ends_on=DAY + datetime.timedelta(days=5))

    followups_create_due(day=DAY)

    follow_up = FollowUpTask.objects.get(previous_task=source)
    assert follow_up.assignee == colleague
    assert follow_up.branch == colleague.branch


def test_followup_inactive_manager_goes_to_branch(users):
    manager = users["manager_a"]
    colleague = type(manager).objects.create(username="cm_a_two", role="client_manager", branch=manager.branch)
    source = done_task(manager, follow_up_on=DAY, customer=CustomerFactory(branch=manager.branch, client_manager=manager))
    manager.is_active = False
    manager.save()

    followups_create_due(day=DAY)

    assert FollowUpTask.objects.get(previous_task=source).assignee == colleague


def test_followup_without_any_manager_left_for_next_run(users):
    manager = users["manager_a"]
    source = done_task(manager, follow_up_on=DAY, customer=CustomerFactory(branch=manager.branch))
    manager.is_active = False
    manager.save()

    result = followups_create_due(day=DAY)

    assert (result.created, result.without_assignee) == (0, 1)
    manager.is_active = True
    manager.save()
    assert followups_create_due(day=DAY).created == 1
    assert FollowUpTask.objects.get(previous_task=source).assignee == manager


def test_followup_chain_continues(users):
    manager = users["manager_a"]
    source = done_task(manager, follow_up_on=DAY)
    followups_create_due(day=DAY)
    second = FollowUpTask.objects.get(previous_task=source)
    second.status = "verified"
    second.next_follow_up_on = DAY + datetime.timedelta(days=30)
    second.save()

    followups_create_due(day=DAY + datetime.timedelta(days=30))

    third = FollowUpTask.objects.get(previous_task=second)
    assert third.campaign == source.campaign


@pytest.mark.django_db(transaction=True)
def test_followup_concurrent_runs_create_once(users):
    need(connection.vendor == "postgresql", "concurrent runs need PostgreSQL locks")
    for _ in range(10):
        done_task(users["manager_a"], follow_up_on=DAY)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(followups_create_due(day=DAY).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [0, 10]
    assert FollowUpTask.objects.filter(previous_task__isnull=False).count() == 10


# Tier service standards


@pytest.fixture
def tier(db):
    Tier.objects.all().delete()
    return Tier.objects.create(code="T-CARE", name_en="Wealth", name_zh="财富", min_aum=Decimal("500000"),
                               contact_interval_days=30)


def contacted(customer, days_before):
    moment = timezone.make_aware(datetime.datetime.combine(DAY - datetime.timedelta(days=days_before), datetime.time(10)))
    task = TaskFactory(customer=customer, status="verified")
    ContactRecordFactory(task=task, customer=customer, contacted_at=moment)


def old_customer(manager, tier, **fields):
    customer = CustomerFactory(branch=manager.branch, client_manager=manager, tier=tier, **fields)
    created = timezone.make_aware(datetime.datetime.combine(DAY - datetime.timedelta(days=400), datetime.time(9)))
    type(customer).objects.filter(pk=customer.pk).update(created_at=created)
    return customer


def test_care_tasks_for_overdue_customers(users, tier):
    manager = users["manager_a"]
    overdue = old_customer(manager, tier)
    contacted(overdue, 31)
    recent = old_customer(manager, tier)
    contacted(recent, 30)
    never = old_customer(manager, tier)
    old_customer(manager, tier, do_not_contact=True)
    old_customer(manager, tier, missing_since=DAY)
    busy = old_customer(manager, tier)
    TaskFactory(customer=busy, assignee=manager, status="open")
    CustomerFactory(branch=manager.branch, client_manager=manager, tier=None)
    CustomerFactory(branch=manager.branch, client_manager=manager, tier=tier)  # joined today

    result = care_tasks_create(day=DAY)

    campaign = Campaign.objects.get(name=care_campaign_name(day=DAY))
    assert campaign.name == "Tier service standard – 2026-12"
    assert campaign.owner == users["platform"]
    tasks = FollowUpTask.objects.filter(campaign=campaign)
    assert set(tasks.values_list("customer_id", flat=True)) == {overdue.pk, never.pk}
    assert result.created == 2
    assert set(tasks.values_list("assignee_id", flat=True)) == {manager.pk}
    assert set(tasks.values_list("due_on", flat=True)) == {DAY + datetime.timedelta(days=7)}
    assert TaskEvent.objects.filter(task__campaign=campaign).count() == 2


def test_care_tasks_idempotent_within_month(users, tier):
    old_customer(users["manager_a"], tier)
    assert care_tasks_create(day=DAY).created == 1
    FollowUpTask.objects.update(status="cancelled")
    assert care_tasks_create(day=DAY + datetime.timedelta(days=1)).created == 0
    assert Campaign.objects.filter(name__startswith="Tier service standard").count() == 1


def test_care_tasks_next_month_new_campaign(users, tier):
    old_customer(users["manager_a"], tier)
    care_tasks_create(day=DAY)
    FollowUpTask.objects.update(status="cancelled")
    assert care_tasks_create(day=datetime.date(2027, 1, 4)).created == 1
    assert Campaign.objects.filter(name="Tier service standard – 2027-01").exists()


def test_care_tasks_manager_on_leave_goes_to_branch(users, tier):
    manager = users["manager_a"]
    customer = old_customer(manager, tier)
    colleague = type(manager).objects.create(username="cm_a_two", role="client_manager", branch=manager.branch)
    Leave.objects.create(user=manager, starts_on=DAY, ends_on=DAY)

    care_tasks_create(day=DAY)

    assert FollowUpTask.objects.get(customer=customer).assignee == colleague


def test_care_tasks_without_platform_user(users, tier):
    old_customer(users["manager_a"], tier)
    users["platform"].is_active = False
    users["platform"].save()
    assert care_tasks_create(day=DAY).created == 0
    assert not FollowUpTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_care_concurrent_runs_create_once(users, tier):
    need(connection.vendor == "postgresql", "concurrent runs need PostgreSQL locks")
    for _ in range(8):
        old_customer(users["manager_a"], tier)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(care_tasks_create(day=DAY).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [0, 8]
    assert Campaign.objects.filter(name__startswith="Tier service standard").count() == 1


# Schedules and the Celery worker


def test_schedules_registered():
    schedules = {task.task: task for task in PeriodicTask.objects.filter(task__in=(
        "campaigns.create_due_follow_ups", "campaigns.create_care_tasks"))}
    assert set(schedules) == {"campaigns.create_due_follow_ups", "campaigns.create_care_tasks"}
    for task in schedules.values():
        assert task.enabled
        assert str(task.crontab.timezone) == "Asia/Shanghai"
        assert task.crontab.hour == "6"


@pytest.mark.redis
def test_worker_runs_followups_once(transactional_db, users, redis_url):
    from campaigns.tasks import create_due_follow_ups
    from tests.celery_workers import worker_on_own_queue

    done_task(users["manager_a"], follow_up_on=DAY)
    finished = []
    both_finished = threading.Event()

    def on_postrun(sender=None, state=None, **kwargs):
        if sender is not None and sender.name == create_due_follow_ups.name:
            finished.append(state)
            if len(finished) == 2:
                both_finished.set()

    task_postrun.connect(on_postrun, weak=False)
    try:
        with worker_on_own_queue(redis_url, "followups-test"):
            create_due_follow_ups.delay(DAY.isoformat())
            create_due_follow_ups.delay(DAY.isoformat())
            assert both_finished.wait(30), "the worker did not finish both runs within 30 s"
    finally:
        task_postrun.disconnect(on_postrun)

    assert finished == ["SUCCESS", "SUCCESS"]
    assert FollowUpTask.objects.filter(previous_task__isnull=False).count() == 1

"""Bulk writes (campaign launch, roster import, bulk task changes, handover) bypass the model
signals, so each records one audit entry with the number of rows it wrote."""

import pytest
from django.core.management import call_command

from campaigns import bulk, services
from campaigns.models import Campaign, FollowUpTask
from customers.models import Customer
from portal.models import AuditEvent
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db


def bulk_events(action, object_type):
    return list(AuditEvent.objects.filter(action=action, object_type=object_type, detail__bulk=True).order_by("id"))


def test_launch_records_created_tasks(users, branch_tree):
    for number in range(3):
        CustomerFactory(customer_no=f"AUD-{number}", branch=branch_tree["a"], client_manager=users["manager_a"])
    segment = SegmentFactory(filters={"q": "AUD-"}, created_by=users["platform"])
    campaign = CampaignFactory(segment=segment, status=Campaign.Status.DRAFT, fallback_branch=branch_tree["a"])

    created = services.campaign_launch(campaign=campaign, actor=users["platform"])

    [event] = bulk_events(AuditEvent.Action.CREATE, "campaigns.followuptask")
    assert created == 3
    assert event.detail["count"] == 3
    assert event.detail["campaign"] == campaign.pk
    assert event.actor == users["platform"]


def test_bulk_reassign_records_assignment(users):
    tasks = [TaskFactory(assignee=users["manager_a"]) for _ in range(2)]
    snapshot = {task.pk: task.version for task in tasks}

    bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot, assignee=users["manager_a1"], reason="Leaves the bank")

    [event] = bulk_events(AuditEvent.Action.ASSIGN, "campaigns.followuptask")
    assert event.detail["count"] == 2
    assert sorted(event.detail["tasks"]) == sorted(snapshot)
    assert event.actor == users["platform"]


def test_bulk_cancel_records_change(users):
    task = TaskFactory(assignee=users["manager_a"])

    bulk.bulk_cancel(actor=users["platform"], snapshot={task.pk: task.version}, reason="Customer moved abroad")

    [event] = bulk_events(AuditEvent.Action.UPDATE, "campaigns.followuptask")
    assert event.detail["bulk_action"] == "cancel"
    assert event.detail["tasks"] == [task.pk]
    assert FollowUpTask.objects.get(pk=task.pk).status == FollowUpTask.Status.CANCELLED


def test_roster_import_records_new_and_changed(branch_tree, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("客户号,姓名,资产\n001,张三,1000\n002,李四,2000\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("客户号,姓名,资产\n001,张三,5000\n002,李四,2000\n003,王五,3000\n", encoding="utf-8")

    call_command("import_roster", str(first), "--default-branch", "BA")
    call_command("import_roster", str(second), "--default-branch", "BA")

    created = bulk_events(AuditEvent.Action.CREATE, "customers.customer")
    changed = bulk_events(AuditEvent.Action.UPDATE, "customers.customer")
    assert [event.detail["count"] for event in created] == [2, 1]
    assert [event.detail["count"] for event in changed] == [1]
    assert "aum" in changed[0].detail["fields"]
    assert Customer.objects.count() == 3

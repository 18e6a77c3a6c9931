"""The rows a launch writes and the workload it reads, whichever way the database takes them:
COPY on PostgreSQL, batched INSERTs on SQLite."""

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import FollowUpTask, TaskEvent
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_launch_writes_plan_with_new_task_defaults(users, branch_tree, draft_campaign):
    # Own managers in branches A and B, and pool customers spread over cm_a (A) and cm_a1 (A1),
    # so that a customer, assignee or branch written to the wrong column fails an assert.
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    for manager, branch in ((users["manager_a"], "a"), (users["manager_b"], "b"), (None, "b"), (None, "a")):
        CustomerFactory.create_batch(3, branch=branch_tree[branch], client_manager=manager)
    plan = services.campaign_launch_preview(campaign=draft_campaign)
    before = timezone.now()

    created = services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    after = timezone.now()
    tasks = FollowUpTask.objects.filter(campaign=draft_campaign)
    assert created == 12
    assert sorted(tasks.values_list("customer_id", "assignee_id", "branch_id")) == sorted(plan.assignments)
    assert {task.assignee.username for task in tasks} == {"cm_a", "cm_a1", "cm_b"}
    new = FollowUpTask()
    for task in tasks:
        assert task.due_on == draft_campaign.due_on
        assert before <= task.created_at <= after
        for name in (
            "status", "channel", "outcome", "next_follow_up_on", "return_reason", "previous_task_id",
            "sampled_for_verification", "version", "completed_at", "verified_at", "verified_by_id",
        ):
            assert getattr(task, name) == getattr(new, name), name
    assert TaskEvent.objects.filter(task__campaign=draft_campaign, to_status="open").count() == 12


def test_launch_reports_writing_after_each_batch(users, branch_tree, draft_campaign, monkeypatch):
    monkeypatch.setattr(services, "LAUNCH_BATCH_SIZE", 4)
    CustomerFactory.create_batch(10, branch=branch_tree["a"], client_manager=users["manager_a"])
    reports = []

    def progress(phase, done, total, **counts):
        reports.append((phase, done, total))
        if phase == "writing":
            # Reported between batches, inside the launch's transaction: the rows it counts are written.
            assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == done

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"], progress=progress)

    writing = [(done, total) for phase, done, total in reports if phase == "writing"]
    assert writing == [(0, 10), (4, 10), (8, 10), (10, 10)]
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 10


def test_preview_workload_counts_only_open_work(users, branch_tree, draft_campaign):
    other = CampaignFactory(owner=users["platform"])
    # The other campaign's customers are do-not-contact, so they stay out of this target.
    for status in ("open", "in_progress", "returned", "done", "verified", "cancelled"):
        TaskFactory(campaign=other, assignee=users["manager_a"], status=status, customer__do_not_contact=True)
    TaskFactory(campaign=other, assignee=users["manager_b"], status="verified", customer__do_not_contact=True)
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])
    CustomerFactory(branch=branch_tree["a"], client_manager=None)

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    loads = {load.manager.username: (load.open_before, load.own_customers, load.from_pool) for load in plan.loads}
    assert loads == {"cm_a": (3, 1, 1), "cm_b": (0, 1, 0)}
    assert plan.excluded_do_not_contact == 7
    assert plan.pool_open == 4

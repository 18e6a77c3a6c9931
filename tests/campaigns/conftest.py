import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def draft_campaign(users):
    """A draft campaign targeting the whole roster, with branch A as fallback branch."""
    segment = SegmentFactory(name="Everyone", filters={}, created_by=users["platform"])
    return CampaignFactory(
        name="Spring review",
        owner=users["platform"],
        segment=segment,
        status=Campaign.Status.DRAFT,
        fallback_branch=users["manager_a"].branch,
    )


@pytest.fixture
def task_set(users, branch_tree, today):
    """One open task per client manager in an active campaign, plus a done task in branch A."""
    campaign = CampaignFactory(name="Deposit renewal", owner=users["platform"])
    tasks = {}
    for key in ("manager_a", "manager_a1", "manager_b"):
        manager = users[key]
        customer = CustomerFactory(branch=manager.branch, client_manager=manager)
        tasks[key] = TaskFactory(campaign=campaign, customer=customer, assignee=manager, due_on=today + datetime.timedelta(days=3))
    done_customer = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    tasks["done_a"] = TaskFactory(
        campaign=campaign, customer=done_customer, assignee=users["manager_a"], status="done",
        completed_at=timezone.now(),
    )
    tasks["campaign"] = campaign
    return tasks

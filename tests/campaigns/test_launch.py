import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import services
from campaigns.models import Campaign, FollowUpTask, TaskEvent
from customers.models import Customer
from portal.models import Role
from tests.conftest import need
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_preview_counts_targets_and_exclusions(users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"], do_not_contact=True)

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.targeted == 2
    assert plan.excluded_do_not_contact == 1
    assert plan.problems == []
    assert {(load.manager.username, load.total) for load in plan.loads} == {("cm_a", 1), ("cm_b", 1)}
    assert FollowUpTask.objects.count() == 0


def test_launch_assigns_own_manager(users, branch_tree, draft_campaign):
    own_a = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    own_b = CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    created = services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert created == 2
    task_a = FollowUpTask.objects.get(customer=own_a)
    task_b = FollowUpTask.objects.get(customer=own_b)
    assert task_a.assignee == users["manager_a"]
    assert task_a.branch == branch_tree["a"]
    assert task_b.assignee == users["manager_b"]
    assert task_b.branch == branch_tree["b"]
    assert task_a.due_on == draft_campaign.due_on
    assert task_a.status == FollowUpTask.Status.OPEN
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE
    assert draft_campaign.launched_by == users["platform"]
    assert draft_campaign.launched_at is not None


def test_launch_records_open_event_per_task(users, branch_tree, draft_campaign):
    for _ in range(3):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    events = TaskEvent.objects.filter(task__campaign=draft_campaign)
    assert events.count() == 3
    assert set(events.values_list("to_status", "from_status", "actor")) == {("open", "", users["platform"].pk)}
    launched_at = Campaign.objects.get(pk=draft_campaign.pk).launched_at
    for created_at in events.values_list("created_at", flat=True):
        assert abs((created_at - launched_at).total_seconds()) < 5


def test_launch_excludes_do_not_contact(users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    blocked = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], do_not_contact=True)

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 1
    assert not FollowUpTask.objects.filter(customer=blocked).exists()


def test_launch_applies_segment_filter(users, branch_tree):
    segment = SegmentFactory(filters={"branch": str(branch_tree["b"].pk)}, created_by=users["platform"])
    campaign = CampaignFactory(segment=segment, status=Campaign.Status.DRAFT, owner=users["platform"])
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    in_b = CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    services.campaign_launch(campaign=campaign, actor=users["platform"])

    assert list(FollowUpTask.objects.filter(campaign=campaign).values_list("customer", flat=True)) == [in_b.pk]


def test_launch_balances_pool_by_open_count(users, branch_tree, draft_campaign):
    # Fallback branch A covers cm_a (branch A) and cm_a1 (sub-branch A1). cm_a starts with
    # two open tasks elsewhere, so the first two customers without a manager go to cm_a1.
    other = CampaignFactory(owner=users["platform"])
    TaskFactory.create_batch(2, campaign=other, assignee=users["manager_a"])
    TaskFactory(campaign=other, assignee=users["manager_a1"], status="verified")
    orphans = [CustomerFactory(branch=branch_tree["a"], client_manager=None) for _ in range(6)]
    draft_campaign.segment.filters = {"branch": str(branch_tree["a"].pk)}
    draft_campaign.segment.save()
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    tasks = FollowUpTask.objects.filter(campaign=draft_campaign).order_by("customer_id")
    assignees = [task.assignee.username for task in tasks]
    assert [task.customer_id for task in tasks] == [customer.pk for customer in orphans]
    assert assignees == ["cm_a1", "cm_a1", "cm_a", "cm_a1", "cm_a", "cm_a1"]
    assert {task.branch_id for task in tasks if task.assignee == users["manager_a1"]} == {branch_tree["a1"].pk}


def test_launch_sends_inactive_manager_to_fallback(users, branch_tree, draft_campaign):
    inactive_manager = UserFactory(username="cm_inactive", role=Role.CLIENT_MANAGER, branch=branch_tree["b"], is_active=False)
    customer = CustomerFactory(branch=branch_tree["b"], client_manager=inactive_manager)

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    task = FollowUpTask.objects.get(customer=customer)
    assert task.assignee in (users["manager_a"], users["manager_a1"])


def test_launch_without_fallback_rejected(users, branch_tree, draft_campaign):
    draft_campaign.fallback_branch = None
    draft_campaign.save()
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["a"], client_manager=None)

    plan = services.campaign_launch_preview(campaign=draft_campaign)
    assert not plan.can_launch
    assert "1 customer has no available client manager" in plan.problems[0]

    with pytest.raises(services.LaunchRejected, match="no pool branch"):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    assert FollowUpTask.objects.count() == 0
    assert TaskEvent.objects.count() == 0
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT


def test_launch_fallback_without_managers_rejected(users, branch_tree, draft_campaign):
    empty = branch_tree["head"].children.create(code="BE", name="Empty branch")
    draft_campaign.fallback_branch = empty
    draft_campaign.save()
    CustomerFactory(branch=branch_tree["a"], client_manager=None)

    with pytest.raises(services.LaunchRejected, match="Empty branch"):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    assert FollowUpTask.objects.count() == 0


def test_launch_without_segment_rejected(users, draft_campaign):
    draft_campaign.segment = None
    draft_campaign.save()

    with pytest.raises(services.LaunchRejected, match="no target segment"):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])


def test_launch_twice_raises_and_creates_nothing(users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    with pytest.raises(services.CampaignAlreadyLaunched):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 1
    assert TaskEvent.objects.count() == 1


def test_launch_unique_constraint_backs_status_check(users, branch_tree, draft_campaign):
    # A task already present for a target customer (as if a parallel launch got there first)
    # makes the insert fail, and the whole launch rolls back.
    customer = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    TaskFactory(campaign=draft_campaign, customer=customer, assignee=users["manager_a"])

    with pytest.raises(services.CampaignAlreadyLaunched):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 1
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT


def test_complete_active_campaign(users, draft_campaign):
    with pytest.raises(services.CampaignLocked):
        services.campaign_complete(campaign=draft_campaign, actor=users["platform"])
    draft_campaign.status = Campaign.Status.ACTIVE
    draft_campaign.save()

    services.campaign_complete(campaign=draft_campaign, actor=users["platform"])

    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.COMPLETED


def test_update_after_launch_keeps_target(users, draft_campaign, branch_tree):
    draft_campaign.status = Campaign.Status.ACTIVE
    draft_campaign.save()

    with pytest.raises(services.CampaignLocked):
        services.campaign_update(campaign=draft_campaign, actor=users["platform"], data={"fallback_branch": branch_tree["b"]})
    services.campaign_update(campaign=draft_campaign, actor=users["platform"], data={"talking_points": "New script"})

    draft_campaign.refresh_from_db()
    assert draft_campaign.fallback_branch == branch_tree["a"]
    assert draft_campaign.talking_points == "New script"


def test_segment_create_rejects_invalid_filter(users):
    with pytest.raises(services.SegmentInvalid, match="aum_min"):
        services.segment_create(actor=users["platform"], name="Bad", filters={"aum_min": "lots"})
    segment = services.segment_create(
        actor=users["platform"], name="Rich", filters={"aum_min": "1000000", "page": "2", "q": ""}
    )
    assert segment.filters == {"aum_min": "1000000"}


@pytest.mark.django_db(transaction=True)
def test_launch_concurrently_creates_once(users, branch_tree, draft_campaign):
    need(connection.vendor == "postgresql", "concurrent launch needs PostgreSQL row locks")
    for _ in range(20):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    barrier = threading.Barrier(2)
    results = []

    def launch():
        try:
            barrier.wait()
            results.append(services.campaign_launch(campaign=draft_campaign, actor=users["platform"]))
        except services.CampaignAlreadyLaunched:
            results.append("already launched")
        finally:
            connection.close()

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=str) == [20, "already launched"]
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 20
    assert TaskEvent.objects.count() == 20


def count_launch_queries(users, branch_tree, total):
    customers = [
        Customer(customer_no=f"Q{total}-{number:06d}", branch=branch_tree["a"],
                 client_manager=users["manager_a"] if number % 2 else None)
        for number in range(total)
    ]
    Customer.objects.bulk_create(customers)
    segment = SegmentFactory(filters={"q": f"Q{total}-"}, created_by=users["platform"])
    campaign = CampaignFactory(segment=segment, status=Campaign.Status.DRAFT, fallback_branch=branch_tree["a"])
    with CaptureQueriesContext(connection) as queries:
        created = services.campaign_launch(campaign=campaign, actor=users["platform"])
    assert created == total
    return len(queries)


def test_launch_query_count_independent_of_size(users, branch_tree):
    # Both sizes fit in one insert batch even on SQLite (Django 5.2 sends at most 999 parameters
    # per statement there), so any per-customer query would show as a difference.
    few = count_launch_queries(users, branch_tree, 10)
    many = count_launch_queries(users, branch_tree, 50)
    assert few == many

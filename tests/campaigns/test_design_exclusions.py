import datetime
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, ContactRecord, FollowUpTask
from customers.models import Customer
from tests.campaigns.test_campaign_views import campaign_form_data
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db


def contacted(customer, *, at):
    return ContactRecord.objects.create(customer=customer, outcome="reached", contacted_at=at)


def local_midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@pytest.fixture
def fatigue_campaign(draft_campaign):
    draft_campaign.fatigue_max_open_tasks = 2
    draft_campaign.fatigue_contact_days = 7
    draft_campaign.save()
    return draft_campaign


def test_open_tasks_exclusion_counts_active_statuses(users, branch_tree, fatigue_campaign):
    other = CampaignFactory(owner=users["platform"])
    busy = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    for status in ("open", "returned"):
        TaskFactory(campaign=CampaignFactory(owner=users["platform"]), customer=busy, assignee=users["manager_a"], status=status)
    # Done, verified and cancelled tasks are not open work, so this customer stays in the target.
    finished = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    for status in ("done", "verified", "cancelled"):
        TaskFactory(campaign=CampaignFactory(owner=users["platform"]), customer=finished, assignee=users["manager_a"], status=status)
    one_open = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    TaskFactory(campaign=other, customer=one_open, assignee=users["manager_a"], status="in_progress")

    plan = services.campaign_launch_preview(campaign=fatigue_campaign)

    assert plan.segment_size == 3
    assert plan.excluded_open_tasks == 1
    assert plan.targeted == 2
    assert busy.pk not in {customer_id for customer_id, _, _ in plan.assignments}


def test_recent_contact_exclusion_uses_bank_midnight(users, branch_tree, fatigue_campaign):
    today = timezone.localdate()
    first_day = today - datetime.timedelta(days=7)
    inside = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(inside, at=local_midnight(first_day))
    outside = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(outside, at=local_midnight(first_day) - datetime.timedelta(seconds=1))
    never = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    plan = services.campaign_launch_preview(campaign=fatigue_campaign)

    targeted = {customer_id for customer_id, _, _ in plan.assignments}
    assert plan.excluded_recent_contact == 1
    assert inside.pk not in targeted
    assert outside.pk in targeted
    assert never.pk in targeted


def test_exclusions_count_each_customer_once(users, branch_tree, fatigue_campaign):
    # Do-not-contact comes first, then open tasks, then recent contact.
    everything = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], do_not_contact=True)
    open_and_recent = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    for customer in (everything, open_and_recent):
        for _ in range(2):
            TaskFactory(campaign=CampaignFactory(owner=users["platform"]), customer=customer, assignee=users["manager_a"])
        contacted(customer, at=timezone.now())
    recent_only = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(recent_only, at=timezone.now())
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    plan = services.campaign_launch_preview(campaign=fatigue_campaign)

    assert plan.segment_size == 4
    assert plan.excluded_do_not_contact == 1
    assert plan.excluded_open_tasks == 1
    assert plan.excluded_recent_contact == 1
    assert plan.targeted == 1
    assert plan.segment_size == (
        plan.excluded_do_not_contact + plan.excluded_open_tasks + plan.excluded_recent_contact + plan.targeted
    )


def test_fatigue_off_keeps_busy_customers(users, branch_tree, draft_campaign):
    busy = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    for _ in range(5):
        TaskFactory(campaign=CampaignFactory(owner=users["platform"]), customer=busy, assignee=users["manager_a"])
    contacted(busy, at=timezone.now())

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.targeted == 1
    assert plan.excluded_open_tasks == 0
    assert plan.excluded_recent_contact == 0


def test_all_excluded_rejects_launch(users, branch_tree, fatigue_campaign):
    customer = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(customer, at=timezone.now())

    with pytest.raises(services.LaunchRejected, match="1 contacted recently"):
        services.campaign_launch(campaign=fatigue_campaign, actor=users["platform"])
    assert not FollowUpTask.objects.filter(campaign=fatigue_campaign).exists()


def test_launch_applies_fatigue_exclusions(users, branch_tree, fatigue_campaign):
    not_contacted = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    recent = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(recent, at=timezone.now() - datetime.timedelta(days=2))

    created = services.campaign_launch(campaign=fatigue_campaign, actor=users["platform"])

    assert created == 1
    assert list(FollowUpTask.objects.filter(campaign=fatigue_campaign).values_list("customer", flat=True)) == [not_contacted.pk]


def test_preview_page_shows_exclusion_counts(client, users, branch_tree, fatigue_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], do_not_contact=True)
    recent = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    contacted(recent, at=timezone.now())
    client.force_login(users["platform"])

    content = client.get(reverse("campaigns:launch", args=[fatigue_campaign.pk])).content.decode()

    assert 'id="launch-segment">3</dd>' in content
    assert 'id="launch-excluded">1</dd>' in content
    assert 'id="launch-excluded-open">0 (already in 2 or more open tasks in any campaign)</dd>' in content
    assert 'id="launch-excluded-recent">1 (contacted in any campaign within the last 7 days)</dd>' in content
    assert 'id="launch-targeted">1</dd>' in content


def test_form_stores_fatigue_settings(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    data = campaign_form_data(segment, branch_tree["a"], fatigue_max_open_tasks="3", fatigue_contact_days="14")

    response = client.post(reverse("campaigns:create"), data)

    assert response.status_code == HTTPStatus.FOUND
    campaign = Campaign.objects.get()
    assert campaign.fatigue_max_open_tasks == 3
    assert campaign.fatigue_contact_days == 14


@pytest.mark.parametrize("field", ["fatigue_max_open_tasks", "fatigue_contact_days"])
def test_form_rejects_zero_fatigue_threshold(client, users, branch_tree, field):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])

    response = client.post(reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"], **{field: "0"}))

    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_fatigue_fixed_after_launch(users, fatigue_campaign):
    fatigue_campaign.status = Campaign.Status.ACTIVE
    fatigue_campaign.save()
    with pytest.raises(services.CampaignLocked):
        services.campaign_update(campaign=fatigue_campaign, actor=users["platform"], data={"fatigue_contact_days": 30})


def count_preview_queries(users, branch_tree, total):
    customers = [
        Customer(customer_no=f"F{total}-{number:06d}", branch=branch_tree["a"],
                 client_manager=users["manager_a"] if number % 2 else None)
        for number in range(total)
    ]
    Customer.objects.bulk_create(customers)
    for customer in Customer.objects.filter(customer_no__startswith=f"F{total}-")[:3]:
        contacted(customer, at=timezone.now())
    segment = SegmentFactory(filters={"q": f"F{total}-"}, created_by=users["platform"])
    campaign = CampaignFactory(
        segment=segment, status=Campaign.Status.DRAFT, fallback_branch=branch_tree["a"],
        fatigue_max_open_tasks=1, fatigue_contact_days=3, holdout_percent=10,
    )
    with CaptureQueriesContext(connection) as queries:
        plan = services.campaign_launch_preview(campaign=campaign)
    assert plan.excluded_recent_contact == 3
    return len(queries)


def test_preview_query_count_independent_of_size(users, branch_tree):
    few = count_preview_queries(users, branch_tree, 10)
    many = count_preview_queries(users, branch_tree, 60)
    assert few == many

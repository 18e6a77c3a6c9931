import datetime
import math
from http import HTTPStatus

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, ContactRecord, FollowUpTask, HeldOutCustomer
from customers.models import Customer
from campaigns.uplift import GroupConversion, campaign_results, uplift_estimate
from tests.campaigns.test_campaign_views import campaign_form_data
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db


def make_customers(users, branch_tree, count):
    return [CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"]) for _ in range(count)]


# Drawing the control group


def test_holdout_draw_size_rounds_down():
    ids = list(range(1, 31))
    assert len(services.holdout_draw(campaign_id=7, customer_ids=ids, percent=10)) == 3
    assert len(services.holdout_draw(campaign_id=7, customer_ids=ids, percent=15)) == 4
    assert len(services.holdout_draw(campaign_id=7, customer_ids=ids, percent=50)) == 15
    assert services.holdout_draw(campaign_id=7, customer_ids=ids, percent=0) == []
    assert services.holdout_draw(campaign_id=7, customer_ids=[1], percent=50) == []


def test_holdout_draw_reproducible_per_campaign():
    ids = list(range(1, 201))
    first = services.holdout_draw(campaign_id=7, customer_ids=ids, percent=20)
    shuffled = services.holdout_draw(campaign_id=7, customer_ids=list(reversed(ids)), percent=20)
    other_campaign = services.holdout_draw(campaign_id=8, customer_ids=ids, percent=20)
    assert first == shuffled
    assert set(first) <= set(ids)
    assert first != other_campaign


def test_preview_holds_out_share(users, branch_tree, draft_campaign):
    make_customers(users, branch_tree, 10)
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], do_not_contact=True)
    draft_campaign.holdout_percent = 30
    draft_campaign.save()

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.targeted == 10
    assert len(plan.held_out) == 3
    assert plan.to_contact == 7
    assert len(plan.assignments) == 7
    assert not set(plan.held_out) & {customer_id for customer_id, _, _ in plan.assignments}
    assert [load.total for load in plan.loads] == [7]
    assert plan.held_out == services.campaign_launch_preview(campaign=draft_campaign).held_out
    assert not HeldOutCustomer.objects.exists()


def test_launch_stores_held_out_customers(users, branch_tree, draft_campaign):
    customers = make_customers(users, branch_tree, 10)
    draft_campaign.holdout_percent = 20
    draft_campaign.save()
    expected = services.campaign_launch_preview(campaign=draft_campaign).held_out

    created = services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    held_out_ids = set(HeldOutCustomer.objects.filter(campaign=draft_campaign).values_list("customer_id", flat=True))
    task_ids = set(FollowUpTask.objects.filter(campaign=draft_campaign).values_list("customer_id", flat=True))
    assert created == 8
    assert held_out_ids == set(expected)
    assert len(held_out_ids) == 2
    assert held_out_ids | task_ids == {customer.pk for customer in customers}
    assert not held_out_ids & task_ids


def test_launch_without_holdout_stores_none(users, branch_tree, draft_campaign):
    make_customers(users, branch_tree, 5)
    assert services.campaign_launch(campaign=draft_campaign, actor=users["platform"]) == 5
    assert not HeldOutCustomer.objects.exists()


def test_holdout_percent_constraint_rejects_over_half(users):
    campaign = CampaignFactory(owner=users["platform"])
    campaign.holdout_percent = 51
    with pytest.raises(IntegrityError), transaction.atomic():
        campaign.save(update_fields=["holdout_percent"])


def test_holdout_fixed_after_launch(users, draft_campaign):
    draft_campaign.status = Campaign.Status.ACTIVE
    draft_campaign.save()
    with pytest.raises(services.CampaignLocked):
        services.campaign_update(campaign=draft_campaign, actor=users["platform"], data={"holdout_percent": 10})
    draft_campaign.refresh_from_db()
    assert draft_campaign.holdout_percent == 0


# Form and pages


def test_campaign_create_stores_holdout(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    response = client.post(
        reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"], holdout_percent="15")
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Campaign.objects.get().holdout_percent == 15


def test_campaign_create_holdout_empty_means_zero(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"], holdout_percent=""))
    assert response.status_code == HTTPStatus.FOUND
    assert Campaign.objects.get().holdout_percent == 0


def test_campaign_create_holdout_over_half_rejected(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    response = client.post(
        reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"], holdout_percent="60")
    )
    assert response.status_code == HTTPStatus.OK
    assert "holdout_percent" in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_campaign_update_draft_changes_holdout(client, users, branch_tree, draft_campaign):
    client.force_login(users["platform"])
    data = campaign_form_data(draft_campaign.segment, branch_tree["a"], holdout_percent="25")
    response = client.post(reverse("campaigns:update", args=[draft_campaign.pk]), data)
    assert response.status_code == HTTPStatus.FOUND
    draft_campaign.refresh_from_db()
    assert draft_campaign.holdout_percent == 25


def test_campaign_update_active_ignores_holdout(client, users, branch_tree, draft_campaign):
    draft_campaign.status = Campaign.Status.ACTIVE
    draft_campaign.holdout_percent = 10
    draft_campaign.save()
    client.force_login(users["platform"])
    data = campaign_form_data(
        draft_campaign.segment, branch_tree["a"], holdout_percent="40",
        starts_on=draft_campaign.starts_on.isoformat(), due_on=draft_campaign.due_on.isoformat(),
    )
    response = client.post(reverse("campaigns:update", args=[draft_campaign.pk]), data)
    assert response.status_code == HTTPStatus.FOUND
    draft_campaign.refresh_from_db()
    assert draft_campaign.holdout_percent == 10


def test_launch_page_shows_held_out_count(client, users, branch_tree, draft_campaign):
    make_customers(users, branch_tree, 10)
    draft_campaign.holdout_percent = 20
    draft_campaign.save()
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:launch", args=[draft_campaign.pk]))

    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert '<dd class="col-sm-7 col-lg-9" id="launch-held-out">2 (' in content
    assert '<dd class="col-sm-7 col-lg-9" id="launch-to-contact">8</dd>' in content
    assert "Launch and create 8 tasks" in content


# Statistics


def test_uplift_estimate_hand_computed():
    estimate = uplift_estimate(
        contacted=GroupConversion(total=200, converted=50), held_out=GroupConversion(total=100, converted=10)
    )
    # p1 = 0.25, p0 = 0.10, SE = sqrt(0.25 * 0.75 / 200 + 0.1 * 0.9 / 100) = 0.0428661, z = 1.959964.
    assert estimate.contacted.rate == 0.25
    assert estimate.held_out.rate == 0.10
    assert estimate.uplift == pytest.approx(0.15)
    assert estimate.ci_low == pytest.approx(0.065984, abs=1e-6)
    assert estimate.ci_high == pytest.approx(0.234016, abs=1e-6)


def test_uplift_estimate_negative_interval_spans_zero():
    estimate = uplift_estimate(
        contacted=GroupConversion(total=10, converted=3), held_out=GroupConversion(total=4, converted=2)
    )
    # p1 = 0.3, p0 = 0.5, SE = sqrt(0.3 * 0.7 / 10 + 0.5 * 0.5 / 4) = 0.2889637.
    assert estimate.uplift == pytest.approx(-0.2)
    assert estimate.ci_low == pytest.approx(-0.766358, abs=1e-6)
    assert estimate.ci_high == pytest.approx(0.366358, abs=1e-6)


def test_uplift_estimate_all_or_none_converted_has_zero_width():
    estimate = uplift_estimate(
        contacted=GroupConversion(total=5, converted=5), held_out=GroupConversion(total=5, converted=0)
    )
    assert estimate.uplift == 1.0
    assert estimate.ci_low == 1.0
    assert estimate.ci_high == 1.0


@pytest.mark.parametrize("contacted_total, held_out_total", [(0, 10), (10, 0), (0, 0)])
def test_uplift_estimate_empty_group(contacted_total, held_out_total):
    estimate = uplift_estimate(
        contacted=GroupConversion(total=contacted_total, converted=0),
        held_out=GroupConversion(total=held_out_total, converted=0),
    )
    assert not estimate.has_estimate
    assert estimate.uplift is None
    assert estimate.ci_low is None
    assert estimate.ci_high is None


def test_uplift_estimate_other_confidence_level():
    estimate = uplift_estimate(
        contacted=GroupConversion(total=200, converted=50),
        held_out=GroupConversion(total=100, converted=10),
        confidence_level=0.90,
    )
    # z for 90% is 1.644854.
    assert estimate.ci_high - estimate.uplift == pytest.approx(1.644854 * math.sqrt(0.0018375), abs=1e-6)


@pytest.fixture
def launched_with_holdout(users, branch_tree, draft_campaign):
    """Ten customers, 30% held out, launched: 7 tasks and 3 held-out customers."""
    make_customers(users, branch_tree, 10)
    draft_campaign.holdout_percent = 30
    draft_campaign.save()
    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    draft_campaign.refresh_from_db()
    return draft_campaign


def test_campaign_results_counts_conversions(users, launched_with_holdout):
    campaign = launched_with_holdout
    tasks = list(FollowUpTask.objects.filter(campaign=campaign).order_by("id"))
    held_out = list(HeldOutCustomer.objects.filter(campaign=campaign).order_by("id"))
    for task in tasks[:2]:
        task.outcome = "converted"
        task.save()
    tasks[2].outcome = "declined"
    tasks[2].save()
    after_launch = campaign.launched_at + datetime.timedelta(days=1)
    before_launch = campaign.launched_at - datetime.timedelta(days=1)
    other_task = TaskFactory(customer=held_out[0].customer, assignee=users["manager_a"])
    # Converted after launch through another campaign: counts.
    ContactRecord.objects.create(
        task=other_task, customer=held_out[0].customer, outcome="converted", contacted_at=after_launch
    )
    # Converted before launch: does not count.
    ContactRecord.objects.create(customer=held_out[1].customer, outcome="converted", contacted_at=before_launch)
    # Contacted after launch without converting: does not count.
    ContactRecord.objects.create(customer=held_out[2].customer, outcome="interested", contacted_at=after_launch)

    results = campaign_results(campaign=campaign)

    assert results.contacted == GroupConversion(total=7, converted=2)
    assert results.held_out == GroupConversion(total=3, converted=1)
    assert results.uplift == pytest.approx(2 / 7 - 1 / 3)


def test_campaign_results_without_holdout(users, branch_tree, draft_campaign):
    make_customers(users, branch_tree, 3)
    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    draft_campaign.refresh_from_db()

    results = campaign_results(campaign=draft_campaign)

    assert results.contacted == GroupConversion(total=3, converted=0)
    assert results.held_out == GroupConversion(total=0, converted=0)
    assert not results.has_estimate


def test_detail_shows_results_to_platform(client, users, launched_with_holdout):
    campaign = launched_with_holdout
    task = FollowUpTask.objects.filter(campaign=campaign).order_by("id").first()
    task.outcome = "converted"
    task.save()
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:detail", args=[campaign.pk]))

    assert response.status_code == HTTPStatus.OK
    assert response.context["results"].contacted == GroupConversion(total=7, converted=1)
    content = response.content.decode()
    assert 'id="campaign-results"' in content
    # 1/7 - 0/3 = 14.3 points, SE = sqrt((1/7) * (6/7) / 7) = 0.132260, margin = 25.9 points.
    assert "Uplift: 14.3 percentage points (95% confidence interval -11.6 to 40.2)." in content


def test_detail_results_not_enough_data(client, users, branch_tree, draft_campaign):
    make_customers(users, branch_tree, 2)
    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:detail", args=[draft_campaign.pk]))

    assert "Uplift: not enough data" in response.content.decode()


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a"])
def test_detail_hides_results_outside_platform(client, users, role_key, launched_with_holdout):
    client.force_login(users[role_key])
    response = client.get(reverse("campaigns:detail", args=[launched_with_holdout.pk]))
    assert response.status_code == HTTPStatus.OK
    assert response.context["results"] is None
    assert 'id="campaign-results"' not in response.content.decode()


def test_detail_draft_has_no_results(client, users, draft_campaign):
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:detail", args=[draft_campaign.pk]))
    assert response.context["results"] is None


def count_detail_queries(client, users, branch_tree, size):
    segment = SegmentFactory(filters={}, created_by=users["platform"])
    campaign = CampaignFactory(owner=users["platform"], segment=segment, status=Campaign.Status.DRAFT, holdout_percent=50)
    FollowUpTask.objects.all().delete()
    HeldOutCustomer.objects.all().delete()
    make_customers(users, branch_tree, size)
    services.campaign_launch(campaign=campaign, actor=users["platform"])
    client.force_login(users["platform"])
    url = reverse("campaigns:detail", args=[campaign.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.context["results"].held_out.total == Customer.objects.count() // 2
    return len(queries)


def test_detail_results_query_count_constant(client, users, branch_tree):
    few = count_detail_queries(client, users, branch_tree, 4)
    many = count_detail_queries(client, users, branch_tree, 40)
    assert few == many

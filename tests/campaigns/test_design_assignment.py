import datetime
from collections import Counter
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, FollowUpTask
from portal.models import Leave, Role
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def orphans(branch, count):
    return [CustomerFactory(branch=branch, client_manager=None) for _ in range(count)]


def give_open_tasks(manager, count):
    """Give `manager` open tasks in another campaign, for customers the draft campaign excludes."""
    campaign = CampaignFactory()
    for _ in range(count):
        TaskFactory(campaign=campaign, assignee=manager, customer=CustomerFactory(do_not_contact=True))


def assignees(campaign):
    return Counter(FollowUpTask.objects.filter(campaign=campaign).values_list("assignee__username", flat=True))


def test_own_manager_on_leave_goes_to_pool(users, branch_tree, draft_campaign):
    today = timezone.localdate()
    Leave.objects.create(user=users["manager_b"], starts_on=today, ends_on=today)
    customer = CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.manager_unavailable == 1
    assert plan.unavailable_managers == [users["manager_b"]]
    assert plan.to_pool == 1
    assert plan.assignments == [(customer.pk, users["manager_a"].pk, branch_tree["a"].pk)]


@pytest.mark.parametrize(
    "starts, ends, on_leave",
    [(-3, -1, False), (-3, 0, True), (0, 0, True), (0, 5, True), (1, 5, False)],
)
def test_leave_window_includes_both_days(users, branch_tree, draft_campaign, starts, ends, on_leave):
    today = timezone.localdate()
    Leave.objects.create(
        user=users["manager_b"], starts_on=today + datetime.timedelta(days=starts), ends_on=today + datetime.timedelta(days=ends)
    )
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assigned_to = plan.assignments[0][1]
    assert (assigned_to != users["manager_b"].pk) is on_leave


def test_leave_uses_bank_date_not_server_date(users, branch_tree, draft_campaign):
    # 23:30 UTC on 1 March is already 2 March in Shanghai, the first day of the leave.
    Leave.objects.create(user=users["manager_b"], starts_on=datetime.date(2030, 3, 2), ends_on=datetime.date(2030, 3, 9))
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])
    late_utc = datetime.datetime(2030, 3, 1, 23, 30, tzinfo=datetime.timezone.utc)

    with mock.patch("django.utils.timezone.now", return_value=late_utc):
        plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.manager_unavailable == 1


def test_pool_skips_managers_on_leave_and_inactive(users, branch_tree, draft_campaign):
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    today = timezone.localdate()
    Leave.objects.create(user=users["manager_a1"], starts_on=today - datetime.timedelta(days=1), ends_on=today)
    UserFactory(username="cm_gone", role=Role.CLIENT_MANAGER, branch=branch_tree["a"], is_active=False)
    orphans(branch_tree["a"], 4)

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert assignees(draft_campaign) == {"cm_a": 4}


def test_pool_without_sub_branches_uses_branch_only(users, branch_tree, draft_campaign):
    orphans(branch_tree["a"], 3)
    plan = services.campaign_launch_preview(campaign=draft_campaign)
    assert {assignee for _, assignee, _ in plan.assignments} == {users["manager_a"].pk}

    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    plan = services.campaign_launch_preview(campaign=draft_campaign)
    assert {assignee for _, assignee, _ in plan.assignments} == {users["manager_a"].pk, users["manager_a1"].pk}


def test_pool_balances_against_capacity(users, branch_tree, draft_campaign):
    # cm_a: 10 open of 40 (25%), cm_a1: 0 open of 10. Each customer goes to the lower
    # utilisation, so both end at 20 of 40 and 5 of 10 (50%).
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    users["manager_a"].capacity = 40
    users["manager_a"].save()
    users["manager_a1"].capacity = 10
    users["manager_a1"].save()
    give_open_tasks(users["manager_a"], 10)
    orphans(branch_tree["a"], 15)

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    loads = {load.manager.username: load for load in plan.loads}
    assert loads["cm_a"].from_pool == 10
    assert loads["cm_a1"].from_pool == 5
    assert (loads["cm_a"].open_before, loads["cm_a"].load_after, loads["cm_a"].capacity) == (10, 20, 40)
    assert (loads["cm_a1"].open_before, loads["cm_a1"].load_after, loads["cm_a1"].capacity) == (0, 5, 10)
    assert plan.can_launch


def test_pool_full_rejects_launch(users, branch_tree, draft_campaign):
    users["manager_a"].capacity = 3
    users["manager_a"].save()
    give_open_tasks(users["manager_a"], 1)
    orphans(branch_tree["a"], 4)

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.unassigned == 2
    assert not plan.can_launch
    assert plan.problems == [
        "2 customers cannot be assigned: the 1 available client managers of pool “Branch A” have 1 open tasks "
        "against a total capacity of 3. Raise their capacity, widen the pool or narrow the target."
    ]
    with pytest.raises(services.LaunchRejected, match="cannot be assigned"):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])
    assert not FollowUpTask.objects.filter(campaign=draft_campaign).exists()
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT


def test_pool_manager_at_capacity_gets_nothing(users, branch_tree, draft_campaign):
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    users["manager_a"].capacity = 2
    users["manager_a"].save()
    give_open_tasks(users["manager_a"], 2)
    orphans(branch_tree["a"], 3)

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert assignees(draft_campaign) == {"cm_a1": 3}


def test_own_customers_count_toward_pool_load(users, branch_tree, draft_campaign):
    # cm_a gets 3 own customers first, so the pool sends the orphans to cm_a1 until it catches up.
    draft_campaign.pool_include_sub_branches = True
    draft_campaign.save()
    for _ in range(3):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    orphans(branch_tree["a"], 3)

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    loads = {load.manager.username: (load.own_customers, load.from_pool) for load in plan.loads}
    assert loads == {"cm_a": (3, 0), "cm_a1": (0, 3)}


def test_own_manager_over_capacity_warned_not_moved(users, branch_tree, draft_campaign):
    users["manager_b"].capacity = 1
    users["manager_b"].save()
    for _ in range(2):
        CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.can_launch
    assert [(load.manager.username, load.own_customers, load.over_capacity) for load in plan.over_capacity_loads] == [
        ("cm_b", 2, True)
    ]


def test_pool_rule_ignores_own_manager(users, branch_tree, draft_campaign):
    draft_campaign.assignment_rule = Campaign.AssignmentRule.POOL
    draft_campaign.save()
    for _ in range(2):
        CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    services.campaign_launch(campaign=draft_campaign, actor=users["platform"])

    assert assignees(draft_campaign) == {"cm_a": 2}
    assert set(FollowUpTask.objects.filter(campaign=draft_campaign).values_list("branch", flat=True)) == {branch_tree["a"].pk}


def test_pool_rule_without_branch_rejected(users, branch_tree, draft_campaign):
    draft_campaign.assignment_rule = Campaign.AssignmentRule.POOL
    draft_campaign.fallback_branch = None
    draft_campaign.save()
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    plan = services.campaign_launch_preview(campaign=draft_campaign)

    assert plan.problems == [
        "The campaign assigns every customer to the pool but has no pool branch. Choose a pool branch."
    ]


def test_pool_all_on_leave_rejected(users, branch_tree, draft_campaign):
    today = timezone.localdate()
    Leave.objects.create(user=users["manager_a"], starts_on=today, ends_on=today + datetime.timedelta(days=3))
    orphans(branch_tree["a"], 1)

    with pytest.raises(services.LaunchRejected, match="no active client managers who are not on leave"):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])


def test_launch_rejects_changed_plan(users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    fingerprint = services.campaign_launch_preview(campaign=draft_campaign).fingerprint
    CustomerFactory(branch=branch_tree["b"], client_manager=users["manager_b"])

    with pytest.raises(services.LaunchPlanChanged):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=fingerprint)
    assert not FollowUpTask.objects.filter(campaign=draft_campaign).exists()

    fresh = services.campaign_launch_preview(campaign=draft_campaign).fingerprint
    assert services.campaign_launch(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=fresh) == 2


def test_preview_page_shows_loads_and_capacity(client, users, branch_tree, draft_campaign):
    users["manager_a"].capacity = 5
    users["manager_a"].save()
    give_open_tasks(users["manager_a"], 2)
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    orphans(branch_tree["a"], 2)
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:launch", args=[draft_campaign.pk]))

    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    # Open now 2, own 1, pool 2, added 3, after 5, capacity 5.
    row = (
        '<td class="text-end">2</td>\n          <td class="text-end">1</td><td class="text-end">2</td>\n'
        '          <td class="text-end">3</td>\n          <td class="text-end">5</td><td class="text-end">5</td></tr>'
    )
    assert row in content
    assert f'name="fingerprint" value="{response.context["plan"].fingerprint}"' in content


def test_preview_page_says_pool_is_full(client, users, branch_tree, draft_campaign):
    users["manager_a"].capacity = 1
    users["manager_a"].save()
    orphans(branch_tree["a"], 3)
    client.force_login(users["platform"])

    content = client.get(reverse("campaigns:launch", args=[draft_campaign.pk])).content.decode()

    assert "2 customers cannot be assigned" in content
    assert "disabled" in content.split('id="launch-form"')[1]


def test_launch_page_posts_fingerprint(client, users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    client.force_login(users["platform"])
    stale = services.campaign_launch_preview(campaign=draft_campaign).fingerprint
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    response = client.post(reverse("campaigns:launch", args=[draft_campaign.pk]), {"fingerprint": stale})

    assert response.status_code == HTTPStatus.OK
    assert "changed since the preview" in response.content.decode()
    assert not FollowUpTask.objects.filter(campaign=draft_campaign).exists()
    response = client.post(
        reverse("campaigns:launch", args=[draft_campaign.pk]), {"fingerprint": response.context["plan"].fingerprint}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 2


def test_second_post_redirects_with_message(client, users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    client.force_login(users["platform"])
    url = reverse("campaigns:launch", args=[draft_campaign.pk])
    client.post(url)

    response = client.post(url, follow=True)

    assert response.redirect_chain == [(reverse("campaigns:detail", args=[draft_campaign.pk]), HTTPStatus.FOUND)]
    assert "has already been launched" in response.content.decode()
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 1


def test_form_stores_assignment_settings(client, users, branch_tree):
    from tests.campaigns.test_campaign_views import campaign_form_data
    from tests.factories import SegmentFactory

    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    data = campaign_form_data(segment, branch_tree["a"], assignment_rule="pool", pool_include_sub_branches="on")
    assert client.post(reverse("campaigns:create"), data).status_code == HTTPStatus.FOUND
    campaign = Campaign.objects.get()
    assert campaign.assignment_rule == Campaign.AssignmentRule.POOL
    assert campaign.pool_include_sub_branches is True

    data = campaign_form_data(segment, branch_tree["a"], assignment_rule="pool", fallback_branch="")
    response = client.post(reverse("campaigns:create"), data)
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["fallback_branch"] == ["The pool rule needs a pool branch."]

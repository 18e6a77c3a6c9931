import datetime
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, FollowUpTask, Segment
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db


# Segments


def test_segment_create_stores_roster_filter(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], aum=2_000_000)
    CustomerFactory(branch=branch_tree["b"], aum=2_000_000)
    client.force_login(users["platform"])
    query = f"?branch={branch_tree['a'].pk}&aum_min=1000000&page=3&sort=name"
    url = reverse("campaigns:segment_create") + query

    preview = client.get(url)
    assert preview.status_code == HTTPStatus.OK
    assert preview.context["customer_count"] == 1

    response = client.post(url, {"name": "Rich in A", "description": "Upsell"})
    assert response.status_code == HTTPStatus.FOUND
    segment = Segment.objects.get()
    assert segment.filters == {"branch": str(branch_tree["a"].pk), "aum_min": "1000000"}
    assert segment.created_by == users["platform"]


def test_campaign_form_preselects_segment(client, users):
    segment = SegmentFactory(name="New this month")
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:create"), {"segment": segment.pk})

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"]["segment"].value() == str(segment.pk)
    assert f'<option value="{segment.pk}" selected>' in response.content.decode()


def test_segment_create_invalid_filter_saves_nothing(client, users):
    client.force_login(users["platform"])
    url = reverse("campaigns:segment_create") + "?aum_min=many"
    response = client.post(url, {"name": "Broken"})
    assert response.status_code == HTTPStatus.OK
    assert "The roster filter is invalid" in response.content.decode()
    assert not Segment.objects.exists()


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a", "admin"])
def test_segment_pages_platform_only(client, users, role_key):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:segment_create")).status_code == HTTPStatus.FORBIDDEN
    assert client.post(reverse("campaigns:segment_create"), {"name": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert client.get(reverse("campaigns:segment_list")).status_code == HTTPStatus.FORBIDDEN
    assert not Segment.objects.exists()


def test_segment_list_counts_customers(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"])
    CustomerFactory(branch=branch_tree["b"])
    SegmentFactory(name="Only A", filters={"branch": str(branch_tree["a"].pk)})
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:segment_list"))
    assert response.status_code == HTTPStatus.OK
    rows = response.context["table"].paginated_rows
    assert [row.get_cell_value("customer_count") for row in rows] == [1]


# Campaigns


# Campaign dates in the future, because a draft may not be due in the past.
START = timezone.localdate() + datetime.timedelta(days=30)
DUE = START + datetime.timedelta(days=29)


def campaign_form_data(segment, branch, **overrides):
    data = {
        "name": "Autumn deposits",
        "objective": "Renew maturing deposits",
        "segment": segment.pk,
        "talking_points": "Mention the new rate",
        "starts_on": START.isoformat(),
        "due_on": DUE.isoformat(),
        "fallback_branch": branch.pk,
    }
    data.update(overrides)
    return data


def test_campaign_create_by_platform(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"]))
    campaign = Campaign.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.owner == users["platform"]
    assert campaign.due_on == DUE


def test_campaign_create_due_before_start(client, users, branch_tree):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users["platform"])
    response = client.post(
        reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"], due_on=(START - datetime.timedelta(days=1)).isoformat())
    )
    assert response.status_code == HTTPStatus.OK
    before = (START - datetime.timedelta(days=1)).isoformat()
    assert f"The due date {before} is before the start date {START.isoformat()}." in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a", "admin"])
def test_campaign_create_forbidden(client, users, branch_tree, role_key):
    segment = SegmentFactory(created_by=users["platform"])
    client.force_login(users[role_key])
    response = client.post(reverse("campaigns:create"), campaign_form_data(segment, branch_tree["a"]))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not Campaign.objects.exists()


def test_campaign_update_draft(client, users, draft_campaign, branch_tree):
    client.force_login(users["platform"])
    data = campaign_form_data(draft_campaign.segment, branch_tree["b"], name="Renamed")
    response = client.post(reverse("campaigns:update", args=[draft_campaign.pk]), data)
    assert response.status_code == HTTPStatus.FOUND
    draft_campaign.refresh_from_db()
    assert draft_campaign.name == "Renamed"
    assert draft_campaign.fallback_branch == branch_tree["b"]


def test_campaign_update_forbidden_for_supervisor(client, users, draft_campaign):
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("campaigns:update", args=[draft_campaign.pk]))
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_campaign_list_scope(client, users, task_set):
    hidden = CampaignFactory(name="Only for branch B")
    TaskFactory(campaign=hidden, assignee=users["manager_b"])
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("campaigns:list"))
    assert response.status_code == HTTPStatus.OK
    rows = {row.record.name: row.record.visible_task_count for row in response.context["table"].page.object_list}
    assert rows == {"Deposit renewal": 3}


def test_campaign_list_administrator_forbidden(client, users):
    client.force_login(users["admin"])
    assert client.get(reverse("campaigns:list")).status_code == HTTPStatus.FORBIDDEN


def test_campaign_list_query_count_constant(client, users):
    client.force_login(users["platform"])
    counts = []
    for total in (5, 50):
        for _ in range(total):
            TaskFactory(campaign=CampaignFactory(owner=users["platform"]))
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("campaigns:list"))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_campaign_detail_counts_in_scope(client, users, task_set):
    client.force_login(users["manager_a"])
    response = client.get(reverse("campaigns:detail", args=[task_set["campaign"].pk]))
    assert response.status_code == HTTPStatus.OK
    counts = {value: count for value, _label, count in response.context["status_counts"]}
    assert counts["open"] == 1
    assert counts["done"] == 1
    assert response.context["task_total"] == 2


def test_campaign_detail_outside_scope_404(client, users, task_set):
    hidden = CampaignFactory()
    client.force_login(users["manager_a"])
    assert client.get(reverse("campaigns:detail", args=[hidden.pk])).status_code == HTTPStatus.NOT_FOUND


# Launch and complete


def test_launch_page_preview_then_launch(client, users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(branch=branch_tree["a"], client_manager=None)
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], do_not_contact=True)
    client.force_login(users["platform"])
    url = reverse("campaigns:launch", args=[draft_campaign.pk])

    preview = client.get(url)
    assert preview.status_code == HTTPStatus.OK
    plan = preview.context["plan"]
    assert plan.targeted == 2
    assert plan.excluded_do_not_contact == 1
    assert plan.without_manager == 1
    assert not FollowUpTask.objects.exists()

    response = client.post(url)
    assert response.status_code == HTTPStatus.FOUND
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 2

    again = client.post(url, follow=True)
    assert "has already been launched" in again.content.decode()
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 2


def test_launch_page_shows_rejection(client, users, branch_tree, draft_campaign):
    draft_campaign.fallback_branch = None
    draft_campaign.save()
    CustomerFactory(branch=branch_tree["a"], client_manager=None)
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:launch", args=[draft_campaign.pk]))
    assert response.status_code == HTTPStatus.OK
    assert "no pool branch" in response.content.decode()
    assert not FollowUpTask.objects.exists()


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a", "admin"])
def test_launch_forbidden(client, users, branch_tree, draft_campaign, role_key):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    client.force_login(users[role_key])
    assert client.post(reverse("campaigns:launch", args=[draft_campaign.pk])).status_code == HTTPStatus.FORBIDDEN
    assert not FollowUpTask.objects.exists()


def test_complete_view(client, users, task_set):
    campaign = task_set["campaign"]
    client.force_login(users["supervisor_a"])
    assert client.post(reverse("campaigns:complete", args=[campaign.pk])).status_code == HTTPStatus.FORBIDDEN
    client.force_login(users["platform"])
    assert client.post(reverse("campaigns:complete", args=[campaign.pk])).status_code == HTTPStatus.FOUND
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED

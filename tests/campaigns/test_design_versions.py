import datetime
from http import HTTPStatus

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, ContactRecord, FollowUpTask, HeldOutCustomer, Segment
from campaigns.versions import campaign_version_chain, version_results
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def launched(users, campaign):
    services.campaign_launch(campaign=campaign, actor=users["platform"])
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def finished_campaign(users, branch_tree, draft_campaign):
    """Branch A's ten customers, 20% held out, launched and completed."""
    for _ in range(10):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    draft_campaign.holdout_percent = 20
    draft_campaign.save()
    launched(users, draft_campaign)
    services.campaign_complete(campaign=draft_campaign, actor=users["platform"])
    draft_campaign.refresh_from_db()
    return draft_campaign


# Cloning


def test_clone_copies_design_and_links(users, branch_tree, finished_campaign):
    finished_campaign.fatigue_contact_days = 5
    finished_campaign.assignment_rule = Campaign.AssignmentRule.POOL
    finished_campaign.save()
    narrower = SegmentFactory(filters={"branch": str(branch_tree["a1"].pk)}, created_by=users["platform"])

    clone = services.campaign_clone(
        campaign=finished_campaign, actor=users["platform"],
        data={"name": "Spring review v2", "segment": narrower, "talking_points": "Shorter script"},
    )

    assert clone.previous_version == finished_campaign
    assert clone.status == Campaign.Status.DRAFT
    assert clone.segment == narrower
    assert clone.talking_points == "Shorter script"
    assert clone.holdout_percent == 20
    assert clone.fatigue_contact_days == 5
    assert clone.assignment_rule == Campaign.AssignmentRule.POOL
    assert clone.fallback_branch == finished_campaign.fallback_branch
    assert clone.launched_at is None
    assert clone.launch_summary == {}
    assert not clone.tasks.exists()


def test_clone_of_draft_rejected(users, draft_campaign):
    with pytest.raises(services.CampaignLocked, match="still a draft"):
        services.campaign_clone(campaign=draft_campaign, actor=users["platform"], data={})


def test_clone_twice_rejected(users, finished_campaign):
    first = services.campaign_clone(campaign=finished_campaign, actor=users["platform"], data={"name": "v2"})

    with pytest.raises(services.CampaignLocked, match="already has a next version, “v2”"):
        services.campaign_clone(campaign=finished_campaign, actor=users["platform"], data={"name": "v2 again"})
    assert list(finished_campaign.next_versions.all()) == [first]


def test_one_next_version_constraint(users, finished_campaign):
    CampaignFactory(previous_version=finished_campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(previous_version=finished_campaign)


def test_clone_of_active_campaign_allowed(users, branch_tree, draft_campaign):
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    launched(users, draft_campaign)
    clone = services.campaign_clone(campaign=draft_campaign, actor=users["platform"], data={})
    assert clone.previous_version == draft_campaign


def test_next_version_page_prefills_and_creates(client, users, branch_tree, finished_campaign):
    client.force_login(users["platform"])
    url = reverse("campaigns:next_version", args=[finished_campaign.pk])

    form = client.get(url).context["form"]

    today = timezone.localdate()
    assert form.initial["name"] == "Spring review (version 2)"
    assert form.initial["segment"] == finished_campaign.segment_id
    assert form.initial["starts_on"] == today
    assert form.initial["due_on"] == today + (finished_campaign.due_on - finished_campaign.starts_on)
    data = {
        "name": "Spring review (version 2)", "objective": "", "segment": finished_campaign.segment_id,
        "talking_points": "New angle", "starts_on": today.isoformat(),
        "due_on": (today + datetime.timedelta(days=10)).isoformat(), "holdout_percent": "10",
        "assignment_rule": "own_manager", "fallback_branch": branch_tree["a"].pk,
    }
    response = client.post(url, data)
    clone = Campaign.objects.get(previous_version=finished_campaign)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("campaigns:detail", args=[clone.pk])
    assert clone.talking_points == "New angle"
    assert clone.holdout_percent == 10

    response = client.post(url, data, follow=True)
    assert "already has a next version" in response.content.decode()
    assert Campaign.objects.filter(previous_version=finished_campaign).count() == 1


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a"])
def test_version_pages_platform_only(client, users, role_key, finished_campaign):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:next_version", args=[finished_campaign.pk])).status_code == HTTPStatus.FORBIDDEN
    assert client.get(reverse("campaigns:versions", args=[finished_campaign.pk])).status_code == HTTPStatus.FORBIDDEN


# Comparing versions


def make_chain(users, finished_campaign, length):
    chain = [finished_campaign]
    for number in range(2, length + 1):
        previous = chain[-1]
        if previous.status == Campaign.Status.DRAFT:
            launched(users, previous)
        chain.append(services.campaign_clone(campaign=previous, actor=users["platform"], data={"name": f"v{number}"}))
    return chain


def test_version_chain_from_any_member(users, finished_campaign):
    chain = make_chain(users, finished_campaign, 3)
    for member in chain:
        found = campaign_version_chain(campaign=member)
        assert [campaign.pk for campaign in found] == [campaign.pk for campaign in chain]
        assert [campaign.version_number for campaign in found] == [1, 2, 3]


def test_version_results_side_by_side(users, finished_campaign):
    v1, v2 = make_chain(users, finished_campaign, 2)
    launched(users, v2)
    tasks = list(FollowUpTask.objects.filter(campaign=v1).order_by("id"))
    for task in tasks[:3]:
        task.status, task.outcome = "verified", "converted"
        task.save()
    tasks[3].status = "done"
    tasks[3].save()
    held_out = HeldOutCustomer.objects.filter(campaign=v1).first()
    ContactRecord.objects.create(customer=held_out.customer, outcome="converted", contacted_at=timezone.now())

    first, second = version_results(campaigns=campaign_version_chain(campaign=v2))

    assert (first.targets, first.tasks, first.done, first.verified) == (10, 8, 4, 3)
    assert (first.results.contacted.converted, first.results.held_out.total, first.results.held_out.converted) == (3, 2, 1)
    assert first.results.uplift == pytest.approx(3 / 8 - 1 / 2)
    # The held-out customer's conversion came after v2's launch too, from outside the campaign.
    assert second.campaign == v2
    assert (second.targets, second.tasks, second.done) == (10, 8, 0)


def test_versions_page_shows_each_version(client, users, finished_campaign):
    v1, v2 = make_chain(users, finished_campaign, 2)
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:versions", args=[v1.pk]))

    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert [version.campaign for version in response.context["versions"]] == [v1, v2]
    assert "1. Spring review" in content
    assert "2. v2" in content
    assert content.count('data-figure="tasks">8</td>') == 1
    assert content.count('data-figure="tasks">0</td>') == 1


def count_versions_page_queries(client, users, finished_campaign, length):
    chain = make_chain(users, finished_campaign, length)
    url = reverse("campaigns:versions", args=[chain[-1].pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert len(response.context["versions"]) == length
    return len(queries)


def test_versions_page_query_count_constant(client, users, branch_tree, finished_campaign):
    client.force_login(users["platform"])
    short = count_versions_page_queries(client, users, finished_campaign, 2)
    other_root = CampaignFactory(
        name="Other", segment=finished_campaign.segment, status=Campaign.Status.DRAFT, owner=users["platform"],
        fallback_branch=branch_tree["a"],
    )
    launched(users, other_root)
    long = count_versions_page_queries(client, users, other_root, 4)
    assert short == long


def test_detail_links_versions(client, users, finished_campaign):
    client.force_login(users["platform"])
    content = client.get(reverse("campaigns:detail", args=[finished_campaign.pk])).content.decode()
    assert reverse("campaigns:next_version", args=[finished_campaign.pk]) in content
    assert reverse("campaigns:versions", args=[finished_campaign.pk]) not in content

    clone = services.campaign_clone(campaign=finished_campaign, actor=users["platform"], data={"name": "v2"})
    content = client.get(reverse("campaigns:detail", args=[finished_campaign.pk])).content.decode()
    assert reverse("campaigns:next_version", args=[finished_campaign.pk]) not in content
    assert reverse("campaigns:versions", args=[finished_campaign.pk]) in content
    assert reverse("campaigns:detail", args=[clone.pk]) in content


# How the frozen target was built


def test_launch_stores_summary(users, branch_tree):
    segment = SegmentFactory(
        name="Branch A, 40s", filters={"branch": str(branch_tree["a"].pk), "age_band": "40_49"},
        created_by=users["platform"],
    )
    campaign = CampaignFactory(
        segment=segment, status=Campaign.Status.DRAFT, owner=users["platform"], fallback_branch=branch_tree["a"],
        fatigue_contact_days=3, holdout_percent=50,
    )
    for _ in range(3):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], age=45)
    CustomerFactory(branch=branch_tree["a"], client_manager=None, age=45)
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], age=45, do_not_contact=True)
    recent = CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], age=45)
    ContactRecord.objects.create(customer=recent, outcome="reached", contacted_at=timezone.now())
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], age=30)

    launched(users, campaign)

    summary = campaign.launch_summary
    assert summary["segment"] == {
        "id": segment.pk, "name": "Branch A, 40s",
        "filters": {"branch": str(branch_tree["a"].pk), "age_band": "40_49"},
        "filter_values": {"branch": "Branch A", "age_band": "40_49"},
    }
    assert summary["segment_customers"] == 6
    assert summary["excluded"] == {"do_not_contact": 1, "open_tasks": 0, "recent_contact": 1}
    assert (summary["targeted"], summary["held_out"], summary["tasks"]) == (4, 2, 2)
    assert summary["own_manager_tasks"] + summary["pool_tasks"] == 2
    assert summary["launched_on"] == timezone.localdate().isoformat()
    assert summary["pool_branch"] == {"id": branch_tree["a"].pk, "name": "Branch A"}


def test_summary_survives_segment_change(client, users, branch_tree, finished_campaign):
    segment = finished_campaign.segment
    segment.filters = {"branch": str(branch_tree["b"].pk)}
    segment.save()
    branch_tree["a"].name = "Renamed"
    branch_tree["a"].save()
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:detail", args=[finished_campaign.pk]))

    content = response.content.decode()
    assert 'id="target-build"' in content
    assert response.context["target_filters"] == []
    assert '<ul id="target-filters">\n        <li>all customers</li>' in content
    assert 'id="target-segment">10</td>' in content
    assert 'id="target-targeted">10</td>' in content


def test_detail_shows_filter_labels(client, users, branch_tree):
    segment = SegmentFactory(filters={"branch": str(branch_tree["a"].pk), "age_band": "40_49"}, created_by=users["platform"])
    campaign = CampaignFactory(segment=segment, status=Campaign.Status.DRAFT, owner=users["platform"])
    CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"], age=45)
    launched(users, campaign)
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:detail", args=[campaign.pk]))

    assert response.context["target_filters"] == [("Branch (with sub-branches)", "Branch A"), ("Age band", "40–49")]


@pytest.mark.parametrize("role_key", ["supervisor_a", "manager_a"])
def test_target_build_platform_only(client, users, role_key, finished_campaign):
    client.force_login(users[role_key])
    content = client.get(reverse("campaigns:detail", args=[finished_campaign.pk])).content.decode()
    assert 'id="target-build"' not in content


# Segments on the roster


def test_roster_applies_segment(client, users, branch_tree):
    rich_a = CustomerFactory(branch=branch_tree["a"], aum=3_000_000)
    CustomerFactory(branch=branch_tree["a"], aum=600_000)
    CustomerFactory(branch=branch_tree["b"], aum=3_000_000)
    segment = SegmentFactory(filters={"aum_min": "1000000", "branch": str(branch_tree["a"].pk)}, created_by=users["platform"])
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"segment": segment.pk})

    assert response.status_code == HTTPStatus.OK
    assert [row.record for row in response.context["table"].rows] == [rich_a]


def test_roster_segment_respects_scope(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], aum=3_000_000)
    in_b = CustomerFactory(branch=branch_tree["b"], aum=3_000_000)
    segment = SegmentFactory(filters={"aum_min": "1000000"}, created_by=users["platform"])
    client.force_login(users["supervisor_b"])

    response = client.get(reverse("customers:list"), {"segment": segment.pk})

    assert [row.record for row in response.context["table"].rows] == [in_b]


def test_roster_segment_narrowed_by_other_filters(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], aum=3_000_000, occupation="retired")
    teacher = CustomerFactory(branch=branch_tree["a"], aum=3_000_000, occupation="teacher")
    segment = SegmentFactory(filters={"aum_min": "1000000"}, created_by=users["platform"])
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"segment": segment.pk, "occupation": "teacher"})

    assert [row.record for row in response.context["table"].rows] == [teacher]


def test_roster_stale_segment_shows_error(client, users):
    segment = SegmentFactory(filters={"aum_min": "lots"}, created_by=users["platform"])
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"segment": segment.pk})

    assert response.status_code == HTTPStatus.OK
    assert "is invalid" in response.content.decode()
    assert list(response.context["table"].rows) == []


def test_save_segment_from_segment_roster(client, users, branch_tree):
    base = SegmentFactory(name="Rich", filters={"aum_min": "1000000"}, created_by=users["platform"])
    client.force_login(users["platform"])
    url = reverse("campaigns:segment_create") + f"?segment={base.pk}&occupation=teacher"

    response = client.post(url, {"name": "Rich teachers"})

    assert response.status_code == HTTPStatus.FOUND
    assert Segment.objects.get(name="Rich teachers").filters == {"occupation": "teacher", "aum_min": "1000000"}


def test_save_segment_conflicting_filter_rejected(client, users, branch_tree):
    base = SegmentFactory(name="Rich", filters={"aum_min": "1000000"}, created_by=users["platform"])
    client.force_login(users["platform"])
    url = reverse("campaigns:segment_create") + f"?segment={base.pk}&aum_min=5000000"

    response = client.post(url, {"name": "Conflict"})

    assert response.status_code == HTTPStatus.OK
    assert "sets “aum_min” to 5000000, but segment “Rich” sets it to 1000000" in response.content.decode()
    assert not Segment.objects.filter(name="Conflict").exists()


def test_segment_list_links_roster(client, users):
    segment = SegmentFactory(name="Rich", filters={"aum_min": "1000000"}, created_by=users["platform"])
    client.force_login(users["platform"])
    content = client.get(reverse("campaigns:segment_list")).content.decode()
    assert f'{reverse("customers:list")}?segment={segment.pk}' in content

"""Concurrent launches and clones on PostgreSQL, each thread on its own database connection."""

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, FollowUpTask, HeldOutCustomer, TaskEvent
from portal.models import Role
from tests.conftest import need
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(*actions):
    """Run each callable in its own thread, released together by a barrier; return their results in order."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as error:  # noqa: BLE001 - the test compares the outcome of each thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, action)) for index, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_operators_launch_once(users, branch_tree, draft_campaign):
    need(connection.vendor == "postgresql", "concurrent launch needs PostgreSQL row locks")
    second_operator = UserFactory(username="platform_2", role=Role.PLATFORM, branch=branch_tree["head"])
    draft_campaign.holdout_percent = 20
    draft_campaign.save()
    for _ in range(15):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])
    for _ in range(10):
        CustomerFactory(branch=branch_tree["a"], client_manager=None)
    url = reverse("campaigns:launch", args=[draft_campaign.pk])
    fingerprint = services.campaign_launch_preview(campaign=draft_campaign).fingerprint
    clients = []
    for operator in (users["platform"], second_operator):
        operator_client = Client()
        operator_client.force_login(operator)
        clients.append(operator_client)

    responses = run_at_once(*(lambda c=c: c.post(url, {"fingerprint": fingerprint}, follow=True) for c in clients))

    pages = [response.content.decode() for response in responses]
    assert [response.status_code for response in responses] == [HTTPStatus.OK, HTTPStatus.OK]
    assert sum("launched: 20 tasks created" in page for page in pages) == 1
    assert sum("has already been launched" in page for page in pages) == 1
    tasks = FollowUpTask.objects.filter(campaign=draft_campaign)
    assert tasks.count() == 20
    assert tasks.values("customer").distinct().count() == 20
    assert HeldOutCustomer.objects.filter(campaign=draft_campaign).count() == 5
    assert TaskEvent.objects.filter(task__campaign=draft_campaign).count() == 20
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE
    assert draft_campaign.launch_summary["tasks"] == 20


def test_two_launches_share_pool_capacity(users, branch_tree):
    need(connection.vendor == "postgresql", "concurrent launch needs PostgreSQL row locks")
    # cm_a can take 6 more tasks. Each campaign brings 4 customers without a manager: either
    # fits alone, both together do not, so the second launch must see the first one's tasks.
    users["manager_a"].capacity = 6
    users["manager_a"].save()
    campaigns = []
    for name in ("Left", "Right"):
        segment = SegmentFactory(filters={"q": f"{name}-"}, created_by=users["platform"])
        for number in range(4):
            CustomerFactory(customer_no=f"{name}-{number}", branch=branch_tree["a"], client_manager=None)
        campaigns.append(
            CampaignFactory(name=name, segment=segment, status=Campaign.Status.DRAFT, fallback_branch=branch_tree["a"])
        )

    results = run_at_once(
        *(lambda c=c: services.campaign_launch(campaign=c, actor=users["platform"]) for c in campaigns)
    )

    assert sorted(type(result).__name__ for result in results) == ["LaunchRejected", "int"]
    assert [result for result in results if isinstance(result, int)] == [4]
    assert FollowUpTask.objects.filter(assignee=users["manager_a"]).count() == 4
    assert sorted(Campaign.objects.values_list("status", flat=True)) == ["active", "draft"]


def test_two_operators_clone_once(users, branch_tree, draft_campaign):
    need(connection.vendor == "postgresql", "concurrent clone needs PostgreSQL row locks")
    draft_campaign.status = Campaign.Status.COMPLETED
    draft_campaign.save()

    results = run_at_once(
        *(
            lambda name=name: services.campaign_clone(campaign=draft_campaign, actor=users["platform"], data={"name": name})
            for name in ("Version A", "Version B")
        )
    )

    assert sorted(type(result).__name__ for result in results) == ["Campaign", "CampaignLocked"]
    assert Campaign.objects.filter(previous_version=draft_campaign).count() == 1

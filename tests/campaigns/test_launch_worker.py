"""Background campaign launches through a real Celery worker consuming from a real Redis, while
the operator polls the progress partial as the campaign page does."""

import re
import time
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import launch_background
from campaigns.models import Campaign, FollowUpTask, HeldOutCustomer, TaskEvent
from portal.models import AuditEvent
from tests.celery_workers import worker_on_own_queue
from tests.factories import CustomerFactory

pytestmark = pytest.mark.redis

LAUNCH_TIMEOUT_SECONDS = 60
THRESHOLD = 20
CUSTOMERS = 40


@pytest.fixture
def launch_worker(redis_url):
    with worker_on_own_queue(redis_url, "launch-test") as worker:
        yield worker


@pytest.fixture
def platform_client(users):
    client = Client()
    client.force_login(users["platform"])
    return client


@pytest.fixture
def recorded_phases(monkeypatch):
    """Record every progress the launch stores, in order, while still storing it."""
    phases = []
    store = launch_background.launch_progress_store

    def store_and_record(**progress):
        phases.append((progress["phase"], progress.get("done", 0), progress.get("total", 0)))
        store(**progress)

    monkeypatch.setattr(launch_background, "launch_progress_store", store_and_record)
    return phases


def poll_until_finished(client, campaign) -> list[str]:
    """Poll the progress partial until its response carries HX-Refresh; return the partials seen."""
    url = reverse("campaigns:launch_progress", args=[campaign.pk])
    partials = []
    deadline = time.monotonic() + LAUNCH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == HTTPStatus.OK
        if response.has_header("HX-Refresh"):
            return partials
        partials.append(response.content.decode())
        time.sleep(0.2)
    pytest.fail(f"campaign {campaign.pk} still launching after {LAUNCH_TIMEOUT_SECONDS} s")


def queue_launch(client, campaign, fingerprint=None):
    url = reverse("campaigns:launch", args=[campaign.pk])
    page = client.get(url).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(fingerprint|background)" value="([^"]*)"', page))
    assert fields.get("background") == "1"
    if fingerprint is not None:
        fields["fingerprint"] = fingerprint
    return client.post(url, fields)


def test_worker_launches_large_campaign(
    transactional_db, users, branch_tree, draft_campaign, settings, monkeypatch, launch_worker, platform_client,
    recorded_phases,
):
    settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS = THRESHOLD
    # Small batches, so the writing phase reports more than once.
    monkeypatch.setattr("campaigns.services.LAUNCH_BATCH_SIZE", 15)
    draft_campaign.holdout_percent = 10
    draft_campaign.save()
    for number in range(CUSTOMERS):
        manager = users["manager_a"] if number % 2 else None
        CustomerFactory(branch=branch_tree["a"], client_manager=manager)

    response = queue_launch(platform_client, draft_campaign)
    assert response.status_code == HTTPStatus.FOUND

    # The operator left the page; polling comes back until the worker has finished.
    partials = poll_until_finished(platform_client, draft_campaign)
    assert all('id="launch-progress"' in partial for partial in partials)
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE
    assert draft_campaign.launch_error == ""
    assert draft_campaign.launched_by == users["platform"]
    assert draft_campaign.launch_summary["tasks"] == 36
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 36
    assert TaskEvent.objects.filter(task__campaign=draft_campaign).count() == 36
    assert HeldOutCustomer.objects.filter(campaign=draft_campaign).count() == 4
    audit = AuditEvent.objects.get(object_type="campaigns.followuptask", detail__campaign=draft_campaign.pk)
    assert audit.actor == users["platform"]
    assert audit.detail["count"] == 36
    assert [phase for phase, _done, _total in recorded_phases] == [
        "queued", "locking", "selecting", "assigning", "writing", "writing", "writing", "writing", "recording",
    ]
    assert ("assigning", 0, 36) in recorded_phases
    assert [(done, total) for phase, done, total in recorded_phases if phase == "writing"] == [
        (0, 36), (15, 36), (30, 36), (36, 36),
    ]
    detail = platform_client.get(reverse("campaigns:detail", args=[draft_campaign.pk])).content.decode()
    assert 'id="launch-progress"' not in detail
    assert 'id="target-build"' in detail


def test_worker_failure_shows_reason(
    transactional_db, users, branch_tree, draft_campaign, settings, launch_worker, platform_client
):
    settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS = THRESHOLD
    for _ in range(CUSTOMERS):
        CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"])

    # A fingerprint from an older preview: the plan changed, so the worker rejects the launch.
    queue_launch(platform_client, draft_campaign, fingerprint="an-older-preview")
    poll_until_finished(platform_client, draft_campaign)

    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT
    assert "changed since the preview" in draft_campaign.launch_error
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 0
    assert TaskEvent.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="campaigns.followuptask").exists()
    detail = platform_client.get(reverse("campaigns:detail", args=[draft_campaign.pk])).content.decode()
    assert 'id="launch-error"' in detail
    assert "changed since the preview" in detail
    # The operator can try again: a new preview and a new launch.
    queue_launch(platform_client, draft_campaign)
    poll_until_finished(platform_client, draft_campaign)
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE
    assert draft_campaign.launch_error == ""
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == CUSTOMERS

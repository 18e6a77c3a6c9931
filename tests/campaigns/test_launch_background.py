"""Launches over settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS: queueing, the progress partial,
failures and refused second launches, without a Celery worker. test_launch_worker.py runs
them through a real worker."""

import re
import threading
from http import HTTPStatus
from types import SimpleNamespace

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse

from campaigns import launch_background, services
from campaigns.models import Campaign, FollowUpTask, HeldOutCustomer, TaskEvent
from portal.models import AuditEvent, Role
from tests.conftest import need
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

THRESHOLD = 5


@pytest.fixture
def low_threshold(settings):
    settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS = THRESHOLD


@pytest.fixture(autouse=True)
def progress_cleared(draft_campaign):
    """Remove the campaign's stored progress, which a Redis cache would keep after the test."""
    yield
    launch_background.launch_progress_clear(campaign_id=draft_campaign.pk)


@pytest.fixture
def platform_client(users):
    client = Client()
    client.force_login(users["platform"])
    return client


def customers_for(users, branch_tree, count):
    return [CustomerFactory(branch=branch_tree["a"], client_manager=users["manager_a"]) for _ in range(count)]


def launch_form_fields(page: str) -> dict:
    """Return the hidden fields of the launch form on the launch page."""
    return dict(re.findall(r'<input type="hidden" name="(fingerprint|background)" value="([^"]*)"', page))


def nothing_written(campaign) -> None:
    assert FollowUpTask.objects.filter(campaign=campaign).count() == 0
    assert TaskEvent.objects.filter(task__campaign=campaign).count() == 0
    assert HeldOutCustomer.objects.filter(campaign=campaign).count() == 0
    assert not AuditEvent.objects.filter(object_type="campaigns.followuptask", detail__campaign=campaign.pk).exists()


def test_small_launch_stays_synchronous(users, branch_tree, draft_campaign, low_threshold, platform_client):
    customers_for(users, branch_tree, THRESHOLD)
    url = reverse("campaigns:launch", args=[draft_campaign.pk])

    fields = launch_form_fields(platform_client.get(url).content.decode())
    response = platform_client.post(url, fields, follow=True)

    assert "background" not in fields
    assert "launched: 5 tasks created" in response.content.decode()
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE


def test_large_launch_is_queued(
    users, branch_tree, draft_campaign, low_threshold, platform_client, django_capture_on_commit_callbacks
):
    customers_for(users, branch_tree, THRESHOLD + 1)
    url = reverse("campaigns:launch", args=[draft_campaign.pk])
    page = platform_client.get(url).content.decode()
    fields = launch_form_fields(page)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = platform_client.post(url, fields, follow=True)

    content = response.content.decode()
    assert fields["background"] == "1"
    assert 'id="launch-background-note"' in page
    assert len(callbacks) == 1
    assert "running in the background" in content
    assert 'id="launch-progress"' in content
    assert "Waiting for a worker to start the launch." in content
    assert 'id="launch-running" disabled' in content
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.LAUNCHING
    nothing_written(draft_campaign)


def test_queued_launch_refuses_second_launch(
    users, branch_tree, draft_campaign, low_threshold, platform_client, django_capture_on_commit_callbacks
):
    customers_for(users, branch_tree, THRESHOLD + 1)
    url = reverse("campaigns:launch", args=[draft_campaign.pk])
    fields = launch_form_fields(platform_client.get(url).content.decode())
    second_operator = Client()
    second_operator.force_login(UserFactory(username="platform_2", role=Role.PLATFORM, branch=branch_tree["head"]))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        platform_client.post(url, fields)
        queued_again = second_operator.post(url, fields, follow=True).content.decode()
        within_request = second_operator.post(url, {"fingerprint": fields["fingerprint"]}, follow=True).content.decode()

    assert len(callbacks) == 1
    assert "already being launched in the background" in queued_again
    assert "already being launched in the background" in within_request
    launch_page = second_operator.get(url).content.decode()
    assert 'id="launch-running" disabled' in launch_page
    assert 'id="launch-form"' not in launch_page
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.LAUNCHING
    nothing_written(draft_campaign)


def test_launching_campaign_keeps_its_design(users, branch_tree, draft_campaign):
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=None)

    with pytest.raises(services.CampaignLaunchInProgress):
        services.campaign_update(campaign=draft_campaign, actor=users["platform"], data={"fallback_branch": branch_tree["b"]})
    with pytest.raises(services.CampaignLaunchInProgress):
        services.campaign_clone(campaign=draft_campaign, actor=users["platform"], data={})
    with pytest.raises(services.CampaignLaunchInProgress):
        services.campaign_launch(campaign=draft_campaign, actor=users["platform"])


def test_progress_partial_shows_phase_counts(users, draft_campaign, platform_client):
    draft_campaign.status = Campaign.Status.LAUNCHING
    draft_campaign.save()
    launch_background.launch_progress_store(campaign_id=draft_campaign.pk, phase="writing", done=2000, total=4000)
    url = reverse("campaigns:launch_progress", args=[draft_campaign.pk])

    response = platform_client.get(url, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert not response.has_header("HX-Refresh")
    assert "Writing tasks: 2000 of 4000." in content
    assert 'aria-valuenow="56"' in content
    assert f'hx-get="{url}"' in content


def test_progress_partial_assigning_counts(users, draft_campaign, platform_client):
    draft_campaign.status = Campaign.Status.LAUNCHING
    draft_campaign.save()
    launch_background.launch_progress_store(
        campaign_id=draft_campaign.pk, phase="assigning", total=2500, segment=3000, targeted=2800
    )

    content = platform_client.get(reverse("campaigns:launch_progress", args=[draft_campaign.pk])).content.decode()

    assert "Assigning 2500 customers to client managers (3000 in the segment, 2800 after exclusions)." in content


def test_progress_partial_reloads_when_finished(users, draft_campaign, platform_client):
    response = platform_client.get(reverse("campaigns:launch_progress", args=[draft_campaign.pk]))

    assert response.status_code == HTTPStatus.OK
    assert response["HX-Refresh"] == "true"
    assert "hx-get" not in response.content.decode()


def test_progress_hidden_from_client_managers(users, draft_campaign):
    draft_campaign.status = Campaign.Status.LAUNCHING
    draft_campaign.save()
    client = Client()
    client.force_login(users["manager_a"])

    progress = client.get(reverse("campaigns:launch_progress", args=[draft_campaign.pk]))

    assert progress.status_code == HTTPStatus.FORBIDDEN


def test_changed_plan_ends_in_error_state(users, branch_tree, draft_campaign, platform_client):
    customers_for(users, branch_tree, 8)
    draft_campaign.holdout_percent = 25
    draft_campaign.save()
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint="stale")

    created = launch_background.campaign_launch_run(
        campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint="stale"
    )

    assert created is None
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT
    assert "changed since the preview" in draft_campaign.launch_error
    nothing_written(draft_campaign)
    page = platform_client.get(reverse("campaigns:detail", args=[draft_campaign.pk])).content.decode()
    assert 'id="launch-error"' in page
    assert "changed since the preview" in page
    assert "Preview launch" in page


def test_database_failure_ends_in_error_state(users, branch_tree, draft_campaign, monkeypatch):
    customers_for(users, branch_tree, 8)
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=None)

    def fail(**kwargs):
        raise DatabaseError("disk full")

    # Fails after the tasks are inserted, so the rollback has something to undo.
    monkeypatch.setattr(services, "_task_events_insert_open", fail)
    with pytest.raises(DatabaseError):
        launch_background.campaign_launch_run(
            campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint=None
        )

    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.DRAFT
    assert draft_campaign.launch_error == "The launch failed and nothing was written: disk full"
    nothing_written(draft_campaign)


def test_error_in_operator_language(users, branch_tree, draft_campaign):
    users["platform"].language = "zh-hans"
    users["platform"].save()
    customers_for(users, branch_tree, 3)
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint="stale")

    launch_background.campaign_launch_run(
        campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint="stale"
    )

    draft_campaign.refresh_from_db()
    assert re.search("[\u4e00-\u9fff]", draft_campaign.launch_error)


def test_redelivered_launch_does_nothing(users, branch_tree, draft_campaign):
    customers_for(users, branch_tree, 3)
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=None)
    first = launch_background.campaign_launch_run(
        campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint=None
    )

    second = launch_background.campaign_launch_run(
        campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint=None
    )

    assert first == 3
    assert second is None
    assert FollowUpTask.objects.filter(campaign=draft_campaign).count() == 3


@pytest.mark.django_db(transaction=True)
def test_progress_readable_while_transaction_open(users, branch_tree, draft_campaign, platform_client, monkeypatch):
    need(connection.vendor == "postgresql", "a launch in another thread needs PostgreSQL")
    customers_for(users, branch_tree, 30)
    monkeypatch.setattr(services, "LAUNCH_BATCH_SIZE", 10)
    # The test runs the launch itself, so no message goes to a broker.
    monkeypatch.setattr("campaigns.tasks.campaign_launch_task", SimpleNamespace(delay=lambda **kwargs: None))
    launch_background.campaign_launch_queue(campaign=draft_campaign, actor=users["platform"], expected_fingerprint=None)
    first_batch_written = threading.Event()
    release = threading.Event()
    store = launch_background.launch_progress_store

    def store_then_pause(**progress):
        store(**progress)
        if progress["phase"] == "writing" and progress["done"] and not first_batch_written.is_set():
            first_batch_written.set()
            release.wait(timeout=30)

    monkeypatch.setattr(launch_background, "launch_progress_store", store_then_pause)
    results = []

    def launch():
        try:
            results.append(
                launch_background.campaign_launch_run(
                    campaign_id=draft_campaign.pk, user_id=users["platform"].pk, expected_fingerprint=None
                )
            )
        finally:
            connection.close()

    thread = threading.Thread(target=launch)
    thread.start()
    try:
        assert first_batch_written.wait(timeout=30)
        partial = platform_client.get(reverse("campaigns:launch_progress", args=[draft_campaign.pk]))
        detail = platform_client.get(reverse("campaigns:detail", args=[draft_campaign.pk])).content.decode()
        tasks_visible = FollowUpTask.objects.filter(campaign=draft_campaign).count()
    finally:
        release.set()
        thread.join(timeout=60)

    assert "Writing tasks: 10 of 30." in partial.content.decode()
    assert not partial.has_header("HX-Refresh")
    assert 'id="launch-progress"' in detail
    assert tasks_visible == 0
    assert results == [30]
    draft_campaign.refresh_from_db()
    assert draft_campaign.status == Campaign.Status.ACTIVE
    finished = platform_client.get(reverse("campaigns:launch_progress", args=[draft_campaign.pk]))
    assert finished["HX-Refresh"] == "true"


@pytest.mark.django_db(transaction=True)
def test_two_operators_queue_once(users, branch_tree, draft_campaign, monkeypatch):
    need(connection.vendor == "postgresql", "concurrent queueing needs PostgreSQL row locks")
    second_operator = UserFactory(username="platform_2", role=Role.PLATFORM, branch=branch_tree["head"])
    sent = []
    monkeypatch.setattr("campaigns.tasks.campaign_launch_task", SimpleNamespace(delay=lambda **kwargs: sent.append(kwargs)))
    barrier = threading.Barrier(2)
    results = []

    def queue(operator):
        try:
            barrier.wait()
            launch_background.campaign_launch_queue(campaign=draft_campaign, actor=operator, expected_fingerprint=None)
            results.append("queued")
        except services.CampaignLaunchInProgress:
            results.append("in progress")
        finally:
            connection.close()

    threads = [threading.Thread(target=queue, args=(operator,)) for operator in (users["platform"], second_operator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["in progress", "queued"]
    assert len(sent) == 1

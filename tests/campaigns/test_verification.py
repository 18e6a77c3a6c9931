"""Verification sampling, the platform's verification queue and the return loop."""

import datetime
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.calendar import WorkingCalendar
from campaigns.models import FollowUpTask, Reminder, TaskEvent
from campaigns.reminders.scan import returned_keys
from campaigns.verification import verification_draw, verification_queue_for, verification_sampled
from customers.models import Tier
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status


@pytest.fixture
def tiers(db):
    """Two tiers of our own, whatever the migrations seeded: "top" is the highest."""
    Tier.objects.all().delete()
    return {
        "base": Tier.objects.create(code="T-BASE", name_en="Base", name_zh="基础", min_aum=Decimal("500000"),
                                    contact_interval_days=90),
        "top": Tier.objects.create(code="T-TOP", name_en="Private", name_zh="私行", min_aum=Decimal("6000000"),
                                   contact_interval_days=30),
    }


def finish(task, manager):
    return services.task_transition(task=task, to_status="done", actor=manager)


def test_draw_reproducible_and_proportional():
    first = [verification_draw(task_id=task_id, percent=30) for task_id in range(1, 2001)]
    second = [verification_draw(task_id=task_id, percent=30) for task_id in range(1, 2001)]
    assert first == second
    # 2,000 independent draws at 30%: 600 expected, the bounds are about five standard deviations.
    assert 500 <= sum(first) <= 700


@pytest.mark.parametrize(("percent", "expected"), [(0, False), (100, True)])
def test_draw_extremes(percent, expected):
    assert {verification_draw(task_id=task_id, percent=percent) for task_id in range(1, 200)} == {expected}


def test_unsampled_task_closed_by_system(users, tiers):
    manager = users["manager_a"]
    campaign = CampaignFactory(verification_sample_percent=0)
    task = TaskFactory(campaign=campaign, assignee=manager, status="in_progress",
                       customer=CustomerFactory(tier=tiers["base"]))

    result = finish(task, manager)

    task.refresh_from_db()
    assert result.status == Status.VERIFIED
    assert task.status == Status.VERIFIED
    assert task.sampled_for_verification is False
    assert task.verified_by is None
    assert task.completed_at is not None
    events = list(TaskEvent.objects.filter(task=task).values_list("from_status", "to_status", "actor"))
    assert events == [("in_progress", "done", manager.pk), ("done", "verified", None)]
    assert "Not sampled" in TaskEvent.objects.get(task=task, to_status="verified").note


def test_top_tier_always_sampled(users, tiers):
    manager = users["manager_a"]
    campaign = CampaignFactory(verification_sample_percent=0)
    task = TaskFactory(campaign=campaign, assignee=manager, customer=CustomerFactory(tier=tiers["top"]))

    finish(task, manager)

    task.refresh_from_db()
    assert task.status == Status.DONE
    assert task.sampled_for_verification is True


def test_sampled_share_matches_draw(users, tiers):
    manager = users["manager_a"]
    campaign = CampaignFactory(verification_sample_percent=40)
    tasks = [TaskFactory(campaign=campaign, assignee=manager, customer=CustomerFactory(tier=tiers["base"]))
             for _ in range(30)]
    for task in tasks:
        finish(task, manager)
    for task in tasks:
        task.refresh_from_db()
        expected = verification_draw(task_id=task.pk, percent=40)
        assert task.sampled_for_verification is expected, task.pk
        assert task.status == (Status.DONE if expected else Status.VERIFIED), task.pk


def test_returned_task_stays_sampled(users, tiers):
    campaign = CampaignFactory(verification_sample_percent=0)
    task = TaskFactory(campaign=campaign, assignee=users["manager_a"], status="done", sampled_for_verification=True,
                       customer=CustomerFactory(tier=tiers["base"]))
    assert verification_sampled(task=task) is True


def test_queue_lists_only_sampled_done(users, tiers):
    sampled = TaskFactory(status="done", sampled_for_verification=True)
    legacy = TaskFactory(status="done", sampled_for_verification=None)
    TaskFactory(status="verified", sampled_for_verification=False)
    TaskFactory(status="done", sampled_for_verification=False)
    TaskFactory(status="open")
    TaskFactory(status="verified", sampled_for_verification=True)

    queue = set(verification_queue_for(user=users["platform"]).values_list("pk", flat=True))

    assert queue == {sampled.pk, legacy.pk}


def test_queue_view_platform_only(client, users):
    sampled = TaskFactory(status="done", sampled_for_verification=True)
    TaskFactory(status="done", sampled_for_verification=False)
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:verification_queue"))

    assert response.status_code == HTTPStatus.OK
    assert [row.record.pk for row in response.context["table"].page.object_list] == [sampled.pk]
    for role_key in ("supervisor_a", "manager_a"):
        client.force_login(users[role_key])
        assert client.get(reverse("campaigns:verification_queue")).status_code == HTTPStatus.FORBIDDEN


def test_queue_export_csv(client, users):
    sampled = TaskFactory(status="done", sampled_for_verification=True)
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:verification_queue"), {"_export": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response.status_code == HTTPStatus.OK
    assert str(sampled.pk) in body.splitlines()[1]


def test_return_from_queue_goes_back_to_manager(client, users, tiers):
    """Manager finishes, platform returns with a reason, the returned-task notice is due, the
    manager works it again and it comes back to the queue."""
    manager = users["manager_a"]
    task = TaskFactory(assignee=manager, campaign=CampaignFactory(verification_sample_percent=100),
                       customer=CustomerFactory(tier=tiers["base"]))
    finish(task, manager)
    task.refresh_from_db()
    client.force_login(users["platform"])
    queue_url = reverse("campaigns:verification_queue")

    response = client.post(
        reverse("campaigns:task_return", args=[task.pk]),
        {"reason": "The note does not say what was offered", "version": task.version, "next": queue_url},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == queue_url
    task.refresh_from_db()
    assert task.status == Status.RETURNED
    assert task.return_reason == "The note does not say what was offered"
    keys = returned_keys(business_date=timezone.localdate(), calendar=WorkingCalendar())
    assert [(key.recipient_id, key.kind, key.task_id) for key in keys] == [(manager.pk, Reminder.Kind.RETURNED, task.pk)]

    services.task_record_contact(task=task, actor=manager, channel="phone", outcome="interested",
                                 note="Offered the wealth plan", complete=True)
    task.refresh_from_db()
    assert task.status == Status.DONE
    assert task.pk in set(verification_queue_for(user=users["platform"]).values_list("pk", flat=True))


def test_verify_redirect_ignores_foreign_next(client, users):
    task = TaskFactory(status="done", sampled_for_verification=True)
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:task_verify", args=[task.pk]),
                           {"version": task.version, "next": "https://evil.example/"})
    assert response["Location"] == reverse("campaigns:task_detail", args=[task.pk])


def test_done_before_due_counts_verified(users, tiers):
    """The system's close keeps the completion time, so on-time figures stay right."""
    manager = users["manager_a"]
    task = TaskFactory(assignee=manager, campaign=CampaignFactory(verification_sample_percent=0),
                       due_on=timezone.localdate() + datetime.timedelta(days=1),
                       customer=CustomerFactory(tier=tiers["base"]))
    finish(task, manager)
    task.refresh_from_db()
    assert task.verified_at == task.completed_at

"""Handover of a deactivated client manager's customers and open tasks across the branch."""

import datetime
import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse

from campaigns import handover
from campaigns.models import Campaign, FollowUpTask, TaskEvent
from customers.models import Customer
from portal.models import Leave
from tests.conftest import need
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status


@pytest.fixture
def branch_staff(users, branch_tree):
    """A leaver and three colleagues in branch B with different free capacity:
    roomy 10 free, tight 2 free, away on leave today."""
    branch = branch_tree["b"]
    leaver = UserFactory(username="cm_leaver", branch=branch, is_active=False)
    roomy = UserFactory(username="cm_roomy", branch=branch, capacity=10)
    tight = UserFactory(username="cm_tight", branch=branch, capacity=3)
    away = UserFactory(username="cm_away", branch=branch, capacity=50)
    Leave.objects.create(user=away, starts_on=datetime.date(2000, 1, 1), ends_on=datetime.date(2999, 1, 1))
    # manager_b of the shared fixture is in branch B too: 100 capacity, no load. Deactivate it
    # so the receivers are only the ones above.
    users["manager_b"].is_active = False
    users["manager_b"].save()
    campaign = CampaignFactory()
    TaskFactory(campaign=campaign, assignee=tight)
    return {"leaver": leaver, "roomy": roomy, "tight": tight, "away": away, "branch": branch, "campaign": campaign}


def leaver_book(staff, *, customers=4, tasks_per_customer=1):
    leaver = staff["leaver"]
    result = []
    for _ in range(customers):
        customer = CustomerFactory(branch=staff["branch"], client_manager=leaver)
        tasks = [TaskFactory(campaign=CampaignFactory(), customer=customer, assignee=leaver)
                 for _ in range(tasks_per_customer)]
        result.append((customer, tasks))
    return result


def test_pending_lists_inactive_with_work(branch_staff):
    leaver_book(branch_staff, customers=2)
    pending = {user.username: (user.customer_count, user.open_task_count) for user in handover.handovers_pending()}
    assert pending == {"cm_leaver": (2, 2)}


def test_preview_balances_by_free_capacity(branch_staff):
    leaver_book(branch_staff, customers=6)
    plan = handover.handover_preview(leaver=branch_staff["leaver"])

    assert plan.problems == []
    shares = {share.manager.username: share for share in plan.shares}
    # Each unit costs 2 (one task, one introduction). roomy starts with 10 free, tight with 2:
    # roomy takes four units, then both have 2 free and the tie goes to the lower id (roomy),
    # then tight has more room.
    assert set(shares) == {"cm_roomy", "cm_tight"}
    assert len(shares["cm_roomy"].customer_ids) == 5
    assert len(shares["cm_tight"].customer_ids) == 1
    assert (shares["cm_roomy"].load_before, shares["cm_roomy"].load_after) == (0, 10)
    assert (shares["cm_tight"].load_before, shares["cm_tight"].load_after) == (1, 3)
    assert (plan.customers, plan.tasks, plan.introductions) == (6, 6, 6)


def test_preview_marks_over_capacity(branch_staff):
    leaver_book(branch_staff, customers=8)
    plan = handover.handover_preview(leaver=branch_staff["leaver"])
    loads = {share.manager.username: (share.load_after, share.over_capacity) for share in plan.shares}
    assert sum(load for load, _over in loads.values()) == 1 + 16
    assert any(over for _load, over in loads.values())


def test_preview_active_leaver_problem(branch_staff):
    leaver = branch_staff["leaver"]
    leaver.is_active = True
    leaver.save()
    plan = handover.handover_preview(leaver=leaver)
    assert "still active" in plan.problems[0]
    assert not plan.can_apply


def test_preview_no_receiver_problem(branch_staff):
    leaver_book(branch_staff, customers=1)
    for key in ("roomy", "tight"):
        branch_staff[key].is_active = False
        branch_staff[key].save()
    plan = handover.handover_preview(leaver=branch_staff["leaver"])
    assert "no other active client manager" in plan.problems[0]


def test_apply_moves_everything(users, branch_staff):
    book = leaver_book(branch_staff, customers=3, tasks_per_customer=2)
    done = TaskFactory(assignee=branch_staff["leaver"], status="done", customer=book[0][0])
    dnc = CustomerFactory(branch=branch_staff["branch"], client_manager=branch_staff["leaver"], do_not_contact=True)
    foreign_customer = CustomerFactory(branch=branch_staff["branch"], client_manager=branch_staff["roomy"])
    foreign_task = TaskFactory(assignee=branch_staff["leaver"], customer=foreign_customer)
    leaver = branch_staff["leaver"]
    plan = handover.handover_preview(leaver=leaver)

    result = handover.handover_apply(leaver=leaver, actor=users["platform"], fingerprint=plan.fingerprint)

    assert not Customer.objects.filter(client_manager=leaver).exists()
    assert not FollowUpTask.objects.filter(assignee=leaver, status__in=("open", "in_progress", "returned")).exists()
    done.refresh_from_db()
    assert done.assignee == leaver
    foreign_customer.refresh_from_db()
    assert foreign_customer.client_manager == branch_staff["roomy"]
    for customer, tasks in book:
        customer.refresh_from_db()
        for task in tasks:
            task.refresh_from_db()
            assert task.assignee == customer.client_manager
            assert task.version == 2
            event = TaskEvent.objects.get(task=task, kind=TaskEvent.Kind.REASSIGNED)
            assert event.detail["from"] == leaver.pk
            assert event.detail["to"] == customer.client_manager.pk
            assert event.actor == users["platform"]
    campaign = result.campaign
    assert campaign.status == Campaign.Status.ACTIVE
    introductions = FollowUpTask.objects.filter(campaign=campaign)
    assert set(introductions.values_list("customer_id", flat=True)) == {customer.pk for customer, _tasks in book}
    assert dnc.pk not in set(introductions.values_list("customer_id", flat=True))
    for task in introductions.select_related("customer"):
        assert task.assignee_id == task.customer.client_manager_id
    assert TaskEvent.objects.filter(task__campaign=campaign, to_status="open").count() == 3
    assert result.plan.without_introduction == 1
    assert FollowUpTask.objects.get(pk=foreign_task.pk).assignee != leaver


def test_apply_stale_fingerprint_rejected(users, branch_staff):
    leaver_book(branch_staff, customers=2)
    leaver = branch_staff["leaver"]
    plan = handover.handover_preview(leaver=leaver)
    leaver_book(branch_staff, customers=1)

    with pytest.raises(handover.HandoverRejected, match="changed after you previewed"):
        handover.handover_apply(leaver=leaver, actor=users["platform"], fingerprint=plan.fingerprint)

    assert Customer.objects.filter(client_manager=leaver).count() == 3
    assert not Campaign.objects.filter(name__startswith="Introduce").exists()


def test_apply_twice_second_rejected(users, branch_staff):
    leaver_book(branch_staff, customers=2)
    leaver = branch_staff["leaver"]
    fingerprint = handover.handover_preview(leaver=leaver).fingerprint
    handover.handover_apply(leaver=leaver, actor=users["platform"], fingerprint=fingerprint)

    with pytest.raises(handover.HandoverRejected, match="nothing left"):
        handover.handover_apply(leaver=leaver, actor=users["platform"], fingerprint=fingerprint)
    assert Campaign.objects.filter(name__startswith="Introduce").count() == 1


def test_apply_only_platform(users, branch_staff):
    leaver_book(branch_staff, customers=1)
    fingerprint = handover.handover_preview(leaver=branch_staff["leaver"]).fingerprint
    with pytest.raises(handover.HandoverRejected):
        handover.handover_apply(leaver=branch_staff["leaver"], actor=users["supervisor_b"], fingerprint=fingerprint)


# Views


def test_handover_pages(client, users, branch_staff):
    leaver_book(branch_staff, customers=2)
    leaver = branch_staff["leaver"]
    client.force_login(users["platform"])

    listing = client.get(reverse("campaigns:handover_list"))
    assert listing.status_code == HTTPStatus.OK
    assert "cm_leaver" in listing.content.decode() or str(leaver) in listing.content.decode()

    preview = client.get(reverse("campaigns:handover_detail", args=[leaver.pk]))
    assert preview.status_code == HTTPStatus.OK
    body = preview.content.decode()
    assert "cm_roomy" in body
    assert "cm_away" not in body
    fingerprint = preview.context["form"]["fingerprint"].value()

    applied = client.post(reverse("campaigns:handover_detail", args=[leaver.pk]), {"fingerprint": fingerprint})
    assert applied.status_code == HTTPStatus.FOUND
    campaign = Campaign.objects.get(name__startswith="Introduce")
    assert applied["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    assert not Customer.objects.filter(client_manager=leaver).exists()


def test_handover_view_stale_plan_redirects(client, users, branch_staff):
    leaver_book(branch_staff, customers=1)
    leaver = branch_staff["leaver"]
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:handover_detail", args=[leaver.pk]), {"fingerprint": "stale"}, follow=True)
    assert "changed after you previewed" in response.content.decode()
    assert Customer.objects.filter(client_manager=leaver).count() == 1


@pytest.mark.parametrize("role_key", ["supervisor_b", "manager_a"])
def test_handover_pages_platform_only(client, users, branch_staff, role_key):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:handover_list")).status_code == HTTPStatus.FORBIDDEN
    url = reverse("campaigns:handover_detail", args=[branch_staff["leaver"].pk])
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


# Concurrency on PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_concurrent_apply_once(users, branch_staff):
    need(connection.vendor == "postgresql", "concurrent applies need PostgreSQL row locks")
    leaver_book(branch_staff, customers=5)
    leaver = branch_staff["leaver"]
    fingerprint = handover.handover_preview(leaver=leaver).fingerprint
    second_operator = UserFactory(username="platform2", role="platform", branch=users["platform"].branch)
    barrier = threading.Barrier(2)
    results = []

    def apply(actor):
        try:
            barrier.wait()
            handover.handover_apply(leaver=leaver, actor=actor, fingerprint=fingerprint)
            results.append("applied")
        except handover.HandoverRejected:
            results.append("rejected")
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(actor,)) for actor in (users["platform"], second_operator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["applied", "rejected"]
    assert Campaign.objects.filter(name__startswith="Introduce").count() == 1
    assert TaskEvent.objects.filter(kind=TaskEvent.Kind.REASSIGNED).count() == 5

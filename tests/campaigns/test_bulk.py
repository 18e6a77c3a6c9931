"""Bulk reassign, due-date extension and cancel on a filtered task list."""

import datetime
import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import bulk, services
from campaigns.models import FollowUpTask, TaskEvent
from portal.models import Leave
from tests.conftest import need
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status


def snapshot_of(*tasks):
    return {task.pk: task.version for task in tasks}


def test_reassign_records_event_per_task(users, task_set):
    tasks = [task_set["manager_a"], task_set["manager_a1"]]
    target = users["manager_b"]

    result = bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot_of(*tasks), assignee=target,
                                reason="cm_a moves to private banking")

    assert sorted(result.changed) == sorted(task.pk for task in tasks)
    for task in tasks:
        previous = task.assignee
        task.refresh_from_db()
        assert task.assignee == target
        assert task.branch == target.branch
        assert task.version == 2
        event = TaskEvent.objects.get(task=task)
        assert event.kind == TaskEvent.Kind.REASSIGNED
        assert event.actor == users["platform"]
        assert event.note == "cm_a moves to private banking"
        assert event.detail == {"from": previous.pk, "from_name": str(previous), "to": target.pk, "to_name": str(target)}
        assert event.created_at is not None


def test_extend_due_date(users, task_set, today):
    task = task_set["manager_a"]
    new_due = today + datetime.timedelta(days=20)
    already_later = TaskFactory(assignee=users["manager_a"], due_on=today + datetime.timedelta(days=30))

    result = bulk.bulk_extend_due(actor=users["platform"], snapshot=snapshot_of(task, already_later), due_on=new_due,
                                  reason="Holiday week")

    assert result.changed == [task.pk]
    assert [(task_id, reason) for task_id, _task, reason in result.skipped] == [
        (already_later.pk, f"already due on {already_later.due_on.isoformat()}")
    ]
    event = TaskEvent.objects.get(task=task)
    assert event.kind == TaskEvent.Kind.DUE_DATE
    assert event.detail == {"from": task.due_on.isoformat(), "to": new_due.isoformat()}
    task.refresh_from_db()
    assert task.due_on == new_due


def test_extend_rejects_past_date(users, task_set, today):
    with pytest.raises(bulk.BulkInvalid, match="in the past"):
        bulk.bulk_extend_due(actor=users["platform"], snapshot=snapshot_of(task_set["manager_a"]),
                             due_on=today - datetime.timedelta(days=1), reason="x")


def test_cancel_skips_done(users, task_set):
    open_task, done_task = task_set["manager_b"], task_set["done_a"]

    result = bulk.bulk_cancel(actor=users["platform"], snapshot=snapshot_of(open_task, done_task),
                              reason="Product withdrawn")

    assert result.changed == [open_task.pk]
    assert [task_id for task_id, _task, _reason in result.skipped] == [done_task.pk]
    open_task.refresh_from_db()
    done_task.refresh_from_db()
    assert open_task.status == Status.CANCELLED
    assert done_task.status == Status.DONE
    event = TaskEvent.objects.get(task=open_task)
    assert (event.from_status, event.to_status, event.note) == ("open", "cancelled", "Product withdrawn")


@pytest.mark.parametrize("reason", ["", "   "])
def test_reason_required(users, task_set, reason):
    with pytest.raises(bulk.BulkInvalid, match="reason"):
        bulk.bulk_cancel(actor=users["platform"], snapshot=snapshot_of(task_set["manager_a"]), reason=reason)
    assert not TaskEvent.objects.exists()


def test_stale_task_reported_not_overwritten(users, task_set):
    stale, fresh = task_set["manager_a"], task_set["manager_a1"]
    snapshot = snapshot_of(stale, fresh)
    services.task_record_contact(task=stale, actor=users["manager_a"], channel="phone", outcome="reached")

    result = bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot, assignee=users["manager_b"],
                                reason="Rebalance")

    assert result.changed == [fresh.pk]
    assert [task.pk for task in result.conflicts] == [stale.pk]
    assert result.conflicts[0].status == Status.IN_PROGRESS
    stale.refresh_from_db()
    assert stale.assignee == users["manager_a"]
    assert not TaskEvent.objects.filter(task=stale, kind=TaskEvent.Kind.REASSIGNED).exists()


def test_assignee_on_leave_rejected(users, task_set, today):
    Leave.objects.create(user=users["manager_b"], starts_on=today, ends_on=today + datetime.timedelta(days=3))
    with pytest.raises(bulk.BulkInvalid, match="not on leave"):
        bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot_of(task_set["manager_a"]),
                           assignee=users["manager_b"], reason="x")
    task_set["manager_a"].refresh_from_db()
    assert task_set["manager_a"].assignee == users["manager_a"]


def test_inactive_assignee_rejected(users, task_set):
    users["manager_b"].is_active = False
    users["manager_b"].save()
    with pytest.raises(bulk.BulkInvalid):
        bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot_of(task_set["manager_a"]),
                           assignee=users["manager_b"], reason="x")


def test_supervisor_scope(users, task_set):
    supervisor = users["supervisor_a"]
    inside, outside = task_set["manager_a"], task_set["manager_b"]

    with pytest.raises(bulk.BulkInvalid):
        bulk.bulk_reassign(actor=supervisor, snapshot=snapshot_of(inside), assignee=users["manager_b"], reason="x")
    with pytest.raises(bulk.BulkInvalid, match="role"):
        bulk.bulk_cancel(actor=supervisor, snapshot=snapshot_of(inside), reason="x")

    result = bulk.bulk_reassign(actor=supervisor, snapshot=snapshot_of(inside, outside),
                                assignee=users["manager_a1"], reason="Cover for a week")
    assert result.changed == [inside.pk]
    assert [(task_id, task) for task_id, task, _reason in result.skipped] == [(outside.pk, None)]
    outside.refresh_from_db()
    assert outside.assignee == users["manager_b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "No tasks"), ("12:x", "Item 1"), ("1:1,abc", "Item 2"), ("1;1", "Item 1")],
)
def test_snapshot_decode_invalid(text, message):
    with pytest.raises(bulk.BulkInvalid, match=message):
        bulk.bulk_snapshot_decode(text)


def test_snapshot_round_trip(task_set):
    tasks = FollowUpTask.objects.all()
    assert bulk.bulk_snapshot_decode(bulk.bulk_snapshot_encode(tasks)) == dict(tasks.values_list("pk", "version"))


def test_query_count_independent_of_size(users):
    campaign = CampaignFactory()
    counts = []
    for total in (3, 30):
        tasks = [TaskFactory(campaign=campaign, assignee=users["manager_a"]) for _ in range(total)]
        with CaptureQueriesContext(connection) as queries:
            result = bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot_of(*tasks),
                                        assignee=users["manager_a1"], reason="Rebalance")
        assert len(result.changed) == total
        counts.append(len(queries))
        FollowUpTask.objects.all().delete()
    assert counts[0] == counts[1]


# Views


def test_bulk_page_lists_filtered_open_tasks(client, users, task_set):
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:task_bulk"), {"branch": task_set["manager_a"].branch.pk})
    assert response.status_code == HTTPStatus.OK
    assert response.context["count"] == 2
    snapshot = bulk.bulk_snapshot_decode(response.context["form"]["snapshot"].value())
    assert set(snapshot) == {task_set["manager_a"].pk, task_set["manager_a1"].pk}


def test_bulk_view_applies_and_reports(client, users, task_set, today):
    client.force_login(users["platform"])
    page = client.get(reverse("campaigns:task_bulk"), {"assignee": users["manager_a"].pk})
    snapshot = page.context["form"]["snapshot"].value()
    new_due = (today + datetime.timedelta(days=40)).isoformat()

    response = client.post(
        reverse("campaigns:task_bulk") + f"?assignee={users['manager_a'].pk}",
        {"action": "extend", "due_on": new_due, "reason": "Branch closed for renovation", "snapshot": snapshot},
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["result"].changed == [task_set["manager_a"].pk]
    task_set["manager_a"].refresh_from_db()
    assert task_set["manager_a"].due_on.isoformat() == new_due
    assert "1 task changed." in response.content.decode()


def test_bulk_view_two_operators(users, task_set):
    """Two operators open the bulk page on the same list. The second change finds the tasks
    the first one changed, so it reports them as conflicts instead of overwriting them."""
    from django.test import Client

    first, second = Client(), Client()
    first.force_login(users["platform"])
    second.force_login(UserFactory(username="platform2", role="platform", branch=users["platform"].branch))
    query = {"branch": task_set["manager_a"].branch.pk}
    snapshot = first.get(reverse("campaigns:task_bulk"), query).context["form"]["snapshot"].value()
    assert second.get(reverse("campaigns:task_bulk"), query).context["form"]["snapshot"].value() == snapshot

    first.post(reverse("campaigns:task_bulk"), {"action": "cancel", "reason": "Withdrawn", "snapshot": snapshot})
    response = second.post(
        reverse("campaigns:task_bulk"),
        {"action": "reassign", "assignee": users["manager_b"].pk, "reason": "Rebalance", "snapshot": snapshot},
    )

    result = response.context["result"]
    assert result.changed == []
    assert sorted(task.pk for task in result.conflicts) == sorted([task_set["manager_a"].pk, task_set["manager_a1"].pk])
    assert "changed by someone else" in response.content.decode()
    assert set(FollowUpTask.objects.filter(pk__in=[task.pk for task in result.conflicts]).values_list("status", flat=True)) == {"cancelled"}


def test_bulk_view_supervisor_has_no_cancel(client, users, task_set):
    client.force_login(users["supervisor_a"])
    page = client.get(reverse("campaigns:task_bulk"))
    actions = [value for value, _label in page.context["form"].fields["action"].choices]
    assert actions == ["reassign", "extend"]
    assignees = set(page.context["form"].fields["assignee"].queryset.values_list("pk", flat=True))
    assert assignees == {users["manager_a"].pk, users["manager_a1"].pk}
    response = client.post(reverse("campaigns:task_bulk"), {
        "action": "cancel", "reason": "x", "snapshot": page.context["form"]["snapshot"].value(),
    })
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert FollowUpTask.objects.filter(status="cancelled").count() == 0


def test_bulk_view_forbidden_for_manager(client, users):
    client.force_login(users["manager_a"])
    assert client.get(reverse("campaigns:task_bulk")).status_code == HTTPStatus.FORBIDDEN


def test_bulk_view_requires_assignee_for_reassign(client, users, task_set):
    client.force_login(users["platform"])
    snapshot = client.get(reverse("campaigns:task_bulk")).context["form"]["snapshot"].value()
    response = client.post(reverse("campaigns:task_bulk"), {"action": "reassign", "reason": "x", "snapshot": snapshot})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Choose the client manager" in response.content.decode()
    assert not TaskEvent.objects.exists()


# Concurrency on PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_bulk_concurrent_with_contact(users):
    need(connection.vendor == "postgresql", "concurrent saves need PostgreSQL row locks")
    campaign = CampaignFactory()
    tasks = [TaskFactory(campaign=campaign, assignee=users["manager_a"],
                         customer=CustomerFactory(branch=users["manager_a"].branch)) for _ in range(20)]
    snapshot = snapshot_of(*tasks)
    contested = tasks[7]
    barrier = threading.Barrier(2)
    outcome = {}

    def run_bulk():
        try:
            barrier.wait()
            outcome["bulk"] = bulk.bulk_reassign(actor=users["platform"], snapshot=snapshot,
                                                 assignee=users["manager_a1"], reason="Rebalance")
        finally:
            connection.close()

    def record():
        try:
            barrier.wait()
            services.task_record_contact(task=contested, actor=users["manager_a"], channel="phone",
                                         outcome="reached", expected_version=1)
            outcome["contact"] = "saved"
        except (services.TaskConflict, services.TaskActionForbidden):
            outcome["contact"] = "rejected"
        finally:
            connection.close()

    threads = [threading.Thread(target=run_bulk), threading.Thread(target=record)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    result = outcome["bulk"]
    contested.refresh_from_db()
    if outcome["contact"] == "saved":
        # The contact came first: the bulk change saw a newer version and left the task alone.
        assert [task.pk for task in result.conflicts] == [contested.pk]
        assert contested.assignee == users["manager_a"]
        assert len(result.changed) == 19
    else:
        # The bulk change came first: the contact met the new version (or assignee) and wrote nothing.
        assert result.conflicts == []
        assert contested.assignee == users["manager_a1"]
        assert len(result.changed) == 20
    assert TaskEvent.objects.filter(kind=TaskEvent.Kind.REASSIGNED).count() == len(result.changed)


@pytest.mark.django_db(transaction=True)
def test_bulk_two_operators_concurrently(users):
    need(connection.vendor == "postgresql", "concurrent saves need PostgreSQL row locks")
    campaign = CampaignFactory()
    tasks = [TaskFactory(campaign=campaign, assignee=users["manager_a"]) for _ in range(15)]
    snapshot = snapshot_of(*tasks)
    barrier = threading.Barrier(2)
    results = []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        finally:
            connection.close()

    calls = [
        lambda: bulk.bulk_cancel(actor=users["platform"], snapshot=snapshot, reason="Withdrawn"),
        lambda: bulk.bulk_extend_due(actor=users["platform"], snapshot=snapshot,
                                     due_on=tasks[0].due_on + datetime.timedelta(days=10), reason="More time"),
    ]
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted((len(result.changed), len(result.conflicts)) for result in results) == [(0, 15), (15, 0)]
    assert TaskEvent.objects.count() == 15

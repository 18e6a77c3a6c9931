import datetime

import pytest

from campaigns import services
from campaigns.models import ContactRecord, FollowUpTask, TaskEvent
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status

ALLOWED = [
    ("open", "in_progress"),
    ("open", "done"),
    ("in_progress", "done"),
    ("done", "verified"),
    ("done", "returned"),
    ("returned", "in_progress"),
    ("returned", "done"),
    ("open", "cancelled"),
    ("in_progress", "cancelled"),
    ("returned", "cancelled"),
]
ALL_PAIRS = [(source, target) for source in Status.values for target in Status.values]
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def actor_for(to_status, users):
    return users["platform"] if to_status in ("verified", "returned", "cancelled") else users["manager_a"]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_recorded(users, from_status, to_status):
    task = TaskFactory(assignee=users["manager_a"], status=from_status)
    actor = actor_for(to_status, users)

    result = services.task_transition(task=task, to_status=to_status, actor=actor, note="checked by phone")

    task.refresh_from_db()
    assert result.status == to_status
    assert task.status == to_status
    event = TaskEvent.objects.get(task=task)
    assert event.from_status == from_status
    assert event.to_status == to_status
    assert event.actor == actor
    assert event.note == "checked by phone"


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_forbidden_transition_raises(users, from_status, to_status):
    task = TaskFactory(assignee=users["manager_a"], status=from_status)

    with pytest.raises(services.InvalidTransition):
        services.task_transition(task=task, to_status=to_status, actor=actor_for(to_status, users), note="x")

    task.refresh_from_db()
    assert task.status == from_status
    assert not TaskEvent.objects.exists()


def test_unknown_status_raises(users):
    task = TaskFactory(assignee=users["manager_a"])
    with pytest.raises(services.InvalidTransition):
        services.task_transition(task=task, to_status="archived", actor=users["manager_a"])


def test_done_sets_completed_at(users):
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    services.task_transition(task=task, to_status="done", actor=users["manager_a"])
    task.refresh_from_db()
    assert task.completed_at is not None


def test_verify_sets_verifier(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    services.task_verify(task=task, actor=users["platform"])
    task.refresh_from_db()
    assert task.status == Status.VERIFIED
    assert task.verified_by == users["platform"]
    assert task.verified_at is not None


def test_return_requires_reason(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    with pytest.raises(services.InvalidTransition, match="reason"):
        services.task_return(task=task, actor=users["platform"], reason="  ")
    task.refresh_from_db()
    assert task.status == Status.DONE
    assert not TaskEvent.objects.exists()


def test_return_stores_reason(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    services.task_return(task=task, actor=users["platform"], reason="Customer says nobody called")
    task.refresh_from_db()
    assert task.status == Status.RETURNED
    assert task.return_reason == "Customer says nobody called"


@pytest.mark.parametrize("role_key", ["manager_a", "supervisor_a", "admin"])
def test_verify_only_by_platform(users, role_key):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    with pytest.raises(services.TaskActionForbidden):
        services.task_verify(task=task, actor=users[role_key])
    with pytest.raises(services.TaskActionForbidden):
        services.task_return(task=task, actor=users[role_key], reason="no")
    task.refresh_from_db()
    assert task.status == Status.DONE


@pytest.mark.parametrize("role_key", ["manager_b", "platform", "supervisor_a"])
def test_working_moves_only_by_assignee(users, role_key):
    task = TaskFactory(assignee=users["manager_a"], status="open")
    with pytest.raises(services.TaskActionForbidden):
        services.task_transition(task=task, to_status="in_progress", actor=users[role_key])
    task.refresh_from_db()
    assert task.status == Status.OPEN


def test_record_contact_moves_to_in_progress(users):
    task = TaskFactory(assignee=users["manager_a"], status="open")
    follow_up = task.due_on + datetime.timedelta(days=1)

    contact = services.task_record_contact(
        task=task, actor=users["manager_a"], channel="wechat", outcome="interested",
        note="Call back next week", next_follow_up_on=follow_up, complete=False,
    )

    task.refresh_from_db()
    assert task.status == Status.IN_PROGRESS
    assert task.channel == "wechat"
    assert task.outcome == "interested"
    assert task.next_follow_up_on == follow_up
    assert contact.customer == task.customer
    assert contact.recorded_by == users["manager_a"]
    assert list(TaskEvent.objects.values_list("from_status", "to_status")) == [("open", "in_progress")]


def test_record_contact_complete_marks_done(users):
    task = TaskFactory(assignee=users["manager_a"], status="returned")

    services.task_record_contact(
        task=task, actor=users["manager_a"], channel="phone", outcome="converted", complete=True
    )

    task.refresh_from_db()
    assert task.status == Status.DONE
    assert task.completed_at is not None
    assert list(TaskEvent.objects.values_list("from_status", "to_status")) == [("returned", "done")]


def test_record_contact_in_progress_keeps_status(users):
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    services.task_record_contact(task=task, actor=users["manager_a"], channel="phone", outcome="not_reachable")
    task.refresh_from_db()
    assert task.status == Status.IN_PROGRESS
    assert ContactRecord.objects.count() == 1
    assert not TaskEvent.objects.exists()


def test_record_contact_by_other_manager_rejected(users):
    task = TaskFactory(assignee=users["manager_a"], status="open")
    with pytest.raises(services.TaskActionForbidden):
        services.task_record_contact(task=task, actor=users["manager_b"], channel="phone", outcome="reached")
    assert not ContactRecord.objects.exists()


def test_record_contact_on_done_task_rejected(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    with pytest.raises(services.InvalidTransition):
        services.task_record_contact(task=task, actor=users["manager_a"], channel="phone", outcome="reached")
    assert not ContactRecord.objects.exists()

"""Optimistic concurrency of the task forms: a form opened before someone else's change of the
task writes nothing and shows the conflict with the current state."""

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from campaigns import services
from campaigns.models import ContactRecord, FollowUpTask, TaskEvent
from tests.conftest import need
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

Status = FollowUpTask.Status


def contact_data(version, **overrides):
    data = {"channel": "phone", "outcome": "reached", "note": "Called at noon", "next_follow_up_on": "", "version": version}
    data.update(overrides)
    return data


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Services


def test_transition_stale_version_raises(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")

    with pytest.raises(services.TaskConflict) as caught:
        services.task_verify(task=task, actor=users["platform"], expected_version=task.version - 1 or 99)

    task.refresh_from_db()
    assert task.status == Status.DONE
    assert caught.value.task.pk == task.pk
    assert not TaskEvent.objects.exists()


def test_transition_bumps_version(users):
    task = TaskFactory(assignee=users["manager_a"])
    services.task_transition(task=task, to_status="in_progress", actor=users["manager_a"], expected_version=1)
    task.refresh_from_db()
    assert task.version == 2


def test_record_contact_stale_version_writes_nothing(users):
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    services.task_record_contact(task=task, actor=users["manager_a"], channel="phone", outcome="reached",
                                 expected_version=1)

    with pytest.raises(services.TaskConflict, match="Nothing was saved"):
        services.task_record_contact(task=task, actor=users["manager_a"], channel="sms", outcome="declined",
                                     expected_version=1)

    task.refresh_from_db()
    assert ContactRecord.objects.count() == 1
    assert task.channel == "phone"
    assert task.version == 2


def test_conflict_message_names_last_change(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    services.task_return(task=task, actor=users["platform"], reason="Recording missing", expected_version=1)

    with pytest.raises(services.TaskConflict) as caught:
        services.task_verify(task=task, actor=users["platform"], expected_version=1)

    message = str(caught.value)
    assert str(users["platform"]) in message
    assert "Returned" in message


# Views, two clients


def test_contact_after_return_conflicts(users):
    """The manager opens the form, the platform returns the task meanwhile: the manager's save
    is rejected with the current state, their entries stay in the form."""
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    manager, platform = signed_in(users["manager_a"]), signed_in(users["platform"])
    page = manager.get(reverse("campaigns:task_detail", args=[task.pk]))
    opened_version = page.context["contact_form"]["version"].value()

    services.task_cancel(task=task, actor=users["platform"], reason="Customer moved abroad",
                         expected_version=opened_version)
    response = manager.post(
        reverse("campaigns:task_record_contact", args=[task.pk]),
        contact_data(opened_version, note="Customer asked for a brochure"),
    )

    assert response.status_code == HTTPStatus.CONFLICT
    body = response.content.decode()
    assert "Someone else changed this task" in body
    assert "Cancelled" in body
    assert "Customer asked for a brochure" in body
    assert not ContactRecord.objects.exists()
    task.refresh_from_db()
    assert task.status == Status.CANCELLED
    assert platform.get(reverse("campaigns:task_detail", args=[task.pk])).status_code == HTTPStatus.OK


def test_contact_conflict_keeps_form_with_new_version(users):
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    first_tab, second_tab = signed_in(users["manager_a"]), signed_in(users["manager_a"])
    url = reverse("campaigns:task_record_contact", args=[task.pk])

    first = first_tab.post(url, contact_data(1, note="First tab"))
    second = second_tab.post(url, contact_data(1, note="Second tab"))

    assert first.status_code == HTTPStatus.FOUND
    assert second.status_code == HTTPStatus.CONFLICT
    form = second.context["contact_form"]
    assert form["note"].value() == "Second tab"
    assert int(form["version"].value()) == 2
    assert list(ContactRecord.objects.values_list("note", flat=True)) == ["First tab"]

    resubmitted = second_tab.post(url, contact_data(2, note="Second tab"))
    assert resubmitted.status_code == HTTPStatus.FOUND
    assert ContactRecord.objects.count() == 2


def test_verify_after_return_conflicts(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    first, second = signed_in(users["platform"]), signed_in(users["platform"])
    first.get(reverse("campaigns:task_detail", args=[task.pk]))
    second.get(reverse("campaigns:task_detail", args=[task.pk]))

    returned = first.post(reverse("campaigns:task_return", args=[task.pk]), {"reason": "No recording", "version": 1})
    verified = second.post(reverse("campaigns:task_verify", args=[task.pk]), {"version": 1})

    assert returned.status_code == HTTPStatus.FOUND
    assert verified.status_code == HTTPStatus.CONFLICT
    assert "Someone else changed this task" in verified.content.decode()
    task.refresh_from_db()
    assert task.status == Status.RETURNED
    assert task.verified_by is None


def test_return_after_verify_conflicts(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    first, second = signed_in(users["platform"]), signed_in(users["platform"])

    verified = first.post(reverse("campaigns:task_verify", args=[task.pk]), {"version": 1})
    returned = second.post(reverse("campaigns:task_return", args=[task.pk]), {"reason": "Too short", "version": 1})

    assert verified.status_code == HTTPStatus.FOUND
    assert returned.status_code == HTTPStatus.CONFLICT
    body = returned.content.decode()
    assert "Too short" in body
    task.refresh_from_db()
    assert task.status == Status.VERIFIED
    assert task.return_reason == ""


def test_conflict_on_task_reassigned_away(users):
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    manager = signed_in(users["manager_a"])
    FollowUpTask.objects.filter(pk=task.pk).update(assignee=users["manager_a1"], version=2)

    response = manager.post(reverse("campaigns:task_record_contact", args=[task.pk]), contact_data(1))

    # The task is out of the manager's scope now, so the page is a 404 before any write.
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not ContactRecord.objects.exists()


def test_missing_version_rejected(users):
    task = TaskFactory(assignee=users["manager_a"], status="done")
    client = signed_in(users["platform"])
    response = client.post(reverse("campaigns:task_verify", args=[task.pk]))
    assert response.status_code == HTTPStatus.FOUND
    task.refresh_from_db()
    assert task.status == Status.DONE


# Concurrency on PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_concurrent_contacts_one_wins(users):
    need(connection.vendor == "postgresql", "concurrent saves need PostgreSQL row locks")
    task = TaskFactory(assignee=users["manager_a"], status="in_progress")
    barrier = threading.Barrier(2)
    results = []

    def record(note):
        try:
            barrier.wait()
            services.task_record_contact(task=task, actor=users["manager_a"], channel="phone", outcome="reached",
                                         note=note, expected_version=1)
            results.append("saved")
        except services.TaskConflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(note,)) for note in ("tab one", "tab two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["conflict", "saved"]
    assert ContactRecord.objects.count() == 1
    task.refresh_from_db()
    assert task.version == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_verify_and_return(users):
    need(connection.vendor == "postgresql", "concurrent saves need PostgreSQL row locks")
    task = TaskFactory(assignee=users["manager_a"], status="done")
    barrier = threading.Barrier(2)
    results = {}

    def act(name, call):
        try:
            barrier.wait()
            call()
            results[name] = "saved"
        except services.TaskConflict:
            results[name] = "conflict"
        finally:
            connection.close()

    calls = {
        "verify": lambda: services.task_verify(task=task, actor=users["platform"], expected_version=1),
        "return": lambda: services.task_return(task=task, actor=users["platform"], reason="No note", expected_version=1),
    }
    threads = [threading.Thread(target=act, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results.values()) == ["conflict", "saved"]
    task.refresh_from_db()
    winner = "verify" if results["verify"] == "saved" else "return"
    assert task.status == (Status.VERIFIED if winner == "verify" else Status.RETURNED)
    assert TaskEvent.objects.filter(task=task).count() == 1

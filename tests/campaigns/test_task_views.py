import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campaigns.models import ContactRecord, FollowUpTask, TaskEvent
from tests.factories import CampaignFactory, TaskFactory

pytestmark = pytest.mark.django_db


def listed_task_ids(response):
    return {row.record.pk for row in response.context["table"].page.object_list}


# Task list: scope, filter contract, export, query count


@pytest.mark.parametrize(
    ("role_key", "expected"),
    [
        ("platform", {"manager_a", "manager_a1", "manager_b", "done_a"}),
        ("supervisor_a", {"manager_a", "manager_a1", "done_a"}),
        ("supervisor_b", {"manager_b"}),
    ],
)
def test_task_list_scope(client, users, task_set, role_key, expected):
    client.force_login(users[role_key])
    response = client.get(reverse("campaigns:task_list"))
    assert response.status_code == HTTPStatus.OK
    assert listed_task_ids(response) == {task_set[key].pk for key in expected}


@pytest.mark.parametrize("role_key", ["manager_a", "admin"])
def test_task_list_forbidden(client, users, task_set, role_key):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:task_list")).status_code == HTTPStatus.FORBIDDEN


def test_task_list_filter_contract(client, users, task_set, branch_tree, today):
    overdue = task_set["manager_b"]
    overdue.due_on = today - datetime.timedelta(days=1)
    overdue.save()
    client.force_login(users["platform"])
    url = reverse("campaigns:task_list")
    cases = [
        ({"status": ["done", "verified"]}, {"done_a"}),
        ({"status": ["open"], "branch": branch_tree["a"].pk}, {"manager_a", "manager_a1"}),
        ({"assignee": users["manager_a1"].pk}, {"manager_a1"}),
        ({"overdue": "true"}, {"manager_b"}),
        ({"campaign": task_set["campaign"].pk, "completed_on_time": "true"}, {"done_a"}),
        ({"completed_on_time": "false"}, set()),
        ({"due_to": (today - datetime.timedelta(days=1)).isoformat()}, {"manager_b"}),
    ]
    for params, expected in cases:
        response = client.get(url, params)
        assert listed_task_ids(response) == {task_set[key].pk for key in expected}, params


def test_task_list_completed_late_filter(client, users, task_set, today):
    late = task_set["done_a"]
    late.due_on = today - datetime.timedelta(days=5)
    late.save()
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:task_list"), {"completed_on_time": "false"})
    assert listed_task_ids(response) == {late.pk}


def test_task_list_invalid_filter_shows_nothing(client, users, task_set):
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:task_list"), {"status": "lost"})
    assert response.status_code == HTTPStatus.OK
    assert listed_task_ids(response) == set()
    assert "Some filter values are invalid" in response.content.decode()


def test_task_list_supervisor_cannot_filter_other_branch(client, users, task_set, branch_tree):
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("campaigns:task_list"), {"branch": branch_tree["b"].pk})
    assert listed_task_ids(response) == set()


def test_task_list_export_csv_same_scope(client, users, task_set):
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("campaigns:task_list"), {"_export": "csv"})
    assert response.status_code == HTTPStatus.OK
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    ids = {int(row[0]) for row in rows[1:]}
    assert ids == {task_set[key].pk for key in ("manager_a", "manager_a1", "done_a")}
    phone = task_set["manager_a"].customer.phone
    assert phone not in str(rows)
    assert f"{phone[:3]}****{phone[-4:]}" in str(rows)


def test_task_list_export_xlsx_follows_filter(client, users, task_set):
    client.force_login(users["platform"])
    response = client.get(reverse("campaigns:task_list"), {"_export": "xlsx", "status": "done"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [task_set["done_a"].pk]


def count_task_list_queries(client, total):
    campaign = CampaignFactory()
    for _ in range(total):
        TaskFactory(campaign=campaign)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("campaigns:task_list"))
    assert response.status_code == HTTPStatus.OK
    FollowUpTask.objects.all().delete()
    return len(queries)


def test_task_list_query_count_constant(client, users):
    client.force_login(users["platform"])
    few = count_task_list_queries(client, 5)
    many = count_task_list_queries(client, 50)
    assert few == many
    assert many <= 8, many


@pytest.mark.parametrize("sort", ["status", "campaign", "branch", "due_on"])
def test_task_list_sort_ties_by_id(client, users, today, sort):
    campaign = CampaignFactory()
    tasks = [TaskFactory(campaign=campaign, assignee=users["manager_a"], due_on=today) for _ in range(3)]
    client.force_login(users["platform"])

    ascending = client.get(reverse("campaigns:task_list"), {"sort": sort}).context["table"].page.object_list
    descending = client.get(reverse("campaigns:task_list"), {"sort": f"-{sort}"}).context["table"].page.object_list

    assert [row.record.pk for row in ascending] == [task.pk for task in tasks]
    assert [row.record.pk for row in descending] == [task.pk for task in reversed(tasks)]


def test_task_list_status_filter_no_distinct(client, users, task_set):
    client.force_login(users["platform"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("campaigns:task_list"), {"status": ["open", "done"]})

    task_queries = [query["sql"] for query in queries if '"campaigns_followuptask"' in query["sql"]]
    assert response.status_code == HTTPStatus.OK
    assert task_queries
    assert not [sql for sql in task_queries if "DISTINCT" in sql.upper()]


# My tasks


def test_my_tasks_overdue_first(client, users, today):
    manager = users["manager_a"]
    later = TaskFactory(assignee=manager, due_on=today + datetime.timedelta(days=9))
    sooner = TaskFactory(assignee=manager, due_on=today + datetime.timedelta(days=2), status="in_progress")
    overdue = TaskFactory(assignee=manager, due_on=today - datetime.timedelta(days=1), status="returned",
                          return_reason="Recording is missing")
    very_overdue = TaskFactory(assignee=manager, due_on=today - datetime.timedelta(days=10))
    TaskFactory(assignee=manager, status="done")
    TaskFactory(assignee=users["manager_b"])
    client.force_login(manager)

    response = client.get(reverse("campaigns:my_tasks"))

    assert response.status_code == HTTPStatus.OK
    assert [task.pk for task in response.context["page"]] == [very_overdue.pk, overdue.pk, sooner.pk, later.pk]
    body = response.content.decode()
    assert "Recording is missing" in body
    assert overdue.customer.phone not in body


@pytest.mark.parametrize("role_key", ["platform", "supervisor_a", "admin"])
def test_my_tasks_only_client_managers(client, users, role_key):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:my_tasks")).status_code == HTTPStatus.FORBIDDEN


def test_my_tasks_query_count_constant(client, users):
    client.force_login(users["manager_a"])
    counts = []
    for total in (5, 50):
        TaskFactory.create_batch(total, assignee=users["manager_a"])
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("campaigns:my_tasks"))
        counts.append(len(queries))
        FollowUpTask.objects.all().delete()
    assert counts[0] == counts[1]


# Task detail and actions


def test_task_detail_scope(client, users, task_set):
    client.force_login(users["manager_a"])
    own = client.get(reverse("campaigns:task_detail", args=[task_set["manager_a"].pk]))
    other = client.get(reverse("campaigns:task_detail", args=[task_set["manager_b"].pk]))
    assert own.status_code == HTTPStatus.OK
    assert "Record a contact" in own.content.decode()
    assert task_set["manager_a"].customer.phone not in own.content.decode()
    assert other.status_code == HTTPStatus.NOT_FOUND


def test_task_detail_supervisor_read_only(client, users, task_set):
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("campaigns:task_detail", args=[task_set["manager_a1"].pk]))
    assert response.status_code == HTTPStatus.OK
    assert response.context["contact_form"] is None
    assert response.context["return_form"] is None


def contact_data(**overrides):
    data = {"channel": "phone", "outcome": "converted", "note": "Bought the product", "next_follow_up_on": "", "version": 1}
    data.update(overrides)
    return data


def test_record_contact_by_assignee(client, users, task_set):
    task = task_set["manager_a"]
    client.force_login(users["manager_a"])

    response = client.post(reverse("campaigns:task_record_contact", args=[task.pk]), contact_data(complete="on"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("campaigns:my_tasks")
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.DONE
    assert task.outcome == "converted"
    assert ContactRecord.objects.get(task=task).recorded_by == users["manager_a"]


def test_contact_form_keeps_follow_up_date(client, users, task_set):
    task = task_set["manager_a"]
    agreed = datetime.date(2030, 1, 4)
    FollowUpTask.objects.filter(pk=task.pk).update(next_follow_up_on=agreed)
    client.force_login(users["manager_a"])

    response = client.get(reverse("campaigns:task_detail", args=[task.pk]))

    form = response.context["contact_form"]
    assert form["next_follow_up_on"].value() == agreed
    assert 'value="2030-01-04"' in str(form["next_follow_up_on"])


def test_record_contact_other_manager_404(client, users, task_set):
    client.force_login(users["manager_b"])
    response = client.post(reverse("campaigns:task_record_contact", args=[task_set["manager_a"].pk]), contact_data())
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not ContactRecord.objects.exists()


@pytest.mark.parametrize("role_key", ["supervisor_a", "platform"])
def test_record_contact_non_manager_403(client, users, task_set, role_key):
    client.force_login(users[role_key])
    response = client.post(reverse("campaigns:task_record_contact", args=[task_set["manager_a"].pk]), contact_data())
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not ContactRecord.objects.exists()


def test_record_contact_invalid_form(client, users, task_set):
    client.force_login(users["manager_a"])
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    response = client.post(
        reverse("campaigns:task_record_contact", args=[task_set["manager_a"].pk]),
        contact_data(outcome="", next_follow_up_on=yesterday),
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert f"The next follow-up date {yesterday} is in the past." in response.content.decode()
    assert not ContactRecord.objects.exists()


def test_verify_by_platform(client, users, task_set):
    task = task_set["done_a"]
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:task_verify", args=[task.pk]), {"version": task.version})
    assert response.status_code == HTTPStatus.FOUND
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.VERIFIED
    assert task.verified_by == users["platform"]


@pytest.mark.parametrize("role_key", ["manager_a", "supervisor_a"])
def test_verify_and_return_forbidden(client, users, task_set, role_key):
    task = task_set["done_a"]
    client.force_login(users[role_key])
    assert client.post(reverse("campaigns:task_verify", args=[task.pk])).status_code == HTTPStatus.FORBIDDEN
    response = client.post(reverse("campaigns:task_return", args=[task.pk]), {"reason": "no"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.DONE


def test_return_by_platform_needs_reason(client, users, task_set):
    task = task_set["done_a"]
    client.force_login(users["platform"])
    missing = client.post(reverse("campaigns:task_return", args=[task.pk]), {"reason": "", "version": task.version})
    assert missing.status_code == HTTPStatus.BAD_REQUEST
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.DONE

    response = client.post(
        reverse("campaigns:task_return", args=[task.pk]), {"reason": "Note is empty", "version": task.version}
    )
    assert response.status_code == HTTPStatus.FOUND
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.RETURNED
    assert TaskEvent.objects.get(task=task).note == "Note is empty"


def test_verify_open_task_shows_error(client, users, task_set):
    task = task_set["manager_a"]
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:task_verify", args=[task.pk]), {"version": task.version}, follow=True)
    assert "A task cannot move from Open to Verified." in response.content.decode()
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.OPEN


def test_task_detail_supervisor_other_branch_404(client, users, task_set):
    # The detail page of a supervisor's out-of-scope task is a 404, like the customer page.
    client.force_login(users["supervisor_b"])
    response = client.get(reverse("campaigns:task_detail", args=[task_set["manager_a"].pk]))
    assert response.status_code == HTTPStatus.NOT_FOUND

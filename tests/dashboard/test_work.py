"""The client manager's dashboard, the tier and duration figures, the curated task views,
personal saved filters and the export log. Expected figures come from the `dataset` fixture."""

import datetime
import io
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campaigns.models import FollowUpTask
from portal.dashboard.selectors import task_figures_by, task_figures_total
from portal.dashboard.work_views import work_views_for
from portal.models import ExportLog, SavedFilter
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("dashboard:index")
TASK_LIST = reverse("campaigns:task_list")
SAVE_FILTER = reverse("dashboard:saved_filter_create")


# The client manager's dashboard


def test_manager_sees_own_figures(client, users, dataset):
    client.force_login(users["manager_a"])

    response = client.get(INDEX)

    total = response.context["total_table"].data.data[0]
    # cm_a has tasks 1 (verified), 2 (done) and 7 (open).
    assert (total.tasks, total.done, total.verified) == (3, 2, 1)
    assert [section["name"] for section in response.context["sections"]] == ["campaign", "tier"]
    assert "Your own tasks" in response.content.decode()


def test_manager_figures_do_not_link_task_list(client, users, dataset):
    client.force_login(users["manager_a"])

    body = client.get(INDEX).content.decode()

    assert f'href="{TASK_LIST}?' not in body
    assert reverse("campaigns:my_tasks") in body


def test_manager_export_own_campaigns(client, users, dataset):
    client.force_login(users["manager_a"])

    response = client.get(INDEX, {"_export": "csv", "table": "campaign"})

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [["Campaign X", "2"], ["Campaign Y", "1"]]


def test_manager_export_branch_table_rejected(client, users, dataset):
    client.force_login(users["manager_a"])

    response = client.get(INDEX, {"_export": "csv", "table": "branch"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert ExportLog.objects.count() == 0


@pytest.mark.parametrize(("role", "scope"), [("platform", "The whole bank"), ("supervisor_a", "Branch A and its sub-branches")])
def test_dashboard_names_scope(client, users, dataset, role, scope):
    client.force_login(users[role])

    assert scope in client.get(INDEX).content.decode()


def test_dashboard_uplift_note_platform_only(client, users, dataset):
    client.force_login(users["platform"])
    platform_body = client.get(INDEX).content.decode()
    client.force_login(users["supervisor_a"])
    supervisor_body = client.get(INDEX).content.decode()

    assert 'id="uplift-note"' in platform_body
    assert 'id="uplift-note"' not in supervisor_body


# Tier and duration figures


def test_figures_by_tier(users, dataset, tiers):
    tasks = FollowUpTask.objects.all()

    rows = task_figures_by(tasks=tasks, grouping="tier", user=users["platform"])

    assert [(row.key, row.tasks, row.converted) for row in rows] == [
        (tiers["private"].pk, 1, 1),
        (tiers["gold"].pk, 2, 1),
        (None, 5, 0),
    ]


def test_tier_rows_link_task_list(client, users, dataset, tiers):
    client.force_login(users["platform"])

    body = client.get(INDEX).content.decode()

    work = "status=open&amp;status=in_progress&amp;status=returned&amp;status=done&amp;status=verified"
    assert f'href="{TASK_LIST}?tier={tiers["gold"].pk}&amp;{work}"' in body


def test_average_days_to_complete(users, dataset):
    tasks = dataset["tasks"]
    now = timezone.now()
    FollowUpTask.objects.filter(pk=tasks[1].pk).update(
        created_at=now - datetime.timedelta(days=4), completed_at=now
    )
    FollowUpTask.objects.filter(pk=tasks[5].pk).update(
        created_at=now - datetime.timedelta(days=2), completed_at=now
    )
    # Completed before it was created, as imported history is: left out of the average.
    FollowUpTask.objects.filter(pk=tasks[8].pk).update(
        created_at=now, completed_at=now - datetime.timedelta(days=30)
    )

    total = task_figures_total(tasks=FollowUpTask.objects.filter(pk__in=[tasks[1].pk, tasks[5].pk, tasks[8].pk]))

    assert total.timed == 2
    assert total.average_days == pytest.approx(3.0)


def test_average_days_rolls_up_branches(users, dataset):
    now = timezone.now()
    for number, days in ((1, 4), (2, 2)):
        FollowUpTask.objects.filter(pk=dataset["tasks"][number].pk).update(
            created_at=now - datetime.timedelta(days=days), completed_at=now
        )

    rows = {row.label: row for row in task_figures_by(tasks=FollowUpTask.objects.all(), grouping="branch", user=users["platform"])}

    assert rows["Branch A"].average_days == pytest.approx(3.0)


# Curated task views


def expected_due_this_week(dataset, today, numbers):
    week_start = today - datetime.timedelta(days=today.weekday())
    week_end = week_start + datetime.timedelta(days=6)
    return sum(1 for number in numbers if week_start <= dataset["tasks"][number].due_on <= week_end)


def test_work_views_supervisor(users, dataset, today, branch_tree):
    views = {view.key: view for view in work_views_for(user=users["supervisor_a"], today=today)}

    # Branch A's subtree: task 3 is open and overdue, 2 is done, none is returned.
    assert views["overdue"].count == 1
    assert views["awaiting_verification"].count == 1
    assert views["returned"].count == 0
    assert views["due_this_week"].count == expected_due_this_week(dataset, today, (3, 4, 7))
    assert views["overdue"].url == f"{TASK_LIST}?branch={branch_tree['a'].pk}&overdue=true"
    assert views["overdue"].title == "Overdue in my branch"


def test_work_views_manager(users, dataset, today):
    views = {view.key: view for view in work_views_for(user=users["manager_b"], today=today)}

    # cm_b: task 6 is returned and overdue, 5 is done.
    assert (views["overdue"].count, views["returned"].count, views["awaiting_verification"].count) == (1, 1, 1)
    assert views["returned"].title == "Returned to me"
    assert {view.url for view in views.values()} == {reverse("campaigns:my_tasks")}


@pytest.mark.parametrize("role", ["platform", "supervisor_a", "supervisor_b"])
def test_work_view_counts_match_task_list(client, users, dataset, role):
    client.force_login(users[role])

    for view in work_views_for(user=users[role]):
        response = client.get(view.url)
        listed = len(response.context["table"].rows)
        assert listed == view.count, view.key


# Saved filters


def test_save_filter_redirects_to_it(client, users, dataset):
    client.force_login(users["supervisor_a"])

    response = client.post(
        SAVE_FILTER, {"name": "Overdue A", "page": "campaigns:task_list", "query_string": "overdue=true&_export=csv"}
    )

    saved = SavedFilter.objects.get()
    assert (saved.user, saved.name, saved.page, saved.query_string) == (
        users["supervisor_a"], "Overdue A", "campaigns:task_list", "overdue=true"
    )
    assert response["Location"] == f"{TASK_LIST}?overdue=true"


def test_saved_filter_listed_for_owner_only(client, users, dataset):
    SavedFilter.objects.create(user=users["supervisor_a"], name="Mine only", page="customers:list", query_string="tier=null")

    client.force_login(users["supervisor_a"])
    own_body = client.get(INDEX).content.decode()
    client.force_login(users["supervisor_b"])
    other_body = client.get(INDEX).content.decode()

    assert f'href="{reverse("customers:list")}?tier=null">Mine only</a>' in own_body
    assert "Mine only" not in other_body


def test_saved_filter_duplicate_name_rejected(client, users):
    SavedFilter.objects.create(user=users["platform"], name="Mine", page="campaigns:task_list")
    client.force_login(users["platform"])

    response = client.post(SAVE_FILTER, {"name": "Mine", "page": "customers:list", "query_string": ""}, follow=True)

    assert SavedFilter.objects.count() == 1
    assert "You already have a filter named “Mine”" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": " ", "page": "customers:list"}, "Missing name"),
        ({"name": "X", "page": "admin:index"}, "Unknown page “admin:index”"),
        ({"name": "X", "page": "customers:list", "query_string": "q=" + "x" * 2000}, "too long to save"),
    ],
)
def test_save_filter_invalid(client, users, data, message):
    client.force_login(users["platform"])

    response = client.post(SAVE_FILTER, data, follow=True)

    assert SavedFilter.objects.count() == 0
    assert message in response.content.decode()


def test_delete_saved_filter(client, users):
    saved = SavedFilter.objects.create(user=users["platform"], name="Old", page="campaigns:task_list")
    client.force_login(users["platform"])

    response = client.post(reverse("dashboard:saved_filter_delete", args=[saved.pk]))

    assert response.status_code == HTTPStatus.FOUND
    assert SavedFilter.objects.count() == 0


def test_delete_other_users_filter_404(client, users):
    saved = SavedFilter.objects.create(user=users["supervisor_a"], name="Theirs", page="campaigns:task_list")
    client.force_login(users["supervisor_b"])

    response = client.post(reverse("dashboard:saved_filter_delete", args=[saved.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_saved_filter_forbidden_for_admin(client, users):
    client.force_login(users["admin"])

    response = client.post(SAVE_FILTER, {"name": "X", "page": "customers:list"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert SavedFilter.objects.count() == 0


# Export log and streaming


def test_csv_export_logged(client, users, dataset):
    client.force_login(users["supervisor_a"])

    response = client.get(TASK_LIST, {"status": "open", "_export": "csv"})
    entry = ExportLog.objects.get()
    assert entry.row_count is None  # Nothing has been sent yet.
    b"".join(response.streaming_content)

    entry.refresh_from_db()
    assert (entry.user, entry.view_name, entry.query_string, entry.export_format) == (
        users["supervisor_a"], "campaigns:task_list", "status=open", "csv"
    )
    assert entry.row_count == 2  # Tasks 3 and 7 are open in branch A's subtree.
    assert entry.finished_at is not None


def test_xlsx_export_logged(client, users, dataset):
    client.force_login(users["platform"])

    client.get(reverse("customers:list"), {"_export": "xlsx"})

    entry = ExportLog.objects.get()
    assert (entry.view_name, entry.export_format, entry.row_count) == ("customers:list", "xlsx", 8)


def test_dashboard_export_logged(client, users, dataset):
    client.force_login(users["platform"])

    client.get(INDEX, {"_export": "xlsx", "table": "tier"})

    entry = ExportLog.objects.get()
    assert (entry.view_name, entry.query_string, entry.row_count) == ("dashboard:index", "table=tier", 3)


def test_large_xlsx_export_streamed(client, users, dataset, monkeypatch):
    monkeypatch.setattr("portal.exports.XLSX_STREAM_THRESHOLD", 5)
    client.force_login(users["platform"])

    response = client.get(TASK_LIST, {"_export": "xlsx"})

    assert response.streaming
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 8
    assert ExportLog.objects.get().row_count == 8


def test_export_keeps_sort_in_chunks(client, users, dataset, monkeypatch, branch_tree):
    monkeypatch.setattr("portal.exports.EXPORT_CHUNK_SIZE", 3)
    for _number in range(5):
        TaskFactory(assignee=users["manager_a"])
    client.force_login(users["platform"])

    response = client.get(TASK_LIST, {"_export": "csv", "sort": "-id"})

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    ids = [int(line.split(",")[0]) for line in lines[1:]]
    assert len(ids) == 13
    assert ids == sorted(ids, reverse=True)


def test_export_log_page_platform_only(client, users):
    for role in ("supervisor_a", "manager_a", "admin"):
        client.force_login(users[role])
        assert client.get(reverse("dashboard:export_log")).status_code == HTTPStatus.FORBIDDEN, role


def test_export_log_page_lists_exports(client, users, dataset):
    client.force_login(users["supervisor_a"])
    b"".join(client.get(TASK_LIST, {"status": "open", "_export": "csv"}).streaming_content)
    client.force_login(users["platform"])

    response = client.get(reverse("dashboard:export_log"))

    body = response.content.decode()
    entry = next(iter(response.context["table"].page.object_list)).record
    assert entry.user == users["supervisor_a"]
    assert f'href="{TASK_LIST}?status=open"' in body


def test_export_log_page_query_count_constant(client, users):
    client.force_login(users["platform"])

    def log_exports(count):
        ExportLog.objects.bulk_create(
            ExportLog(user=users["manager_a"], view_name="customers:list", export_format="csv", row_count=1)
            for _number in range(count)
        )

    log_exports(3)
    client.get(reverse("dashboard:export_log"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard:export_log"))
    log_exports(60)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("dashboard:export_log"))

    assert len(many) == len(few)
    assert not any("COUNT(" in query["sql"].upper() for query in many.captured_queries)


def test_manager_dashboard_query_count_constant(client, users, dataset):
    client.force_login(users["manager_a"])
    client.get(INDEX)

    with CaptureQueriesContext(connection) as few:
        client.get(INDEX)
    for _number in range(20):
        TaskFactory(assignee=users["manager_a"], status="done", outcome="converted", completed_at=timezone.now())
    with CaptureQueriesContext(connection) as many:
        response = client.get(INDEX)

    assert response.context["total_table"].data.data[0].tasks == 23
    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("role", "analysis", "export_log"),
    [("platform", True, True), ("supervisor_a", True, False), ("manager_a", False, False)],
)
def test_dashboard_links_by_role(client, users, role, analysis, export_log):
    client.force_login(users[role])

    body = client.get(INDEX).content.decode()

    assert (f'href="{reverse("dashboard:next_campaign_analysis")}"' in body) is analysis
    assert (f'href="{reverse("dashboard:export_log")}"' in body) is export_log

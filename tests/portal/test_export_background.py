"""Exports above settings.EXPORT_BACKGROUND_ROWS: written by a Celery worker as the user who
asked, shown with a progress bar, downloadable only by that user, removed when expired."""

import datetime
import io
import os
import time
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from portal.export_files import export_file_write, export_files_remove_expired
from portal.models import AuditEvent, ExportLog, Role
from tests.celery_workers import worker_on_own_queue
from tests.factories import TaskFactory

TASK_LIST = reverse("campaigns:task_list")
WORKER_TIMEOUT_SECONDS = 60


@pytest.fixture
def export_settings(settings, tmp_path):
    settings.EXPORT_BACKGROUND_ROWS = 3
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings


@pytest.fixture
def tasks_a_and_b(users):
    """Five tasks in branch A's subtree, two in branch B."""
    for number in range(5):
        manager = users["manager_a"] if number % 2 else users["manager_a1"]
        TaskFactory(assignee=manager, customer__name=f"客户{number}", customer__branch=manager.branch)
    for _number in range(2):
        TaskFactory(assignee=users["manager_b"], customer__branch=users["manager_b"].branch)


def _xlsx_rows(body: bytes):
    return [list(row) for row in load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]


def _ready_export(user, root, *, finished_at=None, content="\ufeffTask\r\n1\r\n"):
    root.mkdir(parents=True, exist_ok=True)
    entry = ExportLog.objects.create(
        user=user, view_name="campaigns:task_list", path=TASK_LIST, export_format="csv",
        file_status=ExportLog.FileStatus.READY, row_count=1, download_name="tasks.csv",
        finished_at=finished_at or timezone.now(),
    )
    (root / f"{entry.pk}.csv").write_text(content, encoding="utf-8")
    ExportLog.objects.filter(pk=entry.pk).update(file_path=f"{entry.pk}.csv")
    entry.refresh_from_db()
    return entry


@pytest.mark.django_db
def test_small_export_stays_synchronous(client, users, export_settings):
    export_settings.EXPORT_BACKGROUND_ROWS = 10
    TaskFactory(assignee=users["manager_a"])
    client.force_login(users["platform"])

    response = client.get(TASK_LIST, {"_export": "csv"})

    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    assert ExportLog.objects.get().file_status == ""


@pytest.mark.django_db
def test_large_export_queued_and_redirected(client, users, tasks_a_and_b, export_settings):
    client.force_login(users["supervisor_a"])

    response = client.get(TASK_LIST, {"_export": "xlsx", "sort": "-id"})

    entry = ExportLog.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("dashboard:export_file", args=[entry.pk])
    assert entry.file_status == ExportLog.FileStatus.QUEUED
    assert entry.expected_rows == 5
    assert entry.query_string == "sort=-id"
    assert entry.path == TASK_LIST
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert 'id="export-progress"' in page


@pytest.mark.django_db
def test_worker_rebuilds_scope_from_current_user(client, users, tasks_a_and_b, export_settings, branch_tree):
    """The file follows the user's scope when the worker runs, not when the export was asked for."""
    supervisor = users["supervisor_a"]
    client.force_login(supervisor)
    client.get(TASK_LIST, {"_export": "csv"})
    entry = ExportLog.objects.get()
    supervisor.branch = branch_tree["b"]
    supervisor.save()

    export_file_write(export_log_id=entry.pk)

    entry.refresh_from_db()
    assert entry.file_status == ExportLog.FileStatus.READY
    assert entry.row_count == 2
    lines = client.get(reverse("dashboard:export_file_download", args=[entry.pk])).getvalue().decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 2


@pytest.mark.django_db
def test_worker_fails_export_after_role_lost(client, users, tasks_a_and_b, export_settings):
    supervisor = users["supervisor_a"]
    client.force_login(supervisor)
    client.get(TASK_LIST, {"_export": "csv"})
    entry = ExportLog.objects.get()
    supervisor.role = Role.CLIENT_MANAGER
    supervisor.save()

    export_file_write(export_log_id=entry.pk)

    entry.refresh_from_db()
    assert entry.file_status == ExportLog.FileStatus.FAILED
    assert entry.file_path == ""
    assert not list(export_settings.EXPORT_ROOT.glob("*"))
    page = client.get(reverse("dashboard:export_file", args=[entry.pk])).content.decode()
    assert 'id="export-failed"' in page


@pytest.mark.django_db
def test_progress_partial_polls_until_finished(client, users, export_settings):
    entry = ExportLog.objects.create(
        user=users["manager_a"], view_name="campaigns:task_list", path=TASK_LIST, export_format="xlsx",
        file_status=ExportLog.FileStatus.RUNNING, expected_rows=200, rows_written=50,
    )
    client.force_login(users["manager_a"])
    url = reverse("dashboard:export_file_progress", args=[entry.pk])

    running = client.get(url, headers={"HX-Request": "true"})
    ExportLog.objects.filter(pk=entry.pk).update(file_status=ExportLog.FileStatus.READY)
    finished = client.get(url, headers={"HX-Request": "true"})

    body = running.content.decode()
    assert running.status_code == HTTPStatus.OK
    assert "hx-get" in body
    assert "50 of 200" in body
    assert 'aria-valuenow="25"' in body
    assert not running.has_header("HX-Refresh")
    assert finished["HX-Refresh"] == "true"
    assert "hx-get" not in finished.content.decode()


@pytest.mark.django_db
def test_progress_partial_in_chinese(client, users, export_settings):
    users["manager_a"].language = "zh-hans"
    users["manager_a"].save()
    entry = ExportLog.objects.create(
        user=users["manager_a"], view_name="campaigns:task_list", path=TASK_LIST, export_format="xlsx",
        file_status=ExportLog.FileStatus.QUEUED, expected_rows=200,
    )
    client.force_login(users["manager_a"])

    body = client.get(reverse("dashboard:export_file_progress", args=[entry.pk])).content.decode()

    assert "等待" in body


@pytest.mark.django_db
@pytest.mark.parametrize("other", ["platform", "admin", "supervisor_a", "manager_a1"])
def test_export_pages_only_for_owner(client, users, export_settings, other):
    entry = _ready_export(users["manager_a"], export_settings.EXPORT_ROOT)
    client.force_login(users[other])

    for name in ("dashboard:export_file", "dashboard:export_file_progress", "dashboard:export_file_download"):
        assert client.get(reverse(name, args=[entry.pk])).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_owner_downloads_file(client, users, export_settings):
    entry = _ready_export(users["manager_a"], export_settings.EXPORT_ROOT)
    client.force_login(users["manager_a"])

    page = client.get(reverse("dashboard:export_file", args=[entry.pk])).content.decode()
    response = client.get(reverse("dashboard:export_file_download", args=[entry.pk]))

    assert reverse("dashboard:export_file_download", args=[entry.pk]) in page
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="tasks.csv"'
    assert response.getvalue().decode("utf-8-sig") == "Task\r\n1\r\n"


@pytest.mark.django_db
def test_expired_files_removed(client, users, export_settings):
    old = _ready_export(users["manager_a"], export_settings.EXPORT_ROOT, finished_at=timezone.now() - datetime.timedelta(hours=25))
    recent = _ready_export(users["manager_a"], export_settings.EXPORT_ROOT)
    old_file = export_settings.EXPORT_ROOT / old.file_path
    old_partial = export_settings.EXPORT_ROOT / "98.part"
    old_partial.write_bytes(b"left by a worker that died")
    hours_ago_25 = (timezone.now() - datetime.timedelta(hours=25)).timestamp()
    os.utime(old_partial, (hours_ago_25, hours_ago_25))
    recent_partial = export_settings.EXPORT_ROOT / "99.part"
    recent_partial.write_bytes(b"being written")

    call_command("remove_export_files", stdout=io.StringIO())

    old.refresh_from_db()
    recent.refresh_from_db()
    assert not old_file.exists()
    assert old.file_status == ExportLog.FileStatus.EXPIRED
    assert recent.file_status == ExportLog.FileStatus.READY
    assert (export_settings.EXPORT_ROOT / recent.file_path).exists()
    assert not old_partial.exists()
    assert recent_partial.exists()
    assert export_files_remove_expired() == 0
    client.force_login(users["manager_a"])
    assert client.get(reverse("dashboard:export_file_download", args=[old.pk])).status_code == HTTPStatus.NOT_FOUND
    assert 'id="export-expired"' in client.get(reverse("dashboard:export_file", args=[old.pk])).content.decode()


@pytest.fixture
def export_worker(redis_url):
    with worker_on_own_queue(redis_url, "exports-test") as worker:
        yield worker


@pytest.mark.redis
def test_worker_writes_large_export(transactional_db, users, tasks_a_and_b, export_settings, export_worker):
    """A real worker on Redis writes the file while the page polls. The file equals the
    synchronous export of the same page, filter and sort, in the user's language."""
    supervisor = users["supervisor_a"]
    supervisor.language = "zh-hans"
    supervisor.save()
    client = Client()
    client.force_login(supervisor)
    params = {"_export": "xlsx", "sort": "-customer_name"}

    response = client.get(TASK_LIST, params)
    assert response.status_code == HTTPStatus.FOUND
    entry = ExportLog.objects.get()
    deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        progress = client.get(reverse("dashboard:export_file_progress", args=[entry.pk]), headers={"HX-Request": "true"})
        if progress.has_header("HX-Refresh"):
            break
        assert 'id="export-progress"' in progress.content.decode()
        time.sleep(0.2)
    entry.refresh_from_db()
    assert entry.file_status == ExportLog.FileStatus.READY
    page = client.get(reverse("dashboard:export_file", args=[entry.pk])).content.decode()
    assert 'id="export-ready"' in page
    download = client.get(reverse("dashboard:export_file_download", args=[entry.pk]))
    background_rows = _xlsx_rows(download.getvalue())

    export_settings.EXPORT_BACKGROUND_ROWS = 0
    synchronous_rows = _xlsx_rows(client.get(TASK_LIST, params).content)

    assert background_rows == synchronous_rows
    assert background_rows[0][0] == "任务"
    assert len(background_rows) == 1 + 5
    assert entry.row_count == 5
    assert download["Content-Disposition"] == 'attachment; filename="tasks.xlsx"'
    exports = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=supervisor)
    assert exports.count() == 2  # The background export and the synchronous one.

"""Large exports written to a file by a Celery worker, downloaded later by the requesting user.

The request for a large export only records it (ExportLog with a file status) and
queues portal.export_file_write. The worker never receives a queryset: it requests the same
page with the same query string as the same user, so the page's own view builds the table
again with that user's current role, scope, filter and sort. The view's export_table call
finds the ExportLog on the request and writes the file instead of a response
(portal.exports.export_file_save)."""

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, QueryDict
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from django.utils import timezone, translation

from portal.models import ExportLog

logger = logging.getLogger(__name__)

# The ExportLog a worker's request carries, which makes export_table write the file.
BACKGROUND_EXPORT_ATTRIBUTE = "background_export"
PARTIAL_SUFFIX = ".part"


class ExportFileFailed(Exception):
    """A background export that could not be written; the message is shown to the user."""


def background_rows_limit() -> int:
    """Return the row count above which exports run in a worker; 0 or less turns them off."""
    return settings.EXPORT_BACKGROUND_ROWS


def export_root() -> Path:
    return Path(settings.EXPORT_ROOT)


def export_file_queue(*, entry: ExportLog, expected_rows: int) -> None:
    """Mark `entry` as a background export and queue its worker once the transaction commits."""
    from portal.tasks import export_file_write_task

    ExportLog.objects.filter(pk=entry.pk).update(
        file_status=ExportLog.FileStatus.QUEUED, expected_rows=expected_rows
    )
    entry.file_status = ExportLog.FileStatus.QUEUED
    entry.expected_rows = expected_rows
    logger.info("Export %s: %s rows queued for a worker", entry.pk, expected_rows)
    transaction.on_commit(lambda: export_file_write_task.delay(export_log_id=entry.pk))


def export_file_write(*, export_log_id: int) -> None:
    """Write the file of a queued export by requesting its page again as its user.

    A redelivered task finds the export READY or FAILED and does nothing. An export left
    RUNNING by a worker that died is written again from the start."""
    entry = ExportLog.objects.select_related("user").filter(pk=export_log_id).first()
    if entry is None or entry.file_status not in (ExportLog.FileStatus.QUEUED, ExportLog.FileStatus.RUNNING):
        logger.info(
            "Export %s: not queued (%s), task skipped", export_log_id, entry.file_status if entry else "not found"
        )
        return
    ExportLog.objects.filter(pk=entry.pk).update(file_status=ExportLog.FileStatus.RUNNING, rows_written=0)
    try:
        _request_page(entry)
    except ExportFileFailed as error:
        logger.warning("Export %s: failed: %s", entry.pk, error)
        _mark_failed(entry, str(error))
        return
    except Exception as error:
        # Left RUNNING, the export would show a progress bar forever.
        logger.exception("Export %s: failed unexpectedly", entry.pk)
        _mark_failed(entry, str(error))
        raise
    entry.refresh_from_db(fields=["file_status"])
    if entry.file_status != ExportLog.FileStatus.READY:
        _mark_failed(entry, "The page did not produce an export.")


def _request_page(entry: ExportLog) -> None:
    user = entry.user
    if not user.is_active:
        raise ExportFileFailed(f"User {user.pk} is inactive.")
    query = QueryDict(entry.query_string, mutable=True)
    query["_export"] = entry.export_format
    request = RequestFactory().get(entry.path, query)
    request.user = user
    setattr(request, BACKGROUND_EXPORT_ATTRIBUTE, entry)
    try:
        request.resolver_match = resolve(entry.path)
    except Resolver404 as error:
        raise ExportFileFailed(f"Page {entry.path} not found.") from error
    match = request.resolver_match
    with translation.override(entry.language or settings.LANGUAGE_CODE):
        request.LANGUAGE_CODE = translation.get_language()
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except (PermissionDenied, Http404) as error:
            # The user lost the role or the scope between the request and the worker.
            raise ExportFileFailed(f"User {user.pk} may no longer read {entry.path}.") from error
    if response.status_code >= 400:
        raise ExportFileFailed(f"Page {entry.path} returned HTTP {response.status_code}.")


def _mark_failed(entry: ExportLog, failure: str) -> None:
    ExportLog.objects.filter(pk=entry.pk).update(
        file_status=ExportLog.FileStatus.FAILED, failure=failure[:1000], finished_at=timezone.now()
    )
    partial = export_root() / f"{entry.pk}{PARTIAL_SUFFIX}"
    partial.unlink(missing_ok=True)


def export_file_path(entry: ExportLog) -> Path | None:
    """Return the path of a READY export's file, or None when it has none (any more)."""
    if entry.file_status != ExportLog.FileStatus.READY or not entry.file_path:
        return None
    path = export_root() / entry.file_path
    return path if path.is_file() else None


def export_files_remove_expired(*, now=None) -> int:
    """Delete the files written more than EXPORT_FILE_RETENTION_HOURS ago, mark their exports
    EXPIRED, and return how many were removed. Partial files that a worker left behind when it
    died are deleted once they are as old."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.EXPORT_FILE_RETENTION_HOURS)
    expired = ExportLog.objects.filter(file_status=ExportLog.FileStatus.READY, finished_at__lt=cutoff)
    removed = 0
    for entry in expired.only("pk", "file_path"):
        if entry.file_path:
            (export_root() / entry.file_path).unlink(missing_ok=True)
        ExportLog.objects.filter(pk=entry.pk).update(file_status=ExportLog.FileStatus.EXPIRED, file_path="")
        removed += 1
    if export_root().is_dir():
        for partial in export_root().glob(f"*{PARTIAL_SUFFIX}"):
            if partial.stat().st_mtime < cutoff.timestamp():
                partial.unlink(missing_ok=True)
                removed += 1
    if removed:
        logger.info("Export files: %s expired files removed", removed)
    return removed

"""Scheduled roster imports from a folder (settings.ROSTER_IMPORT_FOLDER).

Core banking or an operator drops roster files into the folder. Each run of the Celery task
customers.roster_folder_import picks up the CSV and XLSX files at the folder's top level. It
commits each file through roster_file_commit, as the import_roster command does (all rows or
none), records it in the import history and moves it into processed/ or failed/ below the
folder. A file whose content (SHA-256) was already committed or rejected is not imported
again and goes to failed/.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from customers.models import RosterImport
from customers.services import CommitMode

from .mapping import ROSTER_FIELDS, mapping_suggest
from .parsing import FileFormatError, table_read
from .report import ImportInvalid
from .services import ImportSource, roster_file_commit, roster_file_failure_record

logger = logging.getLogger(__name__)

PROCESSING = "processing"
PROCESSED = "processed"
FAILED = "failed"
FILE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}
# Files modified more recently than this may still be being copied into the folder, so they
# wait for the next run.
SETTLE_SECONDS = 60
HASH_CHUNK_BYTES = 1024 * 1024


@dataclass
class FolderFileResult:
    name: str
    outcome: str  # PROCESSED or FAILED
    roster_import_id: int | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "outcome": self.outcome, "roster_import_id": self.roster_import_id, "message": self.message}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files_ready(folder: Path, *, settle_seconds: int) -> list[Path]:
    """Return the roster files at the top of `folder` that were last modified at least
    `settle_seconds` ago, oldest first. Hidden files and other suffixes are left alone."""
    now = time.time()
    ready = []
    for path in folder.iterdir():
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in FILE_SUFFIXES:
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        ready.append(path)
    return sorted(ready, key=lambda path: (path.stat().st_mtime, path.name))


def file_move(path: Path, folder: Path) -> Path:
    """Move `path` into `folder`, adding a number to the name when a file of that name is there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    number = 1
    while target.exists():
        target = folder / f"{path.stem}.{number}{path.suffix}"
        number += 1
    return path.rename(target)


def earlier_import_of(digest: str) -> RosterImport | None:
    """Return a committed or rejected import of a file with this SHA-256, if there is one.
    Failed imports do not count, so a file that failed on a database error can be dropped again."""
    return (
        RosterImport.objects.filter(
            options__sha256=digest, status__in=[RosterImport.Status.COMMITTED, RosterImport.Status.REJECTED]
        )
        .order_by("created_at")
        .first()
    )


def roster_folder_import(*, folder: Path | str | None = None, settle_seconds: int = SETTLE_SECONDS) -> list[FolderFileResult]:
    """Import every ready file of the folder (settings.ROSTER_IMPORT_FOLDER by default) and
    return what happened to each. Does nothing when no folder is configured.

    A file is claimed by moving it into processing/ first, so two workers running at once
    never import the same file."""
    folder = Path(folder or settings.ROSTER_IMPORT_FOLDER or "")
    if not str(folder) or str(folder) == ".":
        logger.debug("Folder import skipped: ROSTER_IMPORT_FOLDER is not set")
        return []
    if not folder.is_dir():
        logger.error("Folder import skipped: ROSTER_IMPORT_FOLDER %s is not a directory", folder)
        return []
    results = []
    for path in folder_files_ready(folder, settle_seconds=settle_seconds):
        try:
            claimed = file_move(path, folder / PROCESSING)
        except FileNotFoundError:
            # Another worker claimed it between the listing and the move.
            continue
        try:
            results.append(folder_file_import(claimed, folder=folder))
        except Exception as error:  # noqa: BLE001 - one broken file must not stop the rest or stay claimed
            results.append(folder_file_fail(claimed, folder=folder, error=error))
    return results


def folder_file_fail(path: Path, *, folder: Path, error: Exception) -> FolderFileResult:
    """Move a file whose import raised an unexpected error into failed/ and record the failure,
    so it neither stays in processing/ for good nor leaves its history entry unfinished."""
    logger.exception("Folder import: %s failed unexpectedly", path.name)
    message = f"{type(error).__name__}: {error}"
    digest = file_sha256(path)
    started = latest_folder_import(digest)
    if started is not None and started.status == RosterImport.Status.UPLOADED:
        RosterImport.objects.filter(pk=started.pk).update(
            status=RosterImport.Status.FAILED, summary={**started.summary, "failure": message}, finished_at=timezone.now()
        )
        failed_id = started.pk
    else:
        failed_id = roster_file_failure_record(
            path=path, user=None, source=ImportSource.FOLDER, options={"sha256": digest}, message=message
        ).pk
    file_move(path, folder / FAILED)
    return FolderFileResult(name=path.name, outcome=FAILED, roster_import_id=failed_id, message=message)


def folder_file_import(path: Path, *, folder: Path) -> FolderFileResult:
    """Import one claimed file and move it into processed/ or failed/."""
    digest = file_sha256(path)
    earlier = earlier_import_of(digest)
    if earlier is not None:
        logger.warning(
            "Folder import: %s has the same content as import %s (%s), so it is not imported again",
            path.name, earlier.pk, earlier.original_name,
        )
        file_move(path, folder / FAILED)
        return FolderFileResult(
            name=path.name, outcome=FAILED, roster_import_id=earlier.pk,
            message=f"same content as import {earlier.pk} ({earlier.original_name})",
        )
    try:
        table = table_read(path=path)
    except FileFormatError as error:
        failed = roster_file_failure_record(
            path=path, user=None, source=ImportSource.FOLDER, options={"sha256": digest}, message=str(error)
        )
        file_move(path, folder / FAILED)
        return FolderFileResult(name=path.name, outcome=FAILED, roster_import_id=failed.pk, message=str(error))
    try:
        mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
        # NOTE: folder imports apply no import profile and no default branch. The files need
        # headers that the suggested mapping recognises, and a branch column.
        roster_import, report = roster_file_commit(
            path=path,
            table=table,
            mapping=mapping,
            user=None,
            source=ImportSource.FOLDER,
            options={"sha256": digest},
            default_branch=None,
            mode=CommitMode.REJECT,
        )
    except ImportInvalid as error:
        roster_import = latest_folder_import(digest)
        logger.warning("Folder import: %s not imported: %s", path.name, error)
        file_move(path, folder / FAILED)
        return FolderFileResult(
            name=path.name, outcome=FAILED, roster_import_id=roster_import.pk if roster_import else None, message=str(error)
        )
    file_move(path, folder / PROCESSED)
    logger.info(
        "Folder import: %s committed as import %s: %s new, %s changed, %s unchanged",
        path.name, roster_import.pk, report.new, report.changed, report.unchanged,
    )
    return FolderFileResult(name=path.name, outcome=PROCESSED, roster_import_id=roster_import.pk)


def latest_folder_import(digest: str) -> RosterImport | None:
    """Return the import roster_file_commit recorded for a file before it raised, if any."""
    return RosterImport.objects.filter(options__sha256=digest).order_by("-created_at", "-pk").first()

"""Celery tasks of the customers app: committing large roster files in a worker."""

import logging

from celery import shared_task

from portal.models import User

from .imports.report import ImportInvalid
from .imports.services import roster_import_apply, roster_import_progress_store, roster_import_transition
from .models import RosterImport

logger = logging.getLogger(__name__)


@shared_task(name="customers.roster_import_commit", acks_late=True)
def roster_import_commit_task(*, roster_import_id: int, user_id: int) -> dict:
    """Commit a queued import (status COMMITTING) and return its summary.

    Safe to run twice: a redelivered task finds the import committed or failed and does
    nothing, because the status changes in the same transaction as the rows."""
    roster_import = RosterImport.objects.filter(pk=roster_import_id).first()
    if roster_import is None or roster_import.status != RosterImport.Status.COMMITTING:
        logger.info(
            "Import %s: not committing (%s), task skipped",
            roster_import_id, roster_import.status if roster_import else "not found",
        )
        return {}
    user = User.objects.get(pk=user_id)

    def progress(phase: str, done: int, total: int) -> None:
        roster_import_progress_store(roster_import_id=roster_import_id, phase=phase, done=done, total=total)

    try:
        report = roster_import_apply(roster_import=roster_import, user=user, progress=progress)
    except ImportInvalid as error:
        # A database failure has already marked the import failed; anything else here (a
        # missing file, a deleted default branch) has not.
        logger.warning("Import %s: background commit failed: %s", roster_import_id, error)
        if RosterImport.objects.filter(pk=roster_import_id, status=RosterImport.Status.COMMITTING).exists():
            roster_import_transition(
                roster_import=roster_import,
                to_status=RosterImport.Status.FAILED,
                summary={**roster_import.summary, "failure": str(error)},
            )
        return {}
    except Exception as error:
        # Left in COMMITTING, the import would show a progress bar forever.
        logger.exception("Import %s: background commit failed unexpectedly", roster_import_id)
        roster_import_transition(
            roster_import=roster_import,
            to_status=RosterImport.Status.FAILED,
            summary={**roster_import.summary, "failure": str(error)},
        )
        raise
    return report.as_summary()


@shared_task(name="customers.roster_folder_import")
def roster_folder_import_task() -> list[dict]:
    """Import the roster files waiting in settings.ROSTER_IMPORT_FOLDER and return what
    happened to each file. Returns at once when no folder is configured."""
    from .imports.folder import roster_folder_import

    return [result.as_dict() for result in roster_folder_import()]

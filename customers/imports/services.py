"""The life of an uploaded file (RosterImport): upload, map and preview, then commit or reject.

Roster files go through customers.services and past-outcomes files through
campaigns.outcomes. Each step stores its counts and the first row errors on the record.
"""

import datetime
import logging

from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.outcomes import outcomes_import_commit, outcomes_import_preview
from customers.models import Branch, RosterImport
from customers.services import CommitMode, roster_import_commit, roster_import_preview
from portal.models import User

from .mapping import OUTCOME_FIELDS, ROSTER_FIELDS, ImportField, mapping_suggest
from .parsing import FileFormatError, ParsedTable, ReadOptions, table_read
from .report import ImportInvalid, ImportReport, ImportStateError

logger = logging.getLogger(__name__)

Status = RosterImport.Status
ALLOWED_MOVES = {
    Status.UPLOADED: {Status.PREVIEWED, Status.REJECTED, Status.FAILED},
    # A previewed file can be mapped again, which previews it again.
    Status.PREVIEWED: {Status.PREVIEWED, Status.COMMITTED, Status.REJECTED, Status.FAILED},
}
FINAL_STATUSES = {Status.COMMITTED, Status.REJECTED, Status.FAILED}


def import_fields(*, kind: str) -> list[ImportField]:
    return OUTCOME_FIELDS if kind == RosterImport.Kind.OUTCOMES else ROSTER_FIELDS


def roster_import_create(*, user: User, uploaded_file: UploadedFile, kind: str, options: dict) -> RosterImport:
    """Store the uploaded file with a suggested mapping. Raises FileFormatError, and keeps
    nothing, when the file cannot be read as a table."""
    with transaction.atomic():
        roster_import = RosterImport(
            kind=kind, original_name=uploaded_file.name, options=options, created_by=user
        )
        roster_import.file.save(uploaded_file.name, uploaded_file, save=False)
        try:
            table = roster_import_table(roster_import=roster_import)
        except FileFormatError:
            roster_import.file.delete(save=False)
            raise
        roster_import.mapping = mapping_suggest(headers=table.headers, fields=import_fields(kind=kind))
        roster_import.summary = {"total": len(table.rows)}
        roster_import.save()
    logger.info(
        "Import %s: %s uploaded %s (%s, %s rows)",
        roster_import.pk, user.username, roster_import.original_name, kind, len(table.rows),
    )
    return roster_import


def roster_import_table(*, roster_import: RosterImport) -> ParsedTable:
    return table_read(
        path=roster_import.file.path,
        options=ReadOptions.from_dict(roster_import.options),
        original_name=roster_import.original_name,
    )


def roster_import_transition(
    *, roster_import: RosterImport, to_status: str, summary: dict | None = None, errors: list | None = None
) -> RosterImport:
    """Move the import to `to_status` under a row lock, storing the counts and errors given.

    Raises ImportStateError when the move is not allowed, e.g. committing a rejected file."""
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
        if to_status not in ALLOWED_MOVES.get(locked.status, set()):
            raise ImportStateError(
                _("Import %(id)s is %(status)s and cannot be moved to %(to_status)s.")
                % {"id": locked.pk, "status": locked.get_status_display(), "to_status": Status(to_status).label}
            )
        locked.status = to_status
        if summary is not None:
            locked.summary = summary
        if errors is not None:
            locked.errors = errors
        if to_status in FINAL_STATUSES:
            locked.finished_at = timezone.now()
        locked.mapping = roster_import.mapping
        locked.save()
    return locked


def roster_import_map(*, roster_import: RosterImport, mapping: dict[str, str], user: User) -> RosterImport:
    """Store the mapping and preview the file with it. Raises ImportInvalid (MappingInvalid,
    FileFormatError) when the mapping or the file is unusable."""
    if roster_import.status not in ALLOWED_MOVES or Status.PREVIEWED not in ALLOWED_MOVES[roster_import.status]:
        raise ImportStateError(_("This import is already finished and cannot be previewed again."))
    table = roster_import_table(roster_import=roster_import)
    if roster_import.kind == RosterImport.Kind.OUTCOMES:
        report = outcomes_import_preview(table=table, mapping=mapping)
    else:
        report = roster_import_preview(
            table=table, mapping=mapping, default_branch=default_branch_get(roster_import=roster_import)
        )
    roster_import.mapping = mapping
    logger.info("Import %s: previewed by %s, %s invalid rows of %s", roster_import.pk, user.username, report.invalid, report.total)
    return roster_import_transition(
        roster_import=roster_import,
        to_status=Status.PREVIEWED,
        summary=report.as_summary(),
        errors=[error.as_dict() for error in report.errors],
    )


def roster_import_apply(*, roster_import: RosterImport, user: User) -> ImportReport:
    """Commit the valid rows of a previewed import and mark it committed.

    A database failure rolls the rows back, marks the import failed and raises ImportInvalid."""
    if roster_import.status != Status.PREVIEWED:
        raise ImportStateError(_("Preview the import before committing it."))
    table = roster_import_table(roster_import=roster_import)
    try:
        if roster_import.kind == RosterImport.Kind.OUTCOMES:
            report = outcomes_import_commit(
                table=table,
                mapping=roster_import.mapping,
                campaign_name=roster_import.options.get("campaign_name", ""),
                campaign_date=campaign_date_get(roster_import=roster_import),
                user=user,
                mode=CommitMode.VALID_ROWS,
            )
        else:
            report = roster_import_commit(
                table=table,
                mapping=roster_import.mapping,
                default_branch=default_branch_get(roster_import=roster_import),
                user=user,
                mode=CommitMode.VALID_ROWS,
            )
    except DatabaseError as error:
        logger.exception("Import %s: commit by %s failed", roster_import.pk, user.username)
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.FAILED,
            summary={**roster_import.summary, "failure": str(error)},
        )
        raise ImportInvalid(_("The import failed and nothing was written: %(error)s") % {"error": error}) from error
    roster_import_transition(
        roster_import=roster_import,
        to_status=Status.COMMITTED,
        summary=report.as_summary(),
        errors=[error.as_dict() for error in report.errors],
    )
    logger.info("Import %s: committed by %s", roster_import.pk, user.username)
    return report


def roster_import_reject(*, roster_import: RosterImport, user: User) -> RosterImport:
    """Mark the import rejected; nothing from the file is written."""
    rejected = roster_import_transition(roster_import=roster_import, to_status=Status.REJECTED)
    logger.info("Import %s: rejected by %s", roster_import.pk, user.username)
    return rejected


def default_branch_get(*, roster_import: RosterImport) -> Branch | None:
    code = roster_import.options.get("default_branch")
    if not code:
        return None
    branch = Branch.objects.filter(code=code).first()
    if branch is None:
        raise ImportInvalid(_("The default branch %(code)r no longer exists.") % {"code": code})
    return branch


def campaign_date_get(*, roster_import: RosterImport) -> datetime.date | None:
    value = roster_import.options.get("campaign_date")
    return datetime.date.fromisoformat(value) if value else None

"""The life of an uploaded file (RosterImport): upload, map and preview, then commit or reject.

Roster files go through customers.services and past-outcomes files through
campaigns.outcomes. Each step stores its counts and the first row errors on the record.
"""

import datetime
import logging
from decimal import Decimal

from pathlib import Path

from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.outcomes import outcomes_import_commit, outcomes_import_preview
from customers.models import Branch, ImportProfile, RosterImport
from customers.services import (
    DEFAULT_ERROR_LIMIT,
    CommitMode,
    ProgressCallback,
    roster_import_commit,
    roster_import_preview,
)

from .history import DEFAULT_AUM_DROP_PERCENT
from portal.models import User

from .mapping import (
    OUTCOME_FIELDS,
    ROSTER_FIELDS,
    ImportField,
    mapping_from_profile,
    mapping_suggest,
    mapping_validate,
    profile_mapping_build,
)
from .parsing import FileFormatError, ParsedTable, ReadOptions, table_read
from .report import ImportInvalid, ImportRejected, ImportReport, ImportStateError

logger = logging.getLogger(__name__)

Status = RosterImport.Status
ALLOWED_MOVES = {
    # Command-line and folder imports commit straight from the uploaded file. The web pages
    # still need a preview first, which roster_import_apply checks.
    Status.UPLOADED: {Status.PREVIEWED, Status.COMMITTED, Status.REJECTED, Status.FAILED},
    # A previewed file can be mapped again, which previews it again.
    Status.PREVIEWED: {Status.PREVIEWED, Status.COMMITTING, Status.COMMITTED, Status.REJECTED, Status.FAILED},
    Status.COMMITTING: {Status.COMMITTED, Status.FAILED},
}
# Files with more data rows than this are committed by a Celery worker, so the request does
# not wait for them and the operator can follow the progress or leave the page.
BACKGROUND_ROW_THRESHOLD = 1000
# The share of the progress bar for checking rows; writing takes the rest.
CHECKING_SHARE = 60
FINAL_STATUSES = {Status.COMMITTED, Status.REJECTED, Status.FAILED}
# An error limit no file reaches: a roster of this many rows would not fit in memory anyway.
ALL_ERRORS = 10**9
# Row errors kept on the import record. When there are more, roster_import_errors_all checks
# the file again to list them all.
STORED_ERROR_LIMIT = DEFAULT_ERROR_LIMIT


class ImportSource(models.TextChoices):
    """The origin of an import's file, stored in RosterImport.options["source"]. Imports
    without the key were uploaded on the web pages."""

    WEB = "web", gettext_lazy("upload")
    COMMAND_LINE = "command_line", gettext_lazy("command line")
    FOLDER = "folder", gettext_lazy("scheduled folder import")


def import_fields(*, kind: str) -> list[ImportField]:
    return OUTCOME_FIELDS if kind == RosterImport.Kind.OUTCOMES else ROSTER_FIELDS


def roster_import_create(
    *, user: User, uploaded_file: UploadedFile, kind: str, options: dict, profile: ImportProfile | None = None
) -> RosterImport:
    """Store the uploaded file with the profile's mapping, or a suggested one without a
    profile. The profile's reading options fill those the upload left empty. Raises
    FileFormatError, and keeps nothing, when the file cannot be read as a table."""
    if profile is not None:
        options = {**options, "profile": profile.name}
        for key, value in profile.options.items():
            if value and not options.get(key):
                options[key] = value
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
        if profile is not None:
            roster_import.mapping = mapping_from_profile(
                profile_mapping=profile.mapping, headers=table.headers, fields=import_fields(kind=kind)
            )
        else:
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


def roster_import_apply(
    *, roster_import: RosterImport, user: User, progress: ProgressCallback | None = None
) -> ImportReport:
    """Commit the valid rows of a previewed import (or of one a worker runs, in COMMITTING)
    and mark it committed in the same transaction.

    A database failure rolls the rows back, marks the import failed and raises ImportInvalid."""
    if roster_import.status not in (Status.PREVIEWED, Status.COMMITTING):
        raise ImportStateError(_("Preview the import before committing it."))
    table = roster_import_table(roster_import=roster_import)

    def committed_mark(report: ImportReport) -> None:
        # Runs in the rows' transaction, so a worker that dies after the commit cannot leave
        # an import in COMMITTING whose rows are already written.
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.COMMITTED,
            summary=report.as_summary(),
            errors=[error.as_dict() for error in report.errors],
        )

    try:
        if roster_import.kind == RosterImport.Kind.OUTCOMES:
            with transaction.atomic():
                report = outcomes_import_commit(
                    table=table,
                    mapping=roster_import.mapping,
                    campaign_name=roster_import.options.get("campaign_name", ""),
                    campaign_date=campaign_date_get(roster_import=roster_import),
                    user=user,
                    mode=CommitMode.VALID_ROWS,
                )
                committed_mark(report)
        else:
            report = roster_import_commit(
                table=table,
                mapping=roster_import.mapping,
                default_branch=default_branch_get(roster_import=roster_import),
                user=user,
                mode=CommitMode.VALID_ROWS,
                roster_import=roster_import,
                complete_roster=roster_import.options.get("complete_roster", True),
                aum_drop_percent=Decimal(str(roster_import.options.get("aum_drop_percent", DEFAULT_AUM_DROP_PERCENT))),
                progress=progress,
                on_written=committed_mark,
            )
    except DatabaseError as error:
        logger.exception("Import %s: commit by %s failed", roster_import.pk, user.username)
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.FAILED,
            summary={**roster_import.summary, "failure": str(error)},
        )
        raise ImportInvalid(_("The import failed and nothing was written: %(error)s") % {"error": error}) from error
    logger.info("Import %s: committed by %s", roster_import.pk, user.username)
    return report


def roster_import_in_background(*, roster_import: RosterImport) -> bool:
    """Return True when the import is large enough to be committed by a Celery worker."""
    return roster_import.summary.get("total", 0) > BACKGROUND_ROW_THRESHOLD


def roster_import_queue(*, roster_import: RosterImport, user: User) -> RosterImport:
    """Mark a previewed import COMMITTING and send it to a Celery worker once this
    transaction commits. Raises ImportStateError unless the import is previewed."""
    from customers.tasks import roster_import_commit_task

    if roster_import.status != Status.PREVIEWED:
        raise ImportStateError(_("Preview the import before committing it."))
    total = roster_import.summary.get("total", 0)
    queued = roster_import_transition(
        roster_import=roster_import,
        to_status=Status.COMMITTING,
        summary={**roster_import.summary, "progress": {"phase": "queued", "done": 0, "total": total, "percent": 0}},
    )
    transaction.on_commit(lambda: roster_import_commit_task.delay(roster_import_id=queued.pk, user_id=user.pk))
    logger.info("Import %s: queued for a worker by %s, %s rows", queued.pk, user.username, total)
    return queued


def roster_import_progress_store(*, roster_import_id: int, phase: str, done: int, total: int) -> None:
    """Store the progress of a running commit in the import's summary. Call it outside any
    transaction, so the page that polls the import reads it while the worker goes on."""
    share = CHECKING_SHARE * done // total if phase == "checking" and total else CHECKING_SHARE
    progress = {"phase": phase, "done": done, "total": total, "percent": share}
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().only("summary").get(pk=roster_import_id)
        locked.summary = {**locked.summary, "progress": progress}
        locked.save(update_fields=["summary"])


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


def roster_import_errors_all(*, roster_import: RosterImport) -> list[dict]:
    """Return every row error of the import as stored entries (see RowError.as_dict).

    The record keeps only the first errors, so when there are more the file is checked again
    with the stored mapping. For a committed file that check runs against today's database,
    so rows that were new at commit may now be unchanged, but a value error stays an error."""
    stored_count = roster_import.summary.get("error_count", len(roster_import.errors))
    if stored_count <= len(roster_import.errors):
        return list(roster_import.errors)
    table = roster_import_table(roster_import=roster_import)
    if roster_import.kind == RosterImport.Kind.OUTCOMES:
        report = outcomes_import_preview(table=table, mapping=roster_import.mapping, error_limit=ALL_ERRORS)
    else:
        report = roster_import_preview(
            table=table,
            mapping=roster_import.mapping,
            default_branch=default_branch_get(roster_import=roster_import),
            error_limit=ALL_ERRORS,
        )
    return [error.as_dict() for error in report.errors]


# Reading options a profile keeps: how its source system writes files. Options of one upload
# (the campaign of past outcomes, the diff threshold) stay with the upload.
PROFILE_OPTION_KEYS = ("delimiter", "sheet", "encoding", "default_branch")


def import_profile_save(*, name: str, roster_import: RosterImport, user: User) -> ImportProfile:
    """Create or replace the profile `name` with the import's mapping and reading options.

    Raises MappingInvalid when the mapping does not validate against the import's headers."""
    name = name.strip()
    table = roster_import_table(roster_import=roster_import)
    mapping_validate(mapping=roster_import.mapping, headers=table.headers, fields=import_fields(kind=roster_import.kind))
    values = {
        "kind": roster_import.kind,
        "mapping": profile_mapping_build(mapping=roster_import.mapping),
        "options": {key: roster_import.options[key] for key in PROFILE_OPTION_KEYS if roster_import.options.get(key)},
    }
    profile, created = ImportProfile.objects.update_or_create(
        name=name, defaults=values, create_defaults={**values, "created_by": user}
    )
    logger.info("Import profile %s %s by %s from import %s", profile.pk, "created" if created else "replaced", user.username, roster_import.pk)
    return profile


def roster_file_commit(
    *,
    path: Path,
    table: ParsedTable,
    mapping: dict[str, str],
    user: User | None,
    source: str,
    options: dict,
    default_branch: Branch | None,
    mode: CommitMode,
    error_limit: int = DEFAULT_ERROR_LIMIT,
    complete_roster: bool = True,
    aum_drop_percent: Decimal = DEFAULT_AUM_DROP_PERCENT,
) -> tuple[RosterImport, ImportReport]:
    """Commit a roster file that did not come through the web pages (an ImportSource) and
    record it in the import history as an upload is: the user, or None with the source, a
    copy of the file, the options (e.g. the profile), the counts and the first row errors.

    Raises ImportRejected after recording the import as rejected, when mode is REJECT and rows
    are invalid, and ImportInvalid after recording it as failed, when the mapping is unusable
    or the database write fails."""
    roster_import = RosterImport(
        kind=RosterImport.Kind.ROSTER,
        original_name=path.name,
        options={
            **options,
            "source": source,
            "complete_roster": complete_roster,
            "aum_drop_percent": str(aum_drop_percent),
            "default_branch": default_branch.code if default_branch else "",
        },
        mapping=mapping,
        summary={"total": len(table.rows)},
        created_by=user,
    )
    with open(path, "rb") as handle:
        roster_import.file.save(path.name, File(handle), save=False)
    roster_import.save()
    actor = user.username if user else ImportSource(source).label

    def committed_mark(report: ImportReport) -> None:
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.COMMITTED,
            summary=report.as_summary(),
            errors=[error.as_dict() for error in report.errors[:STORED_ERROR_LIMIT]],
        )

    try:
        report = roster_import_commit(
            table=table,
            mapping=mapping,
            user=user,
            default_branch=default_branch,
            mode=mode,
            error_limit=error_limit,
            roster_import=roster_import,
            complete_roster=complete_roster,
            aum_drop_percent=aum_drop_percent,
            on_written=committed_mark,
        )
    except ImportRejected as rejected:
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.REJECTED,
            summary=rejected.report.as_summary(),
            errors=[error.as_dict() for error in rejected.report.errors[:STORED_ERROR_LIMIT]],
        )
        logger.info("Import %s: %s from %s rejected, %s invalid rows", roster_import.pk, path.name, actor, rejected.report.invalid)
        raise
    except DatabaseError as error:
        logger.exception("Import %s: commit of %s from %s failed", roster_import.pk, path.name, actor)
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.FAILED,
            summary={**roster_import.summary, "failure": str(error)},
        )
        raise ImportInvalid(_("The import failed and nothing was written: %(error)s") % {"error": error}) from error
    except ImportInvalid as error:
        # An unusable mapping or a missing default branch: nothing was written.
        logger.info("Import %s: %s from %s failed: %s", roster_import.pk, path.name, actor, error)
        roster_import_transition(
            roster_import=roster_import,
            to_status=Status.FAILED,
            summary={**roster_import.summary, "failure": str(error)},
        )
        raise
    roster_import.refresh_from_db()
    logger.info("Import %s: %s committed from %s", roster_import.pk, path.name, actor)
    return roster_import, report


def roster_import_source_label(roster_import: RosterImport) -> str:
    """Return who ran the import: the user, or the translated source for imports without one."""
    if roster_import.created_by_id:
        return str(roster_import.created_by)
    source = roster_import.options.get("source", ImportSource.WEB)
    return str(ImportSource(source).label) if source in ImportSource.values else source


def roster_file_failure_record(*, path: Path, user: User | None, source: str, options: dict, message: str) -> RosterImport:
    """Record a roster file that could not be read as a table (FileFormatError) as a failed
    import, with a copy of the file, so the history shows it next to the files that were read."""
    roster_import = RosterImport(
        kind=RosterImport.Kind.ROSTER,
        status=Status.FAILED,
        original_name=path.name,
        options={**options, "source": source},
        summary={"failure": message},
        created_by=user,
        finished_at=timezone.now(),
    )
    with open(path, "rb") as handle:
        roster_import.file.save(path.name, File(handle), save=False)
    roster_import.save()
    logger.info("Import %s: %s from %s could not be read: %s", roster_import.pk, path.name, source, message)
    return roster_import

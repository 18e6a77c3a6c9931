"""The report of an import, and the errors that stop one.

Every error about the whole file or the request subclasses ImportInvalid, so a view or
command catches that one class. Problems of single rows are RowError values in the report.

Row errors keep their message untranslated (a msgid marked with gettext_noop, plus the
values of its placeholders), because RosterImport.errors stores them and each reader sees
them in their own language.
"""

import logging
from dataclasses import dataclass, field

from django.utils.translation import gettext

logger = logging.getLogger(__name__)


class ImportInvalid(Exception):
    """The import cannot run as requested. The message states why and what to change."""


class ImportRejected(ImportInvalid):
    """The file has invalid rows and the caller asked for all rows or none; nothing was written."""

    def __init__(self, message: str, report: "ImportReport"):
        super().__init__(message)
        self.report = report


class ImportStateError(ImportInvalid):
    """The import record is not in a status that allows the requested step."""


def message_translate(*, msgid: str, params: dict | None = None) -> str:
    """Translate `msgid` into the active language and fill its %(name)s placeholders."""
    translated = gettext(msgid)
    if not params:
        return translated
    try:
        return translated % params
    except (KeyError, ValueError, TypeError):
        # A translation whose placeholders do not match the msgid must not hide the error.
        logger.warning("Translation of %r does not match its parameters %r", msgid, sorted(params))
        return msgid % params


@dataclass(frozen=True)
class ErrorMessage:
    """An untranslated message: a msgid marked with gettext_noop and its placeholder values."""

    msgid: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return message_translate(msgid=self.msgid, params=self.params)


@dataclass(frozen=True)
class RowError:
    """One invalid value or row. `row` is the file's row number (the header is row 1)."""

    row: int
    column: str
    value: str
    msgid: str
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The message in the active language."""
        return message_translate(msgid=self.msgid, params=self.params)

    def as_dict(self) -> dict:
        """Return the error as stored in RosterImport.errors, with the message untranslated."""
        return {"row": self.row, "column": self.column, "value": self.value, "msgid": self.msgid, "params": self.params}


def stored_error_display(entry: dict) -> dict:
    """Return a RosterImport.errors entry with its message in the active language.

    Entries stored before messages were kept untranslated contain a "message" string in the
    language of whoever previewed the file, and are shown as they are."""
    if "msgid" in entry:
        message = message_translate(msgid=entry["msgid"], params=entry.get("params"))
    else:
        message = entry.get("message", "")
    return {"row": entry.get("row"), "column": entry.get("column", ""), "value": entry.get("value", ""), "message": message}


@dataclass
class ImportReport:
    """Row counts of a preview or commit. `errors` contains the first `error_limit` row
    errors and `error_count` counts all of them. A row with several invalid values counts
    once in `invalid`."""

    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    invalid: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0
    # Counts specific to one kind of import, e.g. outcomes per value or the campaign created.
    details: dict = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    def error_add(self, error: RowError, *, error_limit: int) -> None:
        self.error_count += 1
        if len(self.errors) < error_limit:
            self.errors.append(error)

    def as_summary(self) -> dict:
        """Return the counts as JSON-ready data for RosterImport.summary (errors are stored apart)."""
        return {
            "total": self.total,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "invalid": self.invalid,
            "error_count": self.error_count,
            "committed": self.committed,
            "seconds": round(self.seconds, 2),
            **self.details,
        }

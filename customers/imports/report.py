"""The report of an import, and the errors that stop one.

Every error about the whole file or the request subclasses ImportInvalid, so a view or
command catches that one class. Problems of single rows are RowError values in the report."""

from dataclasses import dataclass, field


class ImportInvalid(Exception):
    """The import cannot run as requested. The message states why and what to change."""


class ImportRejected(ImportInvalid):
    """The file has invalid rows and the caller asked for all rows or none; nothing was written."""

    def __init__(self, message: str, report: "ImportReport"):
        super().__init__(message)
        self.report = report


class ImportStateError(ImportInvalid):
    """The import record is not in a status that allows the requested step."""


@dataclass(frozen=True)
class RowError:
    """One invalid value or row. `row` is the file's row number (the header is row 1)."""

    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


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

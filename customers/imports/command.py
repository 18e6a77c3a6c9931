"""Options and output shared by the import_roster and import_outcomes commands."""

from django.core.management.base import BaseCommand, CommandError

from .mapping import ImportField, mapping_from_pairs
from .parsing import ParsedTable, ReadOptions, table_read
from .report import ImportInvalid, ImportReport

# Row errors printed before "... and N more"; the count of all errors is always printed.
PRINTED_ERROR_LIMIT = 50


def arguments_add(parser) -> None:
    parser.add_argument("file", help="CSV or XLSX file to import.")
    parser.add_argument(
        "--delimiter", default="", choices=["", ",", ";", "tab"],
        help="CSV field delimiter; detected from the file when omitted.",
    )
    parser.add_argument("--encoding", default="", help="CSV text encoding, e.g. gb18030; detected when omitted.")
    parser.add_argument("--sheet", default="", help="XLSX sheet name; the first sheet when omitted.")
    parser.add_argument(
        "--map", action="append", default=[], metavar="HEADER=FIELD",
        help="Map a column to a field, overriding the suggestion. FIELD 'extra' keeps the column "
             "in extra and '-' drops it. Repeat for several columns.",
    )
    parser.add_argument("--dry-run", action="store_true", help="Validate and count rows without writing anything.")
    parser.add_argument(
        "--commit-valid", action="store_true",
        help="Write the valid rows even when some rows are invalid; without it, one invalid row writes nothing.",
    )


def table_and_mapping(options, fields: list[ImportField]) -> tuple[ParsedTable, dict[str, str]]:
    try:
        table = table_read(
            path=options["file"],
            options=ReadOptions(delimiter=options["delimiter"], sheet=options["sheet"], encoding=options["encoding"]),
        )
        mapping = mapping_from_pairs(pairs=options["map"], headers=table.headers, fields=fields)
    except (ImportInvalid, OSError) as error:
        raise CommandError(str(error)) from error
    return table, mapping


def mapping_print(command: BaseCommand, mapping: dict[str, str]) -> None:
    for header, field_name in mapping.items():
        target = {"": "(extra)", "-": "(dropped)"}.get(field_name, field_name)
        command.stdout.write(f"  {header} -> {target}")


def report_print(command: BaseCommand, report: ImportReport) -> None:
    command.stdout.write(
        f"rows: {report.total}  new: {report.new}  changed: {report.changed}  "
        f"unchanged: {report.unchanged}  invalid: {report.invalid}  ({report.seconds:.1f} s)"
    )
    for error in report.errors[:PRINTED_ERROR_LIMIT]:
        command.stderr.write(f"row {error.row}, column {error.column!r}, value {error.value!r}: {error.message}")
    if report.error_count > PRINTED_ERROR_LIMIT:
        command.stderr.write(f"... and {report.error_count - PRINTED_ERROR_LIMIT} more errors")


def report_json(report: ImportReport, *, dry_run: bool) -> dict:
    """Return the report as the JSON object `--report json` prints: the counts, the per-field
    changes and roster diff when present, and every invalid row with its message in the active language."""
    return {
        "dry_run": dry_run,
        "committed": report.committed,
        "total": report.total,
        "new": report.new,
        "changed": report.changed,
        "unchanged": report.unchanged,
        "invalid": report.invalid,
        "error_count": report.error_count,
        "seconds": round(report.seconds, 2),
        "changes": report.details.get("changes", {}),
        "diff": report.details.get("diff", {}),
        "errors": [
            {"row": error.row, "column": error.column, "value": error.value, "message": error.message}
            for error in report.errors
        ],
    }

"""Turn the rows of a parsed file into field values and row errors, for any kind of import."""

from collections.abc import Callable

from django.utils.translation import gettext_noop

from .mapping import IGNORE, ImportField, extra_columns, fields_by_name, mapping_validate
from .parsing import ParsedRow, ParsedTable
from .report import RowError
from .values import DAMAGE_MESSAGES, ROUNDED_MESSAGE, ValueInvalid, rounded_by_excel, text_normalize


class CheckedRow:
    """One data row after checking. A plain class with slots, because one is built per row."""

    __slots__ = ("number", "values", "extra", "errors", "cells", "field_index")

    def __init__(self, number: int, cells: list[str] | None = None, field_index: dict[str, int] | None = None):
        self.number = number
        # Parsed values of the non-blank mapped cells; a blank cell leaves its field out.
        self.values: dict[str, object] = {}
        self.extra: dict[str, str] = {}
        self.errors: list[RowError] = []
        # The row's cells and the column index of each mapped field (shared by all rows),
        # from which `raw` and raw_text read the text of a field for error messages.
        self.cells = cells
        self.field_index = field_index or {}

    @property
    def raw(self) -> dict[str, str]:
        """The cell text of each mapped field, or nothing for a row with the wrong number of fields."""
        if self.cells is None:
            return {}
        return {field_name: self.cells[index] for field_name, index in self.field_index.items()}

    def raw_text(self, field_name: str) -> str:
        """Return the cell text of `field_name`, or "" when the field is not mapped."""
        index = self.field_index.get(field_name)
        return "" if index is None or self.cells is None else self.cells[index]

    def error(self, *, column: str, value: str, msgid: str, params: dict | None = None) -> None:
        """Record an error. `msgid` is untranslated (marked with gettext_noop) and `params` fill its placeholders."""
        self.errors.append(RowError(row=self.number, column=column, value=value, msgid=msgid, params=params or {}))


# Row errors stored before every row of a repeated customer number was rejected carry this
# msgid. Marking it keeps it in the catalogue, so those stored errors are still translated.
STORED_DUPLICATE_MESSAGE = gettext_noop("Duplicate customer number: it already appears in row %(row)s.")
# Rows between two calls of rows_check's progress callback.
PROGRESS_EVERY = 5000


def row_checker(
    *, table: ParsedTable, mapping: dict[str, str], fields: list[ImportField]
) -> Callable[[ParsedRow], CheckedRow]:
    """Return a function that checks one parsed row: its field count, every mapped value and
    the required fields. The file-wide checks (repeated customer numbers, Excel rounding per
    column) are left to the caller. Raises MappingInvalid if the mapping is unusable."""
    field_columns = mapping_validate(mapping=mapping, headers=table.headers, fields=fields)
    known = fields_by_name(fields)
    # (field name, column index, header, parser, required) per mapped field, read once so the
    # function below does no lookups per cell.
    columns = [
        (
            field_name,
            index,
            table.headers[index],
            known[field_name].xlsx_parse if table.sheet and known[field_name].xlsx_parse else known[field_name].parse,
            known[field_name].required,
        )
        for field_name, index in field_columns.items()
    ]
    kept_extras = [
        (header, index)
        for header, index in extra_columns(mapping=mapping, headers=table.headers)
        if mapping.get(header) != IGNORE
    ]
    missing_message = gettext_noop("Missing value: this field is required.")

    def check(parsed: ParsedRow) -> CheckedRow:
        if parsed.field_count_error:
            row = CheckedRow(parsed.number)
            row.error(
                column="", value="", msgid=parsed.field_count_error.msgid, params=parsed.field_count_error.params
            )
            return row

        cells = parsed.values
        row = CheckedRow(parsed.number, cells, field_columns)
        row_values = row.values
        for field_name, index, header, parse, required in columns:
            text = cells[index]
            if text and not text.isspace():
                try:
                    row_values[field_name] = parse(text)
                except ValueInvalid as error:
                    row.error(column=header, value=text, msgid=error.msgid, params=error.params)
            elif required:
                row.error(column=header, value=text, msgid=missing_message)

        for header, index in kept_extras:
            row.extra[header] = cells[index]
        return row

    return check


def rows_check(
    *,
    table: ParsedTable,
    mapping: dict[str, str],
    fields: list[ImportField],
    progress: Callable[[int], None] | None = None,
) -> list[CheckedRow]:
    """Return each data row with its parsed values and errors. `progress`, when given, is
    called with the number of rows checked so far every PROGRESS_EVERY rows.

    Checks the field count, every mapped value, required fields and that a customer number
    appears only once: every row of a repeated number gets an error naming all its rows, so
    none of them is written. Raises MappingInvalid before the first row if the mapping is unusable."""
    field_columns = mapping_validate(mapping=mapping, headers=table.headers, fields=fields)
    known = fields_by_name(fields)
    check = row_checker(table=table, mapping=mapping, fields=fields)
    rows_of_customer: dict[str, list[int]] = {}
    checked_rows: list[CheckedRow] = []

    for position, parsed in enumerate(table.rows, start=1):
        if progress is not None and position % PROGRESS_EVERY == 0:
            progress(position)
        row = check(parsed)
        checked_rows.append(row)
        customer_no = row.values.get("customer_no")
        if customer_no:
            rows_of_customer.setdefault(customer_no, []).append(row.number)

    for field_name in field_columns:
        if known[field_name].rounding_checked_per_column:
            column_rounding_check(rows=checked_rows, field_name=field_name, column=table.headers[field_columns[field_name]])

    repeated = {number: rows for number, rows in rows_of_customer.items() if len(rows) > 1}
    if repeated:
        column = table.headers[field_columns["customer_no"]]
        for row in checked_rows:
            customer_no = row.values.get("customer_no")
            if customer_no in repeated:
                row.error(
                    column=column,
                    value=row.raw_text("customer_no"),
                    msgid=gettext_noop("Duplicate customer number: it appears in rows %(rows)s, so none of them is imported."),
                    params={"rows": ", ".join(str(number) for number in repeated[customer_no])},
                )
    return checked_rows


def column_rounding_check(*, rows: list[CheckedRow], field_name: str, column: str) -> None:
    """Reject the values of `column` that look rounded by Excel when another of its values
    shows Excel damage, so a damaged column stores none of its rounded numbers."""
    damaged = any(error.column == column and error.msgid in DAMAGE_MESSAGES for row in rows for error in row.errors)
    if not damaged:
        return
    for row in rows:
        text = row.raw_text(field_name)
        if field_name in row.values and rounded_by_excel(text_normalize(text)):
            del row.values[field_name]
            row.error(column=column, value=text, msgid=ROUNDED_MESSAGE)

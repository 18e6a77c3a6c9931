"""Export of any django-tables2 table to CSV or XLSX with the screen's filter, sort and scope.

Callers pass the table built from the same scoped, filtered queryset as the page, so an export
can never contain a row the screen would not show."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

EXPORT_FORMATS = ("csv", "xlsx")
# A spreadsheet treats a text cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Return `value` safe for a spreadsheet: numbers and dates unchanged, text that a
    spreadsheet would run as a formula prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal, date, datetime)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _table_rows(table):
    columns = [column for column in table.columns if column.name not in getattr(table, "exclude_from_export", ())]
    header = [str(column.header) for column in columns]
    yield header
    for row in table.rows:
        values = []
        for column in columns:
            value = row.get_cell_value(column.name)
            if isinstance(value, datetime):
                value = timezone.localtime(value).replace(tzinfo=None)
            values.append(neutralise(value))
        yield values


def _xlsx_value(value):
    # Text stays text: openpyxl writes str as a string cell, so identifiers keep leading zeros.
    # A missing value becomes an empty cell rather than an empty string, so that spreadsheet
    # functions such as COUNT and AVERAGE skip it.
    if isinstance(value, Decimal):
        return float(value)
    if value == "":
        return None
    return value


class _Echo:
    def write(self, value):
        return value


def export_table(table, export_format: str, filename: str):
    """Build the HTTP response for `table` in `export_format` ("csv" or "xlsx")."""
    if export_format == "csv":
        writer = csv.writer(_Echo())

        def stream():
            # A byte-order mark makes Excel on a Chinese Windows read the file as UTF-8.
            yield "\ufeff"
            for values in _table_rows(table):
                yield writer.writerow(["" if v is None else v for v in values])

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if export_format == "xlsx":
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for values in _table_rows(table):
            sheet.append([_xlsx_value(v) for v in values])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    raise ValueError(f"Unknown export format: {export_format!r}")

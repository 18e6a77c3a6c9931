"""Export of any django-tables2 table to CSV or XLSX with the screen's filter, sort and scope.

Callers pass the table built from the same scoped, filtered queryset as the page, so an export
can never contain a row the screen would not show."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
import django_tables2 as tables
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

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
    """Yield the header, then one list of raw values per row: numbers and dates as such
    (date-times in local time), everything else as the table's export text."""
    columns = [column for column in table.columns if column.name not in getattr(table, "exclude_from_export", ())]
    yield [str(column.header) for column in columns]
    for row in table.rows:
        values = []
        for column in columns:
            if isinstance(column.column, (tables.DateTimeColumn, tables.DateColumn)):
                # The columns' export value is their string form, in UTC for date-times.
                value = column.accessor.resolve(row.record, quiet=True)
            else:
                value = row.get_cell_value(column.name)
            if isinstance(value, datetime):
                value = timezone.localtime(value).replace(tzinfo=None, microsecond=0)
            values.append(value)
        yield values


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return neutralise(value)


def _xlsx_value(value):
    # Text stays text: a string cell keeps an identifier's leading zeros, and forcing the
    # string type stops a spreadsheet from running text that starts with "=" as a formula,
    # with no visible apostrophe. A missing value becomes an empty cell rather than an empty
    # string, so that spreadsheet functions such as COUNT and AVERAGE skip it.
    if isinstance(value, Decimal):
        return float(value)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float, date, datetime)):
        return value
    return str(value)


def _xlsx_cell(sheet, value):
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


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
                yield writer.writerow([_csv_value(value) for value in values])

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if export_format == "xlsx":
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for values in _table_rows(table):
            sheet.append([_xlsx_cell(sheet, _xlsx_value(value)) for value in values])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    raise ValueError(f"Unknown export format: {export_format!r}")

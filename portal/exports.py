"""Export of any django-tables2 table to CSV or XLSX with the screen's filter, sort and scope.

Callers pass the table built from the same scoped, filtered queryset as the page, so an export
can never contain a row the screen would not show. Rows are read from the database in chunks
and never held in memory all at once. CSV is streamed as it is written. XLSX is written row by
row (openpyxl write-only mode) to a temporary file, which is streamed when it has more than
XLSX_STREAM_THRESHOLD rows and sent as one response otherwise.

Each export is logged in ExportLog when the table carries the request, which
django_tables2.RequestConfig.configure sets as `table.request`."""

import csv
import logging
import tempfile
from datetime import date, datetime
from decimal import Decimal

import django_tables2 as tables
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django_tables2.data import TableQuerysetData
from django_tables2.rows import BoundRow
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from portal.models import ExportLog

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "xlsx")
# A spreadsheet treats a text cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched from the database per round trip while exporting a queryset.
EXPORT_CHUNK_SIZE = 2000
# XLSX exports with more data rows than this are streamed from their temporary file; smaller
# ones are sent as one response. CSV is always streamed.
XLSX_STREAM_THRESHOLD = 10_000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def _bound_rows(table):
    """Yield the table's rows. A queryset is read in chunks in the table's order, because
    `table.rows` would load and cache every record of a large export at once."""
    if isinstance(table.data, TableQuerysetData):
        for record in table.data.data.iterator(chunk_size=EXPORT_CHUNK_SIZE):
            yield BoundRow(record, table=table)
    else:
        yield from table.rows


def _table_rows(table):
    """Yield the header, then one list of raw values per row: numbers and dates as such
    (date-times in local time), everything else as the table's export text."""
    columns = [column for column in table.columns if column.name not in getattr(table, "exclude_from_export", ())]
    yield [str(column.header) for column in columns]
    for row in _bound_rows(table):
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
    """Build the HTTP response for `table` in `export_format` ("csv" or "xlsx") and log the
    export. The log entry's row count is set once the last row has been written."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format: {export_format!r}")
    log_entry = _export_log_start(table, export_format)

    if export_format == "csv":
        writer = csv.writer(_Echo())

        def stream():
            # A byte-order mark makes Excel on a Chinese Windows read the file as UTF-8.
            yield "\ufeff"
            row_count = -1  # The header is not a data row.
            for values in _table_rows(table):
                row_count += 1
                yield writer.writerow([_csv_value(value) for value in values])
            _export_log_finish(log_entry, row_count)

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    row_count = -1
    for values in _table_rows(table):
        row_count += 1
        sheet.append([_xlsx_cell(sheet, _xlsx_value(value)) for value in values])
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    _export_log_finish(log_entry, row_count)
    if row_count <= XLSX_STREAM_THRESHOLD:
        with output:
            response = HttpResponse(output.read(), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    # FileResponse streams the file in blocks and closes it at the end, which deletes it.
    return FileResponse(output, content_type=XLSX_CONTENT_TYPE, as_attachment=True, filename=f"{filename}.xlsx")


def _export_log_start(table, export_format: str):
    """Create the log entry of an export when the table carries the request of a signed-in user."""
    request = getattr(table, "request", None)
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return None
    view_name = request.resolver_match.view_name if request.resolver_match else request.path
    query = request.GET.copy()
    query.pop("_export", None)
    entry = ExportLog.objects.create(
        user=user, view_name=view_name[:100], query_string=query.urlencode(), export_format=export_format
    )
    logger.info("Export %s: %s of %s started by user %s", entry.pk, export_format, view_name, user.pk)
    return entry


def _export_log_finish(entry, row_count: int) -> None:
    if entry is None:
        return
    finished_at = timezone.now()
    ExportLog.objects.filter(pk=entry.pk).update(row_count=row_count, finished_at=finished_at)
    logger.info("Export %s: %s rows written", entry.pk, row_count)

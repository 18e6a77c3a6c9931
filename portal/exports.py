"""Export of any django-tables2 table to CSV or XLSX with the screen's filter, sort and scope.

Callers pass the table built from the same scoped, filtered queryset as the page, so an export
can never contain a row the screen would not show. Rows are read from the database in chunks
and never held in memory all at once; export_rows reads a queryset's columns with
`values_list()` instead of building each cell through django-tables2. CSV is streamed as it is
written. XLSX is written row by row (XlsxWriter's constant-memory mode) to a temporary file,
which is streamed when it has more than XLSX_STREAM_THRESHOLD rows and sent as one response
otherwise.

Each export is logged in ExportLog when the table carries the request, which
django_tables2.RequestConfig.configure sets as `table.request`. An export of more than
settings.EXPORT_BACKGROUND_ROWS rows returns a redirect to its progress page and is
written by a Celery worker (see export_files)."""

import csv
import logging
import tempfile
from datetime import date, datetime
from decimal import Decimal

import django_tables2 as tables
import xlsxwriter
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone, translation
from django_tables2.data import TableQuerysetData
from django_tables2.rows import BoundRow

from portal.export_files import (
    BACKGROUND_EXPORT_ATTRIBUTE,
    PARTIAL_SUFFIX,
    background_rows_limit,
    export_file_queue,
    export_root,
)
from portal.export_rows import fast_rows, plan_columns
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


def export_columns(table):
    """Return the bound columns an export writes: every shown column except the table's
    `exclude_from_export` names."""
    excluded = getattr(table, "exclude_from_export", ())
    return [column for column in table.columns if column.name not in excluded]


def _bound_rows(table):
    """Yield the table's rows. A queryset is read in chunks in the table's order, because
    `table.rows` would load and cache every record of a large export at once."""
    if isinstance(table.data, TableQuerysetData):
        for record in table.data.data.iterator(chunk_size=EXPORT_CHUNK_SIZE):
            yield BoundRow(record, table=table)
    else:
        yield from table.rows


def generic_rows(table, columns):
    """Yield one list of values per row as django-tables2 renders them for export. The fast
    path in export_rows must produce the same values; tests compare the two."""
    for row in _bound_rows(table):
        values = []
        for column in columns:
            if isinstance(column.column, (tables.DateTimeColumn, tables.DateColumn)):
                # The columns' export value is their string form, in UTC for date-times.
                values.append(column.accessor.resolve(row.record, quiet=True))
            else:
                values.append(row.get_cell_value(column.name))
        yield values


def table_rows(table, *, fast=True):
    """Yield the header, then one list of raw values per row: numbers and dates as such
    (date-times in local time), everything else as the table's export text. With `fast`
    the rows of a queryset come from export_rows.fast_rows where the table allows it."""
    columns = export_columns(table)
    yield [str(column.header) for column in columns]
    plan = plan_columns(table, columns) if fast else None
    rows = fast_rows(table, plan, EXPORT_CHUNK_SIZE) if plan is not None else generic_rows(table, columns)
    for values in rows:
        for index, value in enumerate(values):
            if isinstance(value, datetime):
                values[index] = timezone.localtime(value).replace(tzinfo=None, microsecond=0)
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


def write_xlsx(rows, output, on_row=None) -> int:
    """Write `rows` (the header first) as one worksheet to the binary file `output` and return
    the number of data rows. `on_row(count)` is called after every EXPORT_CHUNK_SIZE rows.

    XlsxWriter's constant-memory mode keeps one row in memory and wrote 20,000 task rows about
    three times faster than openpyxl's write-only mode. Its generic write() would turn text
    starting with "=" into a formula, so every cell is written with the method for its type."""
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True, "tmpdir": tempfile.gettempdir()})
    # openpyxl's name and date formats, which earlier exports used.
    sheet = workbook.add_worksheet("Sheet")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd h:mm:ss"})
    row_number = -1
    for values in rows:
        row_number += 1
        for column_number, raw in enumerate(values):
            value = _xlsx_value(raw)
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(row_number, column_number, value)
            elif isinstance(value, bool):
                sheet.write_boolean(row_number, column_number, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(row_number, column_number, value, datetime_format)
            elif isinstance(value, date):
                sheet.write_datetime(row_number, column_number, value, date_format)
            else:
                sheet.write_number(row_number, column_number, value)
        if on_row is not None and row_number and row_number % EXPORT_CHUNK_SIZE == 0:
            on_row(row_number)
    workbook.close()
    return max(row_number, 0)


def write_csv(rows, output, on_row=None) -> int:
    """Write `rows` (the header first) as CSV with a byte-order mark to the text file `output`,
    opened with newline="", and return the number of data rows. `on_row(count)` is called
    after every EXPORT_CHUNK_SIZE rows."""
    # A byte-order mark makes Excel on a Chinese Windows read the file as UTF-8.
    output.write("\ufeff")
    writer = csv.writer(output)
    row_count = -1  # The header is not a data row.
    for values in rows:
        row_count += 1
        writer.writerow([_csv_value(value) for value in values])
        if on_row is not None and row_count and row_count % EXPORT_CHUNK_SIZE == 0:
            on_row(row_count)
    return max(row_count, 0)


class _Echo:
    def write(self, value):
        return value


def export_table(table, export_format: str, filename: str):
    """Build the HTTP response for `table` in `export_format` ("csv" or "xlsx") and log the
    export. The log entry's row count is set once the last row has been written."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format: {export_format!r}")
    request = getattr(table, "request", None)
    background_entry = getattr(request, BACKGROUND_EXPORT_ATTRIBUTE, None)
    if background_entry is not None:
        return export_file_save(table, background_entry, filename)
    log_entry = _export_log_start(table, export_format)
    limit = background_rows_limit()
    if log_entry is not None and limit > 0:
        row_count = _table_row_count(table)
        if row_count > limit:
            export_file_queue(entry=log_entry, expected_rows=row_count)
            return redirect("dashboard:export_file", pk=log_entry.pk)

    if export_format == "csv":
        writer = csv.writer(_Echo())

        def stream():
            # A byte-order mark makes Excel on a Chinese Windows read the file as UTF-8.
            yield "\ufeff"
            row_count = -1  # The header is not a data row.
            for values in table_rows(table):
                row_count += 1
                yield writer.writerow([_csv_value(value) for value in values])
            _export_log_finish(log_entry, row_count)

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response

    output = tempfile.TemporaryFile()
    row_count = write_xlsx(table_rows(table), output)
    output.seek(0)
    _export_log_finish(log_entry, row_count)
    if row_count <= XLSX_STREAM_THRESHOLD:
        with output:
            response = HttpResponse(output.read(), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    # FileResponse streams the file in blocks and closes it at the end, which deletes it.
    return FileResponse(output, content_type=XLSX_CONTENT_TYPE, as_attachment=True, filename=f"{filename}.xlsx")


def export_file_save(table, entry: ExportLog, filename: str):
    """Write the export of a worker's request to its file under EXPORT_ROOT, recording the
    rows written as it goes, and mark the export READY."""
    root = export_root()
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f"{entry.pk}{PARTIAL_SUFFIX}"

    def progress(count: int) -> None:
        ExportLog.objects.filter(pk=entry.pk).update(rows_written=count)

    if entry.export_format == "csv":
        with open(partial, "w", encoding="utf-8", newline="") as output:
            row_count = write_csv(table_rows(table), output, on_row=progress)
    else:
        with open(partial, "wb") as output:
            row_count = write_xlsx(table_rows(table), output, on_row=progress)
    file_name = f"{entry.pk}.{entry.export_format}"
    partial.replace(root / file_name)
    ExportLog.objects.filter(pk=entry.pk).update(
        row_count=row_count,
        rows_written=row_count,
        finished_at=timezone.now(),
        file_status=ExportLog.FileStatus.READY,
        file_path=file_name,
        download_name=f"{filename}.{entry.export_format}",
    )
    logger.info("Export %s: %s rows written to %s", entry.pk, row_count, file_name)
    return HttpResponse(status=204)


def _table_row_count(table) -> int:
    if isinstance(table.data, TableQuerysetData):
        return table.data.data.count()
    return len(table.data)


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
        user=user,
        view_name=view_name[:100],
        query_string=query.urlencode(),
        export_format=export_format,
        path=request.path[:200],
        language=translation.get_language() or "",
    )
    logger.info("Export %s: %s of %s started by user %s", entry.pk, export_format, view_name, user.pk)
    return entry


def _export_log_finish(entry, row_count: int) -> None:
    if entry is None:
        return
    finished_at = timezone.now()
    ExportLog.objects.filter(pk=entry.pk).update(row_count=row_count, finished_at=finished_at)
    logger.info("Export %s: %s rows written", entry.pk, row_count)

"""Read an uploaded CSV or XLSX file into a header and rows of text.

Every cell comes back as a string, so customer numbers and ID numbers keep their leading
zeros; the validators decide what a value means. Row numbers are those a user sees in the
file: the header is row 1, and a CSV record that spans several lines is numbered by its
first line.
"""

import codecs
import contextlib
import csv
import datetime
import gc
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from .report import ErrorMessage, ImportInvalid

logger = logging.getLogger(__name__)

DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t"}
CHINESE_ENCODINGS = {"gb18030", "gbk", "gb2312", "hz"}
# Enough lines for csv.Sniffer and charset-normalizer; both slow down on whole files.
SAMPLE_BYTES = 64 * 1024
# Significant digits Excel keeps in a number cell.
EXCEL_SIGNIFICANT_DIGITS = 15


class FileFormatError(ImportInvalid):
    """The file cannot be read as a table: wrong type, undecodable, empty, without a header
    or without data rows."""


@dataclass(slots=True)
class ParsedRow:
    number: int
    values: list[str]
    # Set when the row has more or fewer fields than the header.
    field_count_error: ErrorMessage | None = None


@dataclass
class ParsedTable:
    headers: list[str]
    rows: list[ParsedRow]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file. Empty values mean "detect"."""

    delimiter: str = ""
    sheet: str = ""
    encoding: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "ReadOptions":
        return cls(
            delimiter=data.get("delimiter", "") or "",
            sheet=data.get("sheet", "") or "",
            encoding=data.get("encoding", "") or "",
        )


@contextlib.contextmanager
def garbage_collection_paused():
    """Pause the cyclic garbage collector while building per-row objects of a large file.

    Each of the collector's passes walks every object that survived the previous ones, so
    while 100,000 rows accumulate it spends about as much time as the checks themselves.
    Row data contains no reference cycles, and the collector runs again afterwards. The pause
    is process-wide, so other threads of a web worker skip collections for those seconds too."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def table_read(*, path: Path | str, options: ReadOptions = ReadOptions(), original_name: str = "") -> ParsedTable:
    """Read the CSV or XLSX file at `path`; the file type comes from `original_name` or the path.

    Raises FileFormatError when the file cannot be read or has a header row but no data rows."""
    name = (original_name or str(path)).lower()
    if name.endswith((".xlsx", ".xlsm")):
        table = xlsx_read(path=path, sheet=options.sheet)
    elif name.endswith(".xls"):
        raise FileFormatError(_("Old Excel .xls files are not supported. Save the file as .xlsx or CSV and upload it again."))
    else:
        data = Path(path).read_bytes()
        with garbage_collection_paused():
            table = csv_read(data=data, delimiter=options.delimiter, encoding=options.encoding)
    if not table.rows:
        raise FileFormatError(_("The file has a header row but no data rows. Add rows below the header and upload it again."))
    return table


def encoding_detect(data: bytes) -> str:
    """Return the codec name for `data`: UTF-8 (with or without BOM) or GB18030 for Chinese
    Excel exports, otherwise charset-normalizer's best guess."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # On a few hundred bytes of GBK, charset-normalizer often ranks cp949 or big5 first and
    # gb18030 second. A roster comes from Chinese Excel, so a Chinese candidate wins.
    matches = from_bytes(data[:SAMPLE_BYTES])
    candidates = [match.encoding for match in matches]
    if any(candidate in CHINESE_ENCODINGS for candidate in candidates):
        return "gb18030"
    best = matches.best()
    if best is None:
        raise FileFormatError(_("The file's text encoding could not be detected. Save it as UTF-8 and upload it again."))
    return best.encoding


def delimiter_detect(text: str) -> str:
    """Return ",", ";" or tab for the CSV `text`, using csv.Sniffer restricted to those three."""
    sample = "\n".join(text[:SAMPLE_BYTES].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        pass
    # The sniffer gives up on files with one column or irregular quoting. Then the delimiter
    # that occurs most often in the header line wins, and a one-column file reads the same with any.
    header = sample.splitlines()[0] if sample else ""
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    return max(counts, key=counts.get)


def csv_read(*, data: bytes, delimiter: str = "", encoding: str = "") -> ParsedTable:
    encoding = encoding or encoding_detect(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        logger.info("CSV file cannot be decoded as %s: %s", encoding, error)
        raise FileFormatError(
            _("The file cannot be decoded as %(encoding)s. Save it as UTF-8 or GB18030 and upload it again.")
            % {"encoding": encoding}
        ) from error
    text = text.lstrip("\ufeff")
    # Databases reject NUL characters in text, and no roster value contains one: a NUL means a
    # binary file or a UTF-16 file read as another encoding.
    nul_at = text.find("\x00")
    if nul_at >= 0:
        line = text.count("\n", 0, nul_at) + 1
        raise FileFormatError(
            _("Line %(line)s of the file contains a NUL character, which is not text. Save the file as CSV "
              "(UTF-8 or GB18030) and upload it again.") % {"line": line}
        )
    if delimiter:
        if delimiter not in DELIMITERS:
            raise FileFormatError(_("Invalid delimiter %(value)r: use a comma, a semicolon or tab.") % {"value": delimiter})
        delimiter = DELIMITERS[delimiter]
    else:
        delimiter = delimiter_detect(text)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    headers: list[str] | None = None
    rows: list[ParsedRow] = []
    lines_read = 0
    try:
        for record in reader:
            first_line = lines_read + 1
            lines_read = reader.line_num
            # One strip of the joined cells finds a blank record faster than a strip per cell.
            if not "".join(record).strip():
                continue
            if headers is None:
                headers = [value.strip() for value in record]
                width = len(headers)
                continue
            if len(record) == width:
                rows.append(ParsedRow(first_line, record))
            else:
                rows.append(row_build(number=first_line, values=record, width=width, pad=False))
    except csv.Error as error:
        logger.info("CSV file is malformed near line %s: %s", lines_read + 1, error)
        raise FileFormatError(
            _("The CSV file is malformed near line %(line)s. Check that line for unbalanced quotes or binary characters.") % {"line": lines_read + 1}
        ) from error
    if headers is None:
        raise FileFormatError(_("The file is empty: it has no header row."))
    headers_check(headers)
    return ParsedTable(headers=headers, rows=rows, encoding=encoding, delimiter=delimiter)


def xlsx_cell_text(value) -> str:
    """Turn an openpyxl cell value into the text a user sees in Excel."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        if abs(value) >= 10**EXCEL_SIGNIFICANT_DIGITS:
            # Excel keeps 15 significant digits, so a longer number cell has already lost its
            # last digits. Scientific notation, as the workbook's XML stores it, makes every
            # identifier check reject the value; int(value) would print binary-rounding noise.
            return f"{value:.{EXCEL_SIGNIFICANT_DIGITS}g}".upper()
        return str(int(value))
    return str(value)


def xlsx_read(*, path: Path | str, sheet: str = "") -> ParsedTable:
    try:
        workbook = load_workbook(filename=path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        # The library's text is English and technical, so it goes to the log only.
        logger.info("XLSX file %s cannot be read: %r", path, error)
        raise FileFormatError(
            _("The file is not a readable XLSX workbook. Open it in Excel, save it as .xlsx and upload it again.")
        ) from error
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                raise FileFormatError(
                    _("Sheet %(sheet)r not found; the workbook has: %(names)s.")
                    % {"sheet": sheet, "names": ", ".join(workbook.sheetnames)}
                )
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        headers: list[str] | None = None
        rows: list[ParsedRow] = []
        # Read-only sheets report the stored dimension, which Excel often leaves far past the
        # data. Iterating without max_row reads only the rows that exist in the file.
        for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
            values = [xlsx_cell_text(value) for value in cells]
            if not any(value.strip() for value in values):
                continue
            if headers is None:
                headers = trailing_blanks_drop([value.strip() for value in values])
                continue
            rows.append(row_build(number=number, values=trailing_blanks_drop(values), width=len(headers), pad=True))
    finally:
        workbook.close()
    if headers is None:
        raise FileFormatError(_("The sheet %(sheet)r is empty: it has no header row.") % {"sheet": worksheet.title})
    headers_check(headers)
    return ParsedTable(headers=headers, rows=rows, sheet=worksheet.title)


def trailing_blanks_drop(values: list[str]) -> list[str]:
    end = len(values)
    while end and not values[end - 1].strip():
        end -= 1
    return values[:end]


def row_build(*, number: int, values: list[str], width: int, pad: bool) -> ParsedRow:
    """Return the row with exactly `width` values, or with a field-count error.

    XLSX rows drop empty trailing cells, so they are padded; a CSV row must have exactly the
    header's number of fields."""
    if len(values) > width:
        if pad and not any(value.strip() for value in values[width:]):
            return ParsedRow(number=number, values=values[:width])
        return ParsedRow(
            number=number,
            values=values,
            field_count_error=ErrorMessage(
                gettext_noop("The row has %(found)s fields but the header has %(expected)s."),
                {"found": len(values), "expected": width},
            ),
        )
    if len(values) < width:
        if pad:
            return ParsedRow(number=number, values=values + [""] * (width - len(values)))
        return ParsedRow(
            number=number,
            values=values,
            field_count_error=ErrorMessage(
                gettext_noop("The row has %(found)s fields but the header has %(expected)s."),
                {"found": len(values), "expected": width},
            ),
        )
    return ParsedRow(number=number, values=values)


def headers_check(headers: list[str]) -> None:
    seen = set()
    for position, header in enumerate(headers, start=1):
        if not header:
            raise FileFormatError(_("Column %(position)s has an empty header.") % {"position": position})
        if header in seen:
            raise FileFormatError(_("The header %(header)r appears twice.") % {"header": header})
        seen.add(header)

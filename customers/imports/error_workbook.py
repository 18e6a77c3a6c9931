"""The invalid rows of an import as an XLSX workbook, in the active language."""

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from .report import stored_error_display


def text_cell(sheet, value: str) -> WriteOnlyCell:
    # A string cell keeps leading zeros, and a spreadsheet never runs its text as a formula.
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def errors_workbook(*, entries: list[dict], file_name: str) -> bytes:
    """Return an XLSX file with one line per row error: row, column, value and reason, the
    headers and reasons in the active language."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Row errors")[:31])
    sheet.append([text_cell(sheet, _("File")), text_cell(sheet, file_name)])
    sheet.append([])
    sheet.append([text_cell(sheet, header) for header in (_("Row"), _("Column"), _("Value"), _("Problem"))])
    for entry in entries:
        error = stored_error_display(entry)
        sheet.append([
            error["row"],
            text_cell(sheet, error["column"]),
            text_cell(sheet, error["value"]),
            text_cell(sheet, error["message"]),
        ])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()

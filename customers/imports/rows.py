"""Turn the rows of a parsed file into field values and row errors, for any kind of import."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from .mapping import IGNORE, ImportField, extra_columns, fields_by_name, mapping_validate
from .parsing import ParsedTable
from .report import RowError
from .values import ValueInvalid


@dataclass
class CheckedRow:
    number: int
    # Parsed values of the non-blank mapped cells; a blank cell leaves its field out.
    values: dict[str, object] = field(default_factory=dict)
    # The cell text of each mapped field, for error messages raised later.
    raw: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def error(self, *, column: str, value: str, msgid: str, params: dict | None = None) -> None:
        """Record an error. `msgid` is untranslated (marked with gettext_noop) and `params` fill its placeholders."""
        self.errors.append(RowError(row=self.number, column=column, value=value, msgid=msgid, params=params or {}))


def rows_check(*, table: ParsedTable, mapping: dict[str, str], fields: list[ImportField]) -> Iterator[CheckedRow]:
    """Yield each data row with its parsed values and errors.

    Checks the field count, every mapped value, required fields and that a customer number
    appears only once. Raises MappingInvalid before the first row if the mapping is unusable."""
    field_columns = mapping_validate(mapping=mapping, headers=table.headers, fields=fields)
    known = fields_by_name(fields)
    extras = extra_columns(mapping=mapping, headers=table.headers)
    first_row_of_customer: dict[str, int] = {}

    for parsed in table.rows:
        row = CheckedRow(number=parsed.number)
        if parsed.field_count_error:
            row.error(
                column="", value="", msgid=parsed.field_count_error.msgid, params=parsed.field_count_error.params
            )
            yield row
            continue

        for field_name, index in field_columns.items():
            header = table.headers[index]
            text = parsed.values[index]
            row.raw[field_name] = text
            if not text.strip():
                if known[field_name].required:
                    row.error(column=header, value=text, msgid=gettext_noop("Missing value: this field is required."))
                continue
            try:
                row.values[field_name] = known[field_name].parse(text)
            except ValueInvalid as error:
                row.error(column=header, value=text, msgid=error.msgid, params=error.params)

        for header, index in extras:
            if mapping.get(header) != IGNORE:
                row.extra[header] = parsed.values[index]

        customer_no = row.values.get("customer_no")
        if customer_no:
            first_row = first_row_of_customer.setdefault(customer_no, row.number)
            if first_row != row.number:
                row.error(
                    column=table.headers[field_columns["customer_no"]],
                    value=customer_no,
                    msgid=gettext_noop("Duplicate customer number: it already appears in row %(row)s."),
                    params={"row": first_row},
                )
        yield row

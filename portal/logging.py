"""A logging filter that masks phone numbers, ID numbers and e-mail addresses in log records.

The portal's own log calls identify records by id, and tests/security/test_personal_data_job.py
checks that the main job passes them no identifiers. The filter covers what the code cannot
control: exception messages (a database error quoting a row, an SMTP error quoting a
recipient), SQL parameters logged at DEBUG, and request lines with a search term.
settings.LOGGING attaches it to every handler."""

import logging

from .masking import mask_identifiers_in_text


class MaskPersonalDataFilter(logging.Filter):
    """Mask personal identifiers in a record's message, exception text and stack before a
    handler formats it. The record is changed in place, so later handlers get the masked text
    too, and it is always let through."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format string: leave the record as it is, so the
            # handler reports the broken call through handleError instead of failing the caller.
            return True
        record.msg = mask_identifiers_in_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, so they print the masked traceback.
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_identifiers_in_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_identifiers_in_text(record.stack_info)
        return True

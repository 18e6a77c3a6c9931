"""A logging formatter that writes each record as one JSON object on one line.

Log collectors (journald, Filebeat, Fluent Bit) read such lines without a parsing rule. The
formatter relies on the filters in portal.logging running first on the same handler: the
masking filter, which masks the message and exception text, and the context filter, which sets
request_id, task_id and user_id."""

import datetime
import json
import logging

from .logging import AMOUNT_FIELD_NAMES, mask_log_text

# Attributes that every LogRecord has. Anything else on a record came from `extra=`.
STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# Attributes that the context filter sets, written as fields of their own.
CONTEXT_ATTRIBUTES = ("request_id", "task_id", "user_id")
# Names of `extra=` values that are never written: personal identifiers and balances.
SENSITIVE_EXTRA_NAMES = frozenset(AMOUNT_FIELD_NAMES) | {"phone", "mobile", "id_number", "email", "password"}


class JsonFormatter(logging.Formatter):
    """Format a record as a JSON object with the fields time (UTC, ISO 8601), level, logger,
    message, request_id, task_id, user_id, process, and exception or stack when present.

    Values passed with `extra=` are added when they are strings, numbers, booleans or None,
    strings masked like the message. Other objects (Django adds the request object to its
    request log records) are left out, because their text can contain a query string with
    personal data."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_ATTRIBUTES:
            entry[name] = getattr(record, name, None)
        entry["process"] = record.process
        entry.update(self.extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # json.dumps escapes newlines inside strings, so a traceback stays on the one line.
        return json.dumps(entry, ensure_ascii=False, default=str)

    def extra_fields(self, record: logging.LogRecord) -> dict:
        fields = {}
        for name, value in vars(record).items():
            if name in STANDARD_RECORD_ATTRIBUTES or name in CONTEXT_ATTRIBUTES or name.startswith("_"):
                continue
            if name.lower() in SENSITIVE_EXTRA_NAMES:
                continue
            if isinstance(value, str):
                fields[name] = mask_log_text(value)
            elif value is None or isinstance(value, (bool, int, float)):
                fields[name] = value
        return fields

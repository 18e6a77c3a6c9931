"""Logging filters: masking of personal data, and the request and task context of a record.

MaskPersonalDataFilter masks phone numbers, ID numbers and e-mail addresses, and removes
amounts written with a balance field's name (aum=1200000.00). The portal's own log calls
identify records by id, and tests/security/test_personal_data_job.py checks that the main job
passes them no identifiers. The filter covers what the code cannot control: exception messages
(a database error quoting a row, an SMTP error quoting a recipient), SQL parameters logged at
DEBUG, and request lines with a search term. settings.LOGGING attaches it to every handler."""

import logging
import re

from celery import current_task

from .masking import mask_identifiers_in_text
from .request_id import current_request, request_user_id

# Field names whose values are balances. A number written right after one of them, with "=" or
# ":" between (aum=1200.00, 'aum': Decimal('1200.00'), PostgreSQL's "Key (aum)=(1200.00)"), is
# removed. Counts and other numbers without such a name are left alone.
AMOUNT_FIELD_NAMES = ("aum", "aum_before", "aum_after", "min_aum", "balance", "amount")
REMOVED_AMOUNT = "[removed]"
AMOUNT_PATTERN = re.compile(
    r"(?<![A-Za-z0-9_])(?P<prefix>(?:" + "|".join(AMOUNT_FIELD_NAMES) + r")"
    r"[\"')\]]*\s*[=:：]\s*[\"'(\[]*(?:Decimal\(['\"]?)?)"
    r"-?\d[\d,]*(?:\.\d+)?",
    re.IGNORECASE,
)


def remove_amounts(text: str) -> str:
    """Return `text` with the value after each balance field name replaced by [removed]."""
    return AMOUNT_PATTERN.sub(lambda match: match.group("prefix") + REMOVED_AMOUNT, text)


def mask_log_text(text: str) -> str:
    return remove_amounts(mask_identifiers_in_text(text))


class MaskPersonalDataFilter(logging.Filter):
    """Mask personal identifiers and remove balances in a record's message, exception text and
    stack before a handler formats it. The record is changed in place, so later handlers get
    the masked text too, and it is always let through."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format string: leave the record as it is, so the
            # handler reports the broken call through handleError instead of failing the caller.
            return True
        record.msg = mask_log_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, so they print the masked traceback.
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return True


class ForbiddenTracebackFilter(logging.Filter):
    """Drop the traceback from Django's "Forbidden" warnings. Every refused request logs one,
    which buried other warnings, and the audit trail records each refusal with its user, path
    and address."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


class RequestContextFilter(logging.Filter):
    """Set request_id, task_id and user_id on a record: the request being served
    (portal.request_id.RequestIdMiddleware) and its signed-in user, or the Celery task being
    run. Each is None where there is none, so format strings can always name them."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        record.request_id = getattr(request, "request_id", None)
        record.user_id = request_user_id(request) if request is not None else None
        # current_task is a proxy that is falsy outside a task.
        record.task_id = current_task.request.id if current_task else None
        return True

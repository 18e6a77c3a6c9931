"""Reminder mails: the morning digest, due-soon reminders, the escalation chain, returned-task
notices and the campaign owner and platform summaries, each sent once through the ledger."""

from .delivery import (
    DAILY_KINDS,
    NOTICE_KINDS,
    SEND_ERRORS,
    ReminderRunResult,
    reminders_business_date_today,
    reminders_run,
)
from .scan import BUSINESS_TIMEZONE

__all__ = [
    "BUSINESS_TIMEZONE",
    "DAILY_KINDS",
    "NOTICE_KINDS",
    "SEND_ERRORS",
    "ReminderRunResult",
    "reminders_business_date_today",
    "reminders_run",
]

"""Write the due reminders into the ledger, then send every unsent row, one mail per
recipient, kind and escalation level.

Writing is idempotent: the ledger's unique key turns a second insert of the same reminder
into nothing. Sending locks the mail's rows (skipping rows a concurrent run holds), sends,
and marks them sent in the same transaction, so a second run, a duplicate Celery delivery
or a second beat finds them sent or locked and sends nothing."""

import datetime
import hashlib
import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from portal.models import User

from ..calendar import WorkingCalendar
from ..models import Reminder
from .content import MailContent, mail_content
from .scan import BUSINESS_TIMEZONE, LedgerKey, ledger_keys, week_start

logger = logging.getLogger(__name__)

# Errors of one mail that must not stop the batch: SMTP refusals, network failures, and
# invalid headers (Django's BadHeaderError is a ValueError).
SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError)

LAST_ERROR_MAX_LENGTH = 2000
INSERT_BATCH_SIZE = 1000
# A failed mail is tried again by later runs until it has had this many attempts.
DEFAULT_MAX_ATTEMPTS = 6

DAILY_KINDS = (
    Reminder.Kind.DIGEST,
    Reminder.Kind.DUE_SOON,
    Reminder.Kind.ESCALATION,
    Reminder.Kind.RETURNED,
    Reminder.Kind.OWNER_SUMMARY,
    Reminder.Kind.PLATFORM_SUMMARY,
)
# The kinds worth sending during the day, a few minutes after the event.
NOTICE_KINDS = (Reminder.Kind.RETURNED,)
# Kinds about tasks: a row left unsent by an earlier day is still worth sending.
TASK_KINDS = (Reminder.Kind.DUE_SOON, Reminder.Kind.ESCALATION, Reminder.Kind.RETURNED)

MailKey = tuple[int, str, int | None]


@dataclass
class ReminderRunResult:
    """Counts of one run, one per mail (recipient, kind and escalation level)."""

    sent: int = 0
    skipped_already_sent: int = 0
    # The ledger rows are locked by a concurrent run, which is sending that mail now.
    skipped_in_progress: int = 0
    skipped_no_email: int = 0
    # Every task of the mail was closed, reassigned or rescheduled before it went out.
    skipped_cancelled: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def max_attempts() -> int:
    return getattr(settings, "REMINDER_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)


def reminders_business_date_today() -> datetime.date:
    return timezone.localdate(timezone=BUSINESS_TIMEZONE)


def reminders_run(*, business_date: datetime.date, kinds: Iterable[str] = DAILY_KINDS) -> ReminderRunResult:
    """Write the reminders of `kinds` due on `business_date` into the ledger and send every
    row the ledger does not record as sent. A failed mail is recorded on its rows and tried
    again by later runs, up to REMINDER_MAX_ATTEMPTS attempts."""
    kinds = tuple(kinds)
    logger.info("Reminders %s: run of %s started", business_date, ", ".join(kinds))
    result = ReminderRunResult()
    calendar = WorkingCalendar()

    keys = ledger_keys(business_date=business_date, kinds=kinds, calendar=calendar)
    recipients = User.objects.in_bulk({key.recipient_id for key in keys})
    keys = _keys_with_address(keys=keys, recipients=recipients, result=result, business_date=business_date)
    _ledger_insert(keys)

    mails = _unsent_mails(business_date=business_date, kinds=kinds)
    # NOTE: this also counts mails whose rows were cancelled or failed for good, since only the
    # unsent rows are read back here.
    result.skipped_already_sent = len({key.mail_key for key in keys} - mails.keys())
    missing = {recipient_id for recipient_id, _kind, _level in mails} - recipients.keys()
    recipients.update(User.objects.in_bulk(missing))

    for mail_key, row_ids in mails.items():
        recipient = recipients[mail_key[0]]
        if not recipient.email:
            result.skipped_no_email += 1
            continue
        outcome = _mail_deliver(recipient=recipient, row_ids=row_ids, business_date=business_date, calendar=calendar)
        setattr(result, outcome, getattr(result, outcome) + 1)

    logger.info(
        "Reminders %s: run finished, %s sent, %s already sent, %s in progress elsewhere, %s without e-mail, "
        "%s cancelled, %s failed",
        business_date,
        result.sent,
        result.skipped_already_sent,
        result.skipped_in_progress,
        result.skipped_no_email,
        result.skipped_cancelled,
        result.failed,
    )
    return result


def _keys_with_address(
    *, keys: list[LedgerKey], recipients: dict[int, User], result: ReminderRunResult, business_date: datetime.date
) -> list[LedgerKey]:
    """Drop the keys of recipients without an e-mail address, counting and logging one per mail."""
    kept = []
    skipped: set[MailKey] = set()
    for key in keys:
        if recipients[key.recipient_id].email:
            kept.append(key)
        elif key.mail_key not in skipped:
            skipped.add(key.mail_key)
            logger.warning(
                "Reminders %s: user %s has no e-mail address, %s not sent", business_date, key.recipient_id, key.kind
            )
    result.skipped_no_email += len(skipped)
    return kept


def _ledger_insert(keys: list[LedgerKey]) -> None:
    rows = [
        Reminder(
            recipient_id=key.recipient_id,
            kind=key.kind,
            subject_key=key.subject_key,
            business_date=key.business_date,
            task_id=key.task_id,
            escalation_level=key.escalation_level,
        )
        for key in keys
    ]
    # A row that already exists, from an earlier or a concurrent run, is left as it is.
    Reminder.objects.bulk_create(rows, batch_size=INSERT_BATCH_SIZE, ignore_conflicts=True)


def _unsent_mails(*, business_date: datetime.date, kinds: tuple[str, ...]) -> dict[MailKey, list[int]]:
    """Group the ledger rows still to send by mail. Digests and summaries of earlier days are
    stale and left out; rows about tasks are sent late rather than never."""
    current = Q(kind__in=[Reminder.Kind.DIGEST, Reminder.Kind.PLATFORM_SUMMARY], business_date=business_date) | Q(
        kind=Reminder.Kind.OWNER_SUMMARY, business_date=week_start(business_date)
    )
    late_allowed = Q(kind__in=TASK_KINDS, business_date__lte=business_date)
    rows = (
        Reminder.objects.filter(current | late_allowed)
        .filter(
            kind__in=kinds,
            status__in=[Reminder.Status.PENDING, Reminder.Status.FAILED],
            attempts__lt=max_attempts(),
        )
        .order_by("recipient_id", "kind", "escalation_level", "pk")
        .values_list("pk", "recipient_id", "kind", "escalation_level")
    )
    mails: dict[MailKey, list[int]] = defaultdict(list)
    for pk, recipient_id, kind, level in rows:
        mails[(recipient_id, kind, level)].append(pk)
    return mails


def _message_id(rows: list[Reminder]) -> str:
    """Derive the Message-ID from the ledger rows, so a mail sent again after a crash carries
    the same id and a receiving server or client can drop the copy."""
    digest = hashlib.sha256(",".join(str(row.pk) for row in rows).encode()).hexdigest()[:24]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "portal.invalid"
    return f"<reminder.{rows[0].kind}.{digest}@{domain}>"


def _message_build(*, recipient: User, content: MailContent, rows: list[Reminder]) -> EmailMultiAlternatives:
    """Render the subject, text part and HTML part in the recipient's language."""
    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"{content.template_prefix}_subject.txt", content.context)
        text_body = render_to_string(f"{content.template_prefix}.txt", content.context)
        html_body = render_to_string(f"{content.template_prefix}.html", content.context)

    # A subject is one header line, so line breaks from template whitespace are removed.
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(
        subject=subject, body=text_body, to=[recipient.email], headers={"Message-ID": _message_id(rows)}
    )
    message.attach_alternative(html_body, "text/html")
    return message


def _rows_claim(row_ids: list[int]) -> list[Reminder]:
    return list(
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(pk__in=row_ids, status__in=[Reminder.Status.PENDING, Reminder.Status.FAILED])
        .order_by("pk")
    )


def _mail_deliver(
    *, recipient: User, row_ids: list[int], business_date: datetime.date, calendar: WorkingCalendar
) -> str:
    """Claim the ledger rows of one mail, send it and record the outcome. Return the name of
    the ReminderRunResult counter to increase."""
    # The SMTP connection stays open until the ledger has committed, so the QUIT round trip
    # lies outside the window in which a crash leaves a delivered mail recorded as unsent.
    connection = get_connection()
    try:
        return _mail_deliver_on(
            connection, recipient=recipient, row_ids=row_ids, business_date=business_date, calendar=calendar
        )
    finally:
        _connection_close(connection, recipient=recipient, business_date=business_date)


def _mail_deliver_on(
    connection, *, recipient: User, row_ids: list[int], business_date: datetime.date, calendar: WorkingCalendar
) -> str:
    with transaction.atomic():
        # The row locks are held while the mail is sent, so a concurrent run on PostgreSQL
        # skips these rows instead of sending the mail a second time.
        # NOTE: SQLite has no row locks and Django ignores select_for_update there, so two
        # concurrent runs on SQLite can both send the same mail.
        rows = _rows_claim(row_ids)
        if not rows:
            sent = Reminder.objects.filter(pk__in=row_ids, status=Reminder.Status.SENT).exists()
            return "skipped_already_sent" if sent else "skipped_in_progress"
        kind = rows[0].kind
        claimed_ids = [row.pk for row in rows]

        try:
            content = mail_content(rows=rows, recipient=recipient, business_date=business_date, calendar=calendar)
            if content.cancelled_ids:
                Reminder.objects.filter(pk__in=content.cancelled_ids).update(status=Reminder.Status.CANCELLED)
                claimed_ids = [pk for pk in claimed_ids if pk not in set(content.cancelled_ids)]
                rows = [row for row in rows if row.pk in claimed_ids]
            if not rows or content.is_empty:
                Reminder.objects.filter(pk__in=claimed_ids).update(status=Reminder.Status.CANCELLED)
                logger.info("Reminders %s: %s of user %s no longer needed", business_date, kind, recipient.pk)
                return "skipped_cancelled"
            message = _message_build(recipient=recipient, content=content, rows=rows)
            # Opened here rather than by send_messages(), which would also send QUIT before returning.
            connection.open()
            connection.send_messages([message])
        except SEND_ERRORS as error:
            return _rows_mark_failed(rows=rows, recipient=recipient, business_date=business_date, error=error)
        except DatabaseError:
            raise
        except Exception as error:  # noqa: BLE001 - a broken template must not stop the other mails
            logger.exception("Reminders %s: building the %s of user %s failed", business_date, kind, recipient.pk)
            return _rows_mark_failed(rows=rows, recipient=recipient, business_date=business_date, error=error)

        # NOTE: if the process dies after the SMTP server accepted the mail (its reply to the end
        # of DATA) but before this UPDATE commits, the rows stay pending and a later run sends the
        # mail again, with the same Message-ID. Closing that window needs a "sending" claim
        # committed before the SMTP transaction, which the ledger has no status for yet.
        Reminder.objects.filter(pk__in=claimed_ids).update(
            status=Reminder.Status.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )

    logger.info(
        "Reminders %s: sent the %s of user %s covering %s ledger rows", business_date, kind, recipient.pk, len(rows)
    )
    return "sent"


def _connection_close(connection, *, recipient: User, business_date: datetime.date) -> None:
    """Close the SMTP connection of one mail. A failed QUIT is logged and otherwise ignored,
    because the ledger already records whether the server accepted the mail."""
    try:
        connection.close()
    except SEND_ERRORS as error:
        logger.warning(
            "Reminders %s: closing the SMTP connection after the mail to user %s failed: %s",
            business_date,
            recipient.pk,
            error,
        )


def _rows_mark_failed(
    *, rows: list[Reminder], recipient: User, business_date: datetime.date, error: Exception
) -> str:
    last_error = f"{type(error).__name__}: {error}"[:LAST_ERROR_MAX_LENGTH]
    Reminder.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=Reminder.Status.FAILED, attempts=F("attempts") + 1, last_error=last_error
    )
    attempts = rows[0].attempts + 1
    if attempts >= max_attempts():
        logger.error(
            "Reminders %s: giving up on the %s of user %s after %s attempts: %s",
            business_date,
            rows[0].kind,
            recipient.pk,
            attempts,
            last_error,
        )
    else:
        logger.warning(
            "Reminders %s: sending the %s of user %s failed on attempt %s: %s",
            business_date,
            rows[0].kind,
            recipient.pk,
            attempts,
            last_error,
        )
    return "failed"

"""Morning reminder mails: a digest for each client manager and an escalation for each
supervisor, once per (recipient, kind, subject_key, business_date).

The Reminder ledger row is claimed before a mail is sent and marked sent afterwards, so a
second run of the same day, or a concurrent one on PostgreSQL, skips what is already
delivered. _reminder_deliver notes the cases that can still send a mail twice."""

import datetime
import logging
import smtplib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from portal.masking import mask_phone
from portal.models import Role, User

from .models import FollowUpTask, Reminder

logger = logging.getLogger(__name__)

# The bank's business day follows mainland China time, regardless of the server's time zone.
BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")

OPEN_TASK_STATUSES = (
    FollowUpTask.Status.OPEN,
    FollowUpTask.Status.IN_PROGRESS,
    FollowUpTask.Status.RETURNED,
)

# Errors of one mail that must not stop the batch: SMTP refusals, network failures, and
# invalid headers (Django's BadHeaderError is a ValueError).
SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError)

LAST_ERROR_MAX_LENGTH = 2000


@dataclass
class ReminderRunResult:
    """Counts of one run, one mail per (recipient, kind)."""

    sent: int = 0
    skipped_already_sent: int = 0
    # The ledger row is locked by a concurrent run, which is sending that mail now.
    skipped_in_progress: int = 0
    skipped_no_email: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class ReminderMail:
    """One mail to build and send: who gets it, its ledger key and its template context."""

    recipient: User
    kind: str
    template_prefix: str
    context: dict = field(default_factory=dict)
    # Empty for the digest and the escalation, which are one mail per recipient and day.
    subject_key: str = ""

    @property
    def ledger_key(self) -> tuple[int, str, str]:
        return (self.recipient.pk, self.kind, self.subject_key)


def reminders_business_date_today() -> datetime.date:
    return timezone.localdate(timezone=BUSINESS_TIMEZONE)


def reminders_run(*, business_date: datetime.date) -> ReminderRunResult:
    """Send the digests and escalations of `business_date` that the ledger does not record as
    sent. A failed mail is recorded on its ledger row and sent again by the next run."""
    logger.info("Reminders %s: run started", business_date)
    result = ReminderRunResult()
    mails = [
        *_digest_mails(business_date=business_date),
        *_escalation_mails(business_date=business_date),
    ]
    already_sent = set(
        Reminder.objects.filter(business_date=business_date, status=Reminder.Status.SENT).values_list(
            "recipient_id", "kind", "subject_key"
        )
    )

    for mail in mails:
        if mail.ledger_key in already_sent:
            result.skipped_already_sent += 1
            continue
        if not mail.recipient.email:
            logger.warning(
                "Reminders %s: user %s has no e-mail address, %s not sent", business_date, mail.recipient.pk, mail.kind
            )
            result.skipped_no_email += 1
            continue
        outcome = _reminder_deliver(mail=mail, business_date=business_date)
        setattr(result, outcome, getattr(result, outcome) + 1)

    logger.info(
        "Reminders %s: run finished, %s sent, %s already sent, %s in progress elsewhere, %s without e-mail, %s failed",
        business_date,
        result.sent,
        result.skipped_already_sent,
        result.skipped_in_progress,
        result.skipped_no_email,
        result.failed,
    )
    return result


def _digest_mails(*, business_date: datetime.date) -> list[ReminderMail]:
    """Build one digest per active client manager who wants it and has open tasks that are
    overdue or due within REMINDER_DUE_SOON_DAYS days, today included."""
    week_ends_on = business_date + datetime.timedelta(days=settings.REMINDER_DUE_SOON_DAYS - 1)
    tasks = (
        FollowUpTask.objects.filter(
            status__in=OPEN_TASK_STATUSES,
            due_on__lte=week_ends_on,
            assignee__is_active=True,
            assignee__role=Role.CLIENT_MANAGER,
            assignee__receive_digest=True,
        )
        .select_related("assignee", "customer", "campaign")
        .order_by("assignee_id", "due_on", "id")
    )

    tasks_by_manager: dict[int, list[FollowUpTask]] = defaultdict(list)
    managers: dict[int, User] = {}
    for task in tasks:
        tasks_by_manager[task.assignee_id].append(task)
        managers.setdefault(task.assignee_id, task.assignee)

    mails = []
    for manager_id, manager_tasks in tasks_by_manager.items():
        context = {
            "recipient": managers[manager_id],
            "business_date": business_date,
            "week_ends_on": week_ends_on,
            "overdue": [_task_row(task, business_date) for task in manager_tasks if task.due_on < business_date],
            "due_today": [_task_row(task, business_date) for task in manager_tasks if task.due_on == business_date],
            "due_this_week": [_task_row(task, business_date) for task in manager_tasks if task.due_on > business_date],
            "task_count": len(manager_tasks),
            "task_list_url": _portal_url(reverse("campaigns:my_tasks")),
        }
        mails.append(
            ReminderMail(
                recipient=managers[manager_id],
                kind=Reminder.Kind.DIGEST,
                template_prefix="emails/reminder_digest",
                context=context,
            )
        )
    return mails


def _escalation_mails(*, business_date: datetime.date) -> list[ReminderMail]:
    """Build one escalation per active supervisor whose client managers have open tasks overdue
    by more than REMINDER_ESCALATION_DAYS days. The supervisor's receive_digest is ignored."""
    threshold_days = settings.REMINDER_ESCALATION_DAYS
    tasks = (
        FollowUpTask.objects.filter(
            status__in=OPEN_TASK_STATUSES,
            due_on__lt=business_date - datetime.timedelta(days=threshold_days),
            assignee__supervisor__isnull=False,
            assignee__supervisor__is_active=True,
        )
        .select_related("assignee__supervisor", "customer", "campaign")
        .order_by("assignee__supervisor_id", "due_on", "id")
    )

    tasks_by_supervisor: dict[int, list[FollowUpTask]] = defaultdict(list)
    supervisors: dict[int, User] = {}
    for task in tasks:
        tasks_by_supervisor[task.assignee.supervisor_id].append(task)
        supervisors.setdefault(task.assignee.supervisor_id, task.assignee.supervisor)

    mails = []
    for supervisor_id, supervisor_tasks in tasks_by_supervisor.items():
        context = {
            "recipient": supervisors[supervisor_id],
            "business_date": business_date,
            "threshold_days": threshold_days,
            "tasks": [_task_row(task, business_date) for task in supervisor_tasks],
            "task_count": len(supervisor_tasks),
            "task_list_url": _portal_url(reverse("campaigns:task_list")),
        }
        mails.append(
            ReminderMail(
                recipient=supervisors[supervisor_id],
                kind=Reminder.Kind.ESCALATION,
                template_prefix="emails/reminder_escalation",
                context=context,
            )
        )
    return mails


def _task_row(task: FollowUpTask, business_date: datetime.date) -> dict:
    """Return what a mail may show of a task. The customer appears by name and masked phone
    only, so templates never see the ID number, the full phone or the AUM."""
    return {
        "pk": task.pk,
        "customer_name": task.customer.name or task.customer.customer_no,
        "customer_phone": mask_phone(task.customer.phone),
        "campaign_name": task.campaign.name,
        "client_manager": str(task.assignee) if task.assignee_id else "",
        "due_on": task.due_on,
        "days_overdue": (business_date - task.due_on).days,
        "url": _portal_url(reverse("campaigns:task_detail", args=[task.pk])),
    }


def _portal_url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _reminder_message(mail: ReminderMail) -> EmailMultiAlternatives:
    """Render the subject, text part and HTML part in the recipient's language."""
    with translation.override(mail.recipient.language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"{mail.template_prefix}_subject.txt", mail.context)
        text_body = render_to_string(f"{mail.template_prefix}.txt", mail.context)
        html_body = render_to_string(f"{mail.template_prefix}.html", mail.context)

    # A subject is one header line, so line breaks from template whitespace are removed.
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(subject=subject, body=text_body, to=[mail.recipient.email])
    message.attach_alternative(html_body, "text/html")
    return message


def _reminder_deliver(*, mail: ReminderMail, business_date: datetime.date) -> str:
    """Claim the ledger row of `mail`, send it and record the outcome. Return the name of
    the ReminderRunResult counter to increase."""
    recipient_id, kind, subject_key = mail.ledger_key
    # get_or_create re-reads the row when a concurrent run inserted it first.
    claimed, _created = Reminder.objects.get_or_create(
        recipient_id=recipient_id, kind=kind, subject_key=subject_key, business_date=business_date
    )
    message = _reminder_message(mail)

    with transaction.atomic():
        # The row lock is held while the mail is sent, so a concurrent run on PostgreSQL skips
        # this row instead of sending the mail a second time.
        # NOTE: SQLite has no row locks and Django ignores select_for_update there, so two
        # concurrent runs on SQLite can both send the same mail.
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(pk=claimed.pk)
            .exclude(status=Reminder.Status.SENT)
            .first()
        )
        if reminder is None:
            status = Reminder.objects.filter(pk=claimed.pk).values_list("status", flat=True).first()
            return "skipped_already_sent" if status == Reminder.Status.SENT else "skipped_in_progress"

        reminder.attempts += 1
        try:
            message.send()
        except SEND_ERRORS as error:
            reminder.status = Reminder.Status.FAILED
            reminder.last_error = f"{type(error).__name__}: {error}"[:LAST_ERROR_MAX_LENGTH]
            reminder.save(update_fields=["status", "attempts", "last_error"])
            logger.warning(
                "Reminder %s: sending the %s of %s to user %s failed on attempt %s: %s",
                reminder.pk,
                kind,
                business_date,
                recipient_id,
                reminder.attempts,
                reminder.last_error,
            )
            return "failed"

        # NOTE: if the process dies after the SMTP server accepted the mail but before this
        # commit, the row stays pending and the next run sends the mail again.
        reminder.status = Reminder.Status.SENT
        reminder.sent_at = timezone.now()
        reminder.last_error = ""
        reminder.save(update_fields=["status", "attempts", "last_error", "sent_at"])

    logger.info("Reminder %s: sent the %s of %s to user %s", reminder.pk, kind, business_date, recipient_id)
    return "sent"

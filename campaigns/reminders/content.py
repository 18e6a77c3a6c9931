"""The template and context of each kind of reminder mail.

Mails show a customer by name and masked phone only, so templates never see the ID number,
the full phone or the AUM. A mail about tasks drops the tasks that no longer need the
reminder (closed, reassigned or rescheduled since the ledger row was written)."""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse

from portal.masking import mask_identifiers_in_text, mask_phone
from portal.models import User

from ..models import Campaign, FollowUpTask, Reminder
from .scan import OPEN_TASK_STATUSES, escalation_working_days


@dataclass
class MailContent:
    """The content of one mail, and the ledger rows that no longer need a mail."""

    template_prefix: str
    context: dict
    # Ledger rows whose task no longer needs this reminder; they are marked cancelled.
    cancelled_ids: list[int] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return self.context.get("task_count", 1) == 0


def portal_url(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def task_row(task: FollowUpTask, business_date: datetime.date) -> dict:
    return {
        "pk": task.pk,
        "customer_name": task.customer.name or task.customer.customer_no,
        "customer_phone": mask_phone(task.customer.phone),
        "campaign_name": task.campaign.name,
        "client_manager": str(task.assignee) if task.assignee_id else "",
        "due_on": task.due_on,
        "days_overdue": (business_date - task.due_on).days,
        # The reason is free text, and a phone or ID number typed into it must not leave in a mail.
        "return_reason": mask_identifiers_in_text(task.return_reason),
        "url": portal_url(reverse("campaigns:task_detail", args=[task.pk])),
    }


def _row_still_needed(row: Reminder, task: FollowUpTask | None) -> bool:
    if task is None or task.status not in OPEN_TASK_STATUSES:
        return False
    if row.kind == Reminder.Kind.RETURNED:
        return task.status == FollowUpTask.Status.RETURNED and task.assignee_id == row.recipient_id
    # The subject key names the due date the reminder was written for.
    if not row.subject_key.startswith(f"task:{task.pk}:due:{task.due_on.isoformat()}"):
        return False
    if row.kind == Reminder.Kind.DUE_SOON or row.escalation_level == 1:
        return task.assignee_id == row.recipient_id
    return True


def _task_mail(*, rows: list[Reminder], recipient: User, business_date: datetime.date) -> MailContent:
    tasks = FollowUpTask.objects.select_related("customer", "campaign", "assignee").in_bulk(
        [row.task_id for row in rows if row.task_id]
    )
    kept, cancelled_ids = [], []
    for row in rows:
        task = tasks.get(row.task_id)
        if _row_still_needed(row, task):
            kept.append(task)
        else:
            cancelled_ids.append(row.pk)
    kept.sort(key=lambda task: (task.due_on, task.pk))

    kind = rows[0].kind
    level = rows[0].escalation_level
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "tasks": [task_row(task, business_date) for task in kept],
        "task_count": len(kept),
        "escalation_level": level,
        "threshold_days": _threshold_of(level),
        "task_list_url": portal_url(
            reverse("campaigns:my_tasks" if recipient.is_client_manager else "campaigns:task_list")
        ),
    }
    template = {
        Reminder.Kind.DUE_SOON: "emails/reminder_due_soon",
        Reminder.Kind.ESCALATION: "emails/reminder_escalation",
        Reminder.Kind.RETURNED: "emails/reminder_returned",
    }[kind]
    return MailContent(template_prefix=template, context=context, cancelled_ids=cancelled_ids)


def _threshold_of(level: int | None) -> int | None:
    return escalation_working_days()[level - 1] if level else None


def _digest_mail(*, recipient: User, business_date: datetime.date) -> MailContent:
    window_ends_on = business_date + datetime.timedelta(days=settings.REMINDER_DUE_SOON_DAYS - 1)
    tasks = list(
        FollowUpTask.objects.filter(assignee=recipient, status__in=OPEN_TASK_STATUSES, due_on__lte=window_ends_on)
        .select_related("customer", "campaign", "assignee")
        .order_by("due_on", "pk")
    )
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "week_ends_on": window_ends_on,
        "overdue": [task_row(task, business_date) for task in tasks if task.due_on < business_date],
        "due_today": [task_row(task, business_date) for task in tasks if task.due_on == business_date],
        "due_this_week": [task_row(task, business_date) for task in tasks if task.due_on > business_date],
        "task_count": len(tasks),
        "task_list_url": portal_url(reverse("campaigns:my_tasks")),
    }
    return MailContent(template_prefix="emails/reminder_digest", context=context)


def _campaign_progress(campaigns, business_date: datetime.date) -> list[dict]:
    open_statuses = list(OPEN_TASK_STATUSES)
    rows = campaigns.annotate(
        total=Count("tasks"),
        open_count=Count("tasks", filter=Q(tasks__status__in=open_statuses)),
        overdue_count=Count("tasks", filter=Q(tasks__status__in=open_statuses, tasks__due_on__lt=business_date)),
        done_count=Count("tasks", filter=Q(tasks__status=FollowUpTask.Status.DONE)),
        verified_count=Count("tasks", filter=Q(tasks__status=FollowUpTask.Status.VERIFIED)),
    ).order_by("due_on", "pk")
    return [
        {
            "name": campaign.name,
            "due_on": campaign.due_on,
            "total": campaign.total,
            "open": campaign.open_count,
            "overdue": campaign.overdue_count,
            "done": campaign.done_count,
            "verified": campaign.verified_count,
            "url": portal_url(reverse("campaigns:detail", args=[campaign.pk])),
        }
        for campaign in rows
    ]


def _owner_summary_mail(*, recipient: User, business_date: datetime.date) -> MailContent:
    campaigns = Campaign.objects.filter(owner=recipient, status=Campaign.Status.ACTIVE)
    rows = _campaign_progress(campaigns, business_date)
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "campaigns": rows,
        "campaign_count": len(rows),
    }
    return MailContent(template_prefix="emails/reminder_owner_summary", context=context)


def _platform_summary_mail(*, recipient: User, business_date: datetime.date) -> MailContent:
    rows = _campaign_progress(Campaign.objects.filter(status=Campaign.Status.ACTIVE), business_date)
    previous_day = business_date - datetime.timedelta(days=1)
    failed_reminders = Reminder.objects.filter(status=Reminder.Status.FAILED, business_date__gte=previous_day).count()
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "campaigns": rows,
        "campaign_count": len(rows),
        "open_total": sum(row["open"] for row in rows),
        "overdue_total": sum(row["overdue"] for row in rows),
        "done_total": sum(row["done"] for row in rows),
        "failed_reminders": failed_reminders,
    }
    return MailContent(template_prefix="emails/reminder_platform_summary", context=context)


def mail_content(*, rows: list[Reminder], recipient: User, business_date: datetime.date) -> MailContent:
    """Build the mail of one recipient's ledger rows of one kind (and escalation level)."""
    kind = rows[0].kind
    if kind == Reminder.Kind.DIGEST:
        return _digest_mail(recipient=recipient, business_date=business_date)
    if kind == Reminder.Kind.OWNER_SUMMARY:
        return _owner_summary_mail(recipient=recipient, business_date=business_date)
    if kind == Reminder.Kind.PLATFORM_SUMMARY:
        return _platform_summary_mail(recipient=recipient, business_date=business_date)
    return _task_mail(rows=rows, recipient=recipient, business_date=business_date)

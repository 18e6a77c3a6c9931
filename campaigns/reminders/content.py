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

from ..calendar import WorkingCalendar
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


def _task_mail(
    *, rows: list[Reminder], recipient: User, business_date: datetime.date, calendar: WorkingCalendar
) -> MailContent:
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
    task_rows = [task_row(task, business_date) for task in kept]
    if kind == Reminder.Kind.ESCALATION:
        # The escalation thresholds count working days, so the task lines count them too.
        # A task due on Friday is one working day overdue on Monday, not three days.
        for row in task_rows:
            row["working_days_overdue"] = calendar.working_days_between(row["due_on"], business_date)
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "tasks": task_rows,
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
    # Only the ids and due dates of all the manager's tasks are read, to count them and pick the
    # most urgent ones: overdue oldest first, then due soonest, as the task list sorts them.
    # NOTE: an ORDER BY due_on LIMIT query instead makes PostgreSQL walk the global due-date
    # index and filter by assignee (13 ms for one manager on the 2,000,000-task benchmark data),
    # where this reads the assignee's rows through task_assignee_status_due_idx.
    keys = sorted(
        FollowUpTask.objects.filter(
            assignee=recipient, status__in=OPEN_TASK_STATUSES, due_on__lte=window_ends_on
        ).values_list("due_on", "pk")
    )
    overdue_count = sum(1 for due_on, _pk in keys if due_on < business_date)
    due_today_count = sum(1 for due_on, _pk in keys if due_on == business_date)
    listed_ids = [pk for _due_on, pk in keys[: settings.REMINDER_DIGEST_MAX_TASKS]]
    # Every task's assignee is the recipient, so the query joins no user table.
    tasks = FollowUpTask.objects.select_related("customer", "campaign").in_bulk(listed_ids)
    for task in tasks.values():
        task.assignee = recipient
    # A task closed between the two queries is left out of the lines but still counted.
    listed_rows = [task_row(tasks[pk], business_date) for pk in listed_ids if pk in tasks]
    context = {
        "recipient": recipient,
        "business_date": business_date,
        "week_ends_on": window_ends_on,
        "overdue": [row for row in listed_rows if row["due_on"] < business_date],
        "due_today": [row for row in listed_rows if row["due_on"] == business_date],
        "due_this_week": [row for row in listed_rows if row["due_on"] > business_date],
        "overdue_count": overdue_count,
        "due_today_count": due_today_count,
        "due_this_week_count": len(keys) - overdue_count - due_today_count,
        "task_count": len(keys),
        "more_count": len(keys) - len(listed_ids),
        "task_list_url": portal_url(reverse("campaigns:my_tasks")),
        # The task list filtered to the tasks this digest covers, in the same order.
        "more_url": portal_url(f"{reverse('campaigns:my_tasks')}?due_to={window_ends_on.isoformat()}"),
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


def mail_content(
    *, rows: list[Reminder], recipient: User, business_date: datetime.date, calendar: WorkingCalendar | None = None
) -> MailContent:
    """Build the mail of one recipient's ledger rows of one kind (and escalation level). A run
    passes its `calendar`, so the working-day overrides are read once per run, not per mail."""
    kind = rows[0].kind
    if kind == Reminder.Kind.DIGEST:
        return _digest_mail(recipient=recipient, business_date=business_date)
    if kind == Reminder.Kind.OWNER_SUMMARY:
        return _owner_summary_mail(recipient=recipient, business_date=business_date)
    if kind == Reminder.Kind.PLATFORM_SUMMARY:
        return _platform_summary_mail(recipient=recipient, business_date=business_date)
    calendar = calendar or WorkingCalendar()
    return _task_mail(rows=rows, recipient=recipient, business_date=business_date, calendar=calendar)

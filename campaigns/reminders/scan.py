"""Decide from the database which reminders are due on a business date.

Each scan returns ledger keys. A key about a task names the task's due date. Its business date
is the day the reminder fell due, not the day of the run, so a late or repeated run produces
the same key and the ledger's unique constraint keeps it to one mail."""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from portal.models import Role, User

from ..calendar import WorkingCalendar
from ..models import Campaign, FollowUpTask, Reminder, TaskEvent

# The bank's business day follows mainland China time, regardless of the server's time zone.
BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")

logger = logging.getLogger(__name__)

OPEN_TASK_STATUSES = (
    FollowUpTask.Status.OPEN,
    FollowUpTask.Status.IN_PROGRESS,
    FollowUpTask.Status.RETURNED,
)

# Working days overdue before each escalation level goes out: the client manager, the
# supervisor, then the head of the parent branch.
DEFAULT_ESCALATION_WORKING_DAYS = (1, 3, 5)


@dataclass(frozen=True)
class LedgerKey:
    """One reminder the ledger must hold: its unique key and what it is about."""

    recipient_id: int
    kind: str
    subject_key: str
    business_date: datetime.date
    task_id: int | None = None
    escalation_level: int | None = None

    @property
    def mail_key(self) -> tuple[int, str, int | None]:
        """The mail this reminder goes out in: one mail per recipient, kind and level."""
        return (self.recipient_id, self.kind, self.escalation_level)


def escalation_working_days() -> tuple[int, ...]:
    days = tuple(getattr(settings, "REMINDER_ESCALATION_WORKING_DAYS", DEFAULT_ESCALATION_WORKING_DAYS))
    if len(days) != 3 or any(day < 1 for day in days) or list(days) != sorted(days):
        raise ValueError(
            f"Invalid REMINDER_ESCALATION_WORKING_DAYS {days!r}: expected three increasing positive numbers, "
            "for example (1, 3, 5)"
        )
    return days


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def digest_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return one digest key per active client manager who wants it and has open tasks overdue or due
    within REMINDER_DUE_SOON_DAYS calendar days. None on non-working days."""
    if not calendar.is_working_day(business_date):
        return []
    window_ends_on = business_date + datetime.timedelta(days=settings.REMINDER_DUE_SOON_DAYS - 1)
    manager_ids = (
        FollowUpTask.objects.filter(
            status__in=OPEN_TASK_STATUSES,
            due_on__lte=window_ends_on,
            assignee__is_active=True,
            assignee__role=Role.CLIENT_MANAGER,
            assignee__receive_digest=True,
        )
        .values_list("assignee_id", flat=True)
        .distinct()
    )
    return [
        LedgerKey(recipient_id=manager_id, kind=Reminder.Kind.DIGEST, subject_key="", business_date=business_date)
        for manager_id in sorted(manager_ids)
    ]


def due_soon_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return one due-soon key per open task whose campaign's due-soon day has come and which is not yet
    overdue. The reminder's date is that due-soon day, even when a late run finds it."""
    longest_lead = (
        Campaign.objects.filter(status=Campaign.Status.ACTIVE).aggregate(longest=Max("due_soon_working_days"))["longest"]
        or 0
    )
    if longest_lead == 0:
        return []
    tasks = FollowUpTask.objects.filter(
        status__in=OPEN_TASK_STATUSES,
        campaign__status=Campaign.Status.ACTIVE,
        campaign__due_soon_working_days__gt=0,
        due_on__gte=business_date,
        due_on__lte=calendar.add_working_days(business_date, longest_lead),
        assignee__is_active=True,
    ).values_list("pk", "assignee_id", "due_on", "campaign__due_soon_working_days")

    keys = []
    for task_id, assignee_id, due_on, lead_days in tasks:
        reminder_date = calendar.add_working_days(due_on, -lead_days)
        if reminder_date > business_date:
            continue
        keys.append(
            LedgerKey(
                recipient_id=assignee_id,
                kind=Reminder.Kind.DUE_SOON,
                subject_key=f"task:{task_id}:due:{due_on.isoformat()}",
                business_date=reminder_date,
                task_id=task_id,
            )
        )
    return keys


def _branch_supervisors() -> dict[int, int]:
    """Map each branch id to its first active supervisor, the lowest id first when there are
    several. Level 3 falls back to this person when the parent branch has no usable head."""
    supervisors_by_branch: dict[int, int] = {}
    supervisors = User.objects.filter(role=Role.SUPERVISOR, is_active=True, branch__isnull=False).order_by("pk")
    for user_id, branch_id in supervisors.values_list("pk", "branch_id"):
        supervisors_by_branch.setdefault(branch_id, user_id)
    return supervisors_by_branch


class _ParentBranchHeads:
    """Resolve the level-3 recipient of a parent branch: its head (Branch.head) when that user is
    active, otherwise the branch's first active supervisor. Logs each branch without a usable head
    once per scan, with the number of tasks that needed it."""

    def __init__(self, business_date: datetime.date):
        self.business_date = business_date
        # Loaded up front so that a run makes the same number of queries with or without heads.
        self._supervisors = _branch_supervisors()
        self._missing: dict[int, tuple[int | None, int]] = {}

    def recipient(self, *, branch_id: int, head_id: int | None, head_active: bool | None) -> int | None:
        if head_id is not None and head_active:
            return head_id
        fallback_id = self._supervisors.get(branch_id)
        head_id_seen, tasks = self._missing.get(branch_id, (head_id, 0))
        self._missing[branch_id] = (head_id_seen, tasks + 1)
        return fallback_id

    def log_missing(self) -> None:
        for branch_id, (head_id_seen, tasks) in sorted(self._missing.items()):
            problem = "has no head" if head_id_seen is None else f"has an inactive head (user {head_id_seen})"
            fallback_id = self._supervisors.get(branch_id)
            if fallback_id is None:
                logger.warning(
                    "Reminders %s: branch %s %s and no active supervisor, so %s level-3 escalations are not sent. "
                    "Set the branch head in the admin",
                    self.business_date,
                    branch_id,
                    problem,
                    tasks,
                )
            else:
                logger.warning(
                    "Reminders %s: branch %s %s, so %s level-3 escalations go to its supervisor, user %s. "
                    "Set the branch head in the admin",
                    self.business_date,
                    branch_id,
                    problem,
                    tasks,
                    fallback_id,
                )


def escalation_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return the escalation keys of every open overdue task of an active campaign: the client manager after the first
    threshold of working days overdue, the supervisor after the second, and the head of the
    parent branch after the third. While the parent branch has no active head, the third level
    goes to its first active supervisor. A level whose recipient is missing, inactive, or the same
    person as a level below is left out."""
    thresholds = escalation_working_days()
    tasks = FollowUpTask.objects.filter(
        status__in=OPEN_TASK_STATUSES, campaign__status=Campaign.Status.ACTIVE, due_on__lt=business_date
    ).values_list(
        "pk",
        "due_on",
        "assignee_id",
        "assignee__is_active",
        "assignee__supervisor_id",
        "assignee__supervisor__is_active",
        "branch__parent_id",
        "branch__parent__head_id",
        "branch__parent__head__is_active",
    )
    heads = _ParentBranchHeads(business_date)

    keys = []
    for (
        task_id,
        due_on,
        assignee_id,
        assignee_active,
        supervisor_id,
        supervisor_active,
        parent_branch_id,
        head_id,
        head_active,
    ) in tasks:
        overdue_days = calendar.working_days_between(due_on, business_date)
        # The head is looked up only when level 3 is due, so a missing head is logged only then.
        head = None
        if parent_branch_id and overdue_days >= thresholds[2]:
            head = heads.recipient(branch_id=parent_branch_id, head_id=head_id, head_active=head_active)
        chain = [
            assignee_id if assignee_active else None,
            supervisor_id if supervisor_active else None,
            head,
        ]
        for level, (threshold, recipient_id) in enumerate(zip(thresholds, chain), start=1):
            if overdue_days < threshold or recipient_id is None:
                continue
            if recipient_id in chain[: level - 1]:
                continue
            keys.append(
                LedgerKey(
                    recipient_id=recipient_id,
                    kind=Reminder.Kind.ESCALATION,
                    subject_key=f"task:{task_id}:due:{due_on.isoformat()}:level:{level}",
                    business_date=calendar.add_working_days(due_on, threshold),
                    task_id=task_id,
                    escalation_level=level,
                )
            )
    heads.log_missing()
    return keys


def returned_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return one notice key per return of a task that is still returned, to its active client manager.
    The key names the return event, so a task returned a second time gets a second notice."""
    latest_returns = (
        TaskEvent.objects.filter(
            to_status=FollowUpTask.Status.RETURNED,
            task__status=FollowUpTask.Status.RETURNED,
            task__campaign__status=Campaign.Status.ACTIVE,
            task__assignee__is_active=True,
        )
        .values("task_id", "task__assignee_id")
        .annotate(event_id=Max("pk"), returned_at=Max("created_at"))
    )
    keys = []
    for row in latest_returns:
        keys.append(
            LedgerKey(
                recipient_id=row["task__assignee_id"],
                kind=Reminder.Kind.RETURNED,
                subject_key=f"task:{row['task_id']}:event:{row['event_id']}",
                # The day of the return, so the notice is keyed the same on every later run.
                business_date=timezone.localdate(row["returned_at"], timezone=BUSINESS_TIMEZONE),
                task_id=row["task_id"],
            )
        )
    return keys


def owner_summary_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return one summary key per week for each active owner of an active campaign, dated the Monday of
    the week. None on non-working days, so a Saturday launch waits for Monday."""
    if not calendar.is_working_day(business_date):
        return []
    owner_ids = (
        Campaign.objects.filter(status=Campaign.Status.ACTIVE, owner__is_active=True)
        .values_list("owner_id", flat=True)
        .distinct()
    )
    return [
        LedgerKey(
            recipient_id=owner_id,
            kind=Reminder.Kind.OWNER_SUMMARY,
            subject_key="",
            business_date=week_start(business_date),
        )
        for owner_id in sorted(owner_ids)
    ]


def platform_summary_keys(*, business_date: datetime.date, calendar: WorkingCalendar) -> list[LedgerKey]:
    """Return one summary key per working day for each active platform operator."""
    if not calendar.is_working_day(business_date):
        return []
    operator_ids = User.objects.filter(role=Role.PLATFORM, is_active=True).order_by("pk").values_list("pk", flat=True)
    return [
        LedgerKey(
            recipient_id=operator_id,
            kind=Reminder.Kind.PLATFORM_SUMMARY,
            subject_key="",
            business_date=business_date,
        )
        for operator_id in operator_ids
    ]


SCANS = {
    Reminder.Kind.DIGEST: digest_keys,
    Reminder.Kind.DUE_SOON: due_soon_keys,
    Reminder.Kind.ESCALATION: escalation_keys,
    Reminder.Kind.RETURNED: returned_keys,
    Reminder.Kind.OWNER_SUMMARY: owner_summary_keys,
    Reminder.Kind.PLATFORM_SUMMARY: platform_summary_keys,
}


def ledger_keys(*, business_date: datetime.date, kinds: Iterable[str], calendar: WorkingCalendar) -> list[LedgerKey]:
    keys = []
    for kind in kinds:
        keys.extend(SCANS[kind](business_date=business_date, calendar=calendar))
    return keys

"""Scheduled jobs that create tasks: next follow-ups and tier service standard care tasks.

Both jobs are safe to run twice, at the same time or one after the other. Each runs in one
transaction that first takes a lock of its own (a PostgreSQL advisory lock; SQLite lets one
writer in at a time anyway), then reads what earlier runs created and skips it."""

import calendar
import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import Customer, Tier
from portal.audit import audit_bulk
from portal.models import AuditEvent, Role, User

from .models import Campaign, FollowUpTask, TaskEvent
from .services import ACTIVE_TASK_STATUSES, task_assignees_available, task_open_loads

logger = logging.getLogger(__name__)

Status = FollowUpTask.Status

# A follow-up is created from a task the client manager has finished. An unfinished task
# stays the place to work, and its own due date and reminders apply.
FOLLOW_UP_SOURCE_STATUSES = (Status.DONE, Status.VERIFIED)
# Days a client manager has to make a care contact.
CARE_TASK_DUE_DAYS = 7


@dataclass
class JobResult:
    created: int = 0
    # Items left for the next run because no client manager was available for them.
    without_assignee: int = 0


def _job_lock(name: str) -> None:
    """Hold a lock named `name` until the current transaction ends, so runs of one job queue up."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


class AssigneePicker:
    """Choose the client manager of each new task of one run.

    A preferred user gets the task when they are available on `day` (active and not on leave).
    Otherwise it goes to the available client manager of the given branch with the most free
    capacity (capacity minus open load, counting the tasks of this run), ties by user id."""

    def __init__(self, *, day: datetime.date):
        self.managers = {manager.pk: manager for manager in task_assignees_available(day=day)}
        loads = task_open_loads(user_ids=list(self.managers))
        self.loads = {pk: loads.get(pk, 0) for pk in self.managers}
        self.by_branch = defaultdict(list)
        for manager in self.managers.values():
            self.by_branch[manager.branch_id].append(manager)

    def pick(self, *, preferred_ids, branch_id: int) -> User | None:
        chosen = next((self.managers[pk] for pk in preferred_ids if pk in self.managers), None)
        if chosen is None:
            candidates = self.by_branch.get(branch_id, [])
            if not candidates:
                return None
            chosen = min(candidates, key=lambda manager: (self.loads[manager.pk] - manager.capacity, manager.pk))
        self.loads[chosen.pk] += 1
        return chosen


def followups_create_due(*, day: datetime.date | None = None) -> JobResult:
    """Create the next task of every done or verified task whose next follow-up date is on or
    before `day` (default today in the bank's time zone) and that has no follow-up yet.

    The follow-up belongs to the same campaign and customer, points back through
    previous_task, and is due on the follow-up date (or `day`, when the job ran late). It goes
    to the same client manager, or when they are inactive or on leave to the customer's client
    manager, or else to a client manager of the task's branch. Customers marked do not contact
    or missing from the roster get no follow-up."""
    day = day or timezone.localdate()
    result = JobResult()
    with transaction.atomic():
        _job_lock("campaigns.followups_create_due")
        sources = list(
            FollowUpTask.objects.filter(
                next_follow_up_on__lte=day,
                status__in=FOLLOW_UP_SOURCE_STATUSES,
                customer__do_not_contact=False,
                customer__missing_since__isnull=True,
            )
            .exclude(Exists(FollowUpTask.objects.filter(previous_task=OuterRef("pk"))))
            .select_related("customer")
            .order_by("pk")
        )
        if not sources:
            return result
        picker = AssigneePicker(day=day)
        new_tasks = []
        for source in sources:
            assignee = picker.pick(
                preferred_ids=[source.assignee_id, source.customer.client_manager_id], branch_id=source.branch_id
            )
            if assignee is None:
                result.without_assignee += 1
                logger.warning("Task %s: no client manager available for its follow-up, left for the next run", source.pk)
                continue
            new_tasks.append(
                FollowUpTask(
                    campaign_id=source.campaign_id,
                    customer_id=source.customer_id,
                    assignee=assignee,
                    branch_id=assignee.branch_id,
                    due_on=max(source.next_follow_up_on, day),
                    previous_task=source,
                )
            )
        created = FollowUpTask.objects.bulk_create(new_tasks)
        with translation.override(settings.LANGUAGE_CODE):
            events = [
                TaskEvent(
                    task=task,
                    actor=None,
                    from_status="",
                    to_status=Status.OPEN,
                    note=_("Follow-up of task #%(task)s, agreed for %(date)s")
                    % {"task": task.previous_task.pk, "date": task.previous_task.next_follow_up_on.isoformat()},
                )
                for task in created
            ]
        TaskEvent.objects.bulk_create(events)
        if created:
            audit_bulk(None, AuditEvent.Action.CREATE, FollowUpTask, len(created), {"job": "follow_ups", "day": day.isoformat()})
        result.created = len(created)
    logger.info("Follow-ups of %s: %s created, %s without a client manager", day, result.created, result.without_assignee)
    return result


def care_campaign_name(*, day: datetime.date) -> str:
    """Return the name of the month's care task campaign, in the portal's default language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Tier service standard – %(month)s") % {"month": day.strftime("%Y-%m")}


def care_campaign_owner() -> User | None:
    """Return the owner of the system campaigns: the active platform operator with the lowest id."""
    return User.objects.filter(role=Role.PLATFORM, is_active=True).order_by("pk").first()


def care_tasks_create(*, day: datetime.date | None = None) -> JobResult:
    """Create a care task for every customer not contacted within their tier's contact interval.

    A customer is due when their last contact, from any campaign or import, or else the day
    they joined the roster, is older than contact_interval_days before `day` (default today in
    the bank's time zone). Customers without a tier, marked do not contact, missing from the
    roster, with an open task in any campaign, or with a care task this month are left out.
    The tasks go to the month's campaign "Tier service standard – YYYY-MM", owned by
    `care_campaign_owner`, and to the customer's client manager when available, otherwise to a
    client manager of the customer's branch."""
    day = day or timezone.localdate()
    result = JobResult()
    owner = care_campaign_owner()
    if owner is None:
        logger.error("Care tasks of %s: no active platform operator to own the campaign, nothing created", day)
        return result

    with transaction.atomic():
        _job_lock("campaigns.care_tasks_create")
        campaign = _care_campaign(day=day, owner=owner)
        start_of_day = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        open_tasks = FollowUpTask.objects.filter(customer=OuterRef("pk"), status__in=ACTIVE_TASK_STATUSES)
        this_month = FollowUpTask.objects.filter(customer=OuterRef("pk"), campaign=campaign)
        base = (
            Customer.objects.filter(do_not_contact=False, missing_since__isnull=True)
            .exclude(Exists(open_tasks))
            .exclude(Exists(this_month))
            .annotate(last_touch=Coalesce(Max("contacts__contacted_at"), "created_at"))
        )
        due = []
        for tier in Tier.objects.order_by("min_aum"):
            cutoff = start_of_day - datetime.timedelta(days=tier.contact_interval_days)
            due.extend(base.filter(tier=tier, last_touch__lt=cutoff).values_list("pk", "client_manager_id", "branch_id"))
        if not due:
            return result

        picker = AssigneePicker(day=day)
        due_on = day + datetime.timedelta(days=CARE_TASK_DUE_DAYS)
        new_tasks = []
        for customer_id, manager_id, branch_id in sorted(due):
            assignee = picker.pick(preferred_ids=[manager_id], branch_id=branch_id)
            if assignee is None:
                result.without_assignee += 1
                continue
            new_tasks.append(
                FollowUpTask(
                    campaign=campaign, customer_id=customer_id, assignee=assignee, branch_id=assignee.branch_id,
                    due_on=due_on,
                )
            )
        created = FollowUpTask.objects.bulk_create(new_tasks)
        TaskEvent.objects.bulk_create(
            TaskEvent(task=task, actor=None, from_status="", to_status=Status.OPEN) for task in created
        )
        if created:
            audit_bulk(None, AuditEvent.Action.CREATE, FollowUpTask, len(created), {"job": "care_tasks", "campaign": campaign.pk})
        result.created = len(created)
    if result.without_assignee:
        logger.warning("Care tasks of %s: %s customers have no available client manager in their branch",
                       day, result.without_assignee)
    logger.info("Care tasks of %s: %s created in campaign %s", day, result.created, campaign.pk)
    return result


def _care_campaign(*, day: datetime.date, owner: User) -> Campaign:
    name = care_campaign_name(day=day)
    month_start = day.replace(day=1)
    campaign = Campaign.objects.filter(name=name, segment__isnull=True, starts_on=month_start).order_by("pk").first()
    if campaign is not None:
        return campaign
    month_end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    with translation.override(settings.LANGUAGE_CODE):
        objective = _("Contact the customers whose last contact is older than their tier's service standard.")
    return Campaign.objects.create(
        name=name,
        objective=objective,
        owner=owner,
        status=Campaign.Status.ACTIVE,
        starts_on=month_start,
        due_on=month_end + datetime.timedelta(days=CARE_TASK_DUE_DAYS),
        launched_at=timezone.now(),
    )

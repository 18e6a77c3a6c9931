"""Writes for segments, campaigns and follow-up tasks.

Writes take keyword-only arguments and the acting user, and each runs in one transaction. A
broken business rule raises a subclass of `CampaignServiceError` with a translated message."""

import hashlib
import heapq
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.filters import ROSTER_SEGMENT_PARAMETER, CustomerFilter, customer_filter_apply
from customers.models import Branch, Customer
from portal.audit import audit_bulk
from portal.models import AuditEvent, Leave, Role, User

from .models import Campaign, ContactRecord, FollowUpTask, HeldOutCustomer, Segment, TaskEvent
from .verification import verification_sampled

logger = logging.getLogger(__name__)

Status = FollowUpTask.Status

# Statuses in which a task still needs the client manager's work.
ACTIVE_TASK_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.RETURNED)

ALLOWED_TRANSITIONS = {
    Status.OPEN: {Status.IN_PROGRESS, Status.DONE, Status.CANCELLED},
    Status.IN_PROGRESS: {Status.DONE, Status.CANCELLED},
    Status.DONE: {Status.VERIFIED, Status.RETURNED},
    Status.RETURNED: {Status.IN_PROGRESS, Status.DONE, Status.CANCELLED},
    Status.VERIFIED: set(),
    Status.CANCELLED: set(),
}

# Only a platform operator may make these moves. The assignee makes every other move.
PLATFORM_MOVES = {Status.VERIFIED, Status.RETURNED, Status.CANCELLED}

# Moves that need a reason in the event's note.
MOVES_NEEDING_REASON = {Status.RETURNED, Status.CANCELLED}

LAUNCH_BATCH_SIZE = 2000

# Called by a launch at the start of each phase, and after each batch of tasks written, with the
# phase, the items done and the items in total, plus counts that describe the phase.
LaunchProgress = Callable[..., None]


class CampaignServiceError(Exception):
    """A broken business rule. The message is translated and can be shown to the user as is."""


class SegmentInvalid(CampaignServiceError):
    pass


class CampaignLocked(CampaignServiceError):
    """A change that the campaign's status no longer allows."""


class CampaignAlreadyLaunched(CampaignServiceError):
    pass


class CampaignLaunchInProgress(CampaignAlreadyLaunched):
    """The campaign is queued for a Celery worker or being launched by one."""


class LaunchRejected(CampaignServiceError):
    pass


class LaunchPlanChanged(LaunchRejected):
    """The launch would create other tasks than the preview the operator confirmed."""


class InvalidTransition(CampaignServiceError):
    pass


class TaskActionForbidden(CampaignServiceError):
    pass


class TaskConflict(CampaignServiceError):
    """The task changed after the user opened the form, so nothing was written.
    `task` contains the task as it is now."""

    def __init__(self, message, *, task: FollowUpTask):
        super().__init__(message)
        self.task = task


# Segments


def segment_filters_from(*, params) -> dict:
    """Return the roster filter parameters in `params` (a dict or QueryDict), without empty values.

    A `segment` parameter (the roster showing a saved segment) is replaced by that segment's
    filters, so a segment saved from such a roster matches the customers the roster showed.
    Raises SegmentInvalid when that segment does not exist or sets a filter to another value."""
    filters = {}
    for key in CustomerFilter.base_filters:
        if key == ROSTER_SEGMENT_PARAMETER:
            continue
        value = params.get(key, "")
        if value not in ("", None):
            filters[key] = str(value)
    segment_id = str(params.get(ROSTER_SEGMENT_PARAMETER, "") or "")
    if not segment_id:
        return filters
    segment = Segment.objects.filter(pk=segment_id).first() if segment_id.isdigit() else None
    if segment is None:
        raise SegmentInvalid(_("Segment %(segment)s was not found.") % {"segment": segment_id})
    for key, value in segment.filters.items():
        if key in filters and filters[key] != str(value):
            raise SegmentInvalid(
                _(
                    "The roster filter sets “%(filter)s” to %(value)s, but segment “%(segment)s” sets it to "
                    "%(segment_value)s. Clear one of the two before saving."
                )
                % {"filter": key, "value": filters[key], "segment": segment, "segment_value": value}
            )
        filters[key] = str(value)
    return filters


def segment_filters_described(*, filters: dict) -> dict:
    """Return the display value of each saved filter: a branch's, tier's or client manager's name
    in place of its id, other values unchanged. A launch stores it, so the campaign still shows
    how its target was built after a branch is renamed."""
    customer_filter = CustomerFilter(data=filters, queryset=Customer.objects.none())
    form = customer_filter.form
    if not form.is_valid():
        return {key: str(value) for key, value in filters.items()}
    described = {}
    for key, value in filters.items():
        cleaned = form.cleaned_data.get(key)
        described[key] = str(cleaned) if isinstance(cleaned, Model) else str(value)
    return described


def segment_create(*, actor: User, name: str, description: str = "", filters: dict) -> Segment:
    """Create a segment from roster filter parameters, rejecting parameters the roster filter rejects."""
    filters = segment_filters_from(params=filters)
    try:
        customer_filter_apply(queryset=Customer.objects.none(), filters=filters)
    except ValueError as error:
        raise SegmentInvalid(_("The roster filter is invalid: %(errors)s") % {"errors": error}) from error
    segment = Segment.objects.create(name=name, description=description, filters=filters, created_by=actor)
    logger.info("Segment %s: created by user %s with filters %s", segment.pk, actor.pk, sorted(filters))
    return segment


def segment_customers(*, segment: Segment):
    """Return all roster customers matching the segment. Raises SegmentInvalid for a stale filter."""
    try:
        return customer_filter_apply(queryset=Customer.objects.all(), filters=segment.filters)
    except ValueError as error:
        raise SegmentInvalid(
            _("The filter saved in segment “%(segment)s” is invalid: %(errors)s") % {"segment": segment, "errors": error}
        ) from error


# Campaigns

# Fields that decide who gets a task and by when. They are fixed once the campaign is launched.
TARGETING_FIELDS = (
    "segment", "starts_on", "due_on", "fallback_branch", "holdout_percent", "assignment_rule",
    "pool_include_sub_branches", "fatigue_max_open_tasks", "fatigue_contact_days",
)
EDITABLE_FIELDS = ("name", "objective", "talking_points", "verification_sample_percent", *TARGETING_FIELDS)
# Fields a next version starts from: everything the operator designed, none of the launch's results.
VERSION_COPIED_FIELDS = (*EDITABLE_FIELDS, "due_soon_working_days")


def campaign_create(
    *,
    actor: User,
    name: str,
    objective: str = "",
    segment: Segment | None,
    talking_points: str = "",
    starts_on: date,
    due_on: date,
    fallback_branch: Branch | None = None,
    holdout_percent: int = 0,
    assignment_rule: str = Campaign.AssignmentRule.OWN_MANAGER,
    pool_include_sub_branches: bool = False,
    fatigue_max_open_tasks: int | None = None,
    fatigue_contact_days: int | None = None,
    verification_sample_percent: int = 100,
) -> Campaign:
    campaign = Campaign.objects.create(
        name=name,
        holdout_percent=holdout_percent,
        objective=objective,
        segment=segment,
        talking_points=talking_points,
        starts_on=starts_on,
        due_on=due_on,
        fallback_branch=fallback_branch,
        assignment_rule=assignment_rule,
        pool_include_sub_branches=pool_include_sub_branches,
        fatigue_max_open_tasks=fatigue_max_open_tasks,
        fatigue_contact_days=fatigue_contact_days,
        verification_sample_percent=verification_sample_percent,
        owner=actor,
    )
    logger.info("Campaign %s: created by user %s", campaign.pk, actor.pk)
    return campaign


def campaign_clone(*, campaign: Campaign, actor: User, data: dict) -> Campaign:
    """Create the next version of a launched campaign as a draft owned by `actor`.

    The draft copies the campaign's design, with the fields in `data` (a changed target, script
    or period) replacing the copied values. A campaign has at most one next version: the source
    row is locked, so two operators cloning at once get one draft and one CampaignLocked, and a
    unique constraint on `previous_version` backs this up."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"campaign_clone got fields it cannot set: {sorted(unknown)}")
    try:
        with transaction.atomic():
            source = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if source.status == Campaign.Status.LAUNCHING:
                raise CampaignLaunchInProgress(
                    _("Campaign “%(campaign)s” is being launched. Make its next version once the launch has finished.")
                    % {"campaign": source}
                )
            if source.status == Campaign.Status.DRAFT:
                raise CampaignLocked(
                    _("Campaign “%(campaign)s” is still a draft. Edit it instead of making a new version.")
                    % {"campaign": source}
                )
            next_version = source.next_versions.first()
            if next_version is not None:
                raise CampaignLocked(
                    _("Campaign “%(campaign)s” already has a next version, “%(next)s”. Make a new version of that one.")
                    % {"campaign": source, "next": next_version}
                )
            values = {name: getattr(source, name) for name in VERSION_COPIED_FIELDS}
            values.update(data)
            clone = Campaign.objects.create(
                **values, owner=actor, status=Campaign.Status.DRAFT, previous_version=source
            )
    except IntegrityError as error:
        raise CampaignLocked(
            _("Campaign “%(campaign)s” already has a next version.") % {"campaign": campaign}
        ) from error
    logger.info(
        "Campaign %s: created by user %s as the next version of campaign %s (changed: %s)",
        clone.pk, actor.pk, source.pk, ", ".join(sorted(name for name in data if data[name] != getattr(source, name))),
    )
    return clone


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: User, data: dict) -> Campaign:
    """Update the fields in `data`. After launch only name, objective and talking points may change."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"campaign_update got fields it cannot change: {sorted(unknown)}")
    if campaign.status != Campaign.Status.DRAFT:
        changed = [name for name in TARGETING_FIELDS if name in data and getattr(campaign, name) != data[name]]
        if changed and campaign.status == Campaign.Status.LAUNCHING:
            raise CampaignLaunchInProgress(
                _("Campaign “%(campaign)s” is being launched, so its target and dates cannot change.")
                % {"campaign": campaign}
            )
        if changed:
            raise CampaignLocked(
                _("Campaign “%(campaign)s” is already launched, so its target and dates cannot change.")
                % {"campaign": campaign}
            )
    for name, value in data.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=list(data))
    logger.info("Campaign %s: updated by user %s (%s)", campaign.pk, actor.pk, ", ".join(sorted(data)))
    return campaign


@transaction.atomic
def campaign_complete(*, campaign: Campaign, actor: User) -> Campaign:
    """Close an active campaign. Its open tasks stay as they are."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.ACTIVE:
        raise CampaignLocked(
            _("Campaign “%(campaign)s” is %(status)s. Only an active campaign can be completed.")
            % {"campaign": campaign, "status": campaign.get_status_display()}
        )
    campaign.status = Campaign.Status.COMPLETED
    campaign.save(update_fields=["status"])
    logger.info("Campaign %s: completed by user %s", campaign.pk, actor.pk)
    return campaign


# Launch


@dataclass
class ManagerLoad:
    """The tasks one client manager gets from a launch and their open workload around it."""

    manager: User
    own_customers: int = 0
    from_pool: int = 0
    # Open, in-progress and returned tasks across all campaigns before the launch.
    open_before: int = 0

    @property
    def total(self) -> int:
        return self.own_customers + self.from_pool

    @property
    def load_after(self) -> int:
        return self.open_before + self.total

    @property
    def capacity(self) -> int:
        return self.manager.capacity

    @property
    def over_capacity(self) -> bool:
        return self.load_after > self.capacity


@dataclass
class LaunchPlan:
    """The assignment of tasks a launch would make. `assignments` contains (customer id, assignee id, branch id) triples.

    Each segment customer is counted in the first exclusion that applies, in this order:
    do-not-contact, too many open tasks, contacted recently. `targeted` counts the customers
    left. `held_out` contains the ids of the targeted customers drawn into the control group,
    who get no task."""

    segment_size: int = 0
    excluded_do_not_contact: int = 0
    excluded_open_tasks: int = 0
    excluded_recent_contact: int = 0
    targeted: int = 0
    # Customers sent to the pool because they have no client manager, or because theirs is
    # inactive or on leave (own-manager rule only).
    without_manager: int = 0
    manager_unavailable: int = 0
    to_pool: int = 0
    # Pool customers left without a task because the pool's client managers are at capacity.
    unassigned: int = 0
    pool_open: int = 0
    pool_capacity: int = 0
    pool_size: int = 0
    unavailable_managers: list = field(default_factory=list)
    held_out: list = field(default_factory=list)
    assignments: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def can_launch(self) -> bool:
        return not self.problems and self.targeted > 0

    @property
    def to_contact(self) -> int:
        return self.targeted - len(self.held_out)

    @property
    def over_capacity_loads(self) -> list:
        return [load for load in self.loads if load.over_capacity]

    @property
    def fingerprint(self) -> str:
        """A digest of the assignments and the control group. The launch page posts it back, so a
        launch whose outcome differs from the preview the operator saw is rejected."""
        digest = hashlib.sha256()
        digest.update(repr((sorted(self.assignments), sorted(self.held_out))).encode())
        return digest.hexdigest()[:20]


def holdout_draw(*, campaign_id: int, customer_ids: list[int], percent: int) -> list[int]:
    """Return the ids of the control group: floor(percent% of the target), sorted.

    Each customer gets the key SHA-256("<campaign id>:<customer id>") and the customers with the
    smallest keys are held out. The draw therefore depends only on the campaign and its target,
    so a preview and the launch after it pick the same customers. Rounding down with at most 50%
    leaves at least one customer to contact."""
    size = len(customer_ids) * percent // 100
    if size <= 0:
        return []

    def draw_key(customer_id: int) -> bytes:
        return hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()

    return sorted(heapq.nsmallest(size, customer_ids, key=draw_key))


def recent_contact_cutoff(*, days: int, today: date):
    """Return the start of the day `days` days before `today`, midnight in the bank's time zone."""
    first_day = today - timedelta(days=days)
    return timezone.make_aware(datetime.combine(first_day, time.min))


def campaign_launch_preview(
    *, campaign: Campaign, today: date | None = None, progress: LaunchProgress | None = None
) -> LaunchPlan:
    """Work out the tasks a launch on `today` (the bank's local date) would create without writing anything.

    Excluded first: do-not-contact customers and, when the campaign sets them, customers with at
    least `fatigue_max_open_tasks` open, in-progress or returned tasks in any campaign, and
    customers with a contact record since midnight `fatigue_contact_days` days ago. The holdout
    control group is drawn next (see `holdout_draw`) and gets no task.

    Under the own-manager rule a customer goes to their own client manager when that user is an
    active client manager with a branch and no leave covering `today`, whatever their capacity.
    Every other customer, and every customer under the pool rule, goes to the pool: the active
    client managers of the pool branch (and of its sub-branches with `pool_include_sub_branches`)
    who are not on leave. Each goes to the pool manager with the lowest open workload against
    capacity (open tasks, counting this launch's, divided by capacity), ties by user id, and a
    manager at capacity gets no more. Customers the pool cannot take make the launch rejected.

    `progress`, when given, is called when the selection of the target and the assignment start."""
    today = today or timezone.localdate()
    plan = LaunchPlan()
    if progress is not None:
        progress("selecting", 0, 0)
    if campaign.segment_id is None:
        plan.problems.append(_("The campaign has no target segment. Choose one before launching."))
        return plan
    try:
        customers = segment_customers(segment=campaign.segment)
    except SegmentInvalid as error:
        plan.problems.append(str(error))
        return plan

    # Plain values, no model instances: a large target has tens of thousands of customers.
    rows = list(
        customers.order_by("id").values_list(
            "id", "do_not_contact", "client_manager_id",
            "client_manager__role", "client_manager__is_active", "client_manager__branch_id",
        )
    )
    exclusions = _exclusions_find(customers=customers, campaign=campaign, today=today)
    plan.segment_size = len(rows)
    max_open_tasks = campaign.fatigue_max_open_tasks
    targets = []
    for row in rows:
        customer_id, do_not_contact = row[:2]
        if do_not_contact:
            plan.excluded_do_not_contact += 1
        elif max_open_tasks is not None and exclusions.open_tasks.get(customer_id, 0) >= max_open_tasks:
            plan.excluded_open_tasks += 1
        elif customer_id in exclusions.contacted:
            plan.excluded_recent_contact += 1
        else:
            targets.append(row)
    plan.targeted = len(targets)
    if not targets:
        plan.problems.append(
            _(
                "No customers remain once the exclusions are applied: %(segment)s in the segment, %(dnc)s "
                "do-not-contact, %(open)s with too many open tasks, %(recent)s contacted recently."
            )
            % {
                "segment": plan.segment_size, "dnc": plan.excluded_do_not_contact,
                "open": plan.excluded_open_tasks, "recent": plan.excluded_recent_contact,
            }
        )
        return plan

    plan.held_out = holdout_draw(
        campaign_id=campaign.pk, customer_ids=[row[0] for row in targets], percent=campaign.holdout_percent
    )
    held_out = set(plan.held_out)
    if progress is not None:
        progress("assigning", 0, plan.to_contact, segment=plan.segment_size, targeted=plan.targeted)

    own_count = Counter()
    manager_branch = {}
    pool_customers = []
    unavailable = set()
    own_rule = campaign.assignment_rule == Campaign.AssignmentRule.OWN_MANAGER
    for customer_id, _do_not_contact, manager_id, role, is_active, branch_id in targets:
        if customer_id in held_out:
            continue
        has_manager = bool(manager_id and role == Role.CLIENT_MANAGER and branch_id)
        if own_rule and has_manager and is_active and manager_id not in exclusions.on_leave:
            plan.assignments.append((customer_id, manager_id, branch_id))
            own_count[manager_id] += 1
            manager_branch[manager_id] = branch_id
            continue
        if own_rule and has_manager:
            plan.manager_unavailable += 1
            unavailable.add(manager_id)
        elif own_rule:
            plan.without_manager += 1
        pool_customers.append(customer_id)
    plan.to_pool = len(pool_customers)

    pool = []
    if pool_customers and campaign.fallback_branch_id is not None:
        pool = _pool_managers(campaign=campaign, today=today)
    # One count grouped by assignee for every client manager who may get a task. Annotating the
    # users with their open tasks instead joined all their tasks, open or not: 10 s at 2,000,000 tasks.
    open_before = task_open_loads(user_ids=set(own_count) | {manager.pk for manager in pool})
    pool_count = Counter()
    if pool_customers:
        pool_count = _assign_pool(
            plan=plan, campaign=campaign, customers=pool_customers, own_count=own_count, pool=pool,
            open_before=open_before,
        )

    assigned = set(own_count) | set(pool_count)
    managers = User.objects.select_related("branch").in_bulk(list(assigned | unavailable))
    plan.unavailable_managers = sorted((managers[pk] for pk in unavailable), key=lambda user: user.pk)
    plan.loads = sorted(
        (
            ManagerLoad(
                manager=managers[manager_id],
                own_customers=own_count[manager_id],
                from_pool=pool_count[manager_id],
                open_before=open_before.get(manager_id, 0),
            )
            for manager_id in assigned
        ),
        key=lambda load: (-load.total, load.manager.pk),
    )
    return plan


@dataclass
class LaunchExclusions:
    """Facts about a launch's target that the exclusions and the assignment read."""

    # Open, in-progress and returned tasks by customer. Only customers with at least as many as
    # the campaign's limit (and at least one) are listed, so every other customer has fewer.
    open_tasks: dict = field(default_factory=dict)
    # Customers with a contact record since the campaign's cutoff.
    contacted: set = field(default_factory=set)
    # Users with a leave covering the launch day.
    on_leave: set = field(default_factory=set)


def _exclusions_find(*, customers, campaign: Campaign, today: date) -> LaunchExclusions:
    """Find the customers of `customers` that the fatigue rules exclude, and the users on leave.

    Each is one set-based query restricted to the target by a subquery, so the preview's query
    count does not grow with the target. Per-customer subqueries in the target query instead
    counted each customer's tasks one index lookup at a time, and their cost estimate made
    PostgreSQL compile the query with JIT, which took longer than running it."""
    target = customers.order_by().values("pk")
    exclusions = LaunchExclusions()
    if campaign.fatigue_max_open_tasks is not None:
        exclusions.open_tasks = dict(
            FollowUpTask.objects.filter(customer__in=target, status__in=ACTIVE_TASK_STATUSES)
            .order_by()
            .values_list("customer_id")
            .annotate(count=Count("id"))
            .filter(count__gte=max(campaign.fatigue_max_open_tasks, 1))
        )
    if campaign.fatigue_contact_days is not None:
        cutoff = recent_contact_cutoff(days=campaign.fatigue_contact_days, today=today)
        exclusions.contacted = set(
            ContactRecord.objects.filter(customer__in=target, contacted_at__gte=cutoff)
            .order_by()
            .values_list("customer_id", flat=True)
            .distinct()
        )
    exclusions.on_leave = set(
        Leave.objects.filter(starts_on__lte=today, ends_on__gte=today).values_list("user_id", flat=True)
    )
    return exclusions


def _assign_pool(
    *, plan: LaunchPlan, campaign: Campaign, customers: list[int], own_count: Counter, pool: list[User], open_before: dict
) -> Counter:
    """Spread `customers` over the `pool` managers as `campaign_launch_preview` describes; record
    any problem on `plan` and return the number of customers each pool manager gets.
    `open_before` has the open tasks of each manager with any before the launch."""
    pool_count = Counter()
    if campaign.fallback_branch_id is None:
        if campaign.assignment_rule == Campaign.AssignmentRule.POOL:
            message = _("The campaign assigns every customer to the pool but has no pool branch. Choose a pool branch.")
        else:
            message = ngettext(
                "%(count)s customer has no available client manager and the campaign has no pool branch. "
                "Choose a pool branch or assign the customer an available client manager first.",
                "%(count)s customers have no available client manager and the campaign has no pool branch. "
                "Choose a pool branch or assign these customers an available client manager first.",
                len(customers),
            ) % {"count": len(customers)}
        plan.problems.append(message)
        return pool_count

    plan.pool_size = len(pool)
    if not pool:
        plan.problems.append(
            ngettext(
                "%(count)s customer should go to the pool, but pool branch “%(branch)s” has no active client "
                "managers who are not on leave. Choose another pool branch, include its sub-branches or end a leave.",
                "%(count)s customers should go to the pool, but pool branch “%(branch)s” has no active client "
                "managers who are not on leave. Choose another pool branch, include its sub-branches or end a leave.",
                len(customers),
            )
            % {"count": len(customers), "branch": campaign.fallback_branch}
        )
        return pool_count

    branch_of = {}
    heap = []
    for manager in pool:
        load = open_before.get(manager.pk, 0) + own_count[manager.pk]
        plan.pool_open += load
        plan.pool_capacity += manager.capacity
        branch_of[manager.pk] = manager.branch_id
        if load < manager.capacity:
            heapq.heappush(heap, (Fraction(load, manager.capacity), manager.pk, load, manager.capacity))
    for customer_id in customers:
        if not heap:
            plan.unassigned += 1
            continue
        _ratio, manager_id, load, capacity = heapq.heappop(heap)
        plan.assignments.append((customer_id, manager_id, branch_of[manager_id]))
        pool_count[manager_id] += 1
        load += 1
        if load < capacity:
            heapq.heappush(heap, (Fraction(load, capacity), manager_id, load, capacity))
    if plan.unassigned:
        plan.problems.append(
            ngettext(
                "%(count)s customer cannot be assigned: the %(managers)s available client managers of pool "
                "“%(branch)s” have %(open)s open tasks against a total capacity of %(capacity)s. Raise their "
                "capacity, widen the pool or narrow the target.",
                "%(count)s customers cannot be assigned: the %(managers)s available client managers of pool "
                "“%(branch)s” have %(open)s open tasks against a total capacity of %(capacity)s. Raise their "
                "capacity, widen the pool or narrow the target.",
                plan.unassigned,
            )
            % {
                "count": plan.unassigned, "managers": plan.pool_size, "branch": campaign.fallback_branch,
                "open": plan.pool_open, "capacity": plan.pool_capacity,
            }
        )
    return pool_count


def _pool_filter(*, campaign: Campaign) -> Q:
    branch = campaign.fallback_branch
    in_pool = Q(branch__path__startswith=branch.path) if campaign.pool_include_sub_branches else Q(branch=branch)
    return in_pool & Q(role=Role.CLIENT_MANAGER, is_active=True)


def _pool_managers(*, campaign: Campaign, today: date) -> list[User]:
    on_leave = Leave.objects.filter(starts_on__lte=today, ends_on__gte=today).values("user_id")
    return list(User.objects.filter(_pool_filter(campaign=campaign)).exclude(pk__in=on_leave).order_by("id"))


def launch_status_check(*, campaign: Campaign, expected: str) -> None:
    """Raise the error that explains why `campaign`, read under its row lock, cannot be launched
    unless its status is `expected`: draft for a launch, launching for a queued one."""
    if campaign.status == expected:
        return
    if campaign.status == Campaign.Status.LAUNCHING:
        raise CampaignLaunchInProgress(
            _("Campaign “%(campaign)s” is already being launched in the background. Its page shows the progress.")
            % {"campaign": campaign}
        )
    if campaign.status == Campaign.Status.DRAFT:
        raise CampaignLocked(
            _("Campaign “%(campaign)s” is no longer queued for a launch. Preview the launch again.")
            % {"campaign": campaign}
        )
    raise CampaignAlreadyLaunched(_("Campaign “%(campaign)s” has already been launched.") % {"campaign": campaign})


def campaign_launch(
    *,
    campaign: Campaign,
    actor: User,
    expected_fingerprint: str | None = None,
    progress: LaunchProgress | None = None,
    queued: bool = False,
) -> int:
    """Create one open task per target customer outside the holdout control group, store the
    control group as HeldOutCustomer rows, record how the target was built in `launch_summary`
    and activate the campaign, all in one transaction.

    The campaign row is locked and must still be a draft, so a second launch (double click, a
    second tab, a second operator) raises CampaignAlreadyLaunched and creates nothing. The unique
    constraint on (campaign, customer) backs this up. The pool managers' rows are locked too, so
    two launches drawing on one pool count each other's tasks against capacity. With
    `expected_fingerprint` (from the preview the operator saw) a changed plan raises
    LaunchPlanChanged. Returns the number of tasks created.

    A Celery worker launches a campaign that `launch_background.campaign_launch_queue` moved to
    launching with `queued=True`, which expects that status instead of draft, and reports each
    phase to `progress`. Progress is reported inside the transaction, so it must be stored
    where other connections can read it before the commit."""
    report = progress or _progress_ignored
    expected_status = Campaign.Status.LAUNCHING if queued else Campaign.Status.DRAFT
    try:
        with transaction.atomic():
            report("locking", 0, 0)
            # of=("self",): PostgreSQL cannot lock the nullable side of the outer joins.
            campaign = (
                Campaign.objects.select_for_update(of=("self",))
                .select_related("segment", "fallback_branch")
                .get(pk=campaign.pk)
            )
            launch_status_check(campaign=campaign, expected=expected_status)
            if campaign.fallback_branch_id is not None:
                # FOR NO KEY UPDATE, in id order: launches sharing pool managers run one after the
                # other, while task inserts elsewhere (which take FOR KEY SHARE) are not blocked.
                list(
                    User.objects.select_for_update(no_key=True)
                    .filter(_pool_filter(campaign=campaign))
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
            today = timezone.localdate()
            plan = campaign_launch_preview(campaign=campaign, today=today, progress=progress)
            if not plan.can_launch:
                raise LaunchRejected(" ".join(str(problem) for problem in plan.problems))
            if expected_fingerprint is not None and expected_fingerprint != plan.fingerprint:
                raise LaunchPlanChanged(
                    _(
                        "The target or the client managers' workload changed since the preview, so the launch "
                        "would not create the tasks shown. Check the new preview and launch again."
                    )
                )

            _tasks_insert(campaign=campaign, assignments=plan.assignments, report=report)
            report("recording", len(plan.assignments), len(plan.assignments), held_out=len(plan.held_out))
            _task_events_insert_open(campaign=campaign, actor=actor)
            HeldOutCustomer.objects.bulk_create(
                (HeldOutCustomer(campaign=campaign, customer_id=customer_id) for customer_id in plan.held_out),
                batch_size=LAUNCH_BATCH_SIZE,
            )
            # bulk_create bypasses the audit trail's model signals, so the launch gets one entry.
            audit_bulk(actor, AuditEvent.Action.CREATE, FollowUpTask, len(plan.assignments), {"campaign": campaign.pk})

            campaign.status = Campaign.Status.ACTIVE
            campaign.launched_at = timezone.now()
            campaign.launched_by = actor
            campaign.launch_summary = launch_summary_build(campaign=campaign, plan=plan, today=today)
            campaign.launch_error = ""
            campaign.save(update_fields=["status", "launched_at", "launched_by", "launch_summary", "launch_error"])
    except IntegrityError as error:
        logger.warning("Campaign %s: launch by user %s hit the one-task-per-customer constraint", campaign.pk, actor.pk)
        raise CampaignAlreadyLaunched(
            _("Campaign “%(campaign)s” has already been launched.") % {"campaign": campaign}
        ) from error

    logger.info(
        "Campaign %s: launched by user %s, %s tasks (%s from the pool), %s customers held out, excluded "
        "%s do-not-contact, %s with too many open tasks, %s contacted recently",
        campaign.pk, actor.pk, len(plan.assignments), sum(load.from_pool for load in plan.loads), len(plan.held_out),
        plan.excluded_do_not_contact, plan.excluded_open_tasks, plan.excluded_recent_contact,
    )
    return len(plan.assignments)


def _progress_ignored(phase: str, done: int, total: int, **counts) -> None:
    pass


def _tasks_insert(*, campaign: Campaign, assignments: list, report: LaunchProgress) -> None:
    """Insert the launch's tasks in batches of LAUNCH_BATCH_SIZE, reporting after each batch."""
    total = len(assignments)
    report("writing", 0, total)
    if connection.vendor == "postgresql":
        _tasks_copy(campaign=campaign, assignments=assignments, report=report)
        return
    for start in range(0, total, LAUNCH_BATCH_SIZE):
        batch = assignments[start:start + LAUNCH_BATCH_SIZE]
        FollowUpTask.objects.bulk_create(
            FollowUpTask(
                campaign=campaign, customer_id=customer_id, assignee_id=assignee_id, branch_id=branch_id,
                due_on=campaign.due_on,
            )
            for customer_id, assignee_id, branch_id in batch
        )
        report("writing", start + len(batch), total)


def _tasks_copy(*, campaign: Campaign, assignments: list, report: LaunchProgress) -> None:
    """Write the launch's tasks with COPY in batches of LAUNCH_BATCH_SIZE, reporting after each batch.

    COPY skips building a model instance and an INSERT statement per task, which took most of
    the writing time of a 50,000-task launch. Every column gets the value a new task would get
    from bulk_create: the fields' defaults, and auto_now_add set once for the launch."""
    template = FollowUpTask(campaign=campaign, due_on=campaign.due_on)
    copied = [model_field for model_field in FollowUpTask._meta.concrete_fields if not model_field.primary_key]
    row = [
        model_field.get_db_prep_save(model_field.pre_save(template, add=True), connection) for model_field in copied
    ]
    attnames = [model_field.attname for model_field in copied]
    customer_at, assignee_at, branch_at = (attnames.index(name) for name in ("customer_id", "assignee_id", "branch_id"))
    quote = connection.ops.quote_name
    sql = (
        f"COPY {quote(FollowUpTask._meta.db_table)} "
        f"({', '.join(quote(model_field.column) for model_field in copied)}) FROM STDIN"
    )
    total = len(assignments)
    # One COPY per batch, so the progress is reported with no COPY in flight on the connection.
    # The raw psycopg cursor raises psycopg's errors; the wrapper turns a broken unique
    # constraint into the IntegrityError that campaign_launch handles.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        for start in range(0, total, LAUNCH_BATCH_SIZE):
            batch = assignments[start:start + LAUNCH_BATCH_SIZE]
            with cursor.cursor.copy(sql) as copy:
                for customer_id, assignee_id, branch_id in batch:
                    row[customer_at], row[assignee_at], row[branch_at] = customer_id, assignee_id, branch_id
                    copy.write_row(row)
            report("writing", start + len(batch), total)


def launch_summary_build(*, campaign: Campaign, plan: LaunchPlan, today: date) -> dict:
    """Return how the launch built the frozen target list, for `Campaign.launch_summary`."""
    segment = campaign.segment
    pool_branch = campaign.fallback_branch
    return {
        "launched_on": today.isoformat(),
        "segment": {
            "id": segment.pk,
            "name": segment.name,
            "filters": dict(segment.filters),
            "filter_values": segment_filters_described(filters=segment.filters),
        },
        "segment_customers": plan.segment_size,
        "excluded": {
            "do_not_contact": plan.excluded_do_not_contact,
            "open_tasks": plan.excluded_open_tasks,
            "recent_contact": plan.excluded_recent_contact,
        },
        "fatigue_max_open_tasks": campaign.fatigue_max_open_tasks,
        "fatigue_contact_days": campaign.fatigue_contact_days,
        "targeted": plan.targeted,
        "held_out": len(plan.held_out),
        "tasks": len(plan.assignments),
        "assignment_rule": campaign.assignment_rule,
        "pool_branch": {"id": pool_branch.pk, "name": pool_branch.name} if pool_branch else None,
        "pool_include_sub_branches": campaign.pool_include_sub_branches,
        "own_manager_tasks": sum(load.own_customers for load in plan.loads),
        "pool_tasks": sum(load.from_pool for load in plan.loads),
        "without_manager": plan.without_manager,
        "manager_unavailable": plan.manager_unavailable,
    }


def _task_events_insert_open(*, campaign: Campaign, actor: User) -> None:
    """Record the "open" event of every task of `campaign` in one INSERT ... SELECT.

    The ORM has no INSERT ... SELECT. Building TaskEvent objects for bulk_create instead made a
    50,000-task launch about 40% slower (measured on SQLite and PostgreSQL, 2-core AMD EPYC)."""
    quote = connection.ops.quote_name
    event_fields = {field.name: field for field in TaskEvent._meta.fields}
    columns = ", ".join(
        quote(event_fields[name].column) for name in ("task", "actor", "from_status", "to_status", "kind", "detail", "note", "created_at")
    )
    task_meta = FollowUpTask._meta
    sql = (
        f"INSERT INTO {quote(TaskEvent._meta.db_table)} ({columns}) "
        f"SELECT {quote(task_meta.pk.column)}, %s, '', %s, %s, '{{}}', '', %s FROM {quote(task_meta.db_table)} "
        f"WHERE {quote(task_meta.get_field('campaign').column)} = %s"
    )
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [actor.pk, Status.OPEN.value, TaskEvent.Kind.STATUS.value, created_at, campaign.pk])


# Tasks


def task_assignees_available(*, day: date) -> QuerySet[User]:
    """Return the client managers who may get work on `day`: active, with a branch, and not on
    leave that day (a Leave from starts_on to ends_on, both days included)."""
    on_leave = Leave.objects.filter(user=OuterRef("pk"), starts_on__lte=day, ends_on__gte=day)
    return User.objects.filter(role=Role.CLIENT_MANAGER, is_active=True, branch__isnull=False).exclude(Exists(on_leave))


def task_open_loads(*, user_ids) -> dict[int, int]:
    """Return the number of open, in-progress and returned tasks of each user in `user_ids`."""
    rows = (
        FollowUpTask.objects.filter(assignee_id__in=list(user_ids), status__in=ACTIVE_TASK_STATUSES)
        .order_by()
        .values_list("assignee_id")
        .annotate(count=Count("id"))
    )
    return dict(rows)


def task_check_version(*, task: FollowUpTask, expected_version: int | None) -> None:
    """Raise TaskConflict when `task`, read under a row lock, is no longer at `expected_version`.

    None skips the check, for callers that act on the current state by design (scheduled jobs)."""
    if expected_version is None or task.version == expected_version:
        return
    latest = task.events.select_related("actor").order_by("-created_at", "-id").first()
    if latest is not None:
        message = _(
            "Someone else changed this task after you opened it: %(actor)s at %(time)s. It is now %(status)s. "
            "Nothing was saved. Check the current state and submit again if your entry still applies."
        ) % {
            "actor": latest.actor or _("the system"),
            "time": timezone.localtime(latest.created_at).strftime("%Y-%m-%d %H:%M"),
            "status": task.get_status_display(),
        }
    else:
        message = _(
            "Someone else changed this task after you opened it. It is now %(status)s. Nothing was saved. "
            "Check the current state and submit again if your entry still applies."
        ) % {"status": task.get_status_display()}
    raise TaskConflict(message, task=task)


def task_transition(
    *, task: FollowUpTask, to_status: str, actor: User, note: str = "", expected_version: int | None = None
) -> FollowUpTask:
    """Move a task to `to_status`, record the event and return the updated task.

    The assignee makes the working moves. Only a platform operator verifies, returns or
    cancels, and a return or a cancellation needs a reason in `note`. Raises
    InvalidTransition or TaskActionForbidden otherwise, and TaskConflict when the task is no
    longer at `expected_version`.

    A task moving to done is sampled for verification or not (see
    `verification.verification_sampled`). An unsampled task moves on to verified in the same
    transaction, with a second event by the system."""
    with transaction.atomic():
        task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
        task_check_version(task=task, expected_version=expected_version)
        from_status = task.status
        if to_status not in ALLOWED_TRANSITIONS.get(from_status, set()):
            raise InvalidTransition(
                _("A task cannot move from %(from)s to %(to)s.")
                % {"from": Status(from_status).label, "to": _status_label(to_status)}
            )
        _check_actor(task=task, to_status=to_status, actor=actor)
        note = (note or "").strip()
        if to_status == Status.RETURNED and not note:
            raise InvalidTransition(_("Give a reason for returning the task to the client manager."))
        if to_status == Status.CANCELLED and not note:
            raise InvalidTransition(_("Give a reason for cancelling the task."))

        now = timezone.now()
        task.status = to_status
        task.version += 1
        update_fields = ["status", "version"]
        if to_status == Status.DONE:
            task.completed_at = now
            task.sampled_for_verification = verification_sampled(task=task)
            update_fields += ["completed_at", "sampled_for_verification"]
        elif to_status == Status.VERIFIED:
            task.verified_at = now
            task.verified_by = actor
            update_fields += ["verified_at", "verified_by"]
        elif to_status == Status.RETURNED:
            task.return_reason = note
            update_fields.append("return_reason")
        events = [TaskEvent(task=task, actor=actor, from_status=from_status, to_status=to_status, note=note)]
        if to_status == Status.DONE and not task.sampled_for_verification:
            task.status = Status.VERIFIED
            task.verified_at = now
            task.verified_by = None
            update_fields += ["verified_at", "verified_by"]
            events.append(
                TaskEvent(
                    task=task,
                    actor=None,
                    from_status=Status.DONE,
                    to_status=Status.VERIFIED,
                    note=_("Not sampled for verification, so the system closed the task as verified."),
                )
            )
        task.save(update_fields=update_fields)
        TaskEvent.objects.bulk_create(events)
    logger.info("Task %s: %s -> %s by user %s", task.pk, from_status, task.status, actor.pk)
    return task


def _status_label(value: str) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return value


def _check_actor(*, task: FollowUpTask, to_status: str, actor: User) -> None:
    if to_status in PLATFORM_MOVES:
        if actor.role != Role.PLATFORM:
            raise TaskActionForbidden(_("Only platform operators can verify, return or cancel tasks."))
    elif actor.pk != task.assignee_id:
        raise TaskActionForbidden(_("Only the task's client manager can work on it."))


def task_verify(*, task: FollowUpTask, actor: User, expected_version: int | None = None) -> FollowUpTask:
    return task_transition(task=task, to_status=Status.VERIFIED, actor=actor, expected_version=expected_version)


def task_return(
    *, task: FollowUpTask, actor: User, reason: str, expected_version: int | None = None
) -> FollowUpTask:
    return task_transition(
        task=task, to_status=Status.RETURNED, actor=actor, note=reason, expected_version=expected_version
    )


def task_cancel(
    *, task: FollowUpTask, actor: User, reason: str, expected_version: int | None = None
) -> FollowUpTask:
    return task_transition(
        task=task, to_status=Status.CANCELLED, actor=actor, note=reason, expected_version=expected_version
    )


@transaction.atomic
def task_record_contact(
    *,
    task: FollowUpTask,
    actor: User,
    channel: str,
    outcome: str,
    note: str = "",
    next_follow_up_on: date | None = None,
    complete: bool = False,
    expected_version: int | None = None,
) -> ContactRecord:
    """Record a contact with the task's customer and move the task on: to done when `complete`,
    otherwise from open or returned to in progress. Only the assignee may record.

    Raises TaskConflict, and records nothing, when the task is no longer at `expected_version`."""
    task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    task_check_version(task=task, expected_version=expected_version)
    if actor.pk != task.assignee_id:
        raise TaskActionForbidden(_("Only the task's client manager can record contacts on it."))
    if task.status not in ACTIVE_TASK_STATUSES:
        raise InvalidTransition(
            _("The task is %(status)s, so no more contacts can be recorded on it.")
            % {"status": task.get_status_display()}
        )

    contact = ContactRecord.objects.create(
        task=task,
        customer_id=task.customer_id,
        recorded_by=actor,
        channel=channel,
        outcome=outcome,
        note=note,
        next_follow_up_on=next_follow_up_on,
        contacted_at=timezone.now(),
    )
    task.channel = channel
    task.outcome = outcome
    task.next_follow_up_on = next_follow_up_on
    # A contact changes what the task shows, so a form opened before it is out of date too.
    task.version += 1
    task.save(update_fields=["channel", "outcome", "next_follow_up_on", "version"])

    if complete:
        task_transition(task=task, to_status=Status.DONE, actor=actor, note=note)
    elif task.status in (Status.OPEN, Status.RETURNED):
        task_transition(task=task, to_status=Status.IN_PROGRESS, actor=actor)
    logger.info("Task %s: contact %s recorded by user %s", task.pk, contact.pk, actor.pk)
    return contact

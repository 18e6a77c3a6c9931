"""Handover of a deactivated client manager's customers and open tasks to the rest of the branch.

A client manager who is inactive but still has customers (Customer.client_manager) or open,
in-progress or returned tasks has a pending handover. Nothing needs to be stored for it: the
plan is worked out from the database each time, previewed by the platform and applied in one
transaction. The apply step works the plan out again under row locks and refuses to run when
it differs from the previewed one, so the operator never applies a plan they have not seen.

Each customer moves together with the leaver's open tasks on that customer, and gets an
"introduce the new client manager" task in a campaign made for the handover. Do-not-contact
customers and customers missing from the roster move too but get no introduction task.
Open tasks of the leaver on customers they do not manage move on their own, with no
introduction task, because the customer's client manager does not change."""

import hashlib
import heapq
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from customers.models import Customer
from portal.audit import audit_bulk
from portal.models import AuditEvent, Role, User

from .models import Campaign, FollowUpTask, TaskEvent
from .services import ACTIVE_TASK_STATUSES, CampaignServiceError, task_assignees_available, task_open_loads

logger = logging.getLogger(__name__)

# Days a receiving client manager has to introduce themselves to a customer.
HANDOVER_INTRODUCTION_DAYS = 14
# Maximum length of the leaver's name inside the introduction campaign's 200-character name.
LEAVER_NAME_MAX_LENGTH = 60


class HandoverRejected(CampaignServiceError):
    """A handover that cannot be applied: no receiver, an active leaver or a changed plan."""


@dataclass
class HandoverUnit:
    """The part of a handover that goes to one receiver as a whole: a customer of the leaver
    with the leaver's open tasks on that customer, or the leaver's open tasks on a customer
    managed by someone else."""

    customer_id: int
    task_ids: list
    moves_customer: bool
    introduce: bool

    @property
    def cost(self) -> int:
        """Open tasks the unit adds to the receiver's load, the introduction task included."""
        return len(self.task_ids) + int(self.introduce)


@dataclass
class ReceiverShare:
    """The part of a handover one receiving client manager gets, and their load afterwards."""

    manager: User
    load_before: int
    customer_ids: list = field(default_factory=list)
    task_ids: list = field(default_factory=list)
    introductions: list = field(default_factory=list)

    @property
    def load_after(self) -> int:
        return self.load_before + len(self.task_ids) + len(self.introductions)

    @property
    def over_capacity(self) -> bool:
        return self.load_after > self.manager.capacity


@dataclass
class HandoverPlan:
    leaver: User
    shares: list = field(default_factory=list)
    customers: int = 0
    tasks: int = 0
    introductions: int = 0
    # Customers who move without an introduction task: do not contact, or missing from the roster.
    without_introduction: int = 0
    problems: list = field(default_factory=list)

    @property
    def can_apply(self) -> bool:
        return not self.problems and (self.customers > 0 or self.tasks > 0)

    @property
    def fingerprint(self) -> str:
        """A digest of who gets which customer and task, to compare a preview with the apply step."""
        lines = []
        for share in sorted(self.shares, key=lambda share: share.manager.pk):
            lines.append(
                f"{share.manager.pk}:c{sorted(share.customer_ids)}:t{sorted(share.task_ids)}:i{sorted(share.introductions)}"
            )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def handovers_pending() -> QuerySet[User]:
    """Return the inactive client managers who still have customers or open tasks, with the
    counts `customer_count` and `open_task_count`."""
    active_tasks = FollowUpTask.objects.filter(assignee=OuterRef("pk"), status__in=ACTIVE_TASK_STATUSES)
    customers = Customer.objects.filter(client_manager=OuterRef("pk"))
    return (
        User.objects.filter(role=Role.CLIENT_MANAGER, is_active=False)
        .filter(Exists(active_tasks) | Exists(customers))
        .select_related("branch")
        .annotate(
            customer_count=Count("customers", distinct=True),
            open_task_count=Count("tasks", filter=Q(tasks__status__in=ACTIVE_TASK_STATUSES), distinct=True),
        )
        .order_by("branch__path", "username")
    )


def handover_preview(*, leaver: User, day: date | None = None) -> HandoverPlan:
    """Work out the handover of `leaver` without writing anything.

    The receivers are the client managers of the leaver's branch who are active and not on
    leave on `day` (default today). Units go out largest first, each to the receiver with the
    most free capacity (capacity minus open load, counting what the plan has given them so
    far), ties by user id. A receiver may end up over capacity when the branch as a whole has
    too little room; the preview marks them."""
    day = day or timezone.localdate()
    plan = HandoverPlan(leaver=leaver)
    if leaver.role != Role.CLIENT_MANAGER:
        plan.problems.append(_("%(user)s is not a client manager.") % {"user": leaver})
        return plan
    if leaver.is_active:
        plan.problems.append(
            _("%(user)s is still active. An administrator deactivates the account first.") % {"user": leaver}
        )
        return plan
    if leaver.branch_id is None:
        plan.problems.append(_("%(user)s has no branch, so there is no one to hand over to.") % {"user": leaver})
        return plan

    units = _handover_units(leaver=leaver)
    plan.customers = sum(1 for unit in units if unit.moves_customer)
    plan.tasks = sum(len(unit.task_ids) for unit in units)
    plan.introductions = sum(1 for unit in units if unit.introduce)
    plan.without_introduction = plan.customers - plan.introductions
    if not units:
        return plan

    receivers = list(
        task_assignees_available(day=day).filter(branch_id=leaver.branch_id).exclude(pk=leaver.pk).order_by("pk")
    )
    if not receivers:
        plan.problems.append(
            _("Branch %(branch)s has no other active client manager who is not on leave today. Add or reactivate "
              "one, or move %(user)s to another branch first.") % {"branch": leaver.branch, "user": leaver}
        )
        return plan

    loads = task_open_loads(user_ids=[receiver.pk for receiver in receivers])
    shares = {receiver.pk: ReceiverShare(manager=receiver, load_before=loads.get(receiver.pk, 0)) for receiver in receivers}
    heap = [(-(receiver.capacity - shares[receiver.pk].load_before), receiver.pk) for receiver in receivers]
    heapq.heapify(heap)
    for unit in sorted(units, key=lambda unit: (-unit.cost, not unit.moves_customer, unit.customer_id)):
        negative_free, receiver_id = heapq.heappop(heap)
        share = shares[receiver_id]
        if unit.moves_customer:
            share.customer_ids.append(unit.customer_id)
        share.task_ids.extend(unit.task_ids)
        if unit.introduce:
            share.introductions.append(unit.customer_id)
        heapq.heappush(heap, (negative_free + unit.cost, receiver_id))
    plan.shares = sorted(
        (share for share in shares.values() if share.customer_ids or share.task_ids),
        key=lambda share: share.manager.pk,
    )
    return plan


def _handover_units(*, leaver: User) -> list[HandoverUnit]:
    # NOTE: done tasks keep the leaver as assignee, as the record of who did the work. If the
    # platform returns one later, it goes to an inactive user and needs a bulk reassign.
    tasks_by_customer = {}
    for task_id, customer_id in (
        FollowUpTask.objects.filter(assignee=leaver, status__in=ACTIVE_TASK_STATUSES)
        .order_by("pk")
        .values_list("pk", "customer_id")
    ):
        tasks_by_customer.setdefault(customer_id, []).append(task_id)

    units = []
    for customer_id, do_not_contact, missing_since in (
        Customer.objects.filter(client_manager=leaver).order_by("pk").values_list("pk", "do_not_contact", "missing_since")
    ):
        units.append(
            HandoverUnit(
                customer_id=customer_id,
                task_ids=tasks_by_customer.pop(customer_id, []),
                moves_customer=True,
                introduce=not do_not_contact and missing_since is None,
            )
        )
    for customer_id, task_ids in sorted(tasks_by_customer.items()):
        units.append(HandoverUnit(customer_id=customer_id, task_ids=task_ids, moves_customer=False, introduce=False))
    return units


@dataclass
class HandoverResult:
    plan: HandoverPlan
    campaign: Campaign | None


def handover_apply(*, leaver: User, actor: User, fingerprint: str) -> HandoverResult:
    """Apply the handover of `leaver` that the operator previewed as `fingerprint`, in one
    transaction: move the customers and open tasks, record a TaskEvent per task and create the
    introduction tasks. Raises HandoverRejected when the plan has problems or no longer matches
    the preview; then nothing is written."""
    if actor.role != Role.PLATFORM:
        raise HandoverRejected(_("Only platform operators apply handovers."))
    with transaction.atomic():
        # The leaver's row serialises two operators applying the same handover. The customers
        # and tasks are locked so that the plan cannot change under the writes below.
        leaver = User.objects.select_for_update(of=("self",)).select_related("branch").get(pk=leaver.pk)
        list(Customer.objects.select_for_update().filter(client_manager=leaver).values_list("pk"))
        task_rows = {
            pk: (status, version)
            for pk, status, version in FollowUpTask.objects.select_for_update()
            .filter(assignee=leaver, status__in=ACTIVE_TASK_STATUSES)
            .values_list("pk", "status", "version")
        }
        plan = handover_preview(leaver=leaver)
        if plan.problems:
            raise HandoverRejected(" ".join(str(problem) for problem in plan.problems))
        if not plan.can_apply:
            raise HandoverRejected(_("%(user)s has nothing left to hand over.") % {"user": leaver})
        if plan.fingerprint != fingerprint:
            raise HandoverRejected(
                _("The handover of %(user)s changed after you previewed it. Check the new plan and apply it again.")
                % {"user": leaver}
            )

        reason = _("Handover from %(user)s, who left") % {"user": leaver}
        events = []
        for share in plan.shares:
            manager = share.manager
            if share.customer_ids:
                Customer.objects.filter(pk__in=share.customer_ids).update(client_manager=manager)
            if share.task_ids:
                FollowUpTask.objects.filter(pk__in=share.task_ids).update(
                    assignee=manager, branch_id=manager.branch_id, version=F("version") + 1
                )
                for task_id in share.task_ids:
                    status, _version = task_rows[task_id]
                    events.append(
                        TaskEvent(
                            task_id=task_id, actor=actor, kind=TaskEvent.Kind.REASSIGNED, from_status=status,
                            to_status=status, note=reason,
                            detail={"from": leaver.pk, "from_name": str(leaver), "to": manager.pk, "to_name": str(manager)},
                        )
                    )
        TaskEvent.objects.bulk_create(events)
        # The UPDATEs bypass the audit trail's model signals, so each receiving manager's share
        # gets one entry per record type.
        for share in plan.shares:
            detail = {"handover_from": leaver.pk, "to": share.manager.pk}
            if share.customer_ids:
                audit_bulk(actor, AuditEvent.Action.ASSIGN, Customer, len(share.customer_ids),
                           {**detail, "customers": list(share.customer_ids)})
            if share.task_ids:
                audit_bulk(actor, AuditEvent.Action.ASSIGN, FollowUpTask, len(share.task_ids),
                           {**detail, "tasks": list(share.task_ids)})
        campaign = _introductions_create(plan=plan, actor=actor)

    logger.info(
        "Handover of user %s applied by user %s: %s customers, %s tasks, %s introduction tasks to %s managers",
        leaver.pk, actor.pk, plan.customers, plan.tasks, plan.introductions, len(plan.shares),
    )
    return HandoverResult(plan=plan, campaign=campaign)


def _introductions_create(*, plan: HandoverPlan, actor: User) -> Campaign | None:
    """Create the handover's campaign with one "introduce the new client manager" task per
    customer that gets one, and return it, or None when no customer gets one."""
    if not plan.introductions:
        return None

    today = timezone.localdate()
    due_on = today + timedelta(days=HANDOVER_INTRODUCTION_DAYS)
    leaver = plan.leaver
    # The name goes into the campaign's 200-character name, so a very long one is shortened.
    leaver_name = Truncator(str(leaver)).chars(LEAVER_NAME_MAX_LENGTH)
    # Stored data, so written in the portal's default language rather than the operator's.
    with translation.override(settings.LANGUAGE_CODE):
        campaign = Campaign.objects.create(
            name=_("Introduce the new client manager – %(user)s – %(date)s") % {"user": leaver_name, "date": today.isoformat()},
            objective=_("Introduce yourself to the customers you took over from %(user)s.") % {"user": leaver},
            talking_points=_(
                "Tell the customer that you are their new client manager, replacing %(user)s, and how to reach you."
            ) % {"user": leaver},
            owner=actor,
            status=Campaign.Status.ACTIVE,
            starts_on=today,
            due_on=due_on,
            launched_at=timezone.now(),
            launched_by=actor,
        )
        note = _("Created by the handover from %(user)s") % {"user": leaver}

    tasks = FollowUpTask.objects.bulk_create(
        FollowUpTask(
            campaign=campaign, customer_id=customer_id, assignee=share.manager, branch_id=share.manager.branch_id,
            due_on=due_on,
        )
        for share in plan.shares
        for customer_id in share.introductions
    )
    audit_bulk(actor, AuditEvent.Action.CREATE, FollowUpTask, len(tasks), {"campaign": campaign.pk})

    # The events need the new tasks' ids: bulk_create sets them on PostgreSQL and on SQLite 3.35 or later.
    TaskEvent.objects.bulk_create(
        TaskEvent(task=task, actor=actor, from_status="", to_status=FollowUpTask.Status.OPEN, note=note)
        for task in tasks
    )
    return campaign

"""Bulk changes of the tasks on a filtered task list: reassign, extend the due date, cancel.

The list page hands over a snapshot of the tasks it showed, as task id and version pairs. A
change runs in one transaction with the tasks locked. It applies to every task still at its
snapshot version and reports the others as conflicts, unchanged. Each changed task gets one
TaskEvent with the actor, the time, the reason and the values before and after.

Platform operators may use all three actions on every task. Supervisors may reassign and
extend the tasks of their branch subtree, within that subtree. Cancelling stays with the
platform, like every other cancellation (see `services.PLATFORM_MOVES`)."""

import logging
import re
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext

from customers.models import Branch
from portal.audit import audit_bulk
from portal.models import AuditEvent, Role, User

from .models import FollowUpTask, TaskEvent
from .selectors import task_list_for
from .services import (
    ACTIVE_TASK_STATUSES,
    ALLOWED_TRANSITIONS,
    CampaignServiceError,
    task_assignees_available,
)

logger = logging.getLogger(__name__)

Status = FollowUpTask.Status

# The maximum number of tasks in one bulk change, because the snapshot of a longer list is too large to post.
BULK_MAX_TASKS = 5000

REASSIGN = "reassign"
EXTEND = "extend"
CANCEL = "cancel"
ACTION_CHOICES = (
    (REASSIGN, gettext_lazy("Reassign to another client manager")),
    (EXTEND, gettext_lazy("Extend the due date")),
    (CANCEL, gettext_lazy("Cancel")),
)


class BulkInvalid(CampaignServiceError):
    """A bulk change that cannot run at all, such as a missing reason or an unavailable assignee."""


@dataclass
class BulkResult:
    """The outcome of a bulk change. `conflicts` contains the tasks changed by someone else after the
    snapshot, as they are now. `skipped` contains (task id, task or None, reason) triples."""

    action: str
    changed: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def bulk_actions_for(*, user) -> list[str]:
    if user.role == Role.PLATFORM:
        return [REASSIGN, EXTEND, CANCEL]
    if user.role == Role.SUPERVISOR and user.branch_id:
        return [REASSIGN, EXTEND]
    return []


def bulk_eligible(tasks: QuerySet[FollowUpTask]) -> QuerySet[FollowUpTask]:
    """Narrow `tasks` to those a bulk change can apply to: open, in progress or returned."""
    return tasks.filter(status__in=ACTIVE_TASK_STATUSES)


def bulk_assignee_choices(*, actor, day: date) -> QuerySet[User]:
    """Return the client managers `actor` may hand tasks to on `day`: available (active, not on
    leave) and, for a supervisor, in their branch subtree. Each carries `open_load`."""
    managers = task_assignees_available(day=day)
    if actor.role != Role.PLATFORM:
        if not actor.branch_id:
            return managers.none()
        managers = managers.filter(branch__in=Branch.objects.filter(path__startswith=actor.branch.path))
    return (
        managers.select_related("branch")
        .annotate(open_load=Count("tasks", filter=Q(tasks__status__in=ACTIVE_TASK_STATUSES)))
        .order_by("branch__path", "username")
    )


def bulk_snapshot_encode(tasks: QuerySet[FollowUpTask]) -> str:
    """Return "id:version,id:version,..." for `tasks`, the form the list page posts back."""
    return ",".join(f"{pk}:{version}" for pk, version in tasks.order_by("pk").values_list("pk", "version"))


SNAPSHOT_NUMBER = re.compile(r"[0-9]{1,18}")


def bulk_snapshot_decode(text: str) -> dict[int, int]:
    """Parse a snapshot made by `bulk_snapshot_encode` into {task id: version}.

    Raises BulkInvalid naming the first malformed item, for an empty snapshot and for one with
    more than BULK_MAX_TASKS tasks."""
    snapshot = {}
    for position, item in enumerate((text or "").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        task_id, _separator, version = item.partition(":")
        # ASCII digits only: str.isdigit() also accepts "²", which int() rejects. The length
        # limit keeps ids and versions inside the databases' 64-bit integers.
        if not (SNAPSHOT_NUMBER.fullmatch(task_id) and SNAPSHOT_NUMBER.fullmatch(version)):
            raise BulkInvalid(
                _("Item %(position)s of the task list, “%(item)s”, is invalid: expected a task id and a version "
                  "such as 12:3. Open the bulk change from the task list again.")
                % {"position": position, "item": item[:40]}
            )
        snapshot[int(task_id)] = int(version)
    if not snapshot:
        raise BulkInvalid(_("No tasks were selected. Filter the task list so that it shows open tasks."))
    if len(snapshot) > BULK_MAX_TASKS:
        raise BulkInvalid(
            _("A bulk change covers at most %(max)s tasks, and %(count)s were selected. Narrow the filter.")
            % {"max": BULK_MAX_TASKS, "count": len(snapshot)}
        )
    return snapshot


def bulk_reassign(*, actor: User, snapshot: dict[int, int], assignee: User, reason: str) -> BulkResult:
    """Give the tasks in `snapshot` to `assignee`, who must be in `bulk_assignee_choices` today.
    Each task's branch becomes the assignee's, because a task belongs to its assignee's branch."""
    reason = _check_request(actor=actor, action=REASSIGN, reason=reason)
    if not bulk_assignee_choices(actor=actor, day=timezone.localdate()).filter(pk=assignee.pk).exists():
        raise BulkInvalid(
            _("%(manager)s cannot take tasks: choose an active client manager in your branches who is not on "
              "leave today.") % {"manager": assignee}
        )

    def problem(task):
        if task.assignee_id == assignee.pk:
            return _("already assigned to %(manager)s") % {"manager": assignee}
        return None

    def apply(tasks):
        FollowUpTask.objects.filter(pk__in=[task.pk for task in tasks]).update(
            assignee=assignee, branch_id=assignee.branch_id, version=F("version") + 1
        )
        return [
            TaskEvent(
                task=task, actor=actor, kind=TaskEvent.Kind.REASSIGNED, from_status=task.status,
                to_status=task.status, note=reason,
                detail={
                    "from": task.assignee_id, "from_name": str(task.assignee) if task.assignee else "",
                    "to": assignee.pk, "to_name": str(assignee),
                },
            )
            for task in tasks
        ]

    return _bulk_apply(actor=actor, action=REASSIGN, snapshot=snapshot, problem=problem, apply=apply)


def bulk_extend_due(*, actor: User, snapshot: dict[int, int], due_on: date, reason: str) -> BulkResult:
    """Move the due date of the tasks in `snapshot` to `due_on`. A task already due on or after
    that date is skipped, because this action only ever gives more time."""
    reason = _check_request(actor=actor, action=EXTEND, reason=reason)
    today = timezone.localdate()
    if due_on < today:
        raise BulkInvalid(
            _("The new due date %(due)s is in the past. Choose today or a later day.") % {"due": due_on.isoformat()}
        )

    def problem(task):
        if task.due_on >= due_on:
            return _("already due on %(due)s") % {"due": task.due_on.isoformat()}
        return None

    def apply(tasks):
        FollowUpTask.objects.filter(pk__in=[task.pk for task in tasks]).update(
            due_on=due_on, version=F("version") + 1
        )
        return [
            TaskEvent(
                task=task, actor=actor, kind=TaskEvent.Kind.DUE_DATE, from_status=task.status,
                to_status=task.status, note=reason,
                detail={"from": task.due_on.isoformat(), "to": due_on.isoformat()},
            )
            for task in tasks
        ]

    return _bulk_apply(actor=actor, action=EXTEND, snapshot=snapshot, problem=problem, apply=apply)


def bulk_cancel(*, actor: User, snapshot: dict[int, int], reason: str) -> BulkResult:
    """Cancel the tasks in `snapshot`. Only platform operators cancel."""
    reason = _check_request(actor=actor, action=CANCEL, reason=reason)

    def problem(task):
        if Status.CANCELLED not in ALLOWED_TRANSITIONS.get(task.status, set()):
            return _("a task that is %(status)s cannot be cancelled") % {"status": task.get_status_display()}
        return None

    def apply(tasks):
        FollowUpTask.objects.filter(pk__in=[task.pk for task in tasks]).update(
            status=Status.CANCELLED, version=F("version") + 1
        )
        return [
            TaskEvent(task=task, actor=actor, kind=TaskEvent.Kind.STATUS, from_status=task.status,
                      to_status=Status.CANCELLED, note=reason)
            for task in tasks
        ]

    return _bulk_apply(actor=actor, action=CANCEL, snapshot=snapshot, problem=problem, apply=apply)


def _check_request(*, actor: User, action: str, reason: str) -> str:
    if action not in bulk_actions_for(user=actor):
        raise BulkInvalid(_("Your role cannot use this bulk action."))
    reason = (reason or "").strip()
    if not reason:
        raise BulkInvalid(_("Give a reason for the bulk change. It is recorded on every task."))
    return reason


def _bulk_apply(*, actor: User, action: str, snapshot: dict[int, int], problem, apply) -> BulkResult:
    """Lock the snapshot's tasks in id order, sort them into conflicts, skipped and to change,
    and change the last group with one UPDATE and one INSERT of events."""
    result = BulkResult(action=action)
    with transaction.atomic():
        # Locking in id order means two bulk changes over overlapping lists wait for each other
        # instead of deadlocking. of=("self",): the scope's branch join must not be locked.
        tasks = list(
            task_list_for(user=actor)
            .filter(pk__in=list(snapshot))
            .select_for_update(of=("self",))
            .select_related("assignee")
            .order_by("pk")
        )
        found = {task.pk for task in tasks}
        for task_id in sorted(set(snapshot) - found):
            result.skipped.append((task_id, None, _("not found, or outside your tasks")))

        to_change = []
        for task in tasks:
            if task.version != snapshot[task.pk]:
                result.conflicts.append(task)
            elif task.status not in ACTIVE_TASK_STATUSES:
                result.skipped.append(
                    (task.pk, task, _("the task is %(status)s") % {"status": task.get_status_display()})
                )
            elif (reason := problem(task)) is not None:
                result.skipped.append((task.pk, task, reason))
            else:
                to_change.append(task)

        if to_change:
            TaskEvent.objects.bulk_create(apply(to_change))
            # The UPDATE bypasses the audit trail's model signals, so the change gets one entry.
            audit_action = AuditEvent.Action.ASSIGN if action == REASSIGN else AuditEvent.Action.UPDATE
            audit_bulk(
                actor, audit_action, FollowUpTask, len(to_change),
                {"bulk_action": action, "tasks": [task.pk for task in to_change]},
            )
        result.changed = [task.pk for task in to_change]

    logger.info(
        "Bulk %s by user %s: %s tasks changed, %s conflicts, %s skipped",
        action, actor.pk, len(result.changed), len(result.conflicts), len(result.skipped),
    )
    return result


def bulk_summary(result: BulkResult) -> str:
    """Return the one-line message that sums up `result` for the user."""
    parts = [
        ngettext("%(count)s task changed.", "%(count)s tasks changed.", len(result.changed))
        % {"count": len(result.changed)}
    ]
    if result.conflicts:
        parts.append(
            ngettext(
                "%(count)s task was changed by someone else meanwhile and was left as it is.",
                "%(count)s tasks were changed by someone else meanwhile and were left as they are.",
                len(result.conflicts),
            ) % {"count": len(result.conflicts)}
        )
    if result.skipped:
        parts.append(
            ngettext("%(count)s task was skipped.", "%(count)s tasks were skipped.", len(result.skipped))
            % {"count": len(result.skipped)}
        )
    return " ".join(parts)

"""Client managers' leave: the scope of who may record it, and the writes.

A client manager with a leave covering the launch day gets no task from a launch (see
`services.campaign_launch_preview`). Platform operators manage every client manager's leave, a
supervisor those of the client managers in their branch subtree."""

import logging
from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from portal.models import Leave, Role, User

from .services import CampaignServiceError

logger = logging.getLogger(__name__)


class LeaveInvalid(CampaignServiceError):
    pass


def leave_managers_for(*, user) -> QuerySet[User]:
    """Return the client managers whose leave `user` may record."""
    managers = User.objects.filter(role=Role.CLIENT_MANAGER).select_related("branch").order_by("branch__path", "username")
    if not user.is_authenticated or not user.is_active:
        return managers.none()
    if user.role == Role.PLATFORM:
        return managers
    if user.role == Role.SUPERVISOR and user.branch_id:
        return managers.filter(branch__path__startswith=user.branch.path)
    return managers.none()


def leave_list_for(*, user) -> QuerySet[Leave]:
    return Leave.objects.filter(user__in=leave_managers_for(user=user)).select_related("user", "user__branch")


def leave_get_for(*, user, pk) -> Leave:
    """Return one leave in the user's scope, or 404."""
    return get_object_or_404(leave_list_for(user=user), pk=pk)


def leave_create(*, actor: User, manager: User, starts_on: date, ends_on: date, note: str = "") -> Leave:
    """Record a leave from `starts_on` to `ends_on`, both days included.

    Raises LeaveInvalid when `actor` may not manage `manager`, when the days are reversed, or
    when the leave overlaps one already recorded. The manager's row is locked, so two people
    recording overlapping leaves at once get one leave and one error."""
    if not leave_managers_for(user=actor).filter(pk=manager.pk).exists():
        raise LeaveInvalid(_("You cannot record leave for %(manager)s.") % {"manager": manager})
    if ends_on < starts_on:
        raise LeaveInvalid(
            _("The last day %(end)s is before the first day %(start)s.")
            % {"end": ends_on.isoformat(), "start": starts_on.isoformat()}
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=manager.pk).first()
        overlapping = (
            Leave.objects.filter(user=manager, starts_on__lte=ends_on, ends_on__gte=starts_on).order_by("starts_on").first()
        )
        if overlapping is not None:
            raise LeaveInvalid(
                _("%(manager)s already has leave from %(start)s to %(end)s, which overlaps. Change that leave instead.")
                % {
                    "manager": manager,
                    "start": overlapping.starts_on.isoformat(),
                    "end": overlapping.ends_on.isoformat(),
                }
            )
        leave = Leave.objects.create(user=manager, starts_on=starts_on, ends_on=ends_on, note=note)
    logger.info(
        "Leave %s: user %s recorded leave for user %s from %s to %s",
        leave.pk, actor.pk, manager.pk, starts_on.isoformat(), ends_on.isoformat(),
    )
    return leave


def leave_delete(*, actor: User, leave: Leave) -> None:
    """Delete a leave, for example one entered by mistake. The caller has checked the scope."""
    leave_id, manager_id = leave.pk, leave.user_id
    leave.delete()
    logger.info("Leave %s: user %s deleted the leave of user %s", leave_id, actor.pk, manager_id)

"""Reads of campaigns and tasks. `task_list_for` is the one place that decides which tasks a
user may see; every list, detail page, export and dashboard goes through it."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from portal.models import Role

from .models import Campaign, FollowUpTask


def task_list_for(*, user) -> QuerySet[FollowUpTask]:
    """Return the tasks `user` may see: a client manager their own, a supervisor those of their
    branch subtree, a platform operator all. Administrators see none."""
    tasks = FollowUpTask.objects.all()
    if not user.is_authenticated or not user.is_active:
        return tasks.none()
    if user.role == Role.PLATFORM:
        return tasks
    if user.role == Role.SUPERVISOR and user.branch_id:
        return tasks.filter(branch__path__startswith=user.branch.path)
    if user.role == Role.CLIENT_MANAGER:
        return tasks.filter(assignee=user)
    return tasks.none()


def task_get_for(*, user, pk) -> FollowUpTask:
    return get_object_or_404(
        task_list_for(user=user).select_related("campaign", "customer", "assignee", "branch"), pk=pk
    )


def campaign_list_for(*, user) -> QuerySet[Campaign]:
    """Return the campaigns `user` may see: all for the platform, otherwise those with at least
    one task in the user's task scope."""
    campaigns = Campaign.objects.all()
    if not user.is_authenticated or not user.is_active:
        return campaigns.none()
    if user.role == Role.PLATFORM:
        return campaigns
    if user.role in (Role.SUPERVISOR, Role.CLIENT_MANAGER):
        visible_tasks = task_list_for(user=user)
        return campaigns.filter(Q(pk__in=visible_tasks.values("campaign_id")))
    return campaigns.none()


def campaign_get_for(*, user, pk) -> Campaign:
    return get_object_or_404(campaign_list_for(user=user).select_related("owner", "segment"), pk=pk)

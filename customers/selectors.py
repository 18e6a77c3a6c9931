"""Reads of branches and customers. `customer_list_for` is the one place that decides which
customers a user may see; every list, detail page, export and dashboard goes through it."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from portal.models import Role

from .models import Branch, Customer, Tier


def branch_subtree(*, branch: Branch) -> QuerySet[Branch]:
    return Branch.objects.filter(path__startswith=branch.path)


def customer_list_for(*, user) -> QuerySet[Customer]:
    """Return the customers `user` may see: a client manager their own and those of their tasks,
    a supervisor those of their branch subtree, a platform operator all. Administrators manage
    accounts and see none."""
    customers = Customer.objects.all()
    if not user.is_authenticated or not user.is_active:
        return customers.none()
    if user.role == Role.PLATFORM:
        return customers
    if user.role == Role.SUPERVISOR and user.branch_id:
        return customers.filter(branch__path__startswith=user.branch.path)
    if user.role == Role.CLIENT_MANAGER:
        # Besides their own book, the customers of the tasks they were given: a launch hands
        # customers without a client manager to the managers of a fallback branch.
        from campaigns.models import FollowUpTask

        assigned = FollowUpTask.objects.filter(assignee=user).values("customer_id")
        return customers.filter(Q(client_manager=user) | Q(pk__in=assigned))
    return customers.none()


def customer_get_for(*, user, pk) -> Customer:
    """Return one customer in the user's scope; anything outside it is a 404, not a 403,
    so that a URL does not reveal whether a customer exists."""
    return get_object_or_404(customer_list_for(user=user).select_related("branch", "client_manager", "tier"), pk=pk)


def tier_for_aum(*, aum, tiers=None) -> Tier | None:
    """Return the tier with the highest threshold at or below `aum`, or None below all of them.
    Pass `tiers` (ordered by threshold) when calling in a loop."""
    if tiers is None:
        tiers = list(Tier.objects.order_by("min_aum"))
    chosen = None
    for tier in tiers:
        if aum >= tier.min_aum:
            chosen = tier
    return chosen

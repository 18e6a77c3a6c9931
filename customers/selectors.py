"""Reads of branches and customers. `customer_list_for` is the one place that decides which
customers a user may see; every list, detail page, export and dashboard goes through it."""

from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404

from portal.lookups import EqualsAny
from portal.models import Role

from .models import AumSnapshot, Branch, Customer, RosterChange, RosterImport, Tier


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

        # One id list from two index scans: an OR of the two conditions makes PostgreSQL read
        # every customer to test them.
        own = Customer.objects.filter(client_manager=user).order_by().values("pk")
        assigned = FollowUpTask.objects.filter(assignee=user).order_by().values("customer_id")
        if connection.vendor == "postgresql":
            # id = ANY(ARRAY(...)) makes PostgreSQL fetch each customer by primary key. For
            # id IN (...) it read all 1,000,000 customers to probe a hash of the ids: 176 ms for
            # a book of 2,400 customers and 4,900 tasks.
            return customers.filter(EqualsAny(F("pk"), ArraySubquery(own.union(assigned))))
        return customers.filter(pk__in=own.union(assigned))
    return customers.none()


def customer_get_for(*, user, pk) -> Customer:
    """Return one customer in the user's scope. Anything outside it is a 404, not a 403,
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


# Snapshots shown in a customer's AUM trend, the most recent ones.
AUM_TREND_LENGTH = 24


def aum_snapshots_for_customer(*, customer: Customer, limit: int = AUM_TREND_LENGTH) -> list[AumSnapshot]:
    """Return the customer's last `limit` AUM snapshots, oldest first. The caller has already
    checked the customer is in the user's scope (customer_get_for)."""
    latest = list(customer.aum_snapshots.select_related("tier").order_by("-taken_on")[:limit])
    return latest[::-1]


def aum_trend_points(*, snapshots: list[AumSnapshot]) -> list[dict]:
    """Return each snapshot with its change from the one before and a bar width in per cent of
    the largest AUM of the list, for a chart drawn without JavaScript."""
    largest = max((snapshot.aum for snapshot in snapshots), default=Decimal(0))
    points = []
    previous = None
    for snapshot in snapshots:
        points.append({
            "taken_on": snapshot.taken_on,
            "aum": snapshot.aum,
            "tier": snapshot.tier,
            "change": None if previous is None else snapshot.aum - previous.aum,
            "width": int(snapshot.aum * 100 / largest) if largest > 0 and snapshot.aum > 0 else 0,
        })
        previous = snapshot
    return points


def roster_changes_for_import(*, roster_import: RosterImport, kind: str) -> QuerySet[RosterChange]:
    """Return one list of an import's roster diff with the customer, branch and tiers joined.
    Roster imports are platform work, and platform operators see every customer."""
    return (
        RosterChange.objects.filter(roster_import=roster_import, kind=kind)
        .select_related("customer__branch", "tier_before", "tier_after")
        .order_by("customer__customer_no")
    )


def customers_in_roster_change(*, user, roster_import: RosterImport, kind: str) -> QuerySet[Customer]:
    """Return the customers of one list of an import's roster diff that `user` may see, e.g.
    to target a campaign at them."""
    return customer_list_for(user=user).filter(roster_changes__roster_import=roster_import, roster_changes__kind=kind)

"""The records a committed roster file leaves besides the customers: an AUM snapshot per
customer and the roster diff (RosterChange rows).

Called inside the commit's transaction, after the customers are written, so a failure rolls
the snapshots and the diff back with them."""

import datetime
import logging
from decimal import Decimal

from customers.models import AumSnapshot, Customer, RosterChange, RosterImport, Tier

logger = logging.getLogger(__name__)

WRITE_BATCH_SIZE = 1000
LOOKUP_CHUNK_SIZE = 900
DEFAULT_AUM_DROP_PERCENT = Decimal("30")


def roster_history_record(
    *,
    plan,
    new_customers: list[Customer],
    tiers: list[Tier],
    taken_on: datetime.date,
    roster_import: RosterImport | None,
    complete_roster: bool,
    aum_drop_percent: Decimal,
) -> dict[str, int]:
    """Store the AUM snapshots and the roster diff of a written RosterPlan and return the
    number of diff lines per RosterChange.Kind. `new_customers` are the instances written for
    plan.new. PostgreSQL uses roster_write_postgresql instead, which gives the same result.

    With `complete_roster`, every customer absent from the file gets a MISSING line and, unless
    already set, `missing_since`; customers in the file have `missing_since` cleared. A partial
    file (one branch, say) flags no one. Customers are never deleted."""
    customers = customers_with_pk(new_customers + plan.changed + plan.unchanged)
    snapshots = [
        AumSnapshot(customer_id=customer.pk, taken_on=taken_on, aum=customer.aum, tier_id=customer.tier_id, roster_import=roster_import)
        for customer in customers
    ]
    AumSnapshot.objects.bulk_create(
        snapshots,
        batch_size=WRITE_BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["customer", "taken_on"],
        update_fields=["aum", "tier", "roster_import"],
    )

    rank = {tier.pk: position for position, tier in enumerate(tiers)}
    new_numbers = {customer.customer_no for customer in new_customers}
    changes: list[RosterChange] = []
    for customer in customers:
        line = {"roster_import": roster_import, "taken_on": taken_on, "customer_id": customer.pk, "aum_after": customer.aum, "tier_after_id": customer.tier_id}
        if customer.customer_no in new_numbers:
            changes.append(RosterChange(kind=RosterChange.Kind.NEW, **line))
            continue
        aum_before, tier_before = plan.before[customer.customer_no]
        line.update(aum_before=aum_before, tier_before_id=tier_before)
        rank_before = rank.get(tier_before, -1)
        rank_after = rank.get(customer.tier_id, -1)
        if rank_after > rank_before:
            changes.append(RosterChange(kind=RosterChange.Kind.UPGRADE, **line))
        elif rank_after < rank_before:
            changes.append(RosterChange(kind=RosterChange.Kind.DOWNGRADE, **line))
        if aum_drop_exceeds(before=aum_before, after=customer.aum, percent=aum_drop_percent):
            changes.append(RosterChange(kind=RosterChange.Kind.AUM_DROP, **line))

    if complete_roster:
        # A customer whose row is invalid is still in the file, so plan.present_ids counts too.
        seen_ids = plan.present_ids | {customer.pk for customer in customers}
        changes += missing_flag(seen_ids=seen_ids, taken_on=taken_on, roster_import=roster_import)
    RosterChange.objects.bulk_create(changes, batch_size=WRITE_BATCH_SIZE)

    counts = {kind: 0 for kind in RosterChange.Kind.values}
    for change in changes:
        counts[change.kind] += 1
    logger.info(
        "Roster import %s: %s AUM snapshots for %s, diff %s",
        roster_import.pk if roster_import else "(command line)", len(snapshots), taken_on, counts,
    )
    return counts


def aum_drop_exceeds(*, before: Decimal, after: Decimal, percent: Decimal) -> bool:
    """Return True when AUM fell from a positive `before` by at least `percent` per cent."""
    if before <= 0 or after >= before:
        return False
    return (before - after) * 100 >= before * percent


def customers_with_pk(customers: list[Customer]) -> list[Customer]:
    """Return the customers with their primary keys, reading them by customer number for
    those bulk_create left without one (databases that cannot return inserted ids)."""
    missing_pk = [customer.customer_no for customer in customers if customer.pk is None]
    if not missing_pk:
        return customers
    ids = {}
    for start in range(0, len(missing_pk), LOOKUP_CHUNK_SIZE):
        chunk = missing_pk[start:start + LOOKUP_CHUNK_SIZE]
        ids.update(Customer.objects.filter(customer_no__in=chunk).values_list("customer_no", "pk"))
    for customer in customers:
        if customer.pk is None:
            customer.pk = ids[customer.customer_no]
    return customers


def missing_flag(*, seen_ids: set[int], taken_on: datetime.date, roster_import: RosterImport | None) -> list[RosterChange]:
    """Set `missing_since` on the customers not in `seen_ids`, clear it on those in it, and
    return an unsaved MISSING diff line for each absent customer."""
    changes = []
    newly_missing = []
    returned = []
    for pk, aum, tier_id, missing_since in Customer.objects.values_list("pk", "aum", "tier_id", "missing_since").iterator(chunk_size=5000):
        if pk in seen_ids:
            if missing_since is not None:
                returned.append(pk)
            continue
        changes.append(RosterChange(
            roster_import=roster_import, taken_on=taken_on, customer_id=pk, kind=RosterChange.Kind.MISSING,
            aum_before=aum, tier_before_id=tier_id,
        ))
        if missing_since is None:
            newly_missing.append(pk)
    for start in range(0, len(newly_missing), LOOKUP_CHUNK_SIZE):
        Customer.objects.filter(pk__in=newly_missing[start:start + LOOKUP_CHUNK_SIZE]).update(missing_since=taken_on)
    for start in range(0, len(returned), LOOKUP_CHUNK_SIZE):
        Customer.objects.filter(pk__in=returned[start:start + LOOKUP_CHUNK_SIZE]).update(missing_since=None)
    return changes

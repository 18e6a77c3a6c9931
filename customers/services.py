"""Writes to customers: the roster import and AUM changes.

A roster import matches customers on `customer_no`. It creates the new ones, updates the
changed ones and leaves the rest untouched, so importing the same file twice writes nothing
the second time. A blank cell keeps the customer's current value (or the model default for
a new customer); the import never clears a field.
"""

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Role, User

from .imports.mapping import ROSTER_FIELDS, MappingInvalid, mapping_validate
from .imports.parsing import ParsedTable
from .imports.report import ImportRejected, ImportReport
from .imports.rows import CheckedRow, rows_check
from .models import Branch, Customer, Tier
from .selectors import tier_for_aum

logger = logging.getLogger(__name__)

# Rows per INSERT/UPDATE statement and customer numbers per lookup query. SQLite before
# 3.32 allows 999 parameters per statement, which the lookup chunk stays under.
WRITE_BATCH_SIZE = 1000
LOOKUP_CHUNK_SIZE = 900
DEFAULT_ERROR_LIMIT = 200

# Customer fields a roster row can set directly. Branch, client manager and tier are resolved first.
PLAIN_FIELDS = [
    import_field.name for import_field in ROSTER_FIELDS
    if import_field.name not in {"customer_no", "branch", "client_manager"}
]


class CommitMode(models.TextChoices):
    VALID_ROWS = "valid_rows", _("Commit the valid rows and skip the invalid ones")
    REJECT = "reject", _("Reject the whole file if any row is invalid")


@dataclass
class RosterPlan:
    """The writes a roster file needs, computed without writing."""

    report: ImportReport
    new: list[Customer] = field(default_factory=list)
    changed: list[Customer] = field(default_factory=list)
    changed_fields: set[str] = field(default_factory=set)


def customer_update_aum(*, customer: Customer, aum: Decimal, user: User | None = None, tiers: list[Tier] | None = None) -> Customer:
    """Set the customer's AUM and recompute the tier from it. Pass `tiers` (ordered by
    threshold) when calling in a loop, to read them once."""
    previous_tier_id = customer.tier_id
    customer.aum = aum
    customer.tier = tier_for_aum(aum=aum, tiers=tiers)
    customer.save(update_fields=["aum", "tier", "updated_at"])
    if customer.tier_id != previous_tier_id:
        logger.info(
            "Customer %s: tier changed from %s to %s by %s",
            customer.pk, previous_tier_id, customer.tier_id, user.username if user else "system",
        )
    return customer


def roster_import_preview(
    *,
    table: ParsedTable,
    mapping: dict[str, str],
    default_branch: Branch | None = None,
    error_limit: int = DEFAULT_ERROR_LIMIT,
) -> ImportReport:
    """Count the new, changed, unchanged and invalid rows of a roster file without writing.

    Raises MappingInvalid when the mapping is unusable."""
    started = time.monotonic()
    plan = roster_import_plan(table=table, mapping=mapping, default_branch=default_branch, error_limit=error_limit)
    plan.report.seconds = time.monotonic() - started
    return plan.report


def roster_import_commit(
    *,
    table: ParsedTable,
    mapping: dict[str, str],
    user: User | None,
    default_branch: Branch | None = None,
    mode: CommitMode = CommitMode.REJECT,
    error_limit: int = DEFAULT_ERROR_LIMIT,
) -> ImportReport:
    """Write a roster file in one transaction and return its counts.

    With mode REJECT, any invalid row raises ImportRejected and nothing is written. With
    VALID_ROWS the valid rows are written and the invalid ones reported. `user` is None for
    imports run from the command line."""
    started = time.monotonic()
    actor = user.username if user else "command line"
    with transaction.atomic():
        plan = roster_import_plan(table=table, mapping=mapping, default_branch=default_branch, error_limit=error_limit)
        report = plan.report
        if report.invalid and mode == CommitMode.REJECT:
            logger.info("Roster import by %s rejected: %s invalid rows of %s", actor, report.invalid, report.total)
            raise ImportRejected(
                _("%(invalid)s of %(total)s rows are invalid, so nothing was imported.")
                % {"invalid": report.invalid, "total": report.total},
                report,
            )
        Customer.objects.bulk_create(plan.new, batch_size=WRITE_BATCH_SIZE)
        if plan.changed:
            Customer.objects.bulk_update(
                plan.changed, sorted(plan.changed_fields | {"updated_at"}), batch_size=WRITE_BATCH_SIZE
            )
    report.committed = True
    report.seconds = time.monotonic() - started
    logger.info(
        "Roster import by %s committed: %s new, %s changed, %s unchanged, %s invalid in %.1f s",
        actor, report.new, report.changed, report.unchanged, report.invalid, report.seconds,
    )
    return report


def roster_import_plan(
    *, table: ParsedTable, mapping: dict[str, str], default_branch: Branch | None, error_limit: int
) -> RosterPlan:
    """Validate every row and decide, customer by customer, what to create or update.

    Queries: branches, client managers and tiers once each, then existing customers in
    chunks of LOOKUP_CHUNK_SIZE, and none per row."""
    field_columns = mapping_validate(mapping=mapping, headers=table.headers, fields=ROSTER_FIELDS)
    if "branch" not in field_columns and default_branch is None:
        raise MappingInvalid(_("The file has no branch column, so choose a default branch for new customers."))

    branches = {branch.code: branch for branch in Branch.objects.all()}
    managers = {
        manager.username: manager
        for manager in User.objects.filter(role=Role.CLIENT_MANAGER, is_active=True)
    }
    tiers = list(Tier.objects.order_by("min_aum"))
    report = ImportReport(total=len(table.rows))
    plan = RosterPlan(report=report)

    checked_rows = []
    for row in rows_check(table=table, mapping=mapping, fields=ROSTER_FIELDS):
        references_resolve(row=row, table=table, field_columns=field_columns, branches=branches, managers=managers)
        checked_rows.append(row)

    numbers = [row.values["customer_no"] for row in checked_rows if not row.errors]
    existing = customers_by_number(numbers=numbers)
    now = timezone.now()

    for row in checked_rows:
        if not row.errors:
            customer = existing.get(row.values["customer_no"])
            if customer is None:
                new_customer = customer_build(row=row, default_branch=default_branch, tiers=tiers)
                if new_customer is not None:
                    plan.new.append(new_customer)
            else:
                changed_fields = customer_apply(customer=customer, row=row, tiers=tiers)
                if changed_fields:
                    customer.updated_at = now
                    plan.changed.append(customer)
                    plan.changed_fields |= changed_fields
                else:
                    report.unchanged += 1
        if row.errors:
            report.invalid += 1
            for error in row.errors:
                report.error_add(error, error_limit=error_limit)

    report.new = len(plan.new)
    report.changed = len(plan.changed)
    return plan


def references_resolve(*, row: CheckedRow, table: ParsedTable, field_columns: dict[str, int], branches, managers) -> None:
    """Replace the branch code and client-manager username of `row` with the objects, or record errors."""
    code = row.values.get("branch")
    if code is not None:
        branch = branches.get(code)
        if branch is None:
            row.error(
                column=table.headers[field_columns["branch"]],
                value=row.raw["branch"],
                message=_("Unknown branch code: no branch has this code."),
            )
        row.values["branch"] = branch
    username = row.values.get("client_manager")
    if username is not None:
        manager = managers.get(username)
        if manager is None:
            row.error(
                column=table.headers[field_columns["client_manager"]],
                value=row.raw["client_manager"],
                message=_("Unknown client manager: no active client manager has this username."),
            )
        row.values["client_manager"] = manager


def customers_by_number(*, numbers: list[str], only: tuple[str, ...] = ()) -> dict[str, Customer]:
    """Return the existing customers among `numbers`, keyed by customer number, loading only
    the fields in `only` when given."""
    existing = {}
    for start in range(0, len(numbers), LOOKUP_CHUNK_SIZE):
        chunk = numbers[start:start + LOOKUP_CHUNK_SIZE]
        customers = Customer.objects.filter(customer_no__in=chunk)
        if only:
            customers = customers.only(*only)
        for customer in customers:
            existing[customer.customer_no] = customer
    return existing


def customer_build(*, row: CheckedRow, default_branch: Branch | None, tiers: list[Tier]) -> Customer | None:
    """Return an unsaved new customer, or None after recording why the row cannot create one."""
    branch = row.values.get("branch") or default_branch
    if branch is None:
        row.error(
            column="",
            value="",
            message=_("Missing branch: a new customer needs a branch code or a default branch."),
        )
        return None
    customer = Customer(customer_no=row.values["customer_no"], branch=branch, extra=dict(row.extra))
    customer.client_manager = row.values.get("client_manager")
    for field_name in PLAIN_FIELDS:
        if field_name in row.values:
            setattr(customer, field_name, row.values[field_name])
    customer.tier = tier_for_aum(aum=customer.aum, tiers=tiers)
    return customer


def customer_apply(*, customer: Customer, row: CheckedRow, tiers: list[Tier]) -> set[str]:
    """Copy the row's values onto an existing customer and return the names of the fields that changed."""
    changed = set()
    for field_name in PLAIN_FIELDS:
        if field_name in row.values and getattr(customer, field_name) != row.values[field_name]:
            setattr(customer, field_name, row.values[field_name])
            changed.add(field_name)
    branch = row.values.get("branch")
    if branch is not None and customer.branch_id != branch.pk:
        customer.branch = branch
        changed.add("branch")
    manager = row.values.get("client_manager")
    if manager is not None and customer.client_manager_id != manager.pk:
        customer.client_manager = manager
        changed.add("client_manager")
    merged_extra = {**customer.extra, **row.extra}
    if merged_extra != customer.extra:
        customer.extra = merged_extra
        changed.add("extra")
    tier = tier_for_aum(aum=customer.aum, tiers=tiers)
    if customer.tier_id != (tier.pk if tier else None):
        customer.tier = tier
        changed.add("tier")
    return changed

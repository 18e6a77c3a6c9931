"""Check a roster file and COPY its new customers in one pass on PostgreSQL.

The ordinary commit checks every row in Python, then writes. Here each new customer goes
into an open COPY as soon as its row is checked, so the PostgreSQL server process inserts
rows and maintains the customer table's indexes while Python checks the next rows. The two
are separate processes, so they run on different CPU cores when two are free.

This pass handles only files whose rows are all valid. The lookups it needs before the COPY
opens (existing customers, client managers) use each cell's text normalised the way the
parsers normalise it, because a valid cell parses to exactly that text. Of the file-wide
checks, a repeated customer number is caught here with a set of the numbers seen, and the
Excel-rounding check of a column only rejects values when another value of the column
already has a row error. The pass raises PipelineStopped at the first row error, the caller
rolls back everything it wrote, and the ordinary path then reports every error of the file
or writes the valid rows. A file with errors therefore costs one pass more than before.
"""

from django.db import connection
from django.utils import timezone

from customers.models import Branch, Tier

from .changes import ChangeSamples
from .mapping import ROSTER_FIELDS, mapping_validate
from .parsing import ParsedTable
from .postgresql import customer_copy, customer_ids_reserve, customer_row_builder
from .report import ImportReport
from .rows import row_checker
from .values import text_normalize


class PipelineStopped(Exception):
    """Raised when a row has an error or the file needs the ordinary path, so the caller rolls
    back the rows copied so far and plans the file from the start."""


def roster_plan_copy(*, table: ParsedTable, mapping: dict[str, str], default_branch: Branch | None):
    """Check every row of `table`, COPY the new customers into the customer table and return
    the RosterPlan and the ids of plan.new, in order. The changed customers, the AUM snapshots
    and the roster diff are left to roster_write_postgresql.

    Call inside a transaction. Raises PipelineStopped at the first row error, after which the
    transaction must be rolled back."""
    # customers.services imports this module, so its helpers are imported at call time.
    from customers import services as roster

    field_columns = mapping_validate(mapping=mapping, headers=table.headers, fields=ROSTER_FIELDS)
    if "branch" not in field_columns and default_branch is None:
        raise PipelineStopped("no branch column and no default branch")
    if any(parsed.field_count_error for parsed in table.rows):
        raise PipelineStopped("a row has the wrong number of fields")
    check = row_checker(table=table, mapping=mapping, fields=ROSTER_FIELDS)

    # A valid customer number is its cell's text after text_normalize (identifier_parser),
    # and a valid username is its cell's text stripped (text_parser).
    number_index = field_columns["customer_no"]
    row_numbers = [text_normalize(parsed.values[number_index]) for parsed in table.rows]
    numbers = list(dict.fromkeys(row_numbers))
    existing = roster.customers_by_number(numbers=numbers)
    branch_index = field_columns.get("branch")
    manager_index = field_columns.get("client_manager")
    usernames = set()
    if manager_index is not None:
        usernames = {parsed.values[manager_index].strip() for parsed in table.rows} - {""}
    manager_ids = set()
    if branch_index is not None and existing:
        for parsed, number in zip(table.rows, row_numbers):
            moved = existing.get(number)
            manager_cell = parsed.values[manager_index].strip() if manager_index is not None else ""
            if moved is not None and moved.client_manager_id and parsed.values[branch_index].strip() and not manager_cell:
                manager_ids.add(moved.client_manager_id)
    staff_by_username, staff_by_id = roster.staff_load(usernames=usernames, user_ids=manager_ids)
    branches = list(Branch.objects.all())
    tiers = list(Tier.objects.order_by("min_aum"))
    references = roster.RosterReferences(
        headers={field_name: table.headers[index] for field_name, index in field_columns.items()},
        branches_by_code={branch.code: branch for branch in branches},
        branches_by_id={branch.pk: branch for branch in branches},
        staff_by_username=staff_by_username,
        staff_by_id=staff_by_id,
        default_branch=default_branch,
    )

    report = ImportReport(total=len(table.rows))
    plan = roster.RosterPlan(report=report)
    plan.present_ids = {customer.pk for customer in existing.values()}
    now = timezone.now()
    defaults = roster.new_customer_defaults()
    tier_for = roster.tier_finder(tiers)
    change_samples = ChangeSamples(references=references, tiers=tiers)
    # Every valid row has a distinct number, so the numbers not found are the new customers.
    seen_numbers = set()
    row_build = customer_row_builder()
    # Django's wrapper turns psycopg's errors from the raw cursor into DatabaseError, as in roster_write_postgresql.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        new_ids = customer_ids_reserve(cursor.cursor, len(numbers) - len(existing))
        with customer_copy(cursor.cursor) as copy:
            for parsed in table.rows:
                row = check(parsed)
                if row.errors:
                    raise PipelineStopped(f"row {row.number} is invalid")
                number = row.values["customer_no"]
                if number in seen_numbers:
                    raise PipelineStopped(f"row {row.number} repeats a customer number")
                seen_numbers.add(number)
                customer = existing.get(number)
                roster.references_resolve(row=row, references=references)
                roster.manager_line_check(row=row, references=references, customer=customer)
                if row.errors:
                    raise PipelineStopped(f"row {row.number} is invalid")
                values = roster.row_plan_add(
                    plan=plan, row=row, customer=customer, default_branch=default_branch,
                    tier_for=tier_for, defaults=defaults, now=now, change_samples=change_samples,
                )
                if row.errors:
                    raise PipelineStopped(f"row {row.number} is invalid")
                if values is not None:
                    if len(plan.new) > len(new_ids):
                        raise PipelineStopped(f"more new customers than the {len(new_ids)} reserved ids")
                    copy.write_row(row_build(new_ids[len(plan.new) - 1], values))
    if len(plan.new) != len(new_ids):
        raise PipelineStopped(f"{len(plan.new)} new customers for {len(new_ids)} reserved ids")

    report.new = len(plan.new)
    report.changed = len(plan.changed)
    report.details["changes"] = change_samples.as_summary()
    return plan, new_ids

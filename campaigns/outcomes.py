"""Load past contacts as a completed historical campaign.

Each valid row becomes one verified FollowUpTask and one ContactRecord for an existing
customer, so past outcomes feed the same analysis as campaigns run in the portal. The
task's assignee is the customer's client manager (None when the customer has none),
and its branch is the customer's branch.
"""

import datetime
import logging
import time
from collections import Counter

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from customers.imports.mapping import OUTCOME_FIELDS, mapping_validate
from customers.imports.parsing import ParsedTable
from customers.imports.report import ImportInvalid, ImportRejected, ImportReport
from customers.imports.rows import CheckedRow, rows_check
from customers.imports.values import text_normalize
from customers.models import Customer
from customers.services import DEFAULT_ERROR_LIMIT, WRITE_BATCH_SIZE, CommitMode, customers_by_number
from portal.audit import audit_bulk
from portal.models import AuditEvent, User

from .models import Campaign, Channel, ContactRecord, FollowUpTask, Outcome

logger = logging.getLogger(__name__)

OUTCOME_WORDS = {
    "converted": Outcome.CONVERTED, "yes": Outcome.CONVERTED, "y": Outcome.CONVERTED, "是": Outcome.CONVERTED,
    "成交": Outcome.CONVERTED, "已成交": Outcome.CONVERTED,
    "declined": Outcome.DECLINED, "no": Outcome.DECLINED, "n": Outcome.DECLINED, "否": Outcome.DECLINED,
    "拒绝": Outcome.DECLINED,
    "reached": Outcome.REACHED, "已接通": Outcome.REACHED, "接通": Outcome.REACHED,
    "interested": Outcome.INTERESTED, "有意向": Outcome.INTERESTED,
    "not_reachable": Outcome.NOT_REACHABLE, "not reachable": Outcome.NOT_REACHABLE,
    "未接通": Outcome.NOT_REACHABLE, "联系不上": Outcome.NOT_REACHABLE,
}
# "cellular" and "telephone" are the bank-marketing file's values, and "unknown" means no channel.
CHANNEL_WORDS = {
    "cellular": Channel.PHONE, "telephone": Channel.PHONE, "phone": Channel.PHONE, "mobile": Channel.PHONE,
    "电话": Channel.PHONE, "手机": Channel.PHONE,
    "visit": Channel.VISIT, "面访": Channel.VISIT, "拜访": Channel.VISIT,
    "wechat": Channel.WECHAT, "微信": Channel.WECHAT,
    "sms": Channel.SMS, "短信": Channel.SMS,
    "email": Channel.EMAIL, "e-mail": Channel.EMAIL, "邮件": Channel.EMAIL,
    "unknown": "", "未知": "",
}


def outcomes_import_preview(
    *, table: ParsedTable, mapping: dict[str, str], error_limit: int = DEFAULT_ERROR_LIMIT
) -> ImportReport:
    """Count the valid and invalid rows of a past-outcomes file without writing."""
    started = time.monotonic()
    report, _rows = outcomes_check(table=table, mapping=mapping, error_limit=error_limit)
    report.seconds = time.monotonic() - started
    return report


def outcomes_import_commit(
    *,
    table: ParsedTable,
    mapping: dict[str, str],
    campaign_name: str,
    user: User,
    campaign_date: datetime.date | None = None,
    mode: CommitMode = CommitMode.REJECT,
    error_limit: int = DEFAULT_ERROR_LIMIT,
) -> ImportReport:
    """Create a completed historical campaign owned by `user` with one verified task and one
    contact record per valid row, in one transaction.

    The campaign starts and is due on `campaign_date` (today if None), which is also the
    contact time of rows without one. With mode REJECT any invalid row raises ImportRejected
    and nothing is written."""
    campaign_name = campaign_name.strip()
    if not campaign_name:
        raise ImportInvalid(_("Missing campaign name: past outcomes are stored as a campaign with a name."))
    campaign_date = campaign_date or timezone.localdate()
    started = time.monotonic()

    with transaction.atomic():
        report, rows = outcomes_check(table=table, mapping=mapping, error_limit=error_limit)
        if report.invalid and mode == CommitMode.REJECT:
            logger.info("Outcomes import by %s rejected: %s invalid rows of %s", user.username, report.invalid, report.total)
            raise ImportRejected(
                _("%(invalid)s of %(total)s rows are invalid, so nothing was imported.")
                % {"invalid": report.invalid, "total": report.total},
                report,
            )
        campaign = Campaign.objects.create(
            name=campaign_name,
            owner=user,
            status=Campaign.Status.COMPLETED,
            is_historical=True,
            starts_on=campaign_date,
            due_on=campaign_date,
            launched_at=None,
        )
        default_contact_time = timezone.make_aware(datetime.datetime.combine(campaign_date, datetime.time(12, 0)))
        tasks = []
        for row, customer in rows:
            contacted_at = row.values.get("contacted_at") or default_contact_time
            if timezone.is_naive(contacted_at):
                contacted_at = timezone.make_aware(contacted_at)
            tasks.append(
                FollowUpTask(
                    campaign=campaign,
                    customer=customer,
                    assignee_id=customer.client_manager_id,
                    branch_id=customer.branch_id,
                    status=FollowUpTask.Status.VERIFIED,
                    due_on=campaign_date,
                    channel=row.values.get("channel", ""),
                    outcome=row.values["outcome"],
                    completed_at=contacted_at,
                    verified_at=contacted_at,
                )
            )
        # bulk_create sets the primary keys on PostgreSQL and on SQLite 3.35 or later.
        FollowUpTask.objects.bulk_create(tasks, batch_size=WRITE_BATCH_SIZE)
        contacts = [
            ContactRecord(
                task=task,
                customer_id=task.customer_id,
                channel=task.channel,
                outcome=task.outcome,
                note=row.values.get("note", ""),
                contacted_at=task.completed_at,
                attempts=row.values.get("attempts"),
                duration_seconds=row.values.get("duration_seconds"),
                extra=row.extra,
            )
            for task, (row, _customer) in zip(tasks, rows)
        ]
        ContactRecord.objects.bulk_create(contacts, batch_size=WRITE_BATCH_SIZE)
        # bulk_create bypasses the audit trail's model signals, so the import gets one entry.
        audit_bulk(user, AuditEvent.Action.CREATE, FollowUpTask, len(tasks), {"campaign": campaign.pk, "imported": True})

    report.committed = True
    report.details["campaign_id"] = campaign.pk
    report.seconds = time.monotonic() - started
    logger.info(
        "Campaign %s: imported %s past contacts by %s (%s invalid rows skipped) in %.1f s",
        campaign.pk, report.new, user.username, report.invalid, report.seconds,
    )
    return report


def outcomes_check(
    *, table: ParsedTable, mapping: dict[str, str], error_limit: int
) -> tuple[ImportReport, list[tuple[CheckedRow, Customer]]]:
    """Validate every row, match it to a customer and return the report and the valid rows."""
    mapping_validate(mapping=mapping, headers=table.headers, fields=OUTCOME_FIELDS)
    headers = {field_name: header for header, field_name in mapping.items()}
    report = ImportReport(total=len(table.rows))

    checked_rows = []
    for row in rows_check(table=table, mapping=mapping, fields=OUTCOME_FIELDS):
        word_fields_resolve(row=row, headers=headers)
        checked_rows.append(row)

    numbers = [row.values["customer_no"] for row in checked_rows if "customer_no" in row.values]
    customers = customers_by_number(numbers=numbers, only=("pk", "customer_no", "branch_id", "client_manager_id"))
    valid_rows = []
    outcome_counts: Counter = Counter()
    for row in checked_rows:
        customer = customers.get(row.values.get("customer_no"))
        if customer is None and "customer_no" in row.values:
            row.error(
                column=headers["customer_no"],
                value=row.raw["customer_no"],
                msgid=gettext_noop("Unknown customer number: import the roster first."),
            )
        if row.errors:
            report.invalid += 1
            for error in row.errors:
                report.error_add(error, error_limit=error_limit)
            continue
        valid_rows.append((row, customer))
        outcome_counts[row.values["outcome"]] += 1

    report.new = len(valid_rows)
    report.details["outcomes"] = dict(outcome_counts)
    return report, valid_rows


def word_fields_resolve(*, row: CheckedRow, headers: dict[str, str]) -> None:
    """Turn the outcome and channel words of `row` into Outcome and Channel values, or record errors."""
    if "outcome" in row.values:
        word = text_normalize(row.raw["outcome"]).lower()
        if word in OUTCOME_WORDS:
            row.values["outcome"] = OUTCOME_WORDS[word]
        else:
            del row.values["outcome"]
            row.error(
                column=headers["outcome"],
                value=row.raw["outcome"],
                msgid=gettext_noop("Invalid outcome: use converted, declined, reached, interested, not_reachable, yes or no."),
            )
    if "channel" in row.values:
        word = text_normalize(row.raw["channel"]).lower()
        if word in CHANNEL_WORDS:
            row.values["channel"] = CHANNEL_WORDS[word]
        else:
            del row.values["channel"]
            row.error(
                column=headers["channel"],
                value=row.raw["channel"],
                msgid=gettext_noop("Invalid channel: use phone, visit, wechat, sms, email or unknown."),
            )


"""The bank-marketing file (45,211 rows): roster import, re-import and past outcomes."""

import time
from decimal import Decimal

import pytest

from campaigns.models import Campaign, ContactRecord, FollowUpTask
from campaigns.outcomes import outcomes_import_commit
from customers.imports.mapping import OUTCOME_FIELDS, ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.models import Customer
from customers.services import CommitMode, roster_import_commit

pytestmark = [pytest.mark.realdata, pytest.mark.django_db]

BANK_ROWS = 45_211
BANK_CONVERTED = 5_289


def test_bank_full_roster_and_outcomes(bank_with_customer_no, branch_tree, users):
    started = time.monotonic()
    table = table_read(path=bank_with_customer_no)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
    report = roster_import_commit(
        table=table, mapping=mapping, default_branch=branch_tree["a"], user=users["platform"], mode=CommitMode.REJECT
    )
    roster_seconds = time.monotonic() - started
    print(f"\nroster import of {BANK_ROWS} rows: {roster_seconds:.1f} s (parse and commit)")

    assert table.delimiter == ";"
    assert mapping["job"] == "occupation"
    assert mapping["balance"] == "aum"
    assert mapping["y"] == ""
    assert report.new == BANK_ROWS
    assert report.invalid == 0
    assert Customer.objects.count() == BANK_ROWS
    first = Customer.objects.get(customer_no="BM000001")
    assert first.age == 58
    assert first.occupation == "management"
    assert first.marital_status == "married"
    assert first.education == "tertiary"
    assert first.credit_default is False
    assert first.housing_loan is True
    assert first.personal_loan is False
    assert first.aum == Decimal("2143")
    assert first.branch == branch_tree["a"]
    assert first.extra["contact"] == "unknown"
    assert first.extra["y"] == "no"
    assert first.extra["duration"] == "261"
    assert Customer.objects.filter(aum__lt=0).exists()
    assert Customer.objects.filter(tier__code="gold").count() == Customer.objects.filter(
        aum__gte=500_000, aum__lt=2_000_000
    ).count()
    assert roster_seconds < 60

    started = time.monotonic()
    again = roster_import_commit(
        table=table_read(path=bank_with_customer_no), mapping=mapping, default_branch=branch_tree["a"],
        user=users["platform"], mode=CommitMode.REJECT,
    )
    print(f"roster re-import: {time.monotonic() - started:.1f} s")
    assert again.unchanged == BANK_ROWS
    assert again.new == 0
    assert again.changed == 0

    started = time.monotonic()
    outcome_table = table_read(path=bank_with_customer_no)
    outcome_mapping = mapping_suggest(headers=outcome_table.headers, fields=OUTCOME_FIELDS)
    outcomes = outcomes_import_commit(
        table=outcome_table, mapping=outcome_mapping, campaign_name="Term deposit 2008-2010",
        user=users["platform"], mode=CommitMode.REJECT,
    )
    print(f"outcomes import: {time.monotonic() - started:.1f} s")

    campaign = Campaign.objects.get(pk=outcomes.details["campaign_id"])
    assert campaign.is_historical
    assert campaign.status == Campaign.Status.COMPLETED
    assert FollowUpTask.objects.filter(campaign=campaign).count() == BANK_ROWS
    assert FollowUpTask.objects.filter(campaign=campaign, outcome="converted").count() == BANK_CONVERTED
    assert FollowUpTask.objects.filter(campaign=campaign).exclude(status="verified").count() == 0
    assert ContactRecord.objects.filter(task__campaign=campaign).count() == BANK_ROWS
    contact = ContactRecord.objects.get(customer__customer_no="BM000001")
    assert contact.duration_seconds == 261
    assert contact.attempts == 1
    assert contact.channel == ""
    assert contact.outcome == "declined"
    assert contact.extra["month"] == "may"
    assert "age" in contact.extra

"""The analysis page and dashboard on the bank-marketing file (45,211 past contacts, 5,289 of
them subscribed), loaded through the roster and outcomes imports."""

import csv
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign, Segment
from campaigns.services import segment_customers
from customers.models import Tier
from campaigns.outcomes import outcomes_import_commit
from customers.imports.mapping import OUTCOME_FIELDS, ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.services import CommitMode, roster_import_commit
from portal.dashboard.analysis import AUM_BANDS, RESPONSE_DIMENSIONS, response_by, roster_by
from portal.dashboard.selectors import ANALYSIS_DIMENSIONS, campaign_conversion_by

pytestmark = [pytest.mark.realdata, pytest.mark.django_db]

BANK_ROWS = 45_211
BANK_CONVERTED = 5_289


@pytest.fixture
def bank_campaign(bank_full_csv, tmp_path, settings, branch_tree, users):
    """Import the file with a customer_no column BM000001... added in front, every other value
    unchanged, and return the historical campaign its outcomes were loaded into."""
    settings.MEDIA_ROOT = tmp_path / "media"
    keyed = tmp_path / "bank-full-keyed.csv"
    with open(bank_full_csv, newline="", encoding="utf-8") as source, open(keyed, "w", newline="", encoding="utf-8") as out:
        reader = csv.reader(source, delimiter=";")
        writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(["customer_no", *next(reader)])
        for number, row in enumerate(reader, start=1):
            writer.writerow([f"BM{number:06d}", *row])

    table = table_read(path=keyed)
    roster_import_commit(
        table=table, mapping=mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS),
        default_branch=branch_tree["a"], user=users["platform"], mode=CommitMode.REJECT,
    )
    outcome_table = table_read(path=keyed)
    result = outcomes_import_commit(
        table=outcome_table, mapping=mapping_suggest(headers=outcome_table.headers, fields=OUTCOME_FIELDS),
        campaign_name="Term deposit 2008-2010", user=users["platform"], mode=CommitMode.REJECT,
    )
    return Campaign.objects.get(pk=result.details["campaign_id"])


def test_bank_full_analysis(client, users, bank_campaign):
    for dimension in ANALYSIS_DIMENSIONS:
        started = time.monotonic()
        rows = campaign_conversion_by(user=users["platform"], campaign=bank_campaign, dimension=dimension)
        print(f"\ncampaign_conversion_by {dimension}: {len(rows)} groups, {time.monotonic() - started:.2f} s")

        assert sum(row.tasks for row in rows) == BANK_ROWS, dimension
        assert sum(row.converted for row in rows) == BANK_CONVERTED, dimension
        lifts = [row.lift for row in rows]
        assert lifts == sorted(lifts, reverse=True), dimension

    occupation_rows = campaign_conversion_by(user=users["platform"], campaign=bank_campaign, dimension="occupation")
    occupations = {row.label: row for row in occupation_rows}
    # Students and retirees subscribed most often in this data set; blue-collar workers least.
    assert occupations["student"].lift > 2
    assert occupations["retired"].lift > 1.5
    assert occupations["blue-collar"].lift < 1
    assert occupation_rows[-1].label == "blue-collar"

    client.force_login(users["platform"])
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        analysis = client.get(reverse("dashboard:campaign_analysis", args=[bank_campaign.pk]))
    print(f"analysis page: {time.monotonic() - started:.2f} s, {len(queries)} queries")
    assert "Conversion: 11.7% (5,289 of 45,211)" in analysis.content.decode()

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        dashboard = client.get(reverse("dashboard:index"))
    print(f"dashboard page: {time.monotonic() - started:.2f} s, {len(queries)} queries")
    total = dashboard.context["total_table"].data.data[0]
    assert total.tasks == BANK_ROWS
    assert total.converted == BANK_CONVERTED


def age_band_of(age: int) -> str:
    if age < 30:
        return "lt30"
    if age >= 60:
        return "60plus"
    return f"{age // 10 * 10}_{age // 10 * 10 + 9}"


def aum_band_of(balance: Decimal) -> str:
    for key, _label, low, high in AUM_BANDS:
        if (low is None or balance >= low) and (high is None or balance <= high):
            return key
    raise AssertionError(f"balance {balance} is in no band")


def file_groups(path) -> dict:
    """Count rows and subscribed rows ("y" = "yes") per group of each analysis dimension,
    straight from the file, and sum the balances per roster group."""
    tiers = list(Tier.objects.order_by("min_aum").values_list("pk", "min_aum"))
    channels = {"cellular": "phone", "telephone": "phone", "unknown": "unknown"}
    response = {dimension: Counter() for dimension in RESPONSE_DIMENSIONS}
    converted = {dimension: Counter() for dimension in RESPONSE_DIMENSIONS}
    balances = {dimension: Counter() for dimension in ("occupation", "age_band", "aum_band")}
    with open(path, newline="", encoding="utf-8") as source:
        for row in csv.DictReader(source, delimiter=";"):
            balance = Decimal(row["balance"])
            tier = "unknown"
            for pk, min_aum in tiers:
                if balance >= min_aum:
                    tier = str(pk)
            groups = {
                "occupation": row["job"],
                "age_band": age_band_of(int(row["age"])),
                "aum_band": aum_band_of(balance),
                "previous_outcome": row["poutcome"],
                "channel": channels[row["contact"]],
                "tier": tier,
            }
            for dimension, key in groups.items():
                response[dimension][key] += 1
                converted[dimension][key] += row["y"] == "yes"
            for dimension in balances:
                balances[dimension][groups[dimension]] += balance
    return {"response": response, "converted": converted, "balances": balances}


def test_bank_full_next_campaign_analysis(client, users, bank_campaign, bank_full_csv):
    expected = file_groups(bank_full_csv)

    for dimension in RESPONSE_DIMENSIONS:
        rows = response_by(user=users["platform"], dimension=dimension)
        assert {row.key: row.customers for row in rows} == dict(expected["response"][dimension]), dimension
        assert {row.key: row.converted for row in rows} == dict(expected["converted"][dimension]), dimension
        lifts = [row.lift for row in rows]
        assert lifts == sorted(lifts, reverse=True), dimension
        for row in rows:
            rate = expected["converted"][dimension][row.key] / expected["response"][dimension][row.key]
            assert row.lift == pytest.approx(rate / (BANK_CONVERTED / BANK_ROWS)), (dimension, row.key)

    for dimension in ("occupation", "age_band", "aum_band"):
        rows = roster_by(user=users["platform"], dimension=dimension)
        assert {row.key: row.customers for row in rows} == dict(expected["response"][dimension]), dimension
        assert {row.key: row.aum for row in rows} == dict(expected["balances"][dimension]), dimension

    occupations = response_by(user=users["platform"], dimension="occupation")
    assert occupations[0].key == "student"
    previous = {row.key: row for row in response_by(user=users["platform"], dimension="previous_outcome")}
    # Customers whose previous campaign succeeded subscribed far more often than average.
    assert previous["success"].lift > 5

    client.force_login(users["platform"])
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("dashboard:next_campaign_analysis"))
    print(f"\nnext campaign analysis page: {time.monotonic() - started:.2f} s, {len(queries)} queries")
    assert "Conversion: 11.7% (5,289 of 45,211 customers with an outcome)" in page.content.decode()

    client.post(reverse("dashboard:segment_from_analysis"), {"dimension": "occupation", "key": "student", "label": "student"})
    segment = Segment.objects.get()
    assert segment_customers(segment=segment).count() == expected["response"]["occupation"]["student"]

"""Dashboard figures of campaigns with a holdout group, checked against numbers worked out by
hand: 10 contacted customers with 4 conversions against 5 held-out customers with 1."""

import csv
import datetime
import io
import math

import pytest
from django.urls import reverse

from campaigns.models import ContactRecord, HeldOutCustomer
from campaigns.uplift import campaign_results
from portal.dashboard.selectors import campaign_uplifts
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("dashboard:index")
LAUNCH = datetime.datetime(2025, 3, 3, 9, tzinfo=datetime.UTC)

# Contacted: 4 of 10 converted, p1 = 0.4. Held out: 1 of 5, p0 = 0.2. Uplift 0.2.
# Standard error sqrt(0.4 * 0.6 / 10 + 0.2 * 0.8 / 5) = sqrt(0.056) = 0.236643.
# z for 95% = 1.959964, margin 0.463811, interval -0.263811 to 0.663811.
EXPECTED_UPLIFT = 0.2
EXPECTED_LOW = 0.2 - 1.959964 * math.sqrt(0.056)
EXPECTED_HIGH = 0.2 + 1.959964 * math.sqrt(0.056)


@pytest.fixture
def holdout_campaign(users, branch_tree):
    campaign = CampaignFactory(name="Holdout campaign", owner=users["platform"], holdout_percent=30, launched_at=LAUNCH)
    manager = users["manager_a"]
    outcomes = ["converted"] * 4 + ["declined"] * 3 + [""] * 2
    for outcome in outcomes:
        TaskFactory(
            campaign=campaign, assignee=manager, customer=CustomerFactory(branch=branch_tree["a"]),
            status="done" if outcome else "open", outcome=outcome,
        )
    # The tenth task was cancelled, and campaign_results still counts it as contacted.
    TaskFactory(
        campaign=campaign, assignee=manager, customer=CustomerFactory(branch=branch_tree["a"]), status="cancelled"
    )

    held_out = [
        HeldOutCustomer.objects.create(campaign=campaign, customer=CustomerFactory(branch=branch_tree["b"]))
        for _number in range(5)
    ]
    # Converted after the launch: counts.
    ContactRecord.objects.create(
        customer=held_out[0].customer, outcome="converted", contacted_at=LAUNCH + datetime.timedelta(days=3)
    )
    # Converted before the launch: does not count.
    ContactRecord.objects.create(
        customer=held_out[1].customer, outcome="converted", contacted_at=LAUNCH - datetime.timedelta(days=1)
    )
    # Contacted after the launch without converting: does not count.
    ContactRecord.objects.create(
        customer=held_out[2].customer, outcome="interested", contacted_at=LAUNCH + datetime.timedelta(days=1)
    )
    return campaign


def test_campaign_uplifts_hand_computed(holdout_campaign):
    estimate = campaign_uplifts(campaign_ids=[holdout_campaign.pk])[holdout_campaign.pk]

    assert (estimate.contacted.total, estimate.contacted.converted) == (10, 4)
    assert (estimate.held_out.total, estimate.held_out.converted) == (5, 1)
    assert estimate.uplift == pytest.approx(EXPECTED_UPLIFT)
    assert estimate.ci_low == pytest.approx(EXPECTED_LOW, abs=1e-6)
    assert estimate.ci_high == pytest.approx(EXPECTED_HIGH, abs=1e-6)


def test_campaign_uplifts_equal_campaign_results(holdout_campaign, users, branch_tree):
    never_launched = CampaignFactory(name="Never launched", owner=users["platform"], holdout_percent=10)
    HeldOutCustomer.objects.create(campaign=never_launched, customer=CustomerFactory(branch=branch_tree["a"]))
    no_holdout = CampaignFactory(name="No holdout", owner=users["platform"])
    TaskFactory(campaign=no_holdout, assignee=users["manager_a"], outcome="converted", status="done")

    uplifts = campaign_uplifts(campaign_ids=[holdout_campaign.pk, never_launched.pk, no_holdout.pk])

    assert uplifts[holdout_campaign.pk] == campaign_results(campaign=holdout_campaign)
    assert uplifts[never_launched.pk] == campaign_results(campaign=never_launched)
    assert no_holdout.pk not in uplifts


def test_campaign_uplifts_two_queries(holdout_campaign, django_assert_num_queries):
    with django_assert_num_queries(2):
        campaign_uplifts(campaign_ids=[holdout_campaign.pk])


def test_dashboard_row_shows_uplift(client, users, holdout_campaign):
    client.force_login(users["platform"])

    response = client.get(INDEX)

    row = next(row for row in response.context["campaign_table"].data.data if row.key == holdout_campaign.pk)
    assert row.uplift.uplift_points == pytest.approx(20.0)
    body = response.content.decode()
    assert "40.0%" in body
    assert "20.0%" in body
    assert ">-26.4<" in body
    assert ">66.4<" in body


def test_dashboard_uplift_hidden_from_supervisor(client, users, holdout_campaign):
    client.force_login(users["supervisor_a"])

    response = client.get(INDEX)

    table = response.context["campaign_table"]
    assert "uplift_points" not in [column.name for column in table.columns]
    assert all(row.uplift is None for row in table.data.data)


def test_export_has_uplift_columns(client, users, holdout_campaign):
    client.force_login(users["platform"])

    response = client.get(INDEX, {"_export": "csv", "table": "campaign"})

    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    header, row = list(csv.reader(io.StringIO(text)))
    values = dict(zip(header, row))
    assert values["Campaign"] == "Holdout campaign"
    assert values["Tasks"] == "9"
    assert values["Cancelled"] == "1"
    assert values["Held-out customers"] == "5"
    assert values["Conversion of contacted customers (%)"] == "40.0"
    assert values["Conversion of held-out customers (%)"] == "20.0"
    assert values["Uplift (percentage points)"] == "20.0"
    assert values["Uplift, lower limit (95%)"] == "-26.4"
    assert values["Uplift, upper limit (95%)"] == "66.4"

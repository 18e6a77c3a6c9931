"""The analysis for the next campaign: roster by segment, response by segment, and saving a
response group as a campaign segment. Expected figures come from the `dataset` fixture."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import ContactRecord, Segment
from campaigns.services import segment_customers
from portal.dashboard.analysis import (
    AUM_BANDS,
    RESPONSE_DIMENSIONS,
    aum_band_filters,
    response_by,
    response_overall,
    response_tasks,
    roster_by,
)
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

ANALYSIS = reverse("dashboard:next_campaign_analysis")
MAKE_SEGMENT = reverse("dashboard:segment_from_analysis")


def by_label(rows) -> dict:
    return {row.label: row for row in rows}


# Access


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_analysis_page_permitted(client, users, dataset, role):
    client.force_login(users[role])

    response = client.get(ANALYSIS)

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("role", ["manager_a", "admin"])
def test_analysis_page_forbidden(client, users, dataset, role):
    client.force_login(users[role])

    assert client.get(ANALYSIS).status_code == HTTPStatus.FORBIDDEN
    assert client.get(ANALYSIS, {"_export": "csv", "table": "roster_tier"}).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("role", ["supervisor_a", "manager_a", "admin"])
def test_make_segment_forbidden(client, users, dataset, role):
    client.force_login(users[role])

    response = client.post(MAKE_SEGMENT, {"dimension": "occupation", "key": "management"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Segment.objects.count() == 0


# Roster


def test_roster_by_aum_band(users, branch_tree):
    for aum in ("-5", "0", "999.99", "1000", "1000", "6000000", "12000000"):
        CustomerFactory(branch=branch_tree["a"], aum=Decimal(aum))

    rows = roster_by(user=users["platform"], dimension="aum_band")

    assert [(row.key, row.customers, row.aum) for row in rows] == [
        ("negative", 1, Decimal("-5")),
        ("zero", 1, Decimal("0")),
        ("lt1k", 1, Decimal("999.99")),
        ("1k", 2, Decimal("2000")),
        ("1m", 1, Decimal("6000000")),
        ("10m", 1, Decimal("12000000")),
    ]


def test_aum_bands_leave_no_gap():
    for (_key, _label, _low, high), (_next_key, _next_label, next_low, _next_high) in zip(AUM_BANDS, AUM_BANDS[1:]):
        assert next_low - high == Decimal("0.01")


def test_roster_by_branch_rolls_up(users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], aum=Decimal("100"))
    CustomerFactory(branch=branch_tree["a1"], aum=Decimal("50"))
    CustomerFactory(branch=branch_tree["b"], aum=Decimal("7"))

    platform_rows = by_label(roster_by(user=users["platform"], dimension="branch"))
    supervisor_rows = by_label(roster_by(user=users["supervisor_a"], dimension="branch"))

    assert (platform_rows["Branch A"].customers, platform_rows["Branch A"].aum) == (2, Decimal("150"))
    assert platform_rows["Sub-branch A1"].customers == 1
    assert platform_rows["Branch B"].customers == 1
    assert set(supervisor_rows) == {"Branch A", "Sub-branch A1"}
    assert platform_rows["Branch A"].filters == {"branch": str(branch_tree["a"].pk)}


def test_roster_by_age_band_and_occupation(users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], age=25, occupation="student")
    CustomerFactory(branch=branch_tree["a"], age=27, occupation="Student")
    CustomerFactory(branch=branch_tree["a"], age=None, occupation="")

    bands = {row.key: row.customers for row in roster_by(user=users["platform"], dimension="age_band")}
    occupations = {row.key: row.customers for row in roster_by(user=users["platform"], dimension="occupation")}

    assert bands == {"lt30": 2, "unknown": 1}
    assert occupations == {"student": 1, "Student": 1, "unknown": 1}


def test_roster_links_to_filtered_roster(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], aum=Decimal("1500"))
    client.force_login(users["platform"])

    body = client.get(ANALYSIS).content.decode()

    href = reverse("customers:list") + "?aum_min=1000&amp;aum_max=9999.99"
    assert f'href="{href}"' in body


def test_roster_band_filter_matches_roster(client, users, branch_tree):
    for aum in ("999.99", "1000", "9999.99", "10000"):
        CustomerFactory(branch=branch_tree["a"], aum=Decimal(aum))
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), aum_band_filters("1k"))

    listed = sorted(row.record.aum for row in response.context["table"].rows)
    assert listed == [Decimal("1000"), Decimal("9999.99")]


# Response


def test_response_overall(users, dataset):
    overall = response_overall(tasks=response_tasks(user=users["platform"]))

    assert (overall.customers, overall.converted) == (6, 2)


def test_response_by_occupation(users, dataset):
    rows = response_by(user=users["platform"], dimension="occupation")

    assert [(row.label, row.customers, row.converted) for row in rows] == [
        ("Unknown", 1, 1),
        ("management", 3, 1),
        ("technician", 2, 0),
    ]
    assert [round(row.lift, 3) for row in rows] == [3.0, 1.0, 0.0]
    assert rows[0].filters is None
    assert rows[1].filters == {"occupation": "management"}


def test_response_supervisor_scope(users, dataset):
    rows = response_by(user=users["supervisor_a"], dimension="channel")

    # Branch A's subtree has tasks 1, 2 (phone) and 4 (WeChat) with an outcome.
    assert {row.key: (row.customers, row.converted) for row in rows} == {"phone": (2, 1), "wechat": (1, 0)}


def test_response_counts_customer_once(users, branch_tree):
    customer = CustomerFactory(branch=branch_tree["a"], occupation="student")
    TaskFactory(campaign=CampaignFactory(), customer=customer, status="verified", outcome="declined")
    TaskFactory(campaign=CampaignFactory(), customer=customer, status="verified", outcome="converted")
    TaskFactory(customer=CustomerFactory(branch=branch_tree["a"], occupation="retired"), status="verified", outcome="declined")

    rows = {row.key: row for row in response_by(user=users["platform"], dimension="occupation")}

    assert (rows["student"].customers, rows["student"].converted) == (1, 1)
    assert (rows["retired"].customers, rows["retired"].converted) == (1, 0)
    assert rows["student"].lift == pytest.approx(2.0)


def test_response_previous_outcome(users, branch_tree):
    from_roster = CustomerFactory(branch=branch_tree["a"], extra={"poutcome": "success"})
    from_contact = CustomerFactory(branch=branch_tree["a"])
    neither = CustomerFactory(branch=branch_tree["a"])
    TaskFactory(customer=from_roster, status="verified", outcome="converted")
    contact_task = TaskFactory(customer=from_contact, status="verified", outcome="declined")
    ContactRecord.objects.create(
        task=contact_task, customer=from_contact, outcome="declined", contacted_at=contact_task.created_at,
        extra={"poutcome": "failure"},
    )
    TaskFactory(customer=neither, status="verified", outcome="declined")

    rows = {row.key: row for row in response_by(user=users["platform"], dimension="previous_outcome")}

    assert {key: (row.customers, row.converted) for key, row in rows.items()} == {
        "success": (1, 1),
        "failure": (1, 0),
        "unknown": (1, 0),
    }
    assert rows["success"].filters is None


def test_response_one_campaign(users, dataset):
    rows = response_by(user=users["platform"], dimension="tier", campaign=dataset["y"])

    # Campaign Y has one task with an outcome: task 8, not reachable, no tier.
    assert [(row.label, row.customers, row.converted) for row in rows] == [("No tier", 1, 0)]
    assert rows[0].filters == {"tier": "null"}


@pytest.mark.parametrize("dimension", RESPONSE_DIMENSIONS)
def test_response_sorted_by_lift(users, dataset, dimension):
    rows = response_by(user=users["platform"], dimension=dimension)

    lifts = [row.lift for row in rows]
    assert lifts == sorted(lifts, reverse=True)
    assert sum(row.customers for row in rows) >= 6


def test_analysis_page_overall_line(client, users, dataset):
    client.force_login(users["platform"])

    body = client.get(ANALYSIS).content.decode()

    assert "Conversion: 33.3% (2 of 6 customers with an outcome)" in body


def test_analysis_page_segment_buttons_platform_only(client, users, dataset):
    client.force_login(users["platform"])
    platform_body = client.get(ANALYSIS).content.decode()
    client.force_login(users["supervisor_a"])
    supervisor_body = client.get(ANALYSIS).content.decode()

    assert f'action="{MAKE_SEGMENT}"' in platform_body
    assert f'action="{MAKE_SEGMENT}"' not in supervisor_body


def test_analysis_campaign_outside_scope_rejected(client, users, dataset, branch_tree):
    only_in_b = CampaignFactory(name="Campaign B only", owner=users["platform"])
    TaskFactory(campaign=only_in_b, assignee=users["manager_b"], customer=CustomerFactory(branch=branch_tree["b"]))
    client.force_login(users["supervisor_a"])

    response = client.get(ANALYSIS, {"campaign": only_in_b.pk, "_export": "csv", "table": "response_tier"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "campaign" in response.content.decode().lower()


def test_analysis_export_response_csv(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(ANALYSIS, {"_export": "csv", "table": "response_occupation"})

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "Group,Customers with an outcome,Converted,Conversion (%),Lift"
    assert lines[1:] == ["Unknown,1,1,100.0,3.0", "management,3,1,33.3,1.0", "technician,2,0,0.0,0.0"]


def test_analysis_export_unknown_table(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(ANALYSIS, {"_export": "csv", "table": "nope"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "roster_tier" in response.content.decode()


def add_customers_and_tasks(*, branch_tree, count: int):
    for number in range(count):
        customer = CustomerFactory(
            branch=branch_tree["a1"], occupation=f"job {number}", age=20 + number, aum=Decimal(10 ** (number % 8))
        )
        TaskFactory(customer=customer, status="verified", outcome="converted" if number % 2 else "declined", channel="phone")


def test_analysis_query_count_constant(client, users, dataset, branch_tree):
    client.force_login(users["platform"])
    client.get(ANALYSIS)

    with CaptureQueriesContext(connection) as few:
        client.get(ANALYSIS)
    add_customers_and_tasks(branch_tree=branch_tree, count=30)
    with CaptureQueriesContext(connection) as many:
        response = client.get(ANALYSIS)

    occupation_section = next(s for s in response.context["response_sections"] if s["name"] == "response_occupation")
    assert len(occupation_section["table"].data.data) == 33
    assert len(many) == len(few)


# One-step segment


def test_make_segment_from_occupation(client, users, dataset, branch_tree):
    CustomerFactory(branch=branch_tree["b"], occupation="management", do_not_contact=True)
    client.force_login(users["platform"])

    response = client.post(MAKE_SEGMENT, {"dimension": "occupation", "key": "management", "label": "management"})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("campaigns:segment_list")
    segment = Segment.objects.get()
    assert segment.filters == {"occupation": "management", "do_not_contact": "false"}
    assert segment.name == "Response by occupation: management"
    assert segment.created_by == users["platform"]
    matched = segment_customers(segment=segment)
    assert matched.filter(do_not_contact=True).count() == 0
    assert matched.count() == 4  # The customers of dataset tasks 1, 2, 7 and 8.


def test_make_segment_from_aum_band(client, users, branch_tree):
    client.force_login(users["platform"])

    client.post(MAKE_SEGMENT, {"dimension": "aum_band", "key": "100k", "label": "100,000 to 999,999.99"})

    assert Segment.objects.get().filters == {"aum_min": "100000", "aum_max": "999999.99", "do_not_contact": "false"}


@pytest.mark.parametrize(
    ("dimension", "key"),
    [("channel", "phone"), ("previous_outcome", "success"), ("occupation", "unknown"), ("tier", "999999"), ("age_band", "old"), ("nope", "x")],
)
def test_make_segment_rejects_group(client, users, dataset, dimension, key):
    client.force_login(users["platform"])

    response = client.post(MAKE_SEGMENT, {"dimension": dimension, "key": key}, follow=True)

    assert Segment.objects.count() == 0
    assert [message.level_tag for message in response.context["messages"]] == ["error"]


def test_make_segment_get_not_allowed(client, users):
    client.force_login(users["platform"])

    assert client.get(MAKE_SEGMENT).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_analysis_page_invalid_campaign_shown(client, users, dataset, branch_tree):
    only_in_b = CampaignFactory(name="Campaign B only", owner=users["platform"])
    TaskFactory(campaign=only_in_b, assignee=users["manager_b"], customer=CustomerFactory(branch=branch_tree["b"]))
    client.force_login(users["supervisor_a"])

    response = client.get(ANALYSIS, {"campaign": only_in_b.pk})

    assert response.status_code == HTTPStatus.OK
    assert 'id="analysis-filter-invalid"' in response.content.decode()
    assert response.context["campaign"] is None
    # Branch A's subtree: tasks 1, 2 and 4 have an outcome.
    assert response.context["overall"].customers == 3

"""Every customer and converted count of the response analysis links to the task list, and
that list's count equals the figure, for every segment dimension."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.filters import TaskFilter
from campaigns.models import ContactRecord, FollowUpTask
from portal.dashboard.analysis import response_by
from portal.pagination import ListTotal
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

ANALYSIS = reverse("dashboard:next_campaign_analysis")
TASK_LIST = reverse("campaigns:task_list")
LINK = re.compile(r'href="(' + re.escape(TASK_LIST) + r'\?[^"]*)">([\d,]+)</a>')


@pytest.fixture
def repeat_customers(dataset, users, branch_tree):
    """Add customers whose tasks make task counts and customer counts differ.

    One has two tasks (declined, then converted) and one has two declined tasks over two
    channels. One has the literal occupation "unknown", next to the dataset's blank one. The
    last has a previous outcome imported with a contact record."""
    later = CampaignFactory(name="Campaign Z", owner=users["platform"])
    twice = CustomerFactory(branch=branch_tree["a"], occupation="student", age=24)
    TaskFactory(campaign=dataset["y"], customer=twice, assignee=users["manager_a"], status="verified",
                outcome="declined", channel="phone")
    TaskFactory(campaign=later, customer=twice, assignee=users["manager_a"], status="done",
                outcome="converted", channel="phone")
    two_channels = CustomerFactory(branch=branch_tree["a1"], occupation="student", age=33)
    TaskFactory(campaign=dataset["y"], customer=two_channels, assignee=users["manager_a1"], status="done",
                outcome="declined", channel="phone")
    TaskFactory(campaign=later, customer=two_channels, assignee=users["manager_a1"], status="done",
                outcome="declined", channel="sms")
    literal_unknown = CustomerFactory(branch=branch_tree["b"], occupation="unknown", extra={"poutcome": "success"})
    TaskFactory(campaign=later, customer=literal_unknown, assignee=users["manager_b"], status="done",
                outcome="converted", channel="visit")
    with_contact = TaskFactory(campaign=later, customer=CustomerFactory(branch=branch_tree["b"]),
                               assignee=users["manager_b"], status="done", outcome="interested")
    ContactRecord.objects.create(task=with_contact, customer=with_contact.customer, outcome="interested",
                                 contacted_at=with_contact.created_at, extra={"poutcome": "failure"})
    return later


def figures_of(table) -> dict:
    return {row.key: (row.customers, row.converted) for row in table.data.data}


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
@pytest.mark.parametrize("campaign", [None, "z"])
def test_response_links_match_figures(client, users, repeat_customers, role, campaign):
    client.force_login(users[role])
    params = {"campaign": repeat_customers.pk} if campaign else {}

    response = client.get(ANALYSIS, params)

    body = response.content.decode()
    rows = sum(len(section["table"].data.data) for section in response.context["response_sections"])
    links = LINK.findall(body)
    assert rows >= 8
    assert len(links) == 2 * rows
    for href, figure in links:
        task_list = client.get(html.unescape(href) + "&count=exact")
        assert task_list.status_code == 200, href
        assert task_list.context["filter"].is_valid(), href
        assert task_list.context["list_total"] == ListTotal(int(figure.replace(",", "")), exact=True), href


def test_unknown_occupation_groups_blank_and_literal(users, repeat_customers):
    rows = {row.key: row for row in response_by(user=users["platform"], dimension="occupation")}

    # Task 5's customer has a blank occupation and converted, and so did the literal "unknown" one.
    assert (rows["unknown"].customers, rows["unknown"].converted) == (2, 2)
    assert rows["unknown"].label == "Unknown"


def test_repeat_customer_counted_once(users, repeat_customers):
    rows = {row.key: row for row in response_by(user=users["platform"], dimension="occupation")}

    assert (rows["student"].customers, rows["student"].converted) == (2, 1)


def task_filter(user, **params):
    queryset = FollowUpTask.objects.all()
    return TaskFilter(params, queryset=queryset, user=user)


def test_per_customer_keeps_converted_task(users, repeat_customers):
    filtered = task_filter(users["platform"], occupation="student", per_customer="true", has_outcome="true")

    assert filtered.is_valid()
    assert sorted(task.outcome for task in filtered.qs) == ["converted", "declined"]


def test_per_customer_before_outcome_filter(users, repeat_customers):
    # Filtering by outcome first would keep a declined task of the customer who also
    # converted, so per_customer must pick each customer's task before the outcome filter.
    filtered = task_filter(
        users["platform"], occupation="student", per_customer="true", has_outcome="true", outcome="declined"
    )

    # Only the customer without a conversion is left, through one of their two declined tasks.
    assert filtered.qs.count() == 1
    assert filtered.qs.get().customer.age == 33


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"channel": "sms"}, 1),
        # Dataset tasks 3 and 7 and the task with a contact record have no channel.
        ({"channel": "unknown"}, 3),
        # Dataset task 1 and the two tasks of the 24-year-old.
        ({"age_band": "lt30"}, 3),
        # Every customer has the factory's AUM of 800,000.
        ({"aum_band": "100k"}, 14),
        ({"previous_outcome": "failure"}, 1),
        ({"previous_outcome": "success"}, 1),
        # Dataset tasks 3, 4, 6, 7 and 8 and the six tasks of the fixture.
        ({"tier": "null"}, 11),
    ],
)
def test_segment_filters(users, repeat_customers, params, expected):
    filtered = task_filter(users["platform"], **params)

    assert filtered.is_valid(), filtered.errors
    assert filtered.qs.count() == expected


def test_segment_filter_rejects_unknown_band(users, repeat_customers):
    filtered = task_filter(users["platform"], age_band="teen")

    assert not filtered.is_valid()
    assert "age_band" in filtered.errors


def test_response_page_query_count_constant(client, users, dataset, branch_tree):
    client.force_login(users["platform"])
    client.get(ANALYSIS)

    with CaptureQueriesContext(connection) as few:
        client.get(ANALYSIS)
    for number in range(15):
        TaskFactory(
            assignee=users["manager_b"], status="done", outcome="converted" if number % 2 else "declined",
            channel="visit", customer=CustomerFactory(branch=branch_tree["b"], occupation=f"job {number}"),
        )
    with CaptureQueriesContext(connection) as many:
        client.get(ANALYSIS)

    assert len(many) == len(few)

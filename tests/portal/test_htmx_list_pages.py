"""Every filtered, sorted or paged list returns only its results partial to an htmx request
and the whole page to a plain request, and still exports from the same URL."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.test import override_settings
from django.urls import reverse

from customers.models import RosterChange, RosterImport
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "list-results"}

# (URL name, role that may open it, whether the URL takes the roster import and a kind)
LIST_PAGES = [
    ("customers:list", "supervisor_a", False),
    ("campaigns:task_list", "supervisor_a", False),
    ("campaigns:list", "platform", False),
    ("campaigns:segment_list", "platform", False),
    ("customers:import_list", "platform", False),
    ("customers:import_changes", "platform", True),
    ("audit_log", "admin", False),
    ("dashboard:export_log", "platform", False),
    ("campaigns:leave_list", "supervisor_a", False),
    ("campaigns:handover_list", "platform", False),
    ("campaigns:verification_queue", "platform", False),
]

EXPORTING_PAGES = [
    ("customers:list", "supervisor_a"),
    ("campaigns:task_list", "supervisor_a"),
    ("audit_log", "admin"),
    ("campaigns:leave_list", "supervisor_a"),
    ("campaigns:handover_list", "platform"),
    ("campaigns:verification_queue", "platform"),
]


@pytest.fixture
def roster_import(users):
    roster_import = RosterImport.objects.create(
        original_name="march.csv", file="imports/march.csv", created_by=users["platform"],
        status=RosterImport.Status.COMMITTED,
    )
    customer = CustomerFactory(name="Diff Customer", branch=users["manager_a"].branch)
    RosterChange.objects.create(
        roster_import=roster_import, taken_on="2026-03-31", customer=customer, kind=RosterChange.Kind.NEW,
        aum_after=Decimal("600000"),
    )
    return roster_import


@pytest.fixture
def list_rows(users, roster_import):
    """Give every list at least one row, so each partial renders a table body."""
    manager = users["manager_a"]
    segment = SegmentFactory(name="Everyone", filters={}, created_by=users["platform"])
    campaign = CampaignFactory(owner=users["platform"], segment=segment)
    for index in range(3):
        customer = CustomerFactory(name=f"Listed {index}", branch=manager.branch, client_manager=manager)
        TaskFactory(campaign=campaign, customer=customer, assignee=manager)
    return roster_import


def list_url(url_name, takes_import, roster_import):
    if takes_import:
        return reverse(url_name, args=[roster_import.pk, RosterChange.Kind.NEW])
    return reverse(url_name)


@pytest.mark.parametrize(("url_name", "role", "takes_import"), LIST_PAGES)
def test_htmx_request_gets_only_results(client, users, list_rows, url_name, role, takes_import):
    client.force_login(users[role])
    url = list_url(url_name, takes_import, list_rows)

    response = client.get(url, **HTMX)
    body = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert "<html" not in body
    assert "<h1" not in body
    # The partial replaces the inside of the results element, so it must not contain it again.
    assert 'id="list-results"' not in body
    assert "<table" in body
    assert 'hx-target="#list-results"' in body
    assert 'hx-push-url="true"' in body
    assert '<tbody hx-boost="false"' in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(("url_name", "role", "takes_import"), LIST_PAGES)
def test_plain_request_gets_whole_page(client, users, list_rows, url_name, role, takes_import):
    client.force_login(users[role])
    url = list_url(url_name, takes_import, list_rows)

    response = client.get(url)
    body = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert "<html" in body
    assert body.count("<h1") == 1
    assert '<div id="list-results">' in body
    assert "<table" in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(("url_name", "role"), EXPORTING_PAGES)
@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_list_still_exports(client, users, list_rows, url_name, role, export_format):
    client.force_login(users[role])

    response = client.get(reverse(url_name), {"_export": export_format})
    # Export responses may stream, and reading them ends the export log entry.
    content = b"".join(response.streaming_content) if response.streaming else response.content

    assert response.status_code == HTTPStatus.OK
    assert "attachment" in response["Content-Disposition"]
    assert f".{export_format}" in response["Content-Disposition"]
    assert content


@pytest.mark.parametrize(("url_name", "role"), EXPORTING_PAGES)
def test_partial_export_links_keep_query(client, users, list_rows, url_name, role):
    client.force_login(users[role])

    response = client.get(reverse(url_name), {"sort": "-id"}, **HTMX)
    body = response.content.decode()

    assert "?sort=-id&_export=csv" in body
    assert "?sort=-id&_export=xlsx" in body


@override_settings(PORTAL_PAGE_SIZE=2)
def test_campaign_partial_sorts_and_pages(client, users):
    for name in ("Alpha", "Bravo", "Charlie", "Delta"):
        CampaignFactory(name=name, owner=users["platform"])
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:list"), {"sort": "-name", "page": "2"}, **HTMX)
    body = response.content.decode()

    assert ">Bravo<" in body
    assert ">Alpha<" in body
    assert ">Delta<" not in body
    assert "page=1" in body


def test_audit_partial_filters(client, users):
    client.force_login(users["admin"])
    client.get(reverse("audit_log"))

    response = client.get(reverse("audit_log"), {"actor": "nobody-like-this"}, **HTMX)
    body = response.content.decode()

    assert "No audit entries match the filter." in body
    assert 'hx-get="/audit/"' in body


def test_leave_post_error_gets_whole_page(client, users):
    client.force_login(users["supervisor_a"])

    response = client.post(reverse("campaigns:leave_list"), {"user": users["manager_a"].pk})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "<html" in response.content.decode()

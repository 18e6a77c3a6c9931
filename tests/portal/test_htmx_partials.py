"""The roster and task lists respond to htmx requests with only their results partial."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "list-results"}


@pytest.fixture
def roster(users):
    manager = users["manager_a"]
    return [
        CustomerFactory(name=f"Customer {index}", branch=manager.branch, client_manager=manager, aum=Decimal(index * 1000))
        for index in range(1, 6)
    ]


@pytest.fixture
def tasks(users, roster):
    campaign = CampaignFactory(owner=users["platform"])
    return [TaskFactory(campaign=campaign, customer=customer, assignee=users["manager_a"]) for customer in roster]


@pytest.mark.parametrize("url_name", ["customers:list", "campaigns:task_list"])
def test_full_page_wraps_results(client, users, tasks, url_name):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse(url_name))
    body = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert "<html" in body
    assert body.count("<h1") == 1
    assert '<div id="list-results">' in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("url_name", ["customers:list", "campaigns:task_list"])
def test_htmx_request_gets_partial(client, users, tasks, url_name):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse(url_name), **HTMX)
    body = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert "<html" not in body
    assert "<h1" not in body
    assert 'id="list-results"' not in body
    assert "<table" in body
    assert 'hx-push-url="true"' in body
    assert 'hx-get="' + reverse(url_name) + '"' in body
    assert '<tbody hx-boost="false"' in body
    assert "HX-Request" in response["Vary"]


def test_history_restore_gets_full_page(client, users, tasks):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse("customers:list"), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)

    assert "<html" in response.content.decode()


@override_settings(PORTAL_PAGE_SIZE=2)
def test_partial_sorts_and_pages(client, users, roster):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse("customers:list"), {"sort": "-aum", "page": "2"}, **HTMX)
    body = response.content.decode()

    assert "Customer 3" in body
    assert "Customer 2" in body
    assert "Customer 5" not in body
    assert "Customer 1<" not in body
    # Filtering again keeps the sort order.
    assert '<input type="hidden" name="sort" value="-aum">' in body


def test_partial_filters(client, users, roster):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse("customers:list"), {"q": "Customer 4"}, **HTMX)
    body = response.content.decode()

    assert "Customer 4" in body
    assert "Customer 2" not in body


def test_invalid_task_filter_partial_shows_errors(client, users, tasks):
    client.force_login(users["supervisor_a"])

    response = client.get(reverse("campaigns:task_list"), {"due_from": "not-a-date"}, **HTMX)
    body = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert 'class="alert alert-danger"' in body
    assert 'aria-invalid="true"' in body

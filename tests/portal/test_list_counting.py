"""Unfiltered roster and task lists never count every row; filtered ones show their total."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.pagination import list_is_filtered
from tests.factories import CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db


def count_queries(queries):
    return [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]


@pytest.mark.parametrize("url_name", ["customers:list", "campaigns:task_list"])
def test_unfiltered_list_counts_nothing(client, users, branch_tree, url_name):
    for _ in range(3):
        TaskFactory(customer=CustomerFactory(branch=branch_tree["a"]), assignee=users["manager_a"])
    client.force_login(users["platform"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(url_name), {"page": "1", "sort": "-id"} if url_name == "campaigns:task_list" else {})

    assert response.status_code == 200
    assert count_queries(queries) == []
    assert 'id="list-count"' not in response.content.decode()


def test_filtered_list_shows_total(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    CustomerFactory(branch=branch_tree["a"], name="Li")
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"q": "Zhang"})

    body = response.content.decode()
    assert 'id="list-count"' in body
    assert "1 customer" in body


def test_list_is_filtered_ignores_paging(rf):
    assert not list_is_filtered(rf.get("/", {"page": "2", "sort": "name", "q": ""}))
    assert list_is_filtered(rf.get("/", {"q": "Zhang"}))

"""Unfiltered roster and task lists never count every row; filtered ones show their total."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.pagination import ListTotal, list_is_filtered
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


def test_filtered_list_defers_total(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    CustomerFactory(branch=branch_tree["a"], name="Li")
    client.force_login(users["platform"])

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("customers:list"), {"q": "Zhang"})
    total = client.get(reverse("customers:list"), {"q": "Zhang", "count": "total"}, HTTP_HX_REQUEST="true")

    body = page.content.decode()
    assert count_queries(queries) == []
    assert 'hx-get="?q=Zhang&amp;count=total"' in body
    assert 'hx-trigger="load"' in body
    # Without JavaScript the placeholder is a link that counts exactly.
    assert 'href="?q=Zhang&amp;count=exact"' in body
    assert total.content.decode().strip().startswith('<p class="text-muted small mb-0" id="list-count"')
    assert "1 customer" in total.content.decode()
    assert "<table" not in total.content.decode()


def test_exact_count_in_page(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"q": "Zhang", "count": "exact"})

    assert response.context["list_total"].count == 1
    assert "1 customer" in response.content.decode()


def test_total_keeps_scope(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    CustomerFactory(branch=branch_tree["b"], name="Zhang")
    client.force_login(users["supervisor_a"])

    response = client.get(reverse("customers:list"), {"q": "Zhang", "count": "total"}, HTTP_HX_REQUEST="true")

    assert response.context["list_total"].count == 1


def test_list_is_filtered_ignores_paging(rf):
    assert not list_is_filtered(rf.get("/", {"page": "2", "sort": "name", "q": ""}))
    assert list_is_filtered(rf.get("/", {"q": "Zhang"}))


@pytest.mark.parametrize(("url_name", "noun"), [("customers:list", "customers"), ("campaigns:task_list", "tasks")])
def test_total_stops_at_limit(client, users, branch_tree, settings, url_name, noun):
    settings.PORTAL_LIST_COUNT_LIMIT = 2
    for _ in range(3):
        TaskFactory(customer=CustomerFactory(branch=branch_tree["a"], occupation="Doctor"), assignee=users["manager_a"])
    client.force_login(users["platform"])
    params = {"occupation": "Doctor"} if noun == "customers" else {"status": "open"}

    bounded = client.get(reverse(url_name), {**params, "count": "total"}, HTTP_HX_REQUEST="true")
    exact = client.get(reverse(url_name), {**params, "count": "exact", "page": "1"})

    assert bounded.context["list_total"].exact is False
    assert f"More than 2 {noun}" in bounded.content.decode()
    assert 'id="list-count-exact"' in bounded.content.decode()
    assert exact.context["list_total"].count == 3
    assert exact.context["list_total"].exact is True
    assert f"3 {noun}" in exact.content.decode()
    assert 'id="list-count-exact"' not in exact.content.decode()


def test_total_at_limit_is_exact(client, users, branch_tree, settings):
    settings.PORTAL_LIST_COUNT_LIMIT = 2
    CustomerFactory(branch=branch_tree["a"], name="Zhang Wei")
    CustomerFactory(branch=branch_tree["a"], name="Zhang Min")
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"q": "Zhang", "count": "total"}, HTTP_HX_REQUEST="true")

    assert response.context["list_total"].count == 2
    assert response.context["list_total"].exact is True
    assert "2 customers" in response.content.decode()


def test_bounded_count_query_limit(client, users, branch_tree, settings):
    settings.PORTAL_LIST_COUNT_LIMIT = 2
    CustomerFactory(branch=branch_tree["a"], name="Zhang Wei")
    client.force_login(users["platform"])

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("customers:list"), {"q": "Zhang", "count": "total"}, HTTP_HX_REQUEST="true")

    [count_sql] = count_queries(queries)
    assert "LIMIT 3" in count_sql


def test_chinese_bounded_total(client, users, branch_tree, settings):
    settings.PORTAL_LIST_COUNT_LIMIT = 1
    for _ in range(2):
        TaskFactory(customer=CustomerFactory(branch=branch_tree["a"]), assignee=users["manager_a"])
    users["platform"].language = "zh-hans"
    users["platform"].save(update_fields=["language"])
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:task_list"), {"status": "open", "count": "total"}, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "超过 1 个任务" in body
    assert "精确计数" in body


def test_count_parameter_does_not_filter(rf):
    assert not list_is_filtered(rf.get("/", {"count": "exact", "page": "2"}))


def test_plain_total_visit_gets_page(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"q": "Zhang", "count": "total"})

    body = response.content.decode()
    assert "<table" in body
    assert 'hx-trigger="load"' in body


@pytest.mark.parametrize("params", [{"q": "   "}, {"unknown": "1"}, {"q": "", "tier": ""}])
def test_blank_parameters_do_not_filter(client, users, branch_tree, params):
    CustomerFactory(branch=branch_tree["a"])
    client.force_login(users["platform"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("customers:list"), {**params, "count": "exact"})

    assert response.context["list_total"] is None
    assert count_queries(queries) == []


def test_export_before_total(client, users, branch_tree):
    CustomerFactory(branch=branch_tree["a"], name="Zhang")
    client.force_login(users["platform"])

    response = client.get(
        reverse("customers:list"), {"q": "Zhang", "count": "total", "_export": "csv"}, HTTP_HX_REQUEST="true"
    )

    assert response["Content-Type"].startswith("text/csv")
    assert "Zhang" in b"".join(response.streaming_content if response.streaming else [response.content]).decode()


def test_exact_total_thousands_separator(client, users, branch_tree, settings):
    settings.PORTAL_LIST_COUNT_LIMIT = 10
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"q": "Zhang", "count": "exact"})
    html = render_to_string(
        "partials/list_total.html", {"list_total": ListTotal(12345, exact=True), "noun": "tasks"}, request=response.wsgi_request
    )

    assert "12,345 tasks" in html

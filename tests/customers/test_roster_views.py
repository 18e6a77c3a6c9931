from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.filters import customer_filter_apply
from customers.selectors import customer_list_for
from tests.factories import CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def roster(branch_tree, users):
    return {
        "own_a": CustomerFactory(customer_no="A0001", branch=branch_tree["a"], client_manager=users["manager_a"]),
        "own_a1": CustomerFactory(customer_no="A1001", branch=branch_tree["a1"], client_manager=users["manager_a1"]),
        "own_b": CustomerFactory(customer_no="B0001", branch=branch_tree["b"], client_manager=users["manager_b"]),
    }


def visible_numbers(user):
    return set(customer_list_for(user=user).values_list("customer_no", flat=True))


def test_scope_client_manager_sees_own(users, roster):
    assert visible_numbers(users["manager_a"]) == {"A0001"}


def test_scope_client_manager_sees_task_customers_once(users, roster, branch_tree):
    orphan = CustomerFactory(customer_no="A0002", branch=branch_tree["a"], client_manager=None)
    TaskFactory(customer=orphan, assignee=users["manager_a"])
    TaskFactory(customer=roster["own_a"], assignee=users["manager_a"])
    TaskFactory(customer=roster["own_b"], assignee=users["manager_b"])

    customers = customer_list_for(user=users["manager_a"])

    assert sorted(customers.values_list("customer_no", flat=True)) == ["A0001", "A0002"]
    assert customers.count() == 2
    assert list(customers.filter(client_manager=None).values_list("customer_no", flat=True)) == ["A0002"]


def test_scope_supervisor_sees_subtree(users, roster):
    assert visible_numbers(users["supervisor_a"]) == {"A0001", "A1001"}
    assert visible_numbers(users["supervisor_b"]) == {"B0001"}


def test_scope_platform_sees_all(users, roster):
    assert visible_numbers(users["platform"]) == {"A0001", "A1001", "B0001"}


def test_scope_administrator_sees_none(users, roster):
    assert visible_numbers(users["admin"]) == set()


def test_roster_list_requires_login(client):
    response = client.get(reverse("customers:list"))
    assert response.status_code == HTTPStatus.FOUND
    assert reverse("login") in response["Location"]


def test_roster_list_masks_phone(client, users, roster):
    client.force_login(users["platform"])
    response = client.get(reverse("customers:list"))
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert roster["own_a"].phone not in body
    assert roster["own_a"].phone[:3] + "****" + roster["own_a"].phone[-4:] in body
    assert roster["own_a"].id_number not in body


def test_roster_list_administrator_forbidden(client, users, roster):
    client.force_login(users["admin"])
    assert client.get(reverse("customers:list")).status_code == HTTPStatus.FORBIDDEN


def test_customer_detail_outside_scope_404(client, users, roster):
    client.force_login(users["manager_a"])
    own = client.get(reverse("customers:detail", args=[roster["own_a"].pk]))
    other = client.get(reverse("customers:detail", args=[roster["own_b"].pk]))
    assert own.status_code == HTTPStatus.OK
    assert other.status_code == HTTPStatus.NOT_FOUND


def test_roster_filter_by_branch_includes_subtree(client, users, roster, branch_tree):
    client.force_login(users["platform"])
    response = client.get(reverse("customers:list"), {"branch": branch_tree["a"].pk})
    body = response.content.decode()
    assert "A0001" in body
    assert "A1001" in body
    assert "B0001" not in body


def test_roster_export_csv_same_scope(client, users, roster):
    client.force_login(users["supervisor_a"])
    response = client.get(reverse("customers:list"), {"_export": "csv"})
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "A0001" in content
    assert "B0001" not in content
    assert roster["own_a"].phone not in content


def test_roster_list_queries_do_not_grow(client, users, branch_tree):
    client.force_login(users["platform"])
    counts = []
    for batch in (5, 45):
        CustomerFactory.create_batch(batch, branch=branch_tree["a"], client_manager=users["manager_a"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("customers:list"))
        assert response.status_code == HTTPStatus.OK
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_roster_invalid_filter_shows_no_rows(client, users, roster):
    client.force_login(users["platform"])
    response = client.get(reverse("customers:list"), {"aum_min": "5,000,000"})
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "A0001" not in body
    assert "Enter a number." in body


def test_roster_invalid_filter_exports_nothing(client, users, roster):
    client.force_login(users["platform"])
    response = client.get(reverse("customers:list"), {"tier": "999", "_export": "csv"})
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 1


def test_roster_do_not_contact_filter(client, users, roster):
    roster["own_b"].do_not_contact = True
    roster["own_b"].save()
    client.force_login(users["platform"])
    flagged = client.get(reverse("customers:list"), {"do_not_contact": "true"}).content.decode()
    other = client.get(reverse("customers:list"), {"do_not_contact": "false"}).content.decode()
    assert "B0001" in flagged
    assert "A0001" not in flagged
    assert "B0001" not in other
    assert "A0001" in other


def test_roster_filter_hides_manager_choice_for_manager(client, users, roster):
    client.force_login(users["manager_a"])
    response = client.get(reverse("customers:list"))
    assert "client_manager" not in response.context["filter"].form.fields


@pytest.mark.parametrize("sort", ["name", "tier", "branch", "client_manager", "occupation", "aum"])
def test_roster_sort_ties_by_customer_no(client, users, branch_tree, sort):
    for number in ("C0003", "C0001", "C0002"):
        CustomerFactory(
            customer_no=number, name="Wang", occupation="retired", aum=1000,
            branch=branch_tree["a"], client_manager=users["manager_a"],
        )
    client.force_login(users["platform"])

    ascending = client.get(reverse("customers:list"), {"sort": sort}).context["table"].page.object_list
    descending = client.get(reverse("customers:list"), {"sort": f"-{sort}"}).context["table"].page.object_list

    assert [row.record.customer_no for row in ascending] == ["C0001", "C0002", "C0003"]
    assert [row.record.customer_no for row in descending] == ["C0003", "C0002", "C0001"]


def test_roster_search_number_prefix_or_name(users, branch_tree):
    CustomerFactory(customer_no="62001", name="Li Wei", branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(customer_no="71001", name="Wang 62001", branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(customer_no="62002", name="Zhao", branch=branch_tree["b"], client_manager=users["manager_b"])
    CustomerFactory(customer_no="80620", name="Sun", branch=branch_tree["a"], client_manager=users["manager_a"])

    def search(user, value, **filters):
        customers = customer_filter_apply(queryset=customer_list_for(user=user), filters={"q": value, **filters})
        return sorted(customers.values_list("customer_no", flat=True))

    assert search(users["platform"], "620") == ["62001", "62002", "71001"]
    assert search(users["platform"], "62001") == ["62001", "71001"]
    assert search(users["platform"], "li wei") == ["62001"]
    assert search(users["manager_a"], "620") == ["62001", "71001"]
    assert search(users["supervisor_b"], "620") == ["62002"]
    assert search(users["platform"], "620", branch=branch_tree["b"].pk) == ["62002"]
    assert search(users["platform"], "nothing") == []


def test_search_folds_only_cased_text(users, branch_tree):
    CustomerFactory(customer_no="C1", name="肖秀英", branch=branch_tree["a"])
    CustomerFactory(customer_no="C2", name="王秀英", branch=branch_tree["a"])
    CustomerFactory(customer_no="C3", name="Xiao Xiuying", branch=branch_tree["a"])

    def search(value):
        customers = customer_filter_apply(queryset=customer_list_for(user=users["platform"]), filters={"q": value})
        with CaptureQueriesContext(connection) as queries:
            numbers = sorted(customers.values_list("customer_no", flat=True))
        return numbers, queries[-1]["sql"].upper()

    chinese, chinese_sql = search("秀英")
    latin, latin_sql = search("xiuYING")

    assert chinese == ["C1", "C2"]
    assert latin == ["C3"]
    # Text without case reads the names as they are: UPPER() on every name doubled the scan
    # of 1,000,000 customers on PostgreSQL.
    assert "UPPER(" not in chinese_sql.split("UNION")[1]
    if connection.vendor == "postgresql":
        assert "UPPER(" in latin_sql.split("UNION")[1]
    assert search("XIUYING")[0] == ["C3"]

"""The client manager of a roster row: an active client manager in the customer's line of branches."""

import pytest

from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.models import Branch, Customer
from customers.services import CommitMode, branches_in_line, roster_import_commit, roster_import_preview
from portal.models import Role
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,网点,客户经理\n"


def commit(path, *, default_branch=None):
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
    return roster_import_commit(
        table=table, mapping=mapping, user=None, mode=CommitMode.VALID_ROWS, default_branch=default_branch
    )


def errors_by_row(report):
    return {error.row: error for error in report.errors}


def test_manager_of_other_branch_rejected(write_csv, users, branch_tree):
    path = write_csv("cross.csv", HEADER + "700000000041,张三,BA,cm_b\n")

    report = commit(path)

    assert (report.new, report.invalid) == (0, 1)
    error = report.errors[0]
    assert (error.row, error.column, error.value) == (2, "客户经理", "cm_b")
    assert "Branch B (BB)" in error.message
    assert "Branch A (BA)" in error.message
    assert error.params == {"manager": "cm_b", "manager_branch": "Branch B (BB)", "customer_branch": "Branch A (BA)"}
    assert Customer.objects.count() == 0


def test_manager_in_same_line_accepted(write_csv, users, branch_tree):
    UserFactory(username="cm_head", role=Role.CLIENT_MANAGER, branch=branch_tree["head"])
    path = write_csv(
        "line.csv",
        HEADER
        + "001,下级,BA,cm_a1\n"  # manager in a sub-branch of the customer's branch
        + "002,上级,BA1,cm_a\n"  # manager in the parent branch
        + "003,总行,BB,cm_head\n"  # manager in head office
        + "004,同级,BB,cm_b\n",
    )

    report = commit(path)

    assert (report.new, report.invalid) == (4, 0)
    managers = dict(Customer.objects.values_list("customer_no", "client_manager__username"))
    assert managers == {"001": "cm_a1", "002": "cm_a", "003": "cm_head", "004": "cm_b"}


def test_sibling_with_path_prefix_not_in_line():
    # "/1/20/" starts with the text "/1/2" but is a sibling of "/1/2/", not below it.
    branch = Branch(code="A", path="/1/2/")
    sibling = Branch(code="B", path="/1/20/")
    child = Branch(code="C", path="/1/2/7/")

    assert branches_in_line(branch, sibling) is False
    assert branches_in_line(sibling, branch) is False
    assert branches_in_line(branch, child) is True
    assert branches_in_line(child, branch) is True
    assert branches_in_line(branch, branch) is True


def test_default_branch_checked_for_new_customer(write_csv, users, branch_tree):
    path = write_csv("default.csv", "客户号,姓名,客户经理\n001,张三,cm_a\n002,李四,cm_a1\n")

    report = commit(path, default_branch=branch_tree["b"])

    assert (report.new, report.invalid) == (0, 2)
    assert {error.column for error in report.errors} == {"客户经理"}
    assert "Branch B (BB)" in report.errors[0].message
    assert Customer.objects.count() == 0


def test_current_branch_checked_for_existing(write_csv, users, branch_tree):
    CustomerFactory(customer_no="001", branch=branch_tree["a"], client_manager=users["manager_a"])
    CustomerFactory(customer_no="002", branch=branch_tree["a"], client_manager=users["manager_a"])
    path = write_csv("existing.csv", "客户号,客户经理\n001,cm_b\n002,cm_a1\n")

    report = commit(path, default_branch=branch_tree["b"])

    assert (report.changed, report.invalid) == (1, 1)
    error = errors_by_row(report)[2]
    assert error.params["customer_branch"] == "Branch A (BA)"
    assert Customer.objects.get(customer_no="001").client_manager == users["manager_a"]
    assert Customer.objects.get(customer_no="002").client_manager == users["manager_a1"]


def test_branch_move_checks_current_manager(write_csv, users, branch_tree):
    CustomerFactory(customer_no="001", branch=branch_tree["a"], client_manager=users["manager_a"])
    path = write_csv("move.csv", "客户号,网点\n001,BB\n")

    report = commit(path)

    assert report.invalid == 1
    error = report.errors[0]
    assert (error.column, error.value) == ("网点", "BB")
    assert error.params == {"manager": "cm_a", "manager_branch": "Branch A (BA)", "customer_branch": "Branch B (BB)"}
    assert Customer.objects.get(customer_no="001").branch == branch_tree["a"]


def test_branch_move_with_new_manager_accepted(write_csv, users, branch_tree):
    CustomerFactory(customer_no="001", branch=branch_tree["a"], client_manager=users["manager_a"])
    path = write_csv("move.csv", HEADER + "001,张三,BB,cm_b\n")

    report = commit(path)

    assert (report.changed, report.invalid) == (1, 0)
    customer = Customer.objects.get(customer_no="001")
    assert (customer.branch, customer.client_manager) == (branch_tree["b"], users["manager_b"])


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("nobody", "Unknown client manager: no user has this username."),
        ("sup_a", "User sup_a is not a client manager."),
        ("cm_gone", "Client manager cm_gone is inactive."),
        ("cm_nowhere", "Client manager cm_nowhere has no branch."),
    ],
)
def test_unusable_manager_rejected(write_csv, users, branch_tree, username, expected):
    UserFactory(username="cm_gone", role=Role.CLIENT_MANAGER, branch=branch_tree["a"], is_active=False)
    UserFactory(username="cm_nowhere", role=Role.CLIENT_MANAGER, branch=None)
    path = write_csv("manager.csv", HEADER + f"001,张三,BA,{username}\n")

    report = commit(path)

    assert report.invalid == 1
    error = report.errors[0]
    assert (error.row, error.column, error.value) == (2, "客户经理", username)
    assert error.message.startswith(expected)
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("count", [2, 40])
def test_preview_query_count_fixed(write_csv, users, branch_tree, count, django_assert_num_queries):
    for number in range(0, count, 2):
        CustomerFactory(customer_no=f"{number:03d}", branch=branch_tree["a"], client_manager=users["manager_a"])
    lines = [
        f"{number:03d},客户{number},{'BA' if number % 2 else 'BB'},{'cm_a1' if number % 2 else 'cm_b'}"
        for number in range(count)
    ]
    table = table_read(path=write_csv("many.csv", HEADER + "\n".join(lines) + "\n"))
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    # Branches, tiers, existing customers, users by username. Every row names its manager,
    # so the current managers of moved customers are not loaded. The fifth query reads the
    # usernames of the previous managers in the change examples, at most five of them.
    with django_assert_num_queries(5):
        report = roster_import_preview(table=table, mapping=mapping)

    assert (report.total, report.invalid) == (count, 0)


@pytest.mark.parametrize("count", [2, 40])
def test_branch_move_query_count_fixed(write_csv, users, branch_tree, count, django_assert_num_queries):
    for number in range(count):
        CustomerFactory(customer_no=f"{number:03d}", branch=branch_tree["a1"], client_manager=users["manager_a"])
    lines = [f"{number:03d},BA" for number in range(count)]
    table = table_read(path=write_csv("moves.csv", "客户号,网点\n" + "\n".join(lines) + "\n"))
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    # Branches, tiers, existing customers, current managers of the moved customers.
    with django_assert_num_queries(4):
        report = roster_import_preview(table=table, mapping=mapping)

    assert (report.total, report.changed, report.invalid) == (count, count, 0)

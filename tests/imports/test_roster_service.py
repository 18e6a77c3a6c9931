from decimal import Decimal

import pytest

from customers.imports.mapping import ROSTER_FIELDS, MappingInvalid, mapping_suggest
from customers.imports.parsing import table_read
from customers.imports.report import ImportRejected
from customers.models import Customer, Tier
from customers.services import CommitMode, customer_update_aum, roster_import_commit, roster_import_preview
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,性别,出生日期,手机号,邮箱,网点,客户经理,资产,是否勿扰\n"


def read(path):
    table = table_read(path=path)
    return table, mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)


def commit(path, *, user=None, mode=CommitMode.REJECT, default_branch=None):
    table, mapping = read(path)
    return roster_import_commit(table=table, mapping=mapping, user=user, mode=mode, default_branch=default_branch)


@pytest.fixture
def good_file(write_csv, users):
    return write_csv(
        "good.csv",
        HEADER
        + '00012,张三,男,1975/3/8,138 1234 5678,zhang@mail.example,BA,cm_a,"2,500,000.00",否\n'
        + "00013,李四,女,1980-11-02,,,BB,cm_b,￥600000,是\n"
        + "00014,王五,M,,,,BA1,,-1200,no\n",
        encoding="gbk",
    )


def test_commit_creates_customers(good_file, users, branch_tree):
    report = commit(good_file, user=users["platform"])

    assert (report.new, report.changed, report.unchanged, report.invalid) == (3, 0, 0, 0)
    zhang = Customer.objects.get(customer_no="00012")
    assert zhang.name == "张三"
    assert zhang.gender == "M"
    assert str(zhang.birth_date) == "1975-03-08"
    assert zhang.phone == "13812345678"
    assert zhang.branch == branch_tree["a"]
    assert zhang.client_manager == users["manager_a"]
    assert zhang.aum == Decimal("2500000.00")
    assert zhang.tier.code == "platinum"
    assert zhang.do_not_contact is False
    li = Customer.objects.get(customer_no="00013")
    assert li.tier.code == "gold"
    assert li.do_not_contact is True
    assert li.phone == ""
    wang = Customer.objects.get(customer_no="00014")
    assert wang.aum == Decimal("-1200")
    assert wang.tier is None
    assert wang.client_manager is None


def test_reimport_changes_nothing(good_file, users):
    commit(good_file, user=users["platform"])
    stamps = dict(Customer.objects.values_list("customer_no", "updated_at"))

    report = commit(good_file, user=users["platform"])

    assert (report.new, report.changed, report.unchanged) == (0, 0, 3)
    assert dict(Customer.objects.values_list("customer_no", "updated_at")) == stamps


def test_changed_rows_update_and_retier(write_csv, users, branch_tree):
    CustomerFactory(customer_no="00012", name="Old", branch=branch_tree["b"], aum=Decimal("600000"))
    CustomerFactory(customer_no="00099", name="Untouched", branch=branch_tree["b"])
    path = write_csv("change.csv", HEADER + "00012,张三,男,,,,BA,,7000000,否\n")

    report = commit(path, user=users["platform"])

    assert (report.new, report.changed, report.unchanged) == (0, 1, 0)
    customer = Customer.objects.get(customer_no="00012")
    assert customer.name == "张三"
    assert customer.branch == branch_tree["a"]
    assert customer.tier.code == "diamond"
    # A blank cell keeps the stored value.
    assert customer.phone.startswith("138")
    assert Customer.objects.get(customer_no="00099").name == "Untouched"


def test_invalid_values_reported_per_cell(write_csv, users):
    path = write_csv(
        "bad.csv",
        HEADER
        + "00012,张三,男,1975/3/8,,,BA,,12abc,否\n"
        + "00013,李四,女,2024-02-30,,,BA,,100,否\n"
        + "00014,王五,M,,,,ZZ,,100,否\n"
        + "00015,赵六,M,,12345,bad@,BA,nobody,100,maybe\n"
        + "00016,孙七,F,,,,BA,,100,否\n",
    )
    table, mapping = read(path)

    report = roster_import_preview(table=table, mapping=mapping)

    assert report.total == 5
    assert report.invalid == 4
    assert report.new == 1
    errors = {(error.row, error.column): error for error in report.errors}
    assert errors[(2, "资产")].value == "12abc"
    assert "Invalid amount" in errors[(2, "资产")].message
    assert errors[(3, "出生日期")].value == "2024-02-30"
    assert "Invalid date" in errors[(3, "出生日期")].message
    assert errors[(4, "网点")].value == "ZZ"
    assert "Unknown branch code" in errors[(4, "网点")].message
    assert "Invalid phone" in errors[(5, "手机号")].message
    assert "Invalid e-mail" in errors[(5, "邮箱")].message
    assert "Unknown client manager" in errors[(5, "客户经理")].message
    assert errors[(5, "是否勿扰")].value == "maybe"
    assert report.error_count == 7
    assert Customer.objects.count() == 0


def test_reject_mode_writes_nothing(write_csv, users):
    path = write_csv("mixed.csv", HEADER + "00012,张三,男,,,,BA,,100,否\n00013,李四,女,,,,ZZ,,100,否\n")

    with pytest.raises(ImportRejected) as rejected:
        commit(path, user=users["platform"], mode=CommitMode.REJECT)

    assert rejected.value.report.invalid == 1
    assert Customer.objects.count() == 0


def test_valid_rows_mode_writes_only_valid(write_csv, users):
    path = write_csv("mixed.csv", HEADER + "00012,张三,男,,,,BA,,100,否\n00013,李四,女,,,,ZZ,,100,否\n")

    report = commit(path, user=users["platform"], mode=CommitMode.VALID_ROWS)

    assert report.committed
    assert (report.new, report.invalid) == (1, 1)
    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["00012"]


def test_duplicate_customer_number_is_row_error(write_csv, users):
    path = write_csv("dup.csv", HEADER + "00012,张三,男,,,,BA,,100,否\n00012,张三,男,,,,BB,,100,否\n")
    table, mapping = read(path)

    report = roster_import_preview(table=table, mapping=mapping)

    assert report.invalid == 2
    assert [error.row for error in report.errors] == [2, 3]
    assert "appears in rows 2, 3" in report.errors[0].message
    assert "appears in rows 2, 3" in report.errors[1].message


def test_field_count_error_is_row_error(write_csv, users):
    path = write_csv("count.csv", HEADER + "00012,张三\n")
    table, mapping = read(path)

    report = roster_import_preview(table=table, mapping=mapping)

    assert report.invalid == 1
    assert "2 fields" in report.errors[0].message


def test_default_branch_needed_without_column(write_csv, users, branch_tree):
    path = write_csv("nobranch.csv", "customer_no,name\nC1,Ann\n")
    table, mapping = read(path)

    with pytest.raises(MappingInvalid, match="default branch"):
        roster_import_preview(table=table, mapping=mapping)

    report = roster_import_commit(table=table, mapping=mapping, user=None, default_branch=branch_tree["b"])
    assert report.new == 1
    assert Customer.objects.get(customer_no="C1").branch == branch_tree["b"]


def test_blank_branch_without_default_is_row_error(write_csv, users):
    path = write_csv("blankbranch.csv", HEADER + "00012,张三,男,,,,,,100,否\n")
    table, mapping = read(path)

    report = roster_import_preview(table=table, mapping=mapping)

    assert report.invalid == 1
    assert "Missing branch" in report.errors[0].message


def test_unmapped_columns_go_to_extra(write_csv, users, branch_tree):
    path = write_csv("extra.csv", "customer_no,name,wealth_note\nC1,Ann,likes funds\n")
    commit(path, default_branch=branch_tree["a"])
    assert Customer.objects.get(customer_no="C1").extra == {"wealth_note": "likes funds"}


def test_preview_query_count_constant(write_csv, users, django_assert_max_num_queries):
    few = write_csv("few.csv", HEADER + "".join(f"{n:05d},N,男,,,,BA,cm_a,100,否\n" for n in range(3)))
    many = write_csv("many.csv", HEADER + "".join(f"{n:05d},N,男,,,,BA,cm_a,100,否\n" for n in range(800)))
    for path in (few, many):
        table, mapping = read(path)
        with django_assert_max_num_queries(4):
            roster_import_preview(table=table, mapping=mapping)


def test_customer_update_aum_recomputes_tier(branch_tree):
    customer = CustomerFactory(branch=branch_tree["a"], aum=Decimal("600000"), tier=Tier.objects.get(code="gold"))

    customer_update_aum(customer=customer, aum=Decimal("35000000"))

    customer.refresh_from_db()
    assert customer.aum == Decimal("35000000")
    assert customer.tier.code == "private"

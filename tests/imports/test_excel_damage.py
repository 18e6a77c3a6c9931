"""Values and headers as Chinese Excel leaves them: each case is a small file or cell, and the
right value, or the row error, is the expectation."""

import datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from customers.imports import values
from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.models import Customer
from customers.services import CommitMode, roster_import_commit, roster_import_preview


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("4.40300E+17", "scientific notation"),
        ("4.403001990010112e17", "scientific notation"),
        ("10023.0", "decimal part"),
        ("000123.00", "decimal part"),
        ("440300199001011000", "after the 15th"),
        ("6222020200112230000", "after the 15th"),
    ],
)
def test_identifier_damage_rejected(text, reason):
    with pytest.raises(values.ValueInvalid) as raised:
        values.identifier_parser(32)(text)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("000123", "000123"),
        (" BM000001 ", "BM000001"),
        ("０００１２３", "000123"),
        ("6222020200112233445", "6222020200112233445"),
        ("100000000000000", "100000000000000"),  # 15 digits: Excel keeps all of them
    ],
)
def test_identifier_kept_as_text(text, expected):
    assert values.identifier_parser(32)(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("110105 19491231 002X", "11010519491231002X"),
        ("440524188001010014", "440524188001010014"),
        # Three zeros at the end, like a rounded number, but a valid check character.
        ("110105195005017000", "110105195005017000"),
        # A 15-digit number of the 1989 standard: "19" goes before the birth date and the check
        # character is appended.
        ("110105491231002", "11010519491231002X"),
    ],
)
def test_id_number_accepted(text, expected):
    assert values.id_number_parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("110105194912310021", "check character"),
        ("11010519491331002X", "birth date 19491331"),
        ("110105490231002", "birth date 19490231"),
        ("11010519491231", "18 characters"),
        ("E12345678", "18 characters"),
        ("1.10105E+17", "scientific notation"),
    ],
)
def test_id_number_rejected(text, reason):
    with pytest.raises(values.ValueInvalid) as raised:
        values.id_number_parse(text)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5万", Decimal("125000")),
        ("3万元", Decimal("30000")),
        ("1.23456万", Decimal("12345.6")),
        ("-1.2亿", Decimal("-120000000")),
        ("¥2亿", Decimal("200000000")),
        ("CNY 1,200万", Decimal("12000000")),
        ("１２３，４５６．７８", Decimal("123456.78")),
        ("－５０", Decimal("-50")),
        ("(1,000.00)", Decimal("-1000.00")),
    ],
)
def test_amount_units_and_signs(text, expected):
    assert values.amount_parse(text) == expected


@pytest.mark.parametrize("text", ["1.2345678万", "12万34", "万", "1,23万", "5千"])
def test_amount_units_rejected(text):
    with pytest.raises(values.ValueInvalid):
        values.amount_parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45296", datetime.date(2024, 1, 5)),
        ("61", datetime.date(1900, 3, 1)),
        ("2024年1月5日", datetime.date(2024, 1, 5)),
        ("2024/1/5", datetime.date(2024, 1, 5)),
    ],
)
def test_xlsx_date_serials(text, expected):
    assert values.xlsx_date_parse(text) == expected


@pytest.mark.parametrize("text", ["60", "0", "3000000", "2024年2月30日"])
def test_xlsx_date_serial_rejected(text):
    with pytest.raises(values.ValueInvalid):
        values.xlsx_date_parse(text)


def test_csv_date_serial_rejected():
    # Outside XLSX a bare number in a date column is not read as a serial: that would be a guess.
    with pytest.raises(values.ValueInvalid):
        values.date_parse("45296")


def test_phone_with_decimal_tail_rejected():
    with pytest.raises(values.ValueInvalid) as raised:
        values.phone_parse("13812345678.0")
    assert "decimal part" in str(raised.value)


@pytest.mark.django_db
def test_xlsx_numeric_id_cells_are_row_errors(tmp_path, branch_tree):
    """Number cells with more than 15 digits come back rounded and are rejected; shorter
    number cells are read as the digits Excel shows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户号", "身份证号", "出生日期", "网点", "资产"])
    sheet.append([10023, 440300199001011234, 45296, "BA", "12万"])
    sheet.append(["10024", "11010519491231002X", "1949年12月31日", "BA", "1亿"])
    sheet.append(["10025", "11010519491231002X", 60, "BA", "1"])
    path = tmp_path / "numbers.xlsx"
    workbook.save(path)
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    report = roster_import_commit(table=table, mapping=mapping, user=None, mode=CommitMode.VALID_ROWS)

    errors = {(error.row, error.column): error for error in report.errors}
    assert set(errors) == {(2, "身份证号"), (4, "出生日期")}
    assert errors[(2, "身份证号")].value == "4.40300199001011E+17"
    assert "scientific notation" in errors[(2, "身份证号")].message
    assert errors[(4, "出生日期")].value == "60"
    stored = Customer.objects.get(customer_no="10024")
    assert stored.birth_date == datetime.date(1949, 12, 31)
    assert stored.aum == Decimal("100000000")
    assert not Customer.objects.filter(customer_no="10023").exists()
    assert not Customer.objects.filter(customer_no="10025").exists()


@pytest.mark.django_db
def test_full_width_padded_headers_mapped(write_csv, branch_tree):
    path = write_csv(
        "headers.csv",
        "\u3000客户号 ,  姓 名,ＡＵＭ,Branch Code ,身份证号码\n"
        "C1,张三,\"1,000万\",BA,110105491231002\n",
        encoding="gb18030",
    )
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    assert mapping == {"客户号": "customer_no", "姓 名": "name", "ＡＵＭ": "aum", "Branch Code": "branch", "身份证号码": "id_number"}
    report = roster_import_preview(table=table, mapping=mapping)
    assert (report.new, report.invalid) == (1, 0)


@pytest.mark.django_db
def test_damaged_customer_number_not_stored(write_csv, branch_tree):
    path = write_csv("damaged.csv", "客户号,网点\n4.40300E+17,BA\n10023.0,BA\n10024,BA\n")
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    report = roster_import_commit(table=table, mapping=mapping, user=None, mode=CommitMode.VALID_ROWS)

    assert (report.new, report.invalid) == (1, 2)
    assert [error.value for error in report.errors] == ["4.40300E+17", "10023.0"]
    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["10024"]


@pytest.mark.django_db
def test_rounded_id_rejected_in_damaged_column(write_csv, branch_tree):
    """A valid ID number ending in zeros is kept unless its column shows Excel damage elsewhere."""
    clean = write_csv("clean.csv", "客户号,身份证号,网点\nC1,110105195005017000,BA\nC2,11010519491231002X,BA\n")
    damaged = write_csv("damaged.csv", "客户号,身份证号,网点\nC1,110105195005017000,BA\nC2,1.10105E+17,BA\n")

    reports = {}
    for name, path in (("clean", clean), ("damaged", damaged)):
        table = table_read(path=path)
        reports[name] = roster_import_preview(table=table, mapping=mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS))

    assert reports["clean"].invalid == 0
    assert reports["damaged"].invalid == 2
    assert [(error.row, error.value) for error in reports["damaged"].errors] == [(2, "110105195005017000"), (3, "1.10105E+17")]
    assert "after the 15th" in reports["damaged"].errors[0].message

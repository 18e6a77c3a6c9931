import datetime
from decimal import Decimal

import pytest

from customers.imports import values
from customers.imports.mapping import (
    EXTRA,
    OUTCOME_FIELDS,
    ROSTER_FIELDS,
    MappingInvalid,
    mapping_from_pairs,
    mapping_suggest,
    mapping_validate,
)
from customers.models import Customer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234,567.89", Decimal("1234567.89")),
        ("¥1,000", Decimal("1000")),
        ("￥2,500.5", Decimal("2500.5")),
        ("CNY 300", Decimal("300")),
        ("300元", Decimal("300")),
        ("-1,250.00", Decimal("-1250.00")),
        ("(50.00)", Decimal("-50.00")),
        ("  42 ", Decimal("42")),
        ("１２３", Decimal("123")),
    ],
)
def test_amount_parse_accepts(text, expected):
    assert values.amount_parse(text) == expected


@pytest.mark.parametrize("text", ["12,34", "1.2.3", "abc", "1,000.123", "$5", "1e5", "99999999999999999"])
def test_amount_parse_rejects(text):
    with pytest.raises(values.ValueInvalid):
        values.amount_parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05", datetime.date(2024, 1, 5)),
        ("2024/1/5", datetime.date(2024, 1, 5)),
        ("2024.12.31", datetime.date(2024, 12, 31)),
        ("2024年3月8日", datetime.date(2024, 3, 8)),
        ("2024-01-05 00:00:00", datetime.date(2024, 1, 5)),
    ],
)
def test_date_parse_accepts(text, expected):
    assert values.date_parse(text) == expected


@pytest.mark.parametrize("text", ["05/01/2024", "2024-02-30", "yesterday", "2024-13-01"])
def test_date_parse_rejects(text):
    with pytest.raises(values.ValueInvalid):
        values.date_parse(text)


def test_boolean_parse_words():
    assert values.boolean_parse("yes") is True
    assert values.boolean_parse("是") is True
    assert values.boolean_parse("NO") is False
    assert values.boolean_parse("否") is False
    with pytest.raises(values.ValueInvalid):
        values.boolean_parse("maybe")


def test_gender_parse_words():
    assert values.gender_parse("男") == "M"
    assert values.gender_parse("Female") == "F"
    assert values.gender_parse("m") == "M"
    with pytest.raises(values.ValueInvalid):
        values.gender_parse("x")


def test_phone_parse_normalises():
    assert values.phone_parse("138 1234 5678") == "13812345678"
    assert values.phone_parse("+86 138-1234-5678") == "13812345678"
    assert values.phone_parse("+44 20 7946 0958") == "+442079460958"
    with pytest.raises(values.ValueInvalid):
        values.phone_parse("12345")


def test_email_parse_validates():
    assert values.email_parse(" li@bank.example ") == "li@bank.example"
    with pytest.raises(values.ValueInvalid):
        values.email_parse("li@")


def test_email_parse_fits_column():
    """Reject a valid address longer than the customer's e-mail column, which would otherwise
    fail PostgreSQL's write midway."""
    assert values.EMAIL_MAX_LENGTH == Customer._meta.get_field("email").max_length
    domain = "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".example"
    longest = "a" * (values.EMAIL_MAX_LENGTH - len(domain) - 1) + "@" + domain
    assert values.email_parse(longest) == longest
    with pytest.raises(values.ValueInvalid) as error:
        values.email_parse("a" + longest)
    assert error.value.params == {"length": values.EMAIL_MAX_LENGTH + 1, "max_length": values.EMAIL_MAX_LENGTH}


def test_text_parser_rejects_too_long():
    parse = values.text_parser(5)
    assert parse(" abc ") == "abc"
    with pytest.raises(values.ValueInvalid, match="at most 5"):
        parse("abcdef")


def test_mapping_suggest_chinese_and_fullwidth():
    headers = ["客户编号", " 姓名 ", "ＡＵＭ", "手机号", "网点", "客户经理", "备用字段"]
    mapping = mapping_suggest(headers=headers, fields=ROSTER_FIELDS)
    assert mapping["客户编号"] == "customer_no"
    assert mapping[" 姓名 "] == "name"
    assert mapping["ＡＵＭ"] == "aum"
    assert mapping["手机号"] == "phone"
    assert mapping["网点"] == "branch"
    assert mapping["客户经理"] == "client_manager"
    assert mapping["备用字段"] == EXTRA


def test_mapping_suggest_bank_marketing_names():
    headers = ["customer_no", "age", "job", "marital", "education", "default", "balance", "housing", "loan", "y"]
    mapping = mapping_suggest(headers=headers, fields=ROSTER_FIELDS)
    assert mapping == {
        "customer_no": "customer_no", "age": "age", "job": "occupation", "marital": "marital_status",
        "education": "education", "default": "credit_default", "balance": "aum", "housing": "housing_loan",
        "loan": "personal_loan", "y": EXTRA,
    }
    outcome_mapping = mapping_suggest(headers=headers + ["contact", "campaign", "duration"], fields=OUTCOME_FIELDS)
    assert outcome_mapping["y"] == "outcome"
    assert outcome_mapping["contact"] == "channel"
    assert outcome_mapping["campaign"] == "attempts"
    assert outcome_mapping["duration"] == "duration_seconds"


def test_mapping_suggest_first_header_wins():
    mapping = mapping_suggest(headers=["客户号", "客户编号"], fields=ROSTER_FIELDS)
    assert mapping == {"客户号": "customer_no", "客户编号": EXTRA}


def test_mapping_validate_rejects_field_twice():
    with pytest.raises(MappingInvalid, match="two columns"):
        mapping_validate(
            mapping={"a": "customer_no", "b": "name", "c": "name"}, headers=["a", "b", "c"], fields=ROSTER_FIELDS
        )


def test_mapping_validate_requires_customer_no():
    with pytest.raises(MappingInvalid, match="required field"):
        mapping_validate(mapping={"a": "name"}, headers=["a"], fields=ROSTER_FIELDS)


def test_mapping_from_pairs_moves_field():
    mapping = mapping_from_pairs(pairs=["编号=customer_no", "姓名=-"], headers=["客户号", "编号", "姓名"], fields=ROSTER_FIELDS)
    assert mapping == {"客户号": EXTRA, "编号": "customer_no", "姓名": "-"}


def phone_parse_by_library(text: str) -> str | None:
    """phone_parse without its shortcut: phonenumbers' parse and validation only."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 86:
        return phonenumbers.national_significant_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_phone_shortcut_agrees_with_library():
    # Every 4-digit prefix of an 11-digit number starting with 1, including the carrier
    # prefixes (11xx, 12xx, 179x) that phonenumbers strips when parsing mainland numbers.
    for prefix in range(1000, 2000):
        for suffix in ("0000000", "1234567", "9999999"):
            text = f"{prefix}{suffix}"
            try:
                parsed = values.phone_parse(text)
            except values.ValueInvalid:
                parsed = None
            assert parsed == phone_parse_by_library(text), text


def test_phone_shortcut_skips_other_shapes():
    assert values.MAINLAND_MOBILE_PATTERN.fullmatch("13812345678")
    assert values.phone_parse(" 13812345678 ") == "13812345678"
    assert values.phone_parse("+86 138-1234-5678") == "13812345678"
    assert values.phone_parse("１３８１２３４５６７８") == "13812345678"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1234.5", Decimal("1234.5")), ("0012", Decimal("12")), ("9999999999999999.99", Decimal("9999999999999999.99"))],
)
def test_amount_plain_shortcut(text, expected):
    assert values.amount_parse(text) == expected


def test_iso_date_shortcut_rejects_impossible_day():
    with pytest.raises(values.ValueInvalid, match="out of range"):
        values.date_parse("2024-02-30")


def identifier_parse_general(text: str, max_length: int = 32) -> str | None:
    """identifier_parser without its plain_identifier shortcut, or None when it rejects `text`."""
    normalised = values.text_normalize(text)
    try:
        values.identifier_damage_check(normalised)
        return values.text_parser(max_length)(normalised)
    except values.ValueInvalid:
        return None


@pytest.mark.parametrize(
    "text",
    [
        "B000000001", "00012", "123456789012345", "1234567890123456", "4403000000000000000", "4E17", "4e17",
        "12345.0", "ABC", "A" * 33, "１２３", " 00012 ", "AB-12", "4.403E+17",
    ],
)
def test_identifier_shortcut_agrees_with_checks(text):
    try:
        parsed = values.identifier_parser(32)(text)
    except values.ValueInvalid:
        parsed = None

    assert parsed == identifier_parse_general(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
    ],
)
def test_id_number_shortcut_same_result(text, expected):
    assert values.id_number_parse(text) == expected

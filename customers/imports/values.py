"""Parsers for single cell values. Each takes the cell's text and returns the Python value
to store, or raises ValueInvalid with an untranslated message a user can act on. None of them accept a
value they would have to guess at, so nothing damaged is stored."""

import datetime
import re
import unicodedata
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_noop

from .report import message_translate


class ValueInvalid(Exception):
    """A cell value that cannot be parsed. `msgid` is marked with gettext_noop and `params`
    fill its placeholders, so the row error can be stored untranslated."""

    def __init__(self, msgid: str, params: dict | None = None):
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params or {}

    def __str__(self) -> str:
        return message_translate(msgid=self.msgid, params=self.params)


def text_normalize(value: str) -> str:
    """Fold full-width letters, digits and spaces to their ASCII forms and strip the ends."""
    return unicodedata.normalize("NFKC", value).strip()


TRUE_WORDS = {"yes", "y", "true", "1", "是", "有", "t"}
FALSE_WORDS = {"no", "n", "false", "0", "否", "无", "f"}
GENDER_WORDS = {
    "m": "M", "male": "M", "男": "M", "man": "M",
    "f": "F", "female": "F", "女": "F", "woman": "F",
}
AMOUNT_PREFIXES = ("cny", "rmb", "¥", "￥", "元")
AMOUNT_PATTERN = re.compile(r"^-?\d+(\.\d+)?$")
GROUPED_AMOUNT_PATTERN = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
DATE_PATTERN = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")
MAX_AMOUNT = Decimal("9999999999999999.99")


def boolean_parse(value: str) -> bool:
    word = text_normalize(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueInvalid(gettext_noop("Invalid yes/no value: use yes/no, true/false, 1/0 or 是/否."))


def gender_parse(value: str) -> str:
    word = text_normalize(value).lower()
    if word in GENDER_WORDS:
        return GENDER_WORDS[word]
    raise ValueInvalid(gettext_noop("Invalid gender: use M/F, male/female or 男/女."))


def amount_parse(value: str) -> Decimal:
    """Parse an amount in CNY such as "1,234,567.80", "¥1234", "CNY -50" or "(1,000.00)"."""
    text = text_normalize(value).lower().replace(" ", "")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    for prefix in AMOUNT_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
        if text.endswith(prefix):
            text = text[: -len(prefix)]
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    if GROUPED_AMOUNT_PATTERN.match(text):
        text = text.replace(",", "")
    if not AMOUNT_PATTERN.match(text):
        raise ValueInvalid(gettext_noop("Invalid amount: expected a number such as 1,234,567.89 (thousands separators, ¥ or CNY allowed)."))
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValueInvalid(gettext_noop("Invalid amount: expected a number such as 1,234,567.89.")) from error
    if amount.as_tuple().exponent < -2:
        raise ValueInvalid(gettext_noop("Invalid amount: more than two decimal places."))
    if amount > MAX_AMOUNT:
        raise ValueInvalid(gettext_noop("Invalid amount: larger than the maximum of 9,999,999,999,999,999.99."))
    return -amount if negative else amount


def date_parse(value: str) -> datetime.date:
    """Parse 2024-01-05, 2024/1/5, 2024.1.5 or 2024年1月5日."""
    match = DATE_PATTERN.match(text_normalize(value))
    if not match:
        raise ValueInvalid(gettext_noop("Invalid date: use YYYY-MM-DD or YYYY/M/D."))
    year, month, day = (int(part) for part in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError as error:
        raise ValueInvalid(gettext_noop("Invalid date: the month or day is out of range.")) from error


def datetime_parse(value: str) -> datetime.datetime:
    """Parse a date, or a date and time such as 2024-01-05 14:30, as a naive local datetime."""
    text = text_normalize(value)
    if DATE_PATTERN.match(text):
        return datetime.datetime.combine(date_parse(text), datetime.time(0, 0))
    try:
        return datetime.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError as error:
        raise ValueInvalid(gettext_noop("Invalid date and time: use YYYY-MM-DD HH:MM.")) from error


def integer_parse(value: str, *, minimum: int = 0, maximum: int = 2_147_483_647) -> int:
    text = text_normalize(value).replace(",", "")
    if text.endswith(".0"):
        text = text[:-2]
    if not re.fullmatch(r"-?\d+", text):
        raise ValueInvalid(gettext_noop("Invalid whole number."))
    number = int(text)
    if not minimum <= number <= maximum:
        raise ValueInvalid(
            gettext_noop("Invalid number: must be between %(minimum)s and %(maximum)s."),
            {"minimum": minimum, "maximum": maximum},
        )
    return number


def phone_parse(value: str) -> str:
    """Return a mainland number as its 11 national digits and any other number in E.164."""
    try:
        number = phonenumbers.parse(text_normalize(value), "CN")
    except phonenumbers.NumberParseException as error:
        raise ValueInvalid(gettext_noop("Invalid phone number.")) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueInvalid(gettext_noop("Invalid phone number."))
    if number.country_code == 86:
        return phonenumbers.national_significant_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_parse(value: str) -> str:
    text = text_normalize(value)
    try:
        validate_email(text)
    except ValidationError as error:
        raise ValueInvalid(gettext_noop("Invalid e-mail address.")) from error
    return text


def text_parser(max_length: int):
    """Return a parser that keeps text as it is (trimmed) and rejects text too long for the column."""

    def parse(value: str) -> str:
        text = value.strip()
        if len(text) > max_length:
            raise ValueInvalid(
                gettext_noop("Too long: %(length)s characters, at most %(max_length)s allowed."),
                {"length": len(text), "max_length": max_length},
            )
        return text

    return parse

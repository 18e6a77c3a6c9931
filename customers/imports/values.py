"""Parsers for single cell values. Each takes the cell's text and returns the Python value
to store, or raises ValueInvalid with an untranslated message a user can act on. None of them accept a
value they would have to guess at, so nothing damaged is stored."""

import datetime
import operator
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
    if value.isascii():
        # NFKC leaves ASCII text unchanged, and most cells are ASCII.
        return value.strip()
    return unicodedata.normalize("NFKC", value).strip()


TRUE_WORDS = {"yes", "y", "true", "1", "是", "有", "t"}
FALSE_WORDS = {"no", "n", "false", "0", "否", "无", "f"}
GENDER_WORDS = {
    "m": "M", "male": "M", "男": "M", "man": "M",
    "f": "F", "female": "F", "女": "F", "woman": "F",
}
AMOUNT_PREFIXES = ("cny", "rmb", "¥", "￥", "元")
# Chinese magnitude words at the end of an amount, longest first so "万元" wins over "元".
AMOUNT_UNITS = (("亿元", Decimal("100000000")), ("万元", Decimal("10000")), ("亿", Decimal("100000000")), ("万", Decimal("10000")))
AMOUNT_PATTERN = re.compile(r"^-?\d+(\.\d+)?$")
# Every plain amount with at most 16 integer digits and 2 decimals is valid and below
# MAX_AMOUNT, so such a value skips the sign, unit and separator handling.
PLAIN_AMOUNT_PATTERN = re.compile(r"\d{1,16}(?:\.\d{1,2})?", re.ASCII)
GROUPED_AMOUNT_PATTERN = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
DATE_PATTERN = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")
ISO_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# The largest value of the numeric(18, 2) AUM column.
# NOTE: SQLite stores decimals as floating point, so there an amount of more than 15 significant
# digits loses its last digits, and one near this maximum fails when Django reads it back.
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
    """Parse an amount in CNY such as "1,234,567.80", "¥1234", "CNY -50", "(1,000.00)" or "12.5万".

    万 multiplies by 10,000 and 亿 by 100,000,000; the result may have at most two decimal places."""
    plain = value.strip()
    if PLAIN_AMOUNT_PATTERN.fullmatch(plain):
        return Decimal(plain)
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
    multiplier = Decimal(1)
    for unit, unit_multiplier in AMOUNT_UNITS:
        if text.endswith(unit):
            text, multiplier = text[: -len(unit)], unit_multiplier
            break
    if GROUPED_AMOUNT_PATTERN.match(text):
        text = text.replace(",", "")
    if not AMOUNT_PATTERN.match(text):
        raise ValueInvalid(gettext_noop("Invalid amount: expected a number such as 1,234,567.89 (thousands separators, ¥ or CNY allowed)."))
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValueInvalid(gettext_noop("Invalid amount: expected a number such as 1,234,567.89.")) from error
    if multiplier != 1:
        # 1.23456万 is 12345.6000 before normalising, which is two decimal places in fact.
        amount = (amount * multiplier).normalize()
        if amount.as_tuple().exponent > 0:
            amount = amount.quantize(Decimal(1))
    if amount.as_tuple().exponent < -2:
        raise ValueInvalid(gettext_noop("Invalid amount: more than two decimal places."))
    if amount > MAX_AMOUNT:
        raise ValueInvalid(gettext_noop("Invalid amount: larger than the maximum of 9,999,999,999,999,999.99."))
    return -amount if negative else amount


def date_parse(value: str) -> datetime.date:
    """Parse 2024-01-05, 2024/1/5, 2024.1.5 or 2024年1月5日."""
    plain = value.strip()
    if ISO_DATE_PATTERN.fullmatch(plain):
        try:
            return datetime.date.fromisoformat(plain)
        except ValueError:
            pass  # the general path below reports the out-of-range month or day
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


# The mainland mobile-number pattern of the phonenumbers metadata (checked with phonenumbers
# 9.0.43). An 11-digit string that matches it is a valid number that phonenumbers.parse keeps
# unchanged, because the prefixes parse strips from CN numbers (0, 11xx, 12xx, 179x) cannot
# start a mobile number. Matching the pattern skips parse(), the most expensive step of
# checking a roster row. tests/imports/test_values.py compares the shortcut with parse().
MAINLAND_MOBILE_PATTERN = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern, re.ASCII
)


def phone_parse(value: str) -> str:
    """Return a mainland number as its 11 national digits and any other number in E.164."""
    plain = value.strip()
    if len(plain) == 11 and MAINLAND_MOBILE_PATTERN.fullmatch(plain):
        return plain
    identifier_damage_check(text_normalize(value))
    try:
        number = phonenumbers.parse(text_normalize(value), "CN")
    except phonenumbers.NumberParseException as error:
        raise ValueInvalid(gettext_noop("Invalid phone number.")) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueInvalid(gettext_noop("Invalid phone number."))
    if number.country_code == 86:
        return phonenumbers.national_significant_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# The maximum length of Customer.email, Django's EmailField default. validate_email accepts addresses
# of up to 320 characters, which PostgreSQL would reject for the varchar(254) column.
EMAIL_MAX_LENGTH = 254


def email_parse(value: str) -> str:
    text = text_normalize(value)
    try:
        validate_email(text)
    except ValidationError as error:
        raise ValueInvalid(gettext_noop("Invalid e-mail address.")) from error
    if len(text) > EMAIL_MAX_LENGTH:
        raise ValueInvalid(
            gettext_noop("Too long: %(length)s characters, at most %(max_length)s allowed."),
            {"length": len(text), "max_length": EMAIL_MAX_LENGTH},
        )
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


# Excel shows at most 15 significant digits and writes larger numbers in scientific notation,
# so an identifier that passed through a number cell comes back in one of these shapes.
SCIENTIFIC_PATTERN = re.compile(r"^[+-]?\d+(\.\d+)?e[+-]?\d+$", re.IGNORECASE)
DECIMAL_TAIL_PATTERN = re.compile(r"^\d+\.\d+$")
EXCEL_SIGNIFICANT_DIGITS = 15


SCIENTIFIC_MESSAGE = gettext_noop(
    "Damaged identifier: Excel has turned it into scientific notation. Format the column as text "
    "in Excel, enter the values again or export them from the source system, and upload the file again."
)
DECIMAL_TAIL_MESSAGE = gettext_noop(
    "Damaged identifier: it has a decimal part such as .0, which Excel adds to numbers. Format the "
    "column as text in Excel and upload the file again."
)
ROUNDED_MESSAGE = gettext_noop(
    "Damaged identifier: the digits after the 15th are all zeros, which is how Excel stores a long "
    "number it has rounded. Format the column as text in Excel and upload the file again."
)
DAMAGE_MESSAGES = {SCIENTIFIC_MESSAGE, DECIMAL_TAIL_MESSAGE, ROUNDED_MESSAGE}


def rounded_by_excel(text: str) -> bool:
    """Return True for a string of more than 15 digits whose digits after the 15th are all
    zeros, which is how Excel stores a long number it has rounded."""
    compact = text.replace(" ", "")
    return compact.isdigit() and len(compact) > EXCEL_SIGNIFICANT_DIGITS and not compact[EXCEL_SIGNIFICANT_DIGITS:].strip("0")


def identifier_damage_check(text: str, *, check_rounding: bool = True) -> None:
    """Raise ValueInvalid when `text` looks like an identifier Excel has turned into a number.

    Three shapes are rejected: scientific notation (4.40300E+17), a decimal tail (12345.0)
    and, unless `check_rounding` is False, a number Excel has rounded (see rounded_by_excel)."""
    compact = text.replace(" ", "")
    if SCIENTIFIC_PATTERN.match(compact):
        raise ValueInvalid(SCIENTIFIC_MESSAGE)
    if DECIMAL_TAIL_PATTERN.match(compact):
        raise ValueInvalid(DECIMAL_TAIL_MESSAGE)
    # NOTE: a genuine identifier of 16 or more digits that ends in zeros after the 15th digit
    # is rejected too, because it cannot be distinguished from one Excel has rounded.
    if check_rounding and rounded_by_excel(compact):
        raise ValueInvalid(ROUNDED_MESSAGE)


def plain_identifier(value: str) -> bool:
    """Return True for a value of ASCII letters and digits that identifier_damage_check
    accepts: it has no "e" of scientific notation and is not a string of more than 15 digits.
    Such a value also needs no normalising, so parsers may skip both steps."""
    return (
        value.isascii()
        and value.isalnum()
        and "e" not in value
        and "E" not in value
        and not (len(value) > EXCEL_SIGNIFICANT_DIGITS and value.isdigit())
    )


def identifier_parser(max_length: int):
    """Return a parser for identifiers such as customer numbers: text kept as it is (trimmed,
    full-width characters folded, leading zeros kept), rejected when Excel has damaged it."""
    text_parse = text_parser(max_length)

    def parse(value: str) -> str:
        if plain_identifier(value):
            return text_parse(value)
        text = text_normalize(value)
        identifier_damage_check(text)
        return text_parse(text)

    return parse


# GB 11643-1999: each of the first 17 digits is weighted by 2**(17 - position) mod 11, the
# weighted sum is taken mod 11, and that remainder selects the check character.
ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_NUMBER_CHECK_CHARACTERS = "10X98765432"
ID_NUMBER_ASCII_OFFSET = ord("0") * sum(ID_NUMBER_WEIGHTS)
ID_NUMBER_18_PATTERN = re.compile(r"^\d{17}[\dX]$")
ID_NUMBER_15_PATTERN = re.compile(r"^\d{15}$")


def id_number_check_character(first_17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of an ID number."""
    if len(first_17) != len(ID_NUMBER_WEIGHTS):
        raise ValueError(f"expected 17 digits, got {len(first_17)}")
    if first_17.isascii():
        # Byte values of ASCII digits are 48 above the digits, which the subtraction removes.
        total = sum(map(operator.mul, first_17.encode(), ID_NUMBER_WEIGHTS)) - ID_NUMBER_ASCII_OFFSET
    else:
        total = sum(map(operator.mul, map(int, first_17), ID_NUMBER_WEIGHTS))
    return ID_NUMBER_CHECK_CHARACTERS[total % 11]


def id_number_parse(value: str) -> str:
    """Parse a mainland resident ID number and return its 18-character form with an upper-case X.

    An 18-character number needs a valid birth date (characters 7 to 14) and the GB 11643 check
    character. A 15-digit number (issued before 1999, birth year written as two digits, all in
    the 1900s) is converted: "19" goes before its birth date and the check character is appended.

    About one valid number in 1,100 ends in three zeros, like a number Excel has rounded, so
    that shape is not rejected here: the check character rejects 10 in 11 rounded numbers, and
    rows_check rejects the rest when other values of the same column show Excel damage."""
    if len(value) == 18 and value.isascii() and ID_NUMBER_18_PATTERN.match(value):
        # Already ASCII, upper case and without spaces, so normalising would not change it.
        text = value
    else:
        text = text_normalize(value).replace(" ", "").upper()
        # Scientific notation contains an E and a decimal tail contains a dot, so a number of
        # 17 digits and a digit or X needs no damage check.
        if not ID_NUMBER_18_PATTERN.match(text):
            identifier_damage_check(text, check_rounding=False)
            if not ID_NUMBER_15_PATTERN.match(text):
                raise ValueInvalid(gettext_noop(
                    "Invalid ID number: a mainland resident ID number has 18 characters (17 digits and a digit or X) "
                    "or, for old cards, 15 digits."
                ))
            text = text[:6] + "19" + text[6:]
            text += id_number_check_character(text)
    try:
        datetime.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as error:
        raise ValueInvalid(
            gettext_noop("Invalid ID number: the birth date %(birth_date)s in it does not exist."),
            {"birth_date": text[6:14]},
        ) from error
    expected = id_number_check_character(text[:17])
    if text[17] != expected:
        raise ValueInvalid(gettext_noop(
            "Invalid ID number: the check character does not match the other 17 characters. Check the number "
            "for a typing error."
        ))
    return text


# Excel's 1900 date system counts days from 1899-12-30, because it treats 1900 as a leap year.
# Serial 60 is that nonexistent 1900-02-29, so serials from 61 on (1900-03-01) are accepted.
EXCEL_EPOCH = datetime.date(1899, 12, 30)
EXCEL_FIRST_SERIAL = 61
EXCEL_LAST_SERIAL = 2958465  # 9999-12-31


def xlsx_date_parse(value: str) -> datetime.date:
    """Parse a date from an XLSX cell: any text date_parse accepts, or an Excel serial number
    such as 45296 (2024-01-05) from a date cell formatted as a number."""
    text = text_normalize(value)
    if not text.isdigit():
        return date_parse(text)
    serial = int(text)
    if not EXCEL_FIRST_SERIAL <= serial <= EXCEL_LAST_SERIAL:
        raise ValueInvalid(
            gettext_noop("Invalid date: %(serial)s is not an Excel date serial number from 1900-03-01 to 9999-12-31."),
            {"serial": serial},
        )
    # NOTE: workbooks in Excel's 1904 date system (old Mac Excel) give dates four years too early.
    return EXCEL_EPOCH + datetime.timedelta(days=serial)

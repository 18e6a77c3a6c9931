"""Masking of personal identifiers for lists, exports, e-mails and logs."""

import re


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of a mobile number: 138****5678."""
    value = (value or "").strip()
    if len(value) <= 7:
        return "*" * len(value)
    return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}"


def mask_id_number(value: str) -> str:
    """Keep the first and last four characters of an ID number: 1101**********123X."""
    value = (value or "").strip()
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_name(value: str) -> str:
    """Keep the first character of a person's name: 王** (the surname, for Chinese names)."""
    value = (value or "").strip()
    return f"{value[:1]}{'*' * (len(value) - 1)}"


def mask_email(value: str) -> str:
    """Keep the first character of the local part and the domain: z***@bank.example."""
    value = (value or "").strip()
    if "@" not in value:
        return "*" * len(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


# Identifiers inside free text (log messages, notes that staff typed). Letters or digits right
# before or after a match mean it is part of a longer token, which is left alone.
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
# Resident identity card numbers (GB 11643): 18 characters ending in a digit or X, or the old
# 15-digit form.
ID_NUMBER_PATTERN = re.compile(rf"{_NOT_ALNUM_BEFORE}(?:\d{{17}}[\dXx]|\d{{15}}){_NOT_ALNUM_AFTER}")
# Mainland mobile numbers (11 digits from 13 to 19, optionally after 86 or +86) and any number
# in E.164 form, which is how the roster import stores phones outside the mainland.
# NOTE: mainland landlines written without a separator (0101234567) are not recognised, because
# a bare run of ten digits is as likely an amount or an account number.
PHONE_PATTERN = re.compile(
    rf"{_NOT_ALNUM_BEFORE}(?:(?:\+?86[ -]?)?1[3-9]\d{{9}}|\+[1-9]\d{{7,14}}){_NOT_ALNUM_AFTER}"
)
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)


def mask_identifiers_in_text(text: str) -> str:
    """Return `text` with every e-mail address, ID number and mobile number in it masked."""
    text = EMAIL_PATTERN.sub(lambda match: mask_email(match.group(0)), text)
    # ID numbers go first, because an ID number contains runs of digits that look like a phone.
    text = ID_NUMBER_PATTERN.sub(lambda match: mask_id_number(match.group(0)), text)
    return PHONE_PATTERN.sub(lambda match: mask_phone(match.group(0)), text)

"""Locale-aware formatting of amounts: {{ value|amount:user }}.

Amounts are yuan with two decimals, grouped by the active language's number format. For a
user with User.amount_in_wan set, the Chinese interface shows amounts of at least 10,000 yuan
in 万元 (units of 10,000 yuan) with two decimals. Exports call no template filter and
keep the raw numbers."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import translation
from django.utils.formats import number_format

register = template.Library()

WAN = Decimal(10000)
CENTS = Decimal("0.01")
# The unit is part of the Chinese number format, like 年 and 月 in Django's zh_Hans DATE_FORMAT,
# and is only shown in the Chinese interface, so it is not a message to translate.
WAN_SUFFIX = "万元"


def shows_amounts_in_wan(user) -> bool:
    """Return whether `user` reads amounts in 万元 in the active language."""
    language = translation.get_language() or ""
    return bool(getattr(user, "amount_in_wan", False)) and language.startswith("zh")


def format_amount(value, user=None) -> str:
    """Format `value` (yuan) for display. Returns "—" for None, and "" for a value that is not
    a finite number, so a bad amount does not stop the page from rendering."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    # Django's number_format cuts off extra decimals, so they are rounded here first.
    if shows_amounts_in_wan(user) and abs(amount) >= WAN:
        in_wan = (amount / WAN).quantize(CENTS, rounding=ROUND_HALF_UP)
        return f"{number_format(in_wan, decimal_pos=2, force_grouping=True)}{WAN_SUFFIX}"
    return number_format(amount.quantize(CENTS, rounding=ROUND_HALF_UP), decimal_pos=2, force_grouping=True)


def format_table_amount(table, value) -> str:
    """Format `value` for the user viewing a django-tables2 table. RequestConfig sets
    table.request, and {% render_table %} attaches its template context while rendering."""
    request = getattr(table, "request", None)
    if request is None:
        context = getattr(table, "context", None)
        request = context.get("request") if context is not None else None
    return format_amount(value, getattr(request, "user", None))


@register.filter
def amount(value, user=None):
    return format_amount(value, user)

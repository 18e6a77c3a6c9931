"""Describe a segment's saved roster filter in the reader's language: each filter's label with a
branch, tier or client manager by name, choices by their label and the AUM band as amounts."""

from django import forms
from django.utils.translation import gettext

from customers.filters import AGE_BAND_CHOICES, CustomerFilter, RosterChangeField
from customers.models import RosterChange, RosterImport
from portal.templatetags.portal_format import format_amount

from .services import segment_filters_described

AUM_KEYS = ("aum_min", "aum_max")


def segment_filter_rows_now(*, filters: dict, user=None) -> list[tuple[str, str]]:
    """Return saved roster `filters` as (label, value) pairs with today's branch, tier and client manager names."""
    if not filters:
        return []
    return segment_filter_rows(filters=filters, names=segment_filters_described(filters=filters), user=user)


def segment_filter_rows(*, filters: dict, names: dict | None = None, user=None) -> list[tuple[str, str]]:
    """Return `filters` (roster query parameters) as (label, value) pairs, in the saved order.

    `names` maps a parameter to its display value as `segment_filters_described` returns it: a
    branch's, tier's or client manager's name. A launch stores those names, so the campaign page
    passes them and shows the names from the launch day. Amounts are formatted for `user`, in
    万元 where the user chose so. A value that no longer resolves is shown as saved."""
    names = names or {}
    rows = []
    aum_done = False
    for key, raw in filters.items():
        raw = str(raw)
        if key in AUM_KEYS:
            if not aum_done:
                rows.append((gettext("AUM (CNY)"), _aum_band(filters, user)))
                aum_done = True
            continue
        base_filter = CustomerFilter.base_filters.get(key)
        label = str(base_filter.label) if base_filter is not None else key
        rows.append((label, _filter_value(key, raw, base_filter, names)))
    return rows


def _filter_value(key: str, raw: str, base_filter, names: dict) -> str:
    null_label = base_filter.extra.get("null_label") if base_filter is not None else None
    if null_label is not None and raw == base_filter.null_value:
        return str(null_label)
    if key == "age_band":
        return str(dict(AGE_BAND_CHOICES).get(raw, raw))
    if key == "do_not_contact":
        return {"true": gettext("Yes"), "false": gettext("No")}.get(raw.lower(), raw)
    if key == "roster_change":
        return _roster_change_value(raw)
    return str(names.get(key, raw))


def _aum_band(filters: dict, user) -> str:
    low = filters.get("aum_min")
    high = filters.get("aum_max")
    if low not in (None, "") and high not in (None, ""):
        return gettext("%(low)s to %(high)s") % {"low": _amount(low, user), "high": _amount(high, user)}
    if low not in (None, ""):
        return gettext("%(amount)s or more") % {"amount": _amount(low, user)}
    return gettext("up to %(amount)s") % {"amount": _amount(high, user)}


def _amount(value, user) -> str:
    # format_amount returns "" for a value that is not a number, and a stale filter should still show.
    return format_amount(value, user) or str(value)


def _roster_change_value(raw: str) -> str:
    try:
        roster_import_id, kind = RosterChangeField().clean(raw)
    except forms.ValidationError:
        return raw
    roster_import = RosterImport.objects.filter(pk=roster_import_id).only("original_name").first()
    kind_label = str(RosterChange.Kind(kind).label)
    if roster_import is None:
        return kind_label
    return gettext("%(kind)s of the import of %(file)s") % {"kind": kind_label, "file": roster_import.original_name}

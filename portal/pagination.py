"""Paginators shared by the list pages."""

from dataclasses import dataclass

from django.conf import settings
from django.core.validators import EMPTY_VALUES
from django.core.paginator import EmptyPage
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_tables2 import LazyPaginator

from .htmx import LIST_RESULTS_ID

# A page number above this is rejected before it reaches the database, where its offset would
# overflow a 64-bit integer on PostgreSQL or SQLite.
MAX_PAGE_NUMBER = 10_000_000


class BoundedLazyPaginator(LazyPaginator):
    """django-tables2's LazyPaginator, which never counts the rows, with an upper bound on the
    page number. RequestConfig shows the first page when it gets an EmptyPage."""

    def validate_number(self, number):
        number = super().validate_number(number)
        if number > MAX_PAGE_NUMBER:
            raise EmptyPage(_("That page number is too large."))
        return number


# Query parameters that page, sort or export a list without filtering it.
NON_FILTER_PARAMETERS = {"page", "sort", "_export", "table", "count"}


def list_is_filtered(request, filterset=None) -> bool:
    """Tell whether the request filters its list. Only a filtered list shows its total: the lazy
    paginator never counts, and counting every row of a large table costs more than the page.

    With `filterset`, a parameter counts only when it is one of its filters and its cleaned
    value is not empty, so a blank search or an unknown parameter does not count the whole
    table. An invalid filterset counts as filtered: its list shows the errors and no rows."""
    keys = [key for key, value in request.GET.items() if key not in NON_FILTER_PARAMETERS and value.strip()]
    if filterset is None or not keys or not filterset.is_valid():
        return bool(keys)
    cleaned = filterset.form.cleaned_data
    return any(key in cleaned and cleaned[key] not in EMPTY_VALUES for key in keys)


@dataclass(frozen=True)
class ListTotal:
    """The total a filtered list shows. `count` is None until counted, and the page then requests
    it separately (list_total_response). With `exact` false, the list has more than `count` rows."""

    count: int | None
    exact: bool


# Values of the request parameter `count`. "total" requests only the bounded total, which the
# page sends after its rows are shown. "exact" renders the page with an exact total.
COUNT_TOTAL = "total"
COUNT_EXACT = "exact"


def list_total(request, rows, filterset) -> ListTotal | None:
    """Return the total a list page shows: None when unfiltered, an exact count when the request
    contains count=exact, else a total still to be counted.

    The rows do not wait for their total: on 2,000,000 tasks the COUNT behind a filter by tier or
    overdue took 150 to 400 ms, several times the page."""
    if not list_is_filtered(request, filterset):
        return None
    if request.GET.get("count") == COUNT_EXACT:
        return ListTotal(rows.order_by().values("pk").count(), exact=True)
    return ListTotal(None, exact=False)


def list_total_bounded(rows) -> ListTotal:
    """Count `rows` up to PORTAL_LIST_COUNT_LIMIT: PostgreSQL stops reading at the limit, where an
    exact COUNT reads every matching row."""
    limit = settings.PORTAL_LIST_COUNT_LIMIT
    found = rows.order_by().values("pk")[: limit + 1].count()
    return ListTotal(min(found, limit), exact=found <= limit)


def list_total_requested(request, filterset) -> bool:
    """Tell whether the request is the page's htmx request for its total. A plain visit to that
    URL, such as a bookmark, gets the whole page, which then requests its total again."""
    return (
        request.GET.get("count") == COUNT_TOTAL
        and request.headers.get("HX-Request") == "true"
        and list_is_filtered(request, filterset)
    )


def list_total_response(request, rows, *, noun: str):
    """Render only the bounded total of `rows`, for the request a list page sends after its rows."""
    context = {"list_total": list_total_bounded(rows), "noun": noun, "list_results_id": LIST_RESULTS_ID}
    return render(request, "partials/list_total.html", context)

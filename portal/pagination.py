"""Paginators shared by the list pages."""

from django.core.paginator import EmptyPage
from django.utils.translation import gettext as _
from django_tables2 import LazyPaginator

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
NON_FILTER_PARAMETERS = {"page", "sort", "_export", "table"}


def list_is_filtered(request) -> bool:
    """Tell whether the request filters its list. Only a filtered list shows its total: the lazy
    paginator never counts, and counting every row of a large table costs more than the page."""
    return any(value for key, value in request.GET.items() if key not in NON_FILTER_PARAMETERS)

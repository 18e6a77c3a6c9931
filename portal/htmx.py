"""Lists that filter, sort and page with htmx: the page renders the whole list once, and htmx
requests get only the results partial, which replaces the element with id LIST_RESULTS_ID.
Every htmx request pushes its URL into the browser history, so each state can be bookmarked.
The views stay usable without JavaScript because every link and form is a plain GET."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

LIST_RESULTS_ID = "list-results"


def wants_list_partial(request) -> bool:
    """Return whether an htmx request expects the results partial. htmx requests the whole
    page (HX-History-Restore-Request) when the user goes back to a URL missing from its cache."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def htmx_table(table):
    """Keep the links inside the table body (to a detail page) as ordinary links, because the
    results element boosts every link below it: sorting and paging load only the partial."""
    table.attrs["tbody"]["hx-boost"] = "false"
    return table


def render_list(request, template_name: str, partial_name: str, context: dict):
    """Render the whole list page, or only `partial_name` for an htmx request."""
    context = {**context, "list_results_id": LIST_RESULTS_ID}
    response = render(request, partial_name if wants_list_partial(request) else template_name, context)
    # A browser cache must not serve the partial for a plain visit to the same URL.
    patch_vary_headers(response, ["HX-Request"])
    return response

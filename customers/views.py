from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from campaigns.selectors import task_list_for
from portal.exports import EXPORT_FORMATS, export_table
from portal.htmx import htmx_table, render_list
from portal.masking import mask_email, mask_id_number, mask_phone
from portal.pagination import BoundedLazyPaginator, list_total, list_total_requested, list_total_response
from portal.permissions import STAFF_WITH_CUSTOMERS, role_required

from .filters import CustomerFilter
from .privacy import REVEALABLE_FIELDS, RevealForbidden, customer_identifier_reveal
from .selectors import customer_get_for, customer_list_for
from .tables import CustomerTable


@role_required(*STAFF_WITH_CUSTOMERS)
def customer_list(request):
    customers = customer_list_for(user=request.user).select_related("tier", "branch", "client_manager")
    customer_filter = CustomerFilter(request.GET, queryset=customers, user=request.user)
    # An invalid filter shows its errors and no rows: ignoring it would show, or export,
    # more customers than the user asked for.
    rows = customer_filter.qs if customer_filter.is_valid() else customers.none()
    table = CustomerTable(rows)
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "customers")
    # After the export, so that an export link carrying count=total still exports.
    if list_total_requested(request, customer_filter):
        return list_total_response(request, rows, noun="customers")
    RequestConfig(
        request, paginate={"paginator_class": BoundedLazyPaginator, "per_page": settings.PORTAL_PAGE_SIZE}
    ).configure(table)
    return render_list(
        request,
        "customers/customer_list.html",
        "customers/partials/customer_list_results.html",
        {"filter": customer_filter, "table": htmx_table(table), "list_total": list_total(request, rows, customer_filter)},
    )


@role_required(*STAFF_WITH_CUSTOMERS)
def customer_detail(request, pk):
    customer = customer_get_for(user=request.user, pk=pk)
    tasks = (
        task_list_for(user=request.user)
        .filter(customer=customer)
        .select_related("campaign", "assignee")
        .order_by("-due_on")
    )
    contacts = customer.contacts.select_related("recorded_by", "task__campaign").order_by("-contacted_at")[:100]
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "masked_phone": mask_phone(customer.phone),
            "masked_id_number": mask_id_number(customer.id_number),
            "masked_email": mask_email(customer.email),
            "tasks": tasks,
            "contacts": contacts,
            "revealable": REVEALABLE_FIELDS.get(request.user.role, ()),
        },
    )


@role_required(*STAFF_WITH_CUSTOMERS)
@require_POST
@never_cache
def customer_reveal(request, pk, field):
    """Return the full phone, e-mail or ID number as an htmx fragment and record the reveal."""
    customer = customer_get_for(user=request.user, pk=pk)
    try:
        value = customer_identifier_reveal(user=request.user, customer=customer, field=field, request=request)
    except RevealForbidden:
        raise PermissionDenied from None
    return render(request, "customers/partials/revealed_value.html", {"field": field, "value": value})

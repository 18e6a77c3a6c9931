"""The platform's verification queue: the sampled done tasks waiting to be verified or returned."""

from django.conf import settings
from django_tables2 import RequestConfig

from portal.exports import EXPORT_FORMATS, export_table
from portal.htmx import htmx_table, render_list
from portal.permissions import PLATFORM, role_required

from .filters import TaskFilter
from .tables import TaskTable
from .verification import verification_queue_for


@role_required(*PLATFORM)
def verification_queue(request):
    tasks = verification_queue_for(user=request.user).select_related(
        "campaign", "customer", "customer__tier", "assignee", "branch"
    )
    task_filter = TaskFilter(request.GET, queryset=tasks, user=request.user)
    filtered = task_filter.qs if task_filter.is_valid() else tasks.none()
    table = TaskTable(filtered, order_by=("completed_at", "id"))
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "verification_queue")
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render_list(
        request,
        "campaigns/task_verification_queue.html",
        "campaigns/partials/verification_queue_results.html",
        {"filter": task_filter, "table": htmx_table(table)},
    )

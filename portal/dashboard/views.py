from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from campaigns.selectors import campaign_get_for
from portal.exports import EXPORT_FORMATS, export_table
from portal.htmx import htmx_table, render_list
from portal.models import ExportLog, Role, SavedFilter
from portal.pagination import BoundedLazyPaginator
from portal.permissions import PLATFORM, STAFF_WITH_CUSTOMERS, SUPERVISION, role_required

from .forms import DashboardFilterForm
from .selectors import (
    ANALYSIS_DIMENSIONS,
    attach_campaign_uplifts,
    campaign_conversion_by,
    campaign_conversion_overall,
    completion_by_week,
    dashboard_task_list,
    task_figures_by,
    task_figures_total,
)
from .summary import (
    freshness_note,
    summary_completion_by_week,
    summary_figures_by,
    summary_figures_total,
    summary_run_for,
    summary_uplifts,
    summary_work_view_counts,
)
from .tables import (
    AssigneeFiguresTable,
    BranchFiguresTable,
    CampaignFiguresTable,
    ConversionTable,
    ExportLogTable,
    TaskFiguresTable,
    TierFiguresTable,
    WeeklyCompletionTable,
    format_percent,
    percent_number,
)
from .work_views import (
    SavedFilterInvalid,
    saved_filter_create,
    saved_filter_delete,
    saved_filter_list_for,
    saved_filter_url,
    work_views_for,
)

FIGURE_TABLES = {
    "campaign": CampaignFiguresTable,
    "branch": BranchFiguresTable,
    "assignee": AssigneeFiguresTable,
    "tier": TierFiguresTable,
}
# A client manager's own work has one branch and one client manager, so those tables are left out.
ROLE_GROUPINGS = {
    Role.PLATFORM: ("campaign", "branch", "assignee", "tier"),
    Role.SUPERVISOR: ("campaign", "branch", "assignee", "tier"),
    Role.CLIENT_MANAGER: ("campaign", "tier"),
}
SECTION_TITLES = {
    "campaign": gettext_lazy("By campaign"),
    "branch": gettext_lazy("By branch"),
    "assignee": gettext_lazy("By client manager"),
    "tier": gettext_lazy("By tier"),
}
# Groups drawn in a section's chart; the table beside it lists every group.
CHART_GROUP_LIMIT = 15
# Rows on one page of a section's table. Each row has about 17 links to the task list, so a
# page of 25 rows in four sections made the page 330 KB and its rendering the slowest part.
FIGURE_TABLE_PAGE_SIZE = 10


def _dashboard_exports(user) -> tuple[str, ...]:
    return (*ROLE_GROUPINGS[user.role], "weekly")


@role_required(*STAFF_WITH_CUSTOMERS)
def dashboard_index(request):
    user = request.user
    form = DashboardFilterForm(request.GET or None, user=user)
    filters = form.cleaned_data if form.is_valid() else {}
    tasks = dashboard_task_list(
        user=user,
        campaign=filters.get("campaign"),
        due_from=filters.get("due_from"),
        due_to=filters.get("due_to"),
    )
    filter_params = form.drill_params()

    export_format = request.GET.get("_export")
    if export_format is not None:
        return _dashboard_export(request, form=form, tasks=tasks, export_format=export_format)

    # Only platform and supervisors may open the task list that the figures link to.
    linked = user.role in SUPERVISION
    # The curated task views ignore the filter, so they come from the summary whenever there
    # is a usable one. The figures come from it only without a filter.
    fresh_run = summary_run_for(user=user, filtered=False)
    summary_run = None if _is_filtered(filters) else fresh_run
    if summary_run is not None:
        total, view_counts = summary_figures_total(user=user)
        weeks = summary_completion_by_week(user=user, total=total)
    else:
        total = task_figures_total(tasks=tasks)
        view_counts = summary_work_view_counts(user=user) if fresh_run is not None else None
        weeks = completion_by_week(tasks=tasks, total=total.tasks)
    sections = []
    for grouping in ROLE_GROUPINGS[user.role]:
        if summary_run is not None:
            rows = summary_figures_by(user=user, grouping=grouping)
        else:
            rows = task_figures_by(tasks=tasks, grouping=grouping, user=user)
        table = _figures_table(
            grouping,
            rows,
            user=user,
            summary_run=summary_run,
            filter_params=filter_params,
            linked=linked,
            prefix=f"{grouping}-",
        )
        # A bank has thousands of client managers and hundreds of branches: each table shows one
        # page of its rows, and the exports contain them all.
        RequestConfig(request, paginate={"per_page": FIGURE_TABLE_PAGE_SIZE}).configure(table)
        htmx_table(table)
        sections.append(
            {
                "name": grouping,
                "title": SECTION_TITLES[grouping],
                "table": table,
                "chart": _figures_chart(rows),
            }
        )
    chart_data = {
        "weeks": [week.week.isoformat() for week in weeks],
        "completed": [week.completed for week in weeks],
        "converted": [week.converted for week in weeks],
        "cumulative_rate": [
            None if week.cumulative_rate is None else round(week.cumulative_rate * 100, 1) for week in weeks
        ],
    }
    context = {f"{section['name']}_table": section["table"] for section in sections}
    return render(
        request,
        "dashboard/dashboard_index.html",
        {
            **context,
            "form": form,
            "scope": scope_label(user),
            "freshness": freshness_note(fresh_run, figures=summary_run is not None) if fresh_run is not None else "",
            "linked": linked,
            "shows_uplift": _shows_uplift(user),
            "total_table": TaskFiguresTable([total], filter_params=filter_params, linked=linked),
            "sections": sections,
            "sections_chart_data": {section["name"]: section["chart"] for section in sections},
            "weekly_table": _weekly_table(request, weeks),
            "chart_data": chart_data,
            "work_views": work_views_for(user=user, counts=view_counts),
            "saved_filters": saved_filter_list_for(user=user),
        },
    )


def _weekly_table(request, weeks) -> WeeklyCompletionTable:
    """Build the on-screen weekly table: the latest weeks first, one page at a time. The
    chart beside it and the export keep every week in calendar order."""
    table = WeeklyCompletionTable(list(reversed(weeks)), prefix="weekly-")
    RequestConfig(request, paginate={"per_page": FIGURE_TABLE_PAGE_SIZE}).configure(table)
    return htmx_table(table)


def _is_filtered(filters: dict) -> bool:
    return any(filters.get(name) is not None for name in ("campaign", "due_from", "due_to"))


def scope_label(user) -> str:
    """Name the tasks and customers the user's figures cover."""
    if user.role == Role.PLATFORM:
        return _("The whole bank")
    if user.role == Role.SUPERVISOR:
        branch = user.branch.name if user.branch_id else "–"
        return _("%(branch)s and its sub-branches") % {"branch": branch}
    return _("Your own tasks")


def _shows_uplift(user) -> bool:
    # The uplift counts every task and held-out customer of a campaign, so only the platform,
    # whose scope contains all of them, gets it (as on the campaign page).
    return user.role == Role.PLATFORM


def _figures_table(grouping: str, rows, *, user, summary_run=None, **kwargs):
    """Build the table of one grouping; campaign rows get their uplift for the platform, from
    `summary_run` when the figures come from the summary."""
    if grouping != "campaign":
        return FIGURE_TABLES[grouping](rows, **kwargs)
    show_uplift = _shows_uplift(user)
    if show_uplift:
        attach_campaign_uplifts(rows, uplifts=summary_uplifts(summary_run) if summary_run is not None else None)
    return CampaignFiguresTable(rows, show_uplift=show_uplift, **kwargs)


def _figures_chart(rows) -> dict:
    """Return the completion and conversion percentages of the first groups for the chart."""
    charted_rows = rows[:CHART_GROUP_LIMIT]
    return {
        "labels": [row.label for row in charted_rows],
        "completion": [percent_number(row.completion_rate) for row in charted_rows],
        "conversion": [percent_number(row.conversion_rate) for row in charted_rows],
        "truncated": len(rows) > CHART_GROUP_LIMIT,
    }


def _dashboard_export(request, *, form, tasks, export_format):
    table_name = request.GET.get("table", "")
    if export_format not in EXPORT_FORMATS:
        return HttpResponseBadRequest(
            _("Unknown export format “%(value)s”: use csv or xlsx.") % {"value": export_format}
        )
    allowed = _dashboard_exports(request.user)
    if table_name not in allowed:
        return HttpResponseBadRequest(
            _("Unknown table “%(value)s”: use one of %(choices)s.")
            % {"value": table_name, "choices": ", ".join(allowed)}
        )
    if form.is_bound and not form.is_valid():
        # An export that ignored the filter would contain more rows than the user requested.
        return HttpResponseBadRequest(
            _("Invalid filter, nothing exported: %(errors)s") % {"errors": form.errors.as_text()}
        )
    # An export contains the same figures as the page: the summary's while the page shows it.
    filters = form.cleaned_data if form.is_bound else {}
    summary_run = summary_run_for(user=request.user, filtered=_is_filtered(filters))
    if table_name == "weekly" and summary_run is not None:
        total, _view_counts = summary_figures_total(user=request.user)
        table = WeeklyCompletionTable(summary_completion_by_week(user=request.user, total=total))
    elif table_name == "weekly":
        table = WeeklyCompletionTable(completion_by_week(tasks=tasks))
    else:
        if summary_run is not None:
            rows = summary_figures_by(user=request.user, grouping=table_name)
        else:
            rows = task_figures_by(tasks=tasks, grouping=table_name, user=request.user)
        table = _figures_table(table_name, rows, user=request.user, summary_run=summary_run)
    table.request = request  # export_table logs the export with the request's user and filter.
    return export_table(table, export_format, f"dashboard-{table_name}")


@role_required(*SUPERVISION)
def campaign_analysis(request, pk):
    campaign = campaign_get_for(user=request.user, pk=pk)
    export_format = request.GET.get("_export")
    if export_format is not None:
        dimension = request.GET.get("table", "")
        if export_format not in EXPORT_FORMATS:
            return HttpResponseBadRequest(
                _("Unknown export format “%(value)s”: use csv or xlsx.") % {"value": export_format}
            )
        if dimension not in ANALYSIS_DIMENSIONS:
            return HttpResponseBadRequest(
                _("Unknown table “%(value)s”: use one of %(choices)s.")
                % {"value": dimension, "choices": ", ".join(ANALYSIS_DIMENSIONS)}
            )
        rows = campaign_conversion_by(user=request.user, campaign=campaign, dimension=dimension)
        table = ConversionTable(rows)
        table.request = request
        return export_table(table, export_format, f"campaign-{campaign.pk}-{dimension}")

    overall = campaign_conversion_overall(user=request.user, campaign=campaign)
    dimension_titles = {
        "tier": _("By tier"),
        "age_band": _("By age band"),
        "occupation": _("By occupation"),
        "channel": _("By channel"),
    }
    sections = [
        {
            "name": dimension,
            "title": dimension_titles[dimension],
            "table": ConversionTable(
                campaign_conversion_by(user=request.user, campaign=campaign, dimension=dimension)
            ),
        }
        for dimension in ANALYSIS_DIMENSIONS
    ]
    return render(
        request,
        "dashboard/campaign_analysis.html",
        {
            "campaign": campaign,
            "overall": overall,
            "overall_rate": format_percent(overall.conversion_rate),
            "overall_converted": f"{overall.converted:,}",
            "overall_tasks": f"{overall.tasks:,}",
            "sections": sections,
        },
    )


@require_POST
@role_required(*STAFF_WITH_CUSTOMERS)
def saved_filter_create_view(request):
    try:
        saved_filter = saved_filter_create(
            user=request.user,
            name=request.POST.get("name", ""),
            page=request.POST.get("page", ""),
            query_string=request.POST.get("query_string", ""),
        )
    except SavedFilterInvalid as error:
        messages.error(request, str(error))
        return redirect("dashboard:index")
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": saved_filter.name})
    return redirect(saved_filter_url(saved_filter))


@require_POST
@role_required(*STAFF_WITH_CUSTOMERS)
def saved_filter_delete_view(request, pk):
    try:
        saved_filter_delete(user=request.user, pk=pk)
    except SavedFilter.DoesNotExist as error:
        raise Http404(_("No saved filter %(pk)s of yours.") % {"pk": pk}) from error
    messages.success(request, _("Filter deleted."))
    return redirect("dashboard:index")


@role_required(*PLATFORM)
def export_log_list(request):
    """List every export, newest first. The lazy paginator never counts the whole log."""
    entries = ExportLog.objects.select_related("user").order_by("-started_at", "-id")
    table = ExportLogTable(entries)
    RequestConfig(
        request, paginate={"paginator_class": BoundedLazyPaginator, "per_page": settings.PORTAL_PAGE_SIZE}
    ).configure(table)
    return render_list(
        request, "dashboard/export_log.html", "dashboard/partials/export_log_results.html", {"table": htmx_table(table)}
    )

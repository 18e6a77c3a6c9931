from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

from campaigns.selectors import campaign_get_for
from portal.exports import EXPORT_FORMATS, export_table
from portal.permissions import SUPERVISION, role_required

from .forms import DashboardFilterForm
from .selectors import (
    ANALYSIS_DIMENSIONS,
    campaign_conversion_by,
    campaign_conversion_overall,
    completion_by_week,
    dashboard_task_list,
    task_figures_by,
    task_figures_total,
)
from .tables import (
    AssigneeFiguresTable,
    BranchFiguresTable,
    CampaignFiguresTable,
    ConversionTable,
    TaskFiguresTable,
    WeeklyCompletionTable,
    format_percent,
)

FIGURE_TABLES = {
    "campaign": CampaignFiguresTable,
    "branch": BranchFiguresTable,
    "assignee": AssigneeFiguresTable,
}
DASHBOARD_EXPORTS = (*FIGURE_TABLES, "weekly")


@role_required(*SUPERVISION)
def dashboard_index(request):
    form = DashboardFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    tasks = dashboard_task_list(
        user=request.user,
        campaign=filters.get("campaign"),
        due_from=filters.get("due_from"),
        due_to=filters.get("due_to"),
    )
    filter_params = form.drill_params()

    export_format = request.GET.get("_export")
    if export_format is not None:
        return _dashboard_export(request, form=form, tasks=tasks, export_format=export_format)

    total = task_figures_total(tasks=tasks)
    weeks = completion_by_week(tasks=tasks)
    tables = {
        grouping: table_class(
            task_figures_by(tasks=tasks, grouping=grouping, user=request.user), filter_params=filter_params
        )
        for grouping, table_class in FIGURE_TABLES.items()
    }
    chart_data = {
        "weeks": [week.week.isoformat() for week in weeks],
        "completed": [week.completed for week in weeks],
        "cumulative_rate": [
            None if week.cumulative_rate is None else round(week.cumulative_rate * 100, 1) for week in weeks
        ],
    }
    return render(
        request,
        "dashboard/dashboard_index.html",
        {
            "form": form,
            "total_table": TaskFiguresTable([total], filter_params=filter_params),
            "campaign_table": tables["campaign"],
            "branch_table": tables["branch"],
            "assignee_table": tables["assignee"],
            "weekly_table": WeeklyCompletionTable(weeks),
            "chart_data": chart_data,
        },
    )


def _dashboard_export(request, *, form, tasks, export_format):
    table_name = request.GET.get("table", "")
    if export_format not in EXPORT_FORMATS:
        return HttpResponseBadRequest(
            _("Unknown export format “%(value)s”: use csv or xlsx.") % {"value": export_format}
        )
    if table_name not in DASHBOARD_EXPORTS:
        return HttpResponseBadRequest(
            _("Unknown table “%(value)s”: use one of %(choices)s.")
            % {"value": table_name, "choices": ", ".join(DASHBOARD_EXPORTS)}
        )
    if form.is_bound and not form.is_valid():
        # An export that ignored the filter would contain more rows than the user requested.
        return HttpResponseBadRequest(
            _("Invalid filter, nothing exported: %(errors)s") % {"errors": form.errors.as_text()}
        )
    if table_name == "weekly":
        table = WeeklyCompletionTable(completion_by_week(tasks=tasks))
    else:
        rows = task_figures_by(tasks=tasks, grouping=table_name, user=request.user)
        table = FIGURE_TABLES[table_name](rows)
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
        return export_table(ConversionTable(rows), export_format, f"campaign-{campaign.pk}-{dimension}")

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

"""Views of the analysis for the next campaign: the roster and the response to past
campaigns by segment, and saving a response group as a campaign segment."""

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from campaigns.services import SegmentInvalid, segment_create
from portal.exports import EXPORT_FORMATS, export_table
from portal.models import Role
from portal.permissions import PLATFORM, SUPERVISION, role_required

from .analysis import (
    RESPONSE_DIMENSIONS,
    ROSTER_DIMENSIONS,
    response_by,
    response_overall,
    response_tasks,
    roster_by,
    segment_filters_for,
)
from .analysis_summary import (
    analysis_freshness_note,
    analysis_summary_run_for,
    summary_response_by,
    summary_response_overall,
    summary_roster_by,
)
from .forms import AnalysisFilterForm
from .tables import ResponseFiguresTable, RosterFiguresTable, format_percent
from .views import scope_label

ROSTER_TITLES = {
    "tier": gettext_lazy("Roster by tier"),
    "branch": gettext_lazy("Roster by branch (with sub-branches)"),
    "age_band": gettext_lazy("Roster by age band"),
    "occupation": gettext_lazy("Roster by occupation"),
    "aum_band": gettext_lazy("Roster by AUM band"),
}
RESPONSE_TITLES = {
    "occupation": gettext_lazy("Response by occupation"),
    "age_band": gettext_lazy("Response by age band"),
    "aum_band": gettext_lazy("Response by balance (AUM) band"),
    "previous_outcome": gettext_lazy("Response by previous outcome"),
    "channel": gettext_lazy("Response by channel"),
    "tier": gettext_lazy("Response by tier"),
}
ANALYSIS_EXPORTS = (
    *(f"roster_{dimension}" for dimension in ROSTER_DIMENSIONS),
    *(f"response_{dimension}" for dimension in RESPONSE_DIMENSIONS),
)


@role_required(*SUPERVISION)
def next_campaign_analysis(request):
    user = request.user
    form = AnalysisFilterForm(request.GET or None, user=user)
    campaign = form.cleaned_data.get("campaign") if form.is_valid() else None
    tasks = response_tasks(user=user, campaign=campaign)
    # Only the figures of all campaigns are pre-aggregated; the page and its exports show the
    # same ones.
    summary_run = analysis_summary_run_for(user=user, filtered=campaign is not None)

    def roster(dimension):
        if summary_run is not None:
            return summary_roster_by(user=user, dimension=dimension)
        return roster_by(user=user, dimension=dimension)

    def response(dimension, overall=None):
        if summary_run is not None:
            if overall is None:
                overall = summary_response_overall(user=user)
            return summary_response_by(user=user, dimension=dimension, overall=overall)
        return response_by(user=user, dimension=dimension, campaign=campaign, overall=overall)

    export_format = request.GET.get("_export")
    if export_format is not None:
        table_name = request.GET.get("table", "")
        if export_format not in EXPORT_FORMATS:
            return HttpResponseBadRequest(
                _("Unknown export format “%(value)s”: use csv or xlsx.") % {"value": export_format}
            )
        if table_name not in ANALYSIS_EXPORTS:
            return HttpResponseBadRequest(
                _("Unknown table “%(value)s”: use one of %(choices)s.")
                % {"value": table_name, "choices": ", ".join(ANALYSIS_EXPORTS)}
            )
        if form.is_bound and not form.is_valid():
            return HttpResponseBadRequest(
                _("Invalid filter, nothing exported: %(errors)s") % {"errors": form.errors.as_text()}
            )
        kind, dimension = table_name.split("_", 1)
        if kind == "roster":
            table = RosterFiguresTable(roster(dimension))
        else:
            table = ResponseFiguresTable(response(dimension), dimension=dimension)
        table.request = request
        return export_table(table, export_format, f"analysis-{table_name}")

    segment_form_for = _segment_form_renderer(request, campaign=campaign) if user.role == Role.PLATFORM else None
    overall = summary_response_overall(user=user) if summary_run is not None else response_overall(tasks=tasks)
    roster_sections = []
    for dimension in ROSTER_DIMENSIONS:
        rows = roster(dimension)
        roster_sections.append(
            {
                "name": f"roster_{dimension}",
                "title": ROSTER_TITLES[dimension],
                "table": RosterFiguresTable(rows),
                "chart": {"labels": [row.label for row in rows], "values": [row.customers for row in rows]},
            }
        )
    response_sections = []
    for dimension in RESPONSE_DIMENSIONS:
        rows = response(dimension, overall)
        response_sections.append(
            {
                "name": f"response_{dimension}",
                "title": RESPONSE_TITLES[dimension],
                "table": ResponseFiguresTable(
                    rows,
                    dimension=dimension,
                    segment_form_for=segment_form_for,
                    campaign_id=campaign.pk if campaign is not None else None,
                    linked=True,
                ),
                "chart": {
                    "labels": [row.label for row in rows],
                    "values": [None if row.lift is None else round(row.lift, 2) for row in rows],
                },
            }
        )
    charts = {section["name"]: section["chart"] for section in roster_sections + response_sections}
    return render(
        request,
        "dashboard/next_campaign_analysis.html",
        {
            "form": form,
            "campaign": campaign,
            "scope": scope_label(user),
            "overall": overall,
            "overall_rate": format_percent(overall.conversion_rate),
            "overall_converted": f"{overall.converted:,}",
            "overall_customers": f"{overall.customers:,}",
            "roster_sections": roster_sections,
            "response_sections": response_sections,
            "charts": charts,
            "freshness": analysis_freshness_note(summary_run) if summary_run is not None else "",
        },
    )


def _segment_form_renderer(request, *, campaign):
    token = get_token(request)
    action = reverse("dashboard:segment_from_analysis")
    label = _("Make this a segment")

    def render_form(*, dimension, record):
        return format_html(
            '<form method="post" action="{}" class="d-inline">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="dimension" value="{}"><input type="hidden" name="key" value="{}">'
            '<input type="hidden" name="label" value="{}">'
            '<button type="submit" class="btn btn-sm btn-outline-primary">{}</button></form>',
            action, token, dimension, record.key, record.label, label,
        )

    return render_form


@require_POST
@role_required(*PLATFORM)
def segment_from_analysis(request):
    """Save one response group as a campaign segment in one step, from the group's dimension
    and key. The roster filter is rebuilt here, never taken from the form."""
    dimension = request.POST.get("dimension", "")
    key = request.POST.get("key", "")
    label = request.POST.get("label", "").strip() or key
    try:
        filters = segment_filters_for(dimension=dimension, key=key)
    except ValueError:
        messages.error(
            request,
            _("No segment saved: the roster cannot select the group “%(key)s” of “%(dimension)s”.")
            % {"key": key, "dimension": dimension},
        )
        return redirect("dashboard:next_campaign_analysis")
    title = RESPONSE_TITLES.get(dimension, dimension)
    name = f"{title}: {label}"[:100]
    try:
        segment = segment_create(
            actor=request.user,
            name=name,
            description=_("Saved from the response analysis; customers marked do-not-contact are left out."),
            filters=filters,
        )
    except SegmentInvalid as error:
        messages.error(request, str(error))
        return redirect("dashboard:next_campaign_analysis")
    messages.success(
        request,
        _("Segment “%(segment)s” saved. Choose it as the target of a new campaign.") % {"segment": segment.name},
    )
    return redirect("campaigns:segment_list")

"""Dashboard tables. On screen every figure links to the task list filtered to the tasks
behind it. In an export every figure is a number, and rates are percentages such as 11.7."""

from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.filters import UNKNOWN_KEY
from campaigns.models import Outcome

from portal.templatetags.portal_format import format_table_amount

from .selectors import COMPLETED_STATUSES, WORK_STATUSES


def format_percent(rate: float | None) -> str:
    """Format a rate between 0 and 1 as "11.7%", or "–" when there is no rate."""
    if rate is None:
        return "–"
    return f"{rate * 100:.1f}%"


def format_lift(lift: float | None) -> str:
    """Format a lift ratio as "1.35×", or "–" when there is none."""
    if lift is None:
        return "–"
    return f"{lift:.2f}×"


def percent_number(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


NUMBER_ATTRS = {"td": {"class": "text-end"}, "th": {"class": "text-end"}}
COMPLETED_PARAMS = [("status", status.value) for status in COMPLETED_STATUSES]
# Selects every task except the cancelled ones, which the figures leave out.
WORK_PARAMS = [("status", status.value) for status in WORK_STATUSES]


def outcome_params(outcome: str) -> list:
    return WORK_PARAMS + [("outcome", outcome)]


class DrillColumn(tables.Column):
    """A figure that links to the task list. `drill` is the list of extra query parameters
    that select the tasks behind the figure, added to those of the row and the page filter."""

    def __init__(self, *args, drill=(), rate=False, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "text-end"}, "th": {"class": "text-end"}})
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)
        self.drill = list(drill)
        self.rate = rate

    def render(self, value, record, table):
        text = format_percent(value) if self.rate else f"{value:,}"
        if not table.linked:
            return text
        params = table.drill_params(record)
        if params is None:
            return text
        url = table.task_list_url + "?" + urlencode(params + self.drill)
        return format_html('<a href="{}">{}</a>', url, text)

    def value(self, value):
        return percent_number(value) if self.rate else value


class TaskFiguresTable(tables.Table):
    """Figures per group. Subclasses name the group column and the query parameter that
    selects a row's tasks in the task list."""

    label = tables.Column(verbose_name=pgettext_lazy("object name", "Name"), orderable=False)
    tasks = DrillColumn(verbose_name=_("Tasks"), drill=WORK_PARAMS)
    done = DrillColumn(verbose_name=_("Done"), drill=COMPLETED_PARAMS)
    verified = DrillColumn(verbose_name=_("Verified"), drill=[("status", "verified")])
    completion_rate = DrillColumn(verbose_name=_("Completion rate (%)"), drill=COMPLETED_PARAMS, rate=True)
    closed_rate = DrillColumn(verbose_name=_("Closed (verified) rate (%)"), drill=[("status", "verified")], rate=True)
    on_time_rate = DrillColumn(
        verbose_name=_("On-time rate (%)"), drill=COMPLETED_PARAMS + [("completed_on_time", "true")], rate=True
    )
    overdue = DrillColumn(verbose_name=_("Overdue"), drill=[("overdue", "true")])
    cancelled = DrillColumn(verbose_name=_("Cancelled"), drill=[("status", "cancelled")])
    outcome_reached = DrillColumn(
        verbose_name=Outcome.REACHED.label, accessor="outcomes__reached", drill=outcome_params("reached")
    )
    outcome_not_reachable = DrillColumn(
        verbose_name=Outcome.NOT_REACHABLE.label,
        accessor="outcomes__not_reachable",
        drill=outcome_params("not_reachable"),
    )
    outcome_declined = DrillColumn(
        verbose_name=Outcome.DECLINED.label, accessor="outcomes__declined", drill=outcome_params("declined")
    )
    outcome_interested = DrillColumn(
        verbose_name=Outcome.INTERESTED.label, accessor="outcomes__interested", drill=outcome_params("interested")
    )
    outcome_converted = DrillColumn(
        verbose_name=Outcome.CONVERTED.label, accessor="outcomes__converted", drill=outcome_params("converted")
    )
    conversion_rate = DrillColumn(
        verbose_name=_("Conversion (%)"), drill=outcome_params("converted"), rate=True
    )
    average_days = tables.Column(
        verbose_name=_("Average days to complete"),
        orderable=False,
        attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}},
    )

    # The task list's query parameter that selects one row's tasks; None for the total row.
    row_parameter: str | None = None

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("No tasks match.")

    def __init__(self, data, *, filter_params=(), linked=True, **kwargs):
        super().__init__(data, **kwargs)
        self.filter_params = list(filter_params)
        # False for a client manager, who has no access to the task list the figures link to.
        self.linked = linked
        self.task_list_url = reverse("campaigns:task_list")

    def render_average_days(self, value):
        return f"{value:.1f}"

    def value_average_days(self, value):
        return None if value is None else round(value, 2)

    def drill_params(self, record) -> list | None:
        """Return the task list parameters that select `record`'s tasks, or None when the
        task list has no parameter for the row (tasks without a client manager)."""
        if self.row_parameter is None:
            return list(self.filter_params)
        if record.key is None:
            return None
        params = [(name, value) for name, value in self.filter_params if name != self.row_parameter]
        return params + [(self.row_parameter, record.key)]


class RateColumn(tables.Column):
    """A rate between 0 and 1, shown as "11.7%" and exported as the number 11.7."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMBER_ATTRS)
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_percent(value)

    def value(self, value):
        return percent_number(value)


class PointsColumn(tables.Column):
    """A difference of two rates in percentage points, shown and exported with one decimal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMBER_ATTRS)
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return f"{value:.1f}"

    def value(self, value):
        return None if value is None else round(value, 1)


# Columns that compare a campaign with its holdout group (campaigns.uplift). They cover the
# campaign's whole target, so only the platform, whose scope contains every task, gets them.
UPLIFT_COLUMNS = (
    "held_out",
    "contacted_conversion",
    "held_out_conversion",
    "uplift_points",
    "uplift_ci_low",
    "uplift_ci_high",
)


class CampaignFiguresTable(TaskFiguresTable):
    label = tables.Column(verbose_name=_("Campaign"), orderable=False)
    held_out = tables.Column(
        verbose_name=_("Held-out customers"), accessor="uplift__held_out__total", orderable=False, attrs=NUMBER_ATTRS
    )
    contacted_conversion = RateColumn(
        verbose_name=_("Conversion of contacted customers (%)"), accessor="uplift__contacted__rate"
    )
    held_out_conversion = RateColumn(
        verbose_name=_("Conversion of held-out customers (%)"), accessor="uplift__held_out__rate"
    )
    uplift_points = PointsColumn(verbose_name=_("Uplift (percentage points)"), accessor="uplift__uplift_points")
    # The limits of the uplift's confidence interval at campaigns.uplift.CONFIDENCE_LEVEL.
    uplift_ci_low = PointsColumn(verbose_name=_("Uplift, lower limit (95%)"), accessor="uplift__ci_low_points")
    uplift_ci_high = PointsColumn(verbose_name=_("Uplift, upper limit (95%)"), accessor="uplift__ci_high_points")
    analysis = tables.Column(verbose_name=_("Analysis"), accessor="key", orderable=False, empty_values=())
    row_parameter = "campaign"
    exclude_from_export = ("analysis",)

    def __init__(self, data, *, show_uplift=False, **kwargs):
        if not show_uplift:
            kwargs["exclude"] = (*kwargs.get("exclude", ()), *UPLIFT_COLUMNS)
        super().__init__(data, **kwargs)

    def render_held_out(self, value):
        return f"{value:,}"

    def render_analysis(self, value):
        url = reverse("dashboard:campaign_analysis", args=[value])
        return format_html('<a href="{}">{}</a>', url, _("Conversion analysis"))


class BranchFiguresTable(TaskFiguresTable):
    label = tables.Column(verbose_name=_("Branch (with sub-branches)"), orderable=False)
    row_parameter = "branch"


class AssigneeFiguresTable(TaskFiguresTable):
    label = tables.Column(verbose_name=_("Client manager"), orderable=False)
    row_parameter = "assignee"


class TierFiguresTable(TaskFiguresTable):
    label = tables.Column(verbose_name=_("Tier"), orderable=False)
    row_parameter = "tier"


class WeeklyCompletionTable(tables.Table):
    week = tables.DateColumn(verbose_name=_("Week starting"), format="Y-m-d", orderable=False)
    completed = tables.Column(verbose_name=pgettext_lazy("number of tasks", "Completed"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    cumulative_completed = tables.Column(
        verbose_name=_("Completed to date"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}}
    )
    cumulative_rate = tables.Column(
        verbose_name=_("Completion rate to date (%)"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}}
    )

    class Meta:
        attrs = {"class": "table table-sm align-middle"}
        empty_text = _("No task has been completed yet.")

    converted = tables.Column(verbose_name=_("Converted"), orderable=False, attrs=NUMBER_ATTRS)

    def render_cumulative_rate(self, value):
        return format_percent(value)

    def value_cumulative_rate(self, value):
        return percent_number(value)

    def value_week(self, value):
        return value


class ConversionTable(tables.Table):
    label = tables.Column(verbose_name=_("Group"), orderable=False)
    tasks = tables.Column(verbose_name=_("Tasks"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    converted = tables.Column(verbose_name=_("Converted"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})
    conversion_rate = tables.Column(
        verbose_name=_("Conversion (%)"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}}
    )
    lift = tables.Column(verbose_name=_("Lift"), orderable=False, attrs={"td": {"class": "text-end"}, "th": {"class": "text-end"}})

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("This campaign has no tasks in your scope.")

    def render_tasks(self, value):
        return f"{value:,}"

    def render_converted(self, value):
        return f"{value:,}"

    def render_conversion_rate(self, value):
        return format_percent(value)

    def render_lift(self, value):
        return format_lift(value)

    def value_tasks(self, value):
        return value

    def value_converted(self, value):
        return value

    def value_conversion_rate(self, value):
        return percent_number(value)

    def value_lift(self, value):
        return round(value, 4)



def _roster_url(filters: dict | None) -> str | None:
    if filters is None:
        return None
    return reverse("customers:list") + "?" + urlencode(filters)


class RosterFiguresTable(tables.Table):
    """Customers and AUM per roster group; the customer count links to the filtered roster."""

    label = tables.Column(verbose_name=_("Group"), orderable=False)
    customers = tables.Column(verbose_name=_("Customers"), orderable=False, attrs=NUMBER_ATTRS)
    aum = tables.Column(verbose_name=_("AUM (CNY)"), orderable=False, attrs=NUMBER_ATTRS)

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("No customers in your scope.")

    def render_customers(self, value, record):
        url = _roster_url(record.filters)
        if url is None:
            return f"{value:,}"
        return format_html('<a href="{}">{}</a>', url, f"{value:,}")

    def render_aum(self, value):
        return format_table_amount(self, value)

    def value_customers(self, value):
        return value

    def value_aum(self, value):
        return value


def response_task_params(*, dimension: str, key: str, campaign_id: int | None = None) -> list:
    """Return the task list parameters that select one response group's tasks, one per
    customer, so that the list's count is the group's number of customers. Add
    ("outcome", "converted") for its converted customers."""
    params = [("has_outcome", "true"), ("per_customer", "true")]
    if campaign_id is not None:
        params.append(("campaign", campaign_id))
    if dimension == "tier":
        # The response groups customers without a tier under UNKNOWN_KEY; the filter calls them "null".
        params.append(("tier", "null" if key == UNKNOWN_KEY else key))
    else:
        params.append((dimension, key))
    return params


class ResponseCountColumn(tables.Column):
    """A count of customers in a response group, linked to the task list of exactly those customers."""

    def __init__(self, *args, drill=(), **kwargs):
        kwargs.setdefault("attrs", NUMBER_ATTRS)
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)
        self.drill = list(drill)

    def render(self, value, record, table):
        text = f"{value:,}"
        if not table.linked:
            return text
        params = response_task_params(dimension=table.dimension, key=record.key, campaign_id=table.campaign_id)
        url = reverse("campaigns:task_list") + "?" + urlencode(params + self.drill)
        return format_html('<a href="{}">{}</a>', url, text)

    def value(self, value):
        return value


class ResponseFiguresTable(tables.Table):
    """Response to past campaigns per group, sorted by lift. The customer and converted counts
    link to the task list of the group. A group the roster filter can select links to its
    roster and, for the platform, can be saved as a campaign segment."""

    label = tables.Column(verbose_name=_("Group"), orderable=False)
    customers = ResponseCountColumn(verbose_name=_("Customers with an outcome"))
    converted = ResponseCountColumn(verbose_name=_("Converted"), drill=[("outcome", "converted")])
    conversion_rate = tables.Column(verbose_name=_("Conversion (%)"), orderable=False, attrs=NUMBER_ATTRS)
    lift = tables.Column(verbose_name=_("Lift"), orderable=False, attrs=NUMBER_ATTRS)
    roster = tables.Column(verbose_name=_("Roster"), accessor="filters", orderable=False, empty_values=())
    segment = tables.Column(verbose_name=_("Target"), accessor="key", orderable=False, empty_values=())
    exclude_from_export = ("roster", "segment")

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("No customer in your scope has an outcome yet.")

    def __init__(self, data, *, dimension: str, segment_form_for=None, campaign_id=None, linked=False, **kwargs):
        super().__init__(data, **kwargs)
        self.dimension = dimension
        # Callable returning the HTML of the "make a segment" form of a row, or None.
        self.segment_form_for = segment_form_for
        # The campaign the page's figures are narrowed to, which the task list links keep.
        self.campaign_id = campaign_id
        self.linked = linked

    def render_conversion_rate(self, value):
        return format_percent(value)

    def render_lift(self, value):
        return format_lift(value)

    def render_roster(self, value):
        url = _roster_url(value)
        if url is None:
            return "–"
        return format_html('<a href="{}">{}</a>', url, _("Customers in the roster"))

    def render_segment(self, value, record):
        if record.filters is None or self.segment_form_for is None:
            return "–"
        return self.segment_form_for(dimension=self.dimension, record=record)

    def value_conversion_rate(self, value):
        return percent_number(value)

    def value_lift(self, value):
        return None if value is None else round(value, 4)


class ExportLogTable(tables.Table):
    """One row per export, newest first. The filter links back to the exported page."""

    started_at = tables.DateTimeColumn(verbose_name=_("Started at"), format="Y-m-d H:i:s", orderable=False)
    user = tables.Column(verbose_name=_("User"), orderable=False)
    view_name = tables.Column(verbose_name=_("Page"), orderable=False)
    query_string = tables.Column(verbose_name=_("Filter"), orderable=False, empty_values=())
    export_format = tables.Column(verbose_name=_("Format"), orderable=False)
    row_count = tables.Column(verbose_name=_("Rows"), orderable=False, attrs=NUMBER_ATTRS)

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("Nothing has been exported yet.")

    def render_row_count(self, value):
        return f"{value:,}"

    def render_query_string(self, value, record):
        if not value:
            return "–"
        try:
            url = reverse(record.view_name)
        except NoReverseMatch:
            return value
        return format_html('<a href="{}?{}">{}</a>', url, value, value)

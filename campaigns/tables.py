import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.masking import mask_phone

from .models import Campaign, FollowUpTask, Segment
from .segment_display import segment_filter_rows_now
from .services import SegmentInvalid, segment_customers


class TaskTable(tables.Table):
    id = tables.LinkColumn("campaigns:task_detail", args=[tables.A("pk")], verbose_name=_("Task"))
    # Every sort ends with the unique task id, so equal values keep one order from page to
    # page. Where a task index starts with the sort's first column, the sort continues with
    # the default order (due date, id) that the index contains.
    customer_no = tables.Column(
        accessor="customer__customer_no", verbose_name=_("Customer number"), order_by=("customer__customer_no", "id")
    )
    customer_name = tables.Column(
        accessor="customer__name", verbose_name=_("Customer"), order_by=("customer__name", "id")
    )
    phone = tables.Column(accessor="customer__phone", verbose_name=_("Phone"), orderable=False)
    tier = tables.Column(accessor="customer__tier", verbose_name=_("Tier"), order_by=("customer__tier__min_aum", "id"))
    campaign = tables.Column(verbose_name=_("Campaign"), order_by=("campaign__name", "due_on", "id"))
    assignee = tables.Column(verbose_name=_("Client manager"), order_by=("assignee__username", "due_on", "id"))
    branch = tables.Column(verbose_name=_("Branch"), order_by=("branch__name", "due_on", "id"))
    status = tables.Column(verbose_name=_("Status"), order_by=("status", "due_on", "id"))
    due_on = tables.DateColumn(verbose_name=_("Due on"), format="Y-m-d", order_by=("due_on", "id"))
    outcome = tables.Column(verbose_name=_("Outcome"), order_by=("outcome", "id"))
    completed_at = tables.DateTimeColumn(
        verbose_name=_("Completed at"), format="Y-m-d H:i", order_by=("completed_at", "id")
    )

    class Meta:
        model = FollowUpTask
        fields = (
            "id", "customer_no", "customer_name", "phone", "tier", "campaign", "assignee", "branch",
            "status", "due_on", "outcome", "completed_at",
        )
        sequence = fields
        order_by = ("due_on", "id")
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No tasks match.")

    def render_phone(self, value):
        return mask_phone(value)

    def value_phone(self, value):
        return mask_phone(value)


class CampaignTable(tables.Table):
    name = tables.LinkColumn("campaigns:detail", args=[tables.A("pk")], verbose_name=pgettext_lazy("object name", "Name"))
    status = tables.Column(verbose_name=_("Status"))
    segment = tables.Column(verbose_name=_("Target segment"), order_by=("segment__name",))
    owner = tables.Column(verbose_name=_("Owner"), order_by=("owner__username",))
    starts_on = tables.DateColumn(verbose_name=_("Starts on"), format="Y-m-d")
    due_on = tables.DateColumn(verbose_name=_("Tasks due on"), format="Y-m-d")
    visible_task_count = tables.Column(verbose_name=_("Tasks"), attrs={"td": {"class": "text-end"}})

    class Meta:
        model = Campaign
        fields = ("name", "status", "segment", "owner", "starts_on", "due_on", "visible_task_count")
        sequence = fields
        order_by = ("-starts_on",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No campaigns yet.")


class SegmentTable(tables.Table):
    """Saved segments with their filters in words and how many customers each matches now.
    The counts run one query per row shown, so only the current page is counted."""

    name = tables.Column(verbose_name=pgettext_lazy("object name", "Name"))
    description = tables.Column(verbose_name=_("Description"), orderable=False, default="—")
    filters = tables.Column(verbose_name=_("Filters"), orderable=False, empty_values=())
    customer_count = tables.Column(
        verbose_name=_("Matching customers"), orderable=False, empty_values=(), attrs={"td": {"class": "text-end"}}
    )
    created_by = tables.Column(verbose_name=_("Created by"), order_by=("created_by__username",))
    created_at = tables.DateColumn(verbose_name=_("Created on"), format="Y-m-d")

    class Meta:
        model = Segment
        fields = ("name", "description", "filters", "customer_count", "created_by", "created_at")
        sequence = fields
        order_by = ("name",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No segments yet. Filter the roster and save the filter as a segment.")

    def render_name(self, record):
        return format_html('<a href="{}?segment={}">{}</a>', reverse("customers:list"), record.pk, record.name)

    def render_filters(self, record):
        user = getattr(getattr(self, "request", None), "user", None)
        rows = segment_filter_rows_now(filters=record.filters, user=user)
        if not rows:
            text = format_html("{}", _("all customers"))
        else:
            text = format_html_join(", ", '<span class="text-nowrap">{}: {}</span>', rows)
        return format_html('<a href="{}?{}">{}</a>', reverse("customers:list"), urlencode(record.filters), text)

    def render_customer_count(self, record):
        try:
            return segment_customers(segment=record).count()
        except SegmentInvalid:
            return format_html('<span class="text-danger">{}</span>', _("invalid filter"))

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.masking import mask_phone

from .models import Campaign, FollowUpTask


class TaskTable(tables.Table):
    id = tables.LinkColumn("campaigns:task_detail", args=[tables.A("pk")], verbose_name=_("Task"))
    customer_no = tables.Column(accessor="customer__customer_no", verbose_name=_("Customer number"))
    customer_name = tables.Column(accessor="customer__name", verbose_name=_("Customer"))
    phone = tables.Column(accessor="customer__phone", verbose_name=_("Phone"), orderable=False)
    tier = tables.Column(accessor="customer__tier", verbose_name=_("Tier"), order_by=("customer__tier__min_aum",))
    campaign = tables.Column(verbose_name=_("Campaign"), order_by=("campaign__name",))
    assignee = tables.Column(verbose_name=_("Client manager"), order_by=("assignee__username",))
    branch = tables.Column(verbose_name=_("Branch"), order_by=("branch__name",))
    status = tables.Column(verbose_name=_("Status"))
    due_on = tables.DateColumn(verbose_name=_("Due on"), format="Y-m-d")
    outcome = tables.Column(verbose_name=_("Outcome"))
    completed_at = tables.DateTimeColumn(verbose_name=_("Completed at"), format="Y-m-d H:i")

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

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from customers.models import RosterChange, RosterImport

from .services import roster_import_source_label


class RosterImportTable(tables.Table):
    original_name = tables.LinkColumn(
        "customers:import_detail", args=[tables.A("pk")], verbose_name=_("File name")
    )
    kind = tables.Column(verbose_name=_("Kind"))
    status = tables.Column(verbose_name=_("Status"))
    profile = tables.Column(verbose_name=_("Import profile"), accessor="options__profile", orderable=False, default="")
    rows = tables.Column(verbose_name=_("Rows"), accessor="summary__total", orderable=False, default="")
    new = tables.Column(verbose_name=_("New"), accessor="summary__new", orderable=False, default="")
    changed = tables.Column(verbose_name=_("Changed"), accessor="summary__changed", orderable=False, default="")
    invalid = tables.Column(verbose_name=_("Invalid rows"), accessor="summary__invalid", orderable=False, default="")
    # Empty values are rendered too, so imports without a user show their source.
    created_by = tables.Column(verbose_name=_("Uploaded by"), order_by=("created_by__username",), empty_values=())
    created_at = tables.DateTimeColumn(verbose_name=_("Uploaded at"), format="Y-m-d H:i")
    finished_at = tables.DateTimeColumn(verbose_name=_("Finished at"), format="Y-m-d H:i")

    class Meta:
        model = RosterImport
        fields = (
            "original_name", "kind", "status", "profile", "rows", "new", "changed", "invalid",
            "created_by", "created_at", "finished_at",
        )
        sequence = fields
        order_by = ("-created_at",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No files imported yet.")

    def render_created_by(self, record):
        return roster_import_source_label(record)


class RosterChangeTable(tables.Table):
    customer = tables.LinkColumn(
        "customers:detail", args=[tables.A("customer_id")], accessor="customer__customer_no",
        verbose_name=_("Customer number"), order_by=("customer__customer_no",),
    )
    name = tables.Column(accessor="customer__name", verbose_name=_("Name"), order_by=("customer__name",))
    branch = tables.Column(accessor="customer__branch", verbose_name=_("Branch"), order_by=("customer__branch__path",))
    tier_before = tables.Column(verbose_name=_("Tier before"), default="—")
    tier_after = tables.Column(verbose_name=_("Tier after"), default="—")
    aum_before = tables.Column(verbose_name=_("AUM before (CNY)"), default="—", attrs={"td": {"class": "text-end"}})
    aum_after = tables.Column(verbose_name=_("AUM after (CNY)"), default="—", attrs={"td": {"class": "text-end"}})

    class Meta:
        model = RosterChange
        fields = ("customer", "name", "branch", "tier_before", "tier_after", "aum_before", "aum_after")
        sequence = fields
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No customers in this list.")

    def render_aum_before(self, value):
        return f"{value:,.2f}"

    def render_aum_after(self, value):
        return f"{value:,.2f}"

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from customers.models import RosterImport


class RosterImportTable(tables.Table):
    original_name = tables.LinkColumn(
        "customers:import_detail", args=[tables.A("pk")], verbose_name=_("File name")
    )
    kind = tables.Column(verbose_name=_("Kind"))
    status = tables.Column(verbose_name=_("Status"))
    rows = tables.Column(verbose_name=_("Rows"), accessor="summary__total", orderable=False, default="")
    invalid = tables.Column(verbose_name=_("Invalid rows"), accessor="summary__invalid", orderable=False, default="")
    created_by = tables.Column(verbose_name=_("Uploaded by"), order_by=("created_by__username",))
    created_at = tables.DateTimeColumn(verbose_name=_("Uploaded at"), format="Y-m-d H:i")
    finished_at = tables.DateTimeColumn(verbose_name=_("Finished at"), format="Y-m-d H:i")

    class Meta:
        model = RosterImport
        fields = ("original_name", "kind", "status", "rows", "invalid", "created_by", "created_at", "finished_at")
        sequence = fields
        order_by = ("-created_at",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No files imported yet.")

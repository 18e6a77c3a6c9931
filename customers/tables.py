import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from portal.masking import mask_id_number, mask_phone
from portal.templatetags.portal_format import format_table_amount

from .models import Customer


class CustomerTable(tables.Table):
    customer_no = tables.LinkColumn("customers:detail", args=[tables.A("pk")], verbose_name=_("Customer number"))
    name = tables.Column(verbose_name=_("Name"))
    tier = tables.Column(verbose_name=_("Tier"), order_by=("tier__min_aum",))
    aum = tables.Column(verbose_name=_("AUM (CNY)"), attrs={"td": {"class": "text-end"}})
    branch = tables.Column(verbose_name=_("Branch"), order_by=("branch__name",))
    client_manager = tables.Column(verbose_name=_("Client manager"), order_by=("client_manager__username",))
    phone = tables.Column(verbose_name=_("Phone"), orderable=False)
    id_number = tables.Column(verbose_name=_("ID number"), orderable=False)
    occupation = tables.Column(verbose_name=_("Occupation"))

    class Meta:
        model = Customer
        fields = ("customer_no", "name", "tier", "aum", "branch", "client_manager", "occupation", "phone", "id_number")
        sequence = fields
        order_by = ("customer_no",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = _("No customers match.")

    def render_aum(self, value):
        # Exports use value_aum and keep the raw number.
        return format_table_amount(self, value)

    def render_phone(self, value):
        return mask_phone(value)

    def render_id_number(self, value):
        return mask_id_number(value)

    def value_phone(self, value):
        return mask_phone(value)

    def value_id_number(self, value):
        return mask_id_number(value)

    def value_aum(self, value):
        return value

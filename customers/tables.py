import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from portal.masking import mask_id_number, mask_phone
from portal.templatetags.portal_format import format_table_amount

from .models import Customer


class CustomerTable(tables.Table):
    customer_no = tables.LinkColumn("customers:detail", args=[tables.A("pk")], verbose_name=_("Customer number"))
    # Every sort ends with the unique customer number, so equal values keep one order from
    # page to page.
    name = tables.Column(verbose_name=_("Name"), order_by=("name", "customer_no"))
    tier = tables.Column(verbose_name=_("Tier"), order_by=("tier__min_aum", "customer_no"))
    aum = tables.Column(
        verbose_name=_("AUM (CNY)"), attrs={"td": {"class": "text-end"}}, order_by=("aum", "customer_no")
    )
    branch = tables.Column(verbose_name=_("Branch"), order_by=("branch__name", "customer_no"))
    client_manager = tables.Column(
        verbose_name=_("Client manager"), order_by=("client_manager__username", "customer_no")
    )
    phone = tables.Column(verbose_name=_("Phone"), orderable=False)
    id_number = tables.Column(verbose_name=_("ID number"), orderable=False)
    occupation = tables.Column(verbose_name=_("Occupation"), order_by=("occupation", "customer_no"))

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

"""Pages where platform operators and supervisors record client managers' leave."""

import logging

import django_filters
import django_tables2 as tables
from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from portal.exports import EXPORT_FORMATS, export_table
from portal.htmx import htmx_table, render_list
from portal.models import Leave
from portal.permissions import SUPERVISION, role_required

from .availability import LeaveInvalid, leave_create, leave_delete, leave_get_for, leave_list_for, leave_managers_for
from .forms import LeaveForm

logger = logging.getLogger(__name__)

PERIOD_CHOICES = [
    ("", gettext_lazy("Current and upcoming")),
    ("current", gettext_lazy("Current")),
    ("past", gettext_lazy("Past")),
    ("all", gettext_lazy("All")),
]


class LeaveFilter(django_filters.FilterSet):
    user = django_filters.ModelChoiceFilter(label=gettext_lazy("Client manager"), queryset=None)
    period = django_filters.ChoiceFilter(
        label=gettext_lazy("Period"), choices=PERIOD_CHOICES[1:], empty_label=PERIOD_CHOICES[0][1],
        method="filter_period",
    )

    class Meta:
        model = Leave
        fields = []

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["user"].queryset = leave_managers_for(user=user)
        for field in self.form.fields.values():
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"

    def filter_queryset(self, queryset):
        # With no period chosen the list shows leave that has not ended yet.
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("period"):
            queryset = queryset.filter(ends_on__gte=timezone.localdate())
        return queryset

    def filter_period(self, queryset, name, value):
        today = timezone.localdate()
        if value == "current":
            return queryset.filter(starts_on__lte=today, ends_on__gte=today)
        if value == "past":
            return queryset.filter(ends_on__lt=today)
        return queryset


class LeaveTable(tables.Table):
    user = tables.Column(verbose_name=gettext_lazy("Client manager"), order_by=("user__username",))
    branch = tables.Column(accessor="user__branch", verbose_name=gettext_lazy("Branch"), order_by=("user__branch__name",))
    starts_on = tables.DateColumn(verbose_name=gettext_lazy("First day"), format="Y-m-d")
    ends_on = tables.DateColumn(verbose_name=gettext_lazy("Last day"), format="Y-m-d")
    note = tables.Column(verbose_name=gettext_lazy("Note"))
    delete = tables.TemplateColumn(
        template_name="campaigns/partials/leave_delete.html", verbose_name="", orderable=False
    )
    exclude_from_export = ("delete",)

    class Meta:
        model = Leave
        fields = ("user", "branch", "starts_on", "ends_on", "note", "delete")
        sequence = fields
        order_by = ("starts_on",)
        attrs = {"class": "table table-sm table-hover"}
        empty_text = gettext_lazy("No leave recorded.")


@role_required(*SUPERVISION)
def leave_list(request):
    """List the leave of the client managers in the user's scope (GET) or record a new one (POST)."""
    managers = leave_managers_for(user=request.user)
    # Leave is recorded only for active client managers: inactive ones get no tasks anyway.
    form = LeaveForm(request.POST or None, managers=managers.filter(is_active=True))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            leave = leave_create(
                actor=request.user, manager=data["user"], starts_on=data["starts_on"], ends_on=data["ends_on"],
                note=data["note"],
            )
        except LeaveInvalid as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Leave recorded for %(manager)s from %(start)s to %(end)s.")
                % {"manager": leave.user, "start": leave.starts_on.isoformat(), "end": leave.ends_on.isoformat()},
            )
            return redirect("campaigns:leave_list")

    leave_filter = LeaveFilter(request.GET, queryset=leave_list_for(user=request.user), user=request.user)
    rows = leave_filter.qs if leave_filter.is_valid() else Leave.objects.none()
    table = LeaveTable(rows)
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "leave")
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    response = render_list(
        request,
        "campaigns/leave_list.html",
        "campaigns/partials/leave_list_results.html",
        {"form": form, "filter": leave_filter, "table": htmx_table(table)},
    )
    if request.method == "POST":
        # Only a rejected form gets here, because a valid one redirects.
        response.status_code = 400
    return response


@require_POST
@role_required(*SUPERVISION)
def leave_remove(request, pk):
    leave = leave_get_for(user=request.user, pk=pk)
    leave_delete(actor=request.user, leave=leave)
    messages.success(request, _("Leave of %(manager)s deleted.") % {"manager": leave.user})
    return redirect("campaigns:leave_list")

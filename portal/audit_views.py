"""The audit log page: administrators filter, read and export the audit trail. It only reads:
the page accepts GET and HEAD, and nothing in the portal changes or deletes an entry."""

import django_filters
import django_tables2 as tables
from django import forms
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe
from django_tables2 import RequestConfig

from .audit import PAGE_OBJECT_TYPE
from .audit_signals import AUDITED_MODELS, USER_OBJECT_TYPE
from .exports import EXPORT_FORMATS, export_table
from .htmx import htmx_table, render_list
from .models import AuditEvent, Role
from .pagination import BoundedLazyPaginator
from .permissions import role_required

# Labels of the detail keys that entries other than record changes carry.
DETAIL_LABELS = {
    "field": _("field"),
    "username": _("username"),
    "locked_out": _("locked out"),
    "backend": _("sign-in backend"),
    "page": _("page"),
    "format": _("format"),
    "filter": _("filter"),
    "path": _("path"),
    "method": _("method"),
    "status": _("status"),
    "reason": _("reason"),
    "arguments": _("arguments"),
    "count": _("rows"),
    "bulk": _("bulk write"),
}


# Display names of the reason codes that refused-access entries store.
REASON_LABELS = {
    "permission_denied": _("permission denied"),
    "csrf": _("CSRF check failed"),
    "forbidden": _("forbidden"),
    "not_found": _("not found or out of scope"),
}


def object_type_choices():
    """Return the record types entries are written for, with their display names."""
    labels = [*AUDITED_MODELS, "portal.ExportLog", USER_OBJECT_TYPE]
    choices = [(label.lower(), apps.get_model(label)._meta.verbose_name) for label in labels]
    choices.append((PAGE_OBJECT_TYPE, _("page")))
    return choices


def object_type_label(object_type: str) -> str:
    if object_type == PAGE_OBJECT_TYPE:
        return str(_("page"))
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def _field_label(object_type: str, name: str) -> str:
    try:
        return str(apps.get_model(object_type)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return name


def _text(value) -> str:
    return "–" if value in (None, "") else str(value)


def _value_text(object_type: str, name: str, value) -> str:
    """Return a stored field value as the screens show it: the label of a choice (a status,
    channel or outcome) and yes or no for a boolean, instead of the stored code."""
    if value in (None, ""):
        return _text(value)
    try:
        field = apps.get_model(object_type)._meta.get_field(name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return _text(value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return _text(value)


def detail_summary(event: AuditEvent) -> str:
    """Return the entry's detail as one line: "field: before → after" for each changed
    field, then "name: value" for the other keys."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    parts = []
    for name, change in (detail.get("changes") or {}).items():
        label = _field_label(event.object_type, name)
        if isinstance(change, dict):
            keys = ", ".join(change.get("changed_keys", []))
            parts.append(f"{label}: {_('changed keys')} {keys}")
        else:
            before, after = change
            before_text = _value_text(event.object_type, name, before)
            after_text = _value_text(event.object_type, name, after)
            parts.append(f"{label}: {before_text} → {after_text}")
    for key, value in detail.items():
        if key == "changes":
            continue
        if key == "reason" and value in REASON_LABELS:
            value = REASON_LABELS[value]
        parts.append(f"{DETAIL_LABELS.get(key, key)}: {_text(value)}")
    return "; ".join(parts)


def local_time_with_offset(value) -> str:
    """Return an aware date-time in the portal's time zone with its UTC offset, so that a
    reader or a spreadsheet never has to guess the zone: 2026-03-01 09:30:00+08:00."""
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")


class BoundedDateRangeField(django_filters.fields.DateRangeField):
    """A date range whose ends lie between the years 1900 and 2999. Dates near the ends of the
    calendar, such as 0001-01-01, overflow when made time-zone aware."""

    def compress(self, data_list):
        for day in data_list or []:
            if day and not 1900 <= day.year <= 2999:
                raise forms.ValidationError(
                    _("Invalid date %(date)s: choose a date between 1900 and 2999."), params={"date": day.isoformat()}
                )
        return super().compress(data_list)


class BoundedDateFromToRangeFilter(django_filters.DateFromToRangeFilter):
    field_class = BoundedDateRangeField


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(label=_("User"), method="filter_actor")
    action = django_filters.ChoiceFilter(
        label=_("Action"), choices=AuditEvent.Action.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    object_type = django_filters.ChoiceFilter(
        label=_("Record type"), choices=object_type_choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    object_id = django_filters.CharFilter(label=_("Record id"), widget=forms.TextInput(attrs={"class": "form-control"}))
    created_at = BoundedDateFromToRangeFilter(
        label=_("Date (from, to)"),
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date", "class": "form-control"}),
    )
    ip_address = django_filters.CharFilter(
        label=_("IP address or its start"),
        lookup_expr="startswith",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "object_type", "object_id", "created_at", "ip_address"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["actor"].widget.attrs["class"] = "form-control"
        self.form.fields["actor"].help_text = _("Username; also finds failed sign-ins with that username.")

    def filter_actor(self, queryset, name, value):
        return queryset.filter(
            Q(actor__username__iexact=value)
            | Q(action=AuditEvent.Action.LOGIN_FAILED, detail__username__iexact=value)
        )


class AuditEventTable(tables.Table):
    """One row per entry, newest first. Times carry their UTC offset on screen and in exports."""

    created_at = tables.Column(verbose_name=_("Time"), orderable=False)
    actor = tables.Column(verbose_name=_("User"), orderable=False)
    action = tables.Column(verbose_name=_("Action"), orderable=False)
    object_type = tables.Column(verbose_name=_("Record type"), orderable=False)
    object_id = tables.Column(verbose_name=_("Record id"), orderable=False)
    ip_address = tables.Column(verbose_name=_("IP address"), orderable=False)
    detail = tables.Column(verbose_name=_("Detail"), orderable=False, empty_values=())

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = _("No audit entries match the filter.")

    def render_created_at(self, value):
        return local_time_with_offset(value)

    def value_created_at(self, value):
        return local_time_with_offset(value)

    def render_actor(self, value):
        return value.username

    def value_actor(self, value):
        return value.username

    def render_action(self, record):
        return record.get_action_display()

    def value_action(self, record):
        return record.get_action_display()

    def render_object_type(self, value):
        return object_type_label(value)

    def value_object_type(self, value):
        return object_type_label(value)

    def render_detail(self, record):
        return detail_summary(record)

    def value_detail(self, record):
        return detail_summary(record)


@role_required(Role.ADMINISTRATOR)
@require_safe
def audit_log_list(request):
    """List the audit trail, newest first. The lazy paginator never counts the whole log."""
    events = AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")
    audit_filter = AuditEventFilter(request.GET, queryset=events)
    # An invalid filter shows nothing rather than the unfiltered log.
    rows = audit_filter.qs if audit_filter.is_valid() else events.none()
    table = AuditEventTable(rows)
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "audit-log")
    RequestConfig(
        request, paginate={"paginator_class": BoundedLazyPaginator, "per_page": settings.PORTAL_PAGE_SIZE}
    ).configure(table)
    return render_list(
        request,
        "portal/audit_log.html",
        "portal/partials/audit_log_results.html",
        {"filter": audit_filter, "table": htmx_table(table)},
    )

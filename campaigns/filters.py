"""The task list filter. Its parameter names are linked to from the dashboards, so renaming one
breaks their drill-down links: campaign, branch, assignee, status (repeatable), outcome,
overdue, due_from, due_to, tier, completed_on_time."""

import django_filters
from django import forms
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Branch, Tier
from portal.models import Role, User

from .models import Campaign, FollowUpTask, Outcome
from .selectors import campaign_list_for
from .services import ACTIVE_TASK_STATUSES


def overdue_q() -> Q:
    """Match tasks still waiting for the client manager whose due date has passed."""
    return Q(status__in=ACTIVE_TASK_STATUSES, due_on__lt=timezone.localdate())


class TaskFilter(django_filters.FilterSet):
    campaign = django_filters.ModelChoiceFilter(label=_("Campaign"), queryset=Campaign.objects.all())
    branch = django_filters.ModelChoiceFilter(
        label=_("Branch (with sub-branches)"), queryset=Branch.objects.all(), method="filter_branch"
    )
    assignee = django_filters.ModelChoiceFilter(
        label=_("Client manager"), queryset=User.objects.filter(role=Role.CLIENT_MANAGER)
    )
    status = django_filters.MultipleChoiceFilter(label=_("Status"), choices=FollowUpTask.Status.choices)
    outcome = django_filters.ChoiceFilter(label=_("Outcome"), choices=Outcome.choices)
    overdue = django_filters.BooleanFilter(label=_("Overdue"), method="filter_overdue", widget=forms.NullBooleanSelect)
    due_from = django_filters.DateFilter(
        label=_("Due from"), field_name="due_on", lookup_expr="gte", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = django_filters.DateFilter(
        label=_("Due to"), field_name="due_on", lookup_expr="lte", widget=forms.DateInput(attrs={"type": "date"})
    )
    tier = django_filters.ModelChoiceFilter(label=_("Tier"), queryset=Tier.objects.all(), field_name="customer__tier")
    completed_on_time = django_filters.BooleanFilter(
        label=_("Completed on time"), method="filter_completed_on_time", widget=forms.NullBooleanSelect
    )

    class Meta:
        model = FollowUpTask
        fields = []

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            self.filters["campaign"].queryset = campaign_list_for(user=user)
            if user.role != Role.PLATFORM and user.branch_id:
                subtree = Branch.objects.filter(path__startswith=user.branch.path)
                self.filters["branch"].queryset = subtree
                self.filters["assignee"].queryset = User.objects.filter(role=Role.CLIENT_MANAGER, branch__in=subtree)
        for field in self.form.fields.values():
            if isinstance(field.widget, forms.SelectMultiple):
                field.widget.attrs["class"] = "form-select"
                field.widget.attrs["size"] = 3
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select"
            else:
                field.widget.attrs["class"] = "form-control"

    def filter_branch(self, queryset, name, value):
        return queryset.filter(branch__path__startswith=value.path)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(overdue_q()) if value else queryset.exclude(overdue_q())

    def filter_completed_on_time(self, queryset, name, value):
        """True: completed on or before the due date; false: completed after it. Tasks never
        completed match neither."""
        if value is None:
            return queryset
        completed = queryset.filter(completed_at__isnull=False)
        if value:
            return completed.filter(completed_at__date__lte=F("due_on"))
        return completed.filter(completed_at__date__gt=F("due_on"))

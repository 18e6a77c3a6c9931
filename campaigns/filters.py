"""The task list filter and the customer segments that both it and the response analysis use.

The dashboards link to the task list with these parameter names, so renaming one breaks
their drill-down links. The names are campaign, branch, assignee, status (repeatable),
outcome, has_outcome, overdue, due_from, due_to, tier (a tier id or "null"),
completed_on_time, occupation, age_band, aum_band, previous_outcome, channel and per_customer."""

from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Case, CharField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.filters import AGE_BAND_CHOICES, CHOICE_USER_FIELDS, age_band_q
from customers.models import Branch, Tier
from portal.models import Role, User
from portal.widgets import FastSelect, UserChoiceFilter

from .models import Campaign, Channel, ContactRecord, FollowUpTask, Outcome
from .selectors import campaign_list_for
from .services import ACTIVE_TASK_STATUSES

# The group of customers with no value for a segment dimension. Blank values and the literal
# value "unknown" (which the bank-marketing extract uses) fall into it together.
UNKNOWN_KEY = "unknown"

# AUM bands in CNY by powers of ten, so that they suit any scale of balances. Each band is
# (key, label, lowest AUM, highest AUM), both ends included, None for no bound. AUM has two
# decimal places, so a highest value ending in .99 leaves no gap before the next band.
AUM_BANDS = (
    ("negative", _("Below 0"), None, Decimal("-0.01")),
    ("zero", _("0"), Decimal("0"), Decimal("0")),
    ("lt1k", _("0.01 to 999.99"), Decimal("0.01"), Decimal("999.99")),
    ("1k", _("1,000 to 9,999.99"), Decimal("1000"), Decimal("9999.99")),
    ("10k", _("10,000 to 99,999.99"), Decimal("10000"), Decimal("99999.99")),
    ("100k", _("100,000 to 999,999.99"), Decimal("100000"), Decimal("999999.99")),
    ("1m", _("1 million to under 10 million"), Decimal("1000000"), Decimal("9999999.99")),
    ("10m", _("10 million and over"), Decimal("10000000"), None),
)
# The imported column that contains the outcome of the campaign before the one in the file
# (the bank-marketing data's "poutcome": success, failure, other, unknown).
PREVIOUS_OUTCOME_KEY = "poutcome"
# Segment dimensions of a task: its customer's occupation, age band, AUM band and tier, the
# previous outcome imported with the customer or the task, and the task's channel.
TASK_SEGMENT_DIMENSIONS = ("occupation", "age_band", "aum_band", "previous_outcome", "channel")


def prefixed_q(condition: Q, prefix: str) -> Q:
    """Return a copy of `condition` with every lookup prefixed, e.g. age__gte -> customer__age__gte,
    so a Customer condition can filter tasks through their customer."""
    copy = Q()
    copy.connector = condition.connector
    copy.negated = condition.negated
    for child in condition.children:
        if isinstance(child, Q):
            copy.children.append(prefixed_q(child, prefix))
        else:
            lookup, value = child
            copy.children.append((prefix + lookup, value))
    return copy


def aum_band_case(prefix: str = "") -> Case:
    """Build the AUM band key of a customer (prefix "") or of a task's customer ("customer__")."""
    whens = []
    for key, _label, low, high in AUM_BANDS:
        condition = Q()
        if low is not None:
            condition &= Q(**{f"{prefix}aum__gte": low})
        if high is not None:
            condition &= Q(**{f"{prefix}aum__lte": high})
        whens.append(When(condition, then=Value(key)))
    return Case(*whens, default=Value(UNKNOWN_KEY), output_field=CharField())


def age_band_case(prefix: str = "") -> Case:
    """Build the age band key of a customer (prefix "") or of a task's customer ("customer__")."""
    whens = [
        When(prefixed_q(age_band_q(key), prefix) if prefix else age_band_q(key), then=Value(key))
        for key, _label in AGE_BAND_CHOICES
    ]
    return Case(*whens, default=Value(UNKNOWN_KEY), output_field=CharField())


def _known_or_unknown(expression) -> Coalesce:
    return Coalesce(NullIf(expression, Value("")), Value(UNKNOWN_KEY), output_field=CharField())


def previous_outcome_expression() -> Coalesce:
    """Build the imported previous outcome of a task: the customer's roster column, else the
    column in the task's first imported contact record, else "unknown"."""
    from_contact = Subquery(
        ContactRecord.objects.filter(task=OuterRef("pk"))
        .exclude(**{f"extra__{PREVIOUS_OUTCOME_KEY}__isnull": True})
        .order_by("contacted_at", "pk")
        .annotate(previous=KeyTextTransform(PREVIOUS_OUTCOME_KEY, "extra"))
        .values("previous")[:1],
        output_field=CharField(),
    )
    # KeyTextTransform, not KT: KT("customer__extra__poutcome") reads "extra" as a JSON key of
    # customer_id instead of following the relation (Django 5.2).
    from_roster = KeyTextTransform(PREVIOUS_OUTCOME_KEY, "customer__extra")
    return _known_or_unknown(Coalesce(NullIf(from_roster, Value("")), from_contact, output_field=CharField()))


def task_segment_expression(dimension: str):
    """Build the group key of a task for one of TASK_SEGMENT_DIMENSIONS. The response analysis
    groups by it and the task list filters by it, so a group's link lists exactly its tasks."""
    if dimension == "occupation":
        return _known_or_unknown(F("customer__occupation"))
    if dimension == "channel":
        return _known_or_unknown(F("channel"))
    if dimension == "previous_outcome":
        return previous_outcome_expression()
    if dimension == "age_band":
        return age_band_case("customer__")
    if dimension == "aum_band":
        return aum_band_case("customer__")
    raise ValueError(f"Unknown segment dimension {dimension!r}; expected one of {', '.join(TASK_SEGMENT_DIMENSIONS)}")


def overdue_q() -> Q:
    """Match tasks still waiting for the client manager whose due date has passed."""
    return Q(status__in=ACTIVE_TASK_STATUSES, due_on__lt=timezone.localdate())


class MyTaskFilter(django_filters.FilterSet):
    """The client manager's own task list. The morning digest links here with `due_to` set to
    the end of its window, so the list shows the same tasks as the digest, the ones it left out
    included."""

    due_to = django_filters.DateFilter(
        label=_("Due to"), field_name="due_on", lookup_expr="lte", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = FollowUpTask
        fields = []


class TaskFilter(django_filters.FilterSet):
    campaign = django_filters.ModelChoiceFilter(label=_("Campaign"), queryset=Campaign.objects.all(), widget=FastSelect)
    branch = django_filters.ModelChoiceFilter(
        label=_("Branch (with sub-branches)"), queryset=Branch.objects.all(), method="filter_branch", widget=FastSelect
    )
    assignee = UserChoiceFilter(
        label=_("Client manager"),
        queryset=User.objects.filter(role=Role.CLIENT_MANAGER).only(*CHOICE_USER_FIELDS),
    )
    # distinct=False: a filter on the task's own column cannot repeat a task, and the DISTINCT
    # that django-filter adds by default makes PostgreSQL sort every matching task.
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=FollowUpTask.Status.choices, distinct=False
    )
    outcome = django_filters.ChoiceFilter(label=_("Outcome"), choices=Outcome.choices)
    overdue = django_filters.BooleanFilter(label=_("Overdue"), method="filter_overdue", widget=forms.NullBooleanSelect)
    due_from = django_filters.DateFilter(
        label=_("Due from"), field_name="due_on", lookup_expr="gte", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = django_filters.DateFilter(
        label=_("Due to"), field_name="due_on", lookup_expr="lte", widget=forms.DateInput(attrs={"type": "date"})
    )
    tier = django_filters.ModelChoiceFilter(
        label=_("Tier"), queryset=Tier.objects.all(), field_name="customer__tier", null_label=_("No tier"),
        widget=FastSelect,
    )
    completed_on_time = django_filters.BooleanFilter(
        label=_("Completed on time"), method="filter_completed_on_time", widget=forms.NullBooleanSelect
    )
    has_outcome = django_filters.BooleanFilter(
        label=_("Outcome recorded"), method="filter_has_outcome", widget=forms.NullBooleanSelect
    )
    occupation = django_filters.CharFilter(label=_("Occupation"), method="filter_segment")
    age_band = django_filters.ChoiceFilter(
        label=_("Age band"), choices=[*AGE_BAND_CHOICES, (UNKNOWN_KEY, _("Unknown"))], method="filter_segment"
    )
    aum_band = django_filters.ChoiceFilter(
        label=_("AUM band"),
        choices=[*((key, label) for key, label, _low, _high in AUM_BANDS), (UNKNOWN_KEY, _("Unknown"))],
        method="filter_segment",
    )
    previous_outcome = django_filters.CharFilter(label=_("Previous outcome"), method="filter_segment")
    channel = django_filters.ChoiceFilter(
        label=_("Last channel"), choices=[*Channel.choices, (UNKNOWN_KEY, _("Unknown"))], method="filter_segment"
    )
    per_customer = django_filters.BooleanFilter(
        label=_("One task per customer"),
        help_text=_("Keeps each customer's converted task if they have one, else their latest task."),
        method="filter_per_customer",
        widget=forms.NullBooleanSelect,
    )

    class Meta:
        model = FollowUpTask
        fields = []

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            # The options show names only, and a campaign row carries its launch summary.
            self.filters["campaign"].queryset = campaign_list_for(user=user).only("id", "name")
            if user.role != Role.PLATFORM and user.branch_id:
                subtree = Branch.objects.filter(path__startswith=user.branch.path)
                self.filters["branch"].queryset = subtree
                self.filters["assignee"].queryset = User.objects.filter(
                    role=Role.CLIENT_MANAGER, branch__in=subtree
                ).only(*CHOICE_USER_FIELDS)
        for field in self.form.fields.values():
            if isinstance(field.widget, forms.SelectMultiple):
                field.widget.attrs["class"] = "form-select"
                field.widget.attrs["size"] = 3
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select"
            else:
                field.widget.attrs["class"] = "form-control"

    # Applied after every other filter, in this order: per_customer must pick each customer's
    # task among the tasks the other filters select, and before the outcome filter, so that
    # "per_customer and outcome=converted" counts the customers with any converted task.
    LAST_FILTERS = ("per_customer", "outcome")

    def filter_queryset(self, queryset):
        for name, value in self.form.cleaned_data.items():
            if name not in self.LAST_FILTERS:
                queryset = self.filters[name].filter(queryset, value)
        for name in self.LAST_FILTERS:
            queryset = self.filters[name].filter(queryset, self.form.cleaned_data.get(name))
        return queryset

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

    def filter_has_outcome(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(outcome="") if value else queryset.filter(outcome="")

    def filter_segment(self, queryset, name, value):
        if not value:
            return queryset
        alias = f"segment_{name}"
        return queryset.alias(**{alias: task_segment_expression(name)}).filter(**{alias: value})

    def filter_per_customer(self, queryset, name, value):
        """Keep one task per customer among `queryset`: the converted one if any, else the
        latest created. Counting the result counts customers."""
        if not value:
            return queryset
        converted_first = Case(When(outcome=Outcome.CONVERTED, then=Value(0)), default=Value(1))
        chosen = (
            queryset.filter(customer_id=OuterRef("customer_id"))
            .order_by(converted_first, "-pk")
            .values("pk")[:1]
        )
        return queryset.filter(pk=Subquery(chosen))

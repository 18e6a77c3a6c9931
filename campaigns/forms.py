from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Branch
from portal.forms import BootstrapFormMixin
from portal.models import Leave

from .models import Campaign, Channel, Outcome, Segment
from .services import TARGETING_FIELDS

# Upper bounds of the contact-fatigue thresholds: 1,000 open tasks and ten years.
FATIGUE_MAX_OPEN_TASKS = 1000
FATIGUE_MAX_DAYS = 3650


class SegmentForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=pgettext_lazy("object name", "Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CampaignForm(BootstrapFormMixin, forms.ModelForm):
    """Create or edit a campaign, or design its next version. After launch the target, dates,
    exclusions and assignment are shown but cannot change."""

    class Meta:
        model = Campaign
        fields = (
            "name", "objective", "segment", "talking_points", "starts_on", "due_on", "holdout_percent",
            "fatigue_max_open_tasks", "fatigue_contact_days", "assignment_rule", "fallback_branch",
            "pool_include_sub_branches", "verification_sample_percent",
        )
        widgets = {
            "objective": forms.Textarea(attrs={"rows": 3}),
            "talking_points": forms.Textarea(attrs={"rows": 5}),
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "holdout_percent": forms.NumberInput(attrs={"min": 0, "max": 50, "step": 1}),
            "fatigue_max_open_tasks": forms.NumberInput(attrs={"min": 1, "step": 1}),
            "fatigue_contact_days": forms.NumberInput(attrs={"min": 1, "step": 1}),
            "verification_sample_percent": forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
            "assignment_rule": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["fallback_branch"].queryset = Branch.objects.order_by("path")
        # An empty holdout field means no control group; an empty rule or sample the model's default.
        for name in ("holdout_percent", "assignment_rule", "verification_sample_percent"):
            self.fields[name].required = False
        # Zero would exclude every customer, so the smallest useful threshold is 1.
        for name in ("fatigue_max_open_tasks", "fatigue_contact_days"):
            self.fields[name].min_value = 1
            self.fields[name].validators.append(MinValueValidator(1))
        # SQLite enforces no range on small integers, so the form sets the upper bounds itself.
        for name, maximum in (("fatigue_max_open_tasks", FATIGUE_MAX_OPEN_TASKS), ("fatigue_contact_days", FATIGUE_MAX_DAYS)):
            self.fields[name].max_value = maximum
            self.fields[name].widget.attrs["max"] = maximum
            self.fields[name].validators.append(MaxValueValidator(maximum))
        if self.instance.pk and self.instance.status != Campaign.Status.DRAFT:
            for name in TARGETING_FIELDS:
                self.fields[name].disabled = True

    def clean_holdout_percent(self):
        value = self.cleaned_data.get("holdout_percent")
        return 0 if value is None else value

    def clean_assignment_rule(self):
        return self.cleaned_data.get("assignment_rule") or Campaign.AssignmentRule.OWN_MANAGER

    def clean_verification_sample_percent(self):
        value = self.cleaned_data.get("verification_sample_percent")
        return Campaign._meta.get_field("verification_sample_percent").default if value is None else value

    def clean(self):
        cleaned = super().clean()
        starts_on, due_on = cleaned.get("starts_on"), cleaned.get("due_on")
        if starts_on and due_on and due_on < starts_on:
            self.add_error("due_on", _("The due date %(due)s is before the start date %(start)s.") % {
                "due": due_on.isoformat(), "start": starts_on.isoformat(),
            })
        if due_on and not self.fields["due_on"].disabled and due_on < timezone.localdate():
            self.add_error("due_on", _("The due date %(due)s is in the past, so every task would be overdue at launch.") % {
                "due": due_on.isoformat(),
            })
        if (
            cleaned.get("assignment_rule") == Campaign.AssignmentRule.POOL
            and not cleaned.get("fallback_branch")
            and not self.fields["fallback_branch"].disabled
        ):
            self.add_error("fallback_branch", _("The pool rule needs a pool branch."))
        return cleaned


def next_version_initial(*, campaign: Campaign, today) -> dict:
    """Return the form values a next version of `campaign` starts from: its design, a name with
    the next version number and the same period length starting `today`."""
    initial = {name: getattr(campaign, name) for name in CampaignForm.Meta.fields}
    initial["segment"] = campaign.segment_id
    initial["fallback_branch"] = campaign.fallback_branch_id
    initial["starts_on"] = today
    initial["due_on"] = today + (campaign.due_on - campaign.starts_on)
    return initial


class LeaveForm(BootstrapFormMixin, forms.ModelForm):
    """Record a leave for one of the client managers the user may manage."""

    class Meta:
        model = Leave
        fields = ("user", "starts_on", "ends_on", "note")
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {"user": _("Client manager")}

    def __init__(self, *args, managers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = managers

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The last day %(end)s is before the first day %(start)s.") % {
                "end": ends_on.isoformat(), "start": starts_on.isoformat(),
            })
        return cleaned


class TaskVersionForm(forms.Form):
    """The task version the page showed, posted back so that a change made meanwhile is detected."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ContactForm(BootstrapFormMixin, TaskVersionForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[("", "---------"), *Outcome.choices])
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    next_follow_up_on = forms.DateField(
        label=_("Next follow-up"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    complete = forms.BooleanField(label=_("Mark as done"), required=False)

    def clean_next_follow_up_on(self):
        value = self.cleaned_data.get("next_follow_up_on")
        if value and value < timezone.localdate():
            raise forms.ValidationError(
                _("The next follow-up date %(date)s is in the past."), params={"date": value.isoformat()}
            )
        return value


class ReturnForm(BootstrapFormMixin, TaskVersionForm):
    reason = forms.CharField(
        label=_("Reason for return"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

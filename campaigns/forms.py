from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Branch
from portal.forms import BootstrapFormMixin

from .models import Campaign, Channel, Outcome, Segment


class SegmentForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=pgettext_lazy("object name", "Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CampaignForm(BootstrapFormMixin, forms.ModelForm):
    """Create or edit a campaign. After launch the target and dates are shown but cannot change."""

    class Meta:
        model = Campaign
        fields = (
            "name", "objective", "segment", "talking_points", "starts_on", "due_on", "fallback_branch",
            "holdout_percent",
        )
        widgets = {
            "objective": forms.Textarea(attrs={"rows": 3}),
            "talking_points": forms.Textarea(attrs={"rows": 5}),
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "holdout_percent": forms.NumberInput(attrs={"min": 0, "max": 50, "step": 1}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["fallback_branch"].queryset = Branch.objects.order_by("path")
        # An empty holdout field means no control group.
        self.fields["holdout_percent"].required = False
        if self.instance.pk and self.instance.status != Campaign.Status.DRAFT:
            for name in ("segment", "starts_on", "due_on", "fallback_branch", "holdout_percent"):
                self.fields[name].disabled = True

    def clean_holdout_percent(self):
        value = self.cleaned_data.get("holdout_percent")
        return 0 if value is None else value

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
        return cleaned


class ContactForm(BootstrapFormMixin, forms.Form):
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


class ReturnForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for return"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

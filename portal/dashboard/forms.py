from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.selectors import campaign_list_for
from portal.forms import BootstrapFormMixin


class DashboardFilterForm(BootstrapFormMixin, forms.Form):
    """The dashboard's optional filters. Every field may stay empty."""

    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=None, required=False, empty_label=_("All campaigns"))
    due_from = forms.DateField(
        label=_("Due from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = forms.DateField(label=_("Due to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only campaigns the user may see can be chosen, so any other id is an invalid choice.
        self.fields["campaign"].queryset = campaign_list_for(user=user).order_by("-starts_on", "name")

    def clean(self):
        cleaned_data = super().clean()
        due_from = cleaned_data.get("due_from")
        due_to = cleaned_data.get("due_to")
        if due_from and due_to and due_from > due_to:
            raise forms.ValidationError(
                _("The due date range is empty: %(due_from)s is after %(due_to)s."),
                code="empty_range",
                params={"due_from": due_from.isoformat(), "due_to": due_to.isoformat()},
            )
        return cleaned_data

    def drill_params(self) -> list:
        """Return the task list query parameters that repeat this filter, so that a drill-down
        lists the same tasks as the figure counts. The task list reads the same names."""
        params = []
        if not self.is_valid():
            return params
        if self.cleaned_data["campaign"] is not None:
            params.append(("campaign", self.cleaned_data["campaign"].pk))
        for name in ("due_from", "due_to"):
            if self.cleaned_data[name] is not None:
                params.append((name, self.cleaned_data[name].isoformat()))
        return params


class AnalysisFilterForm(BootstrapFormMixin, forms.Form):
    """The response analysis's optional campaign: one past campaign, or all of them."""

    campaign = forms.ModelChoiceField(
        label=_("Past campaign"), queryset=None, required=False, empty_label=_("All campaigns")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = campaign_list_for(user=user).order_by("-starts_on", "name")

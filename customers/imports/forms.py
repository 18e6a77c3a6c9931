from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Branch, ImportProfile, RosterImport
from portal.forms import BootstrapFormMixin

from .history import DEFAULT_AUM_DROP_PERCENT
from .mapping import EXTRA, IGNORE, ImportField, MappingInvalid, mapping_validate

ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")


class ImportUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("CSV (UTF-8 or GBK) or XLSX. The first non-blank row is the header."))
    kind = forms.ChoiceField(label=_("Kind"), choices=RosterImport.Kind.choices, initial=RosterImport.Kind.ROSTER)
    delimiter = forms.ChoiceField(
        label=_("CSV delimiter"),
        choices=[("", _("Detect")), (",", _("Comma (,)")), (";", _("Semicolon (;)")), ("tab", _("Tab"))],
        required=False,
    )
    sheet = forms.CharField(label=_("XLSX sheet"), max_length=100, required=False, help_text=_("Leave empty for the first sheet."))
    default_branch = forms.ModelChoiceField(
        label=_("Default branch"),
        queryset=Branch.objects.order_by("path"),
        to_field_name="code",
        required=False,
        help_text=_("Roster only: the branch of new customers whose row has no branch code."),
    )
    profile = forms.ModelChoiceField(
        label=_("Import profile"),
        queryset=ImportProfile.objects.order_by("name"),
        required=False,
        help_text=_("The saved column mapping of the file's source system; leave empty to match columns by their headers."),
    )
    complete_roster = forms.BooleanField(
        label=_("This file is the complete roster"),
        required=False,
        initial=True,
        help_text=_("Roster only: customers missing from the file are flagged in the roster diff. They are never deleted."),
    )
    aum_drop_percent = forms.DecimalField(
        label=_("AUM drop alert (%)"),
        min_value=0,
        max_value=100,
        decimal_places=2,
        initial=DEFAULT_AUM_DROP_PERCENT,
        required=False,
        help_text=_("Roster only: the roster diff lists customers whose AUM fell by at least this percentage."),
    )
    campaign_name = forms.CharField(
        label=_("Campaign name"), max_length=200, required=False,
        help_text=_("Past outcomes only: the historical campaign the contacts are stored under."),
    )
    campaign_date = forms.DateField(
        label=_("Campaign date"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Past outcomes only: start and due date of the campaign; today when empty."),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if not uploaded.name.lower().endswith(ALLOWED_SUFFIXES):
            raise forms.ValidationError(
                _("Invalid file type: %(name)s. Upload a .csv or .xlsx file.") % {"name": uploaded.name}
            )
        return uploaded

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == RosterImport.Kind.OUTCOMES and not cleaned.get("campaign_name", "").strip():
            self.add_error("campaign_name", _("Enter the name of the campaign the past outcomes belong to."))
        profile = cleaned.get("profile")
        if profile is not None and cleaned.get("kind") and profile.kind != cleaned["kind"]:
            self.add_error(
                "profile",
                _("The profile %(profile)s is for %(profile_kind)s files, not %(kind)s files.")
                % {"profile": profile.name, "profile_kind": profile.get_kind_display(), "kind": RosterImport.Kind(cleaned["kind"]).label},
            )
        return cleaned

    def import_options(self) -> dict:
        """Return the reading and commit options stored on RosterImport.options."""
        data = self.cleaned_data
        options = {"delimiter": data["delimiter"], "sheet": data["sheet"].strip()}
        if data["kind"] == RosterImport.Kind.OUTCOMES:
            options["campaign_name"] = data["campaign_name"].strip()
            if data["campaign_date"]:
                options["campaign_date"] = data["campaign_date"].isoformat()
        else:
            if data["default_branch"]:
                options["default_branch"] = data["default_branch"].code
            options["complete_roster"] = bool(data["complete_roster"])
            percent = data["aum_drop_percent"]
            options["aum_drop_percent"] = str(DEFAULT_AUM_DROP_PERCENT if percent is None else percent)
        if data["profile"] is not None:
            options["profile"] = data["profile"].name
        return options


class ImportMappingForm(BootstrapFormMixin, forms.Form):
    """One select per file column, named column_<index> and labelled with the header.

    The selects are added after BootstrapFormMixin has styled the declared fields, so they
    carry the form-select class themselves."""

    def __init__(self, *args, headers: list[str], fields: list[ImportField], initial_mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.import_fields = fields
        self.fields["profile_name"] = forms.CharField(
            label=_("Save as import profile"),
            max_length=100,
            required=False,
            initial="",
            help_text=_("Optional: a name for the source system, e.g. core banking. Saving under an existing name replaces that profile."),
            widget=forms.TextInput(attrs={"class": "form-control"}),
        )
        choices = [(EXTRA, _("Keep in other columns (extra)")), (IGNORE, _("Do not import"))]
        choices += [(import_field.name, import_field.label) for import_field in fields]
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=initial_mapping.get(header, EXTRA),
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def clean(self):
        cleaned = super().clean()
        try:
            mapping_validate(mapping=self.mapping(), headers=self.headers, fields=self.import_fields)
        except MappingInvalid as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"column_{index}") or EXTRA
            for index, header in enumerate(self.headers)
        }

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Branch, RosterImport
from portal.forms import BootstrapFormMixin

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
        return cleaned

    def import_options(self) -> dict:
        """Return the reading and commit options stored on RosterImport.options."""
        data = self.cleaned_data
        options = {"delimiter": data["delimiter"], "sheet": data["sheet"].strip()}
        if data["kind"] == RosterImport.Kind.OUTCOMES:
            options["campaign_name"] = data["campaign_name"].strip()
            if data["campaign_date"]:
                options["campaign_date"] = data["campaign_date"].isoformat()
        elif data["default_branch"]:
            options["default_branch"] = data["default_branch"].code
        return options


class ImportMappingForm(BootstrapFormMixin, forms.Form):
    """One select per file column, named column_<index> and labelled with the header.

    The selects are added after BootstrapFormMixin has styled the declared fields, so they
    carry the form-select class themselves."""

    def __init__(self, *args, headers: list[str], fields: list[ImportField], initial_mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.import_fields = fields
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

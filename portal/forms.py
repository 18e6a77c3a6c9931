from django import forms
from django.contrib.auth.forms import AuthenticationForm


class BootstrapFormMixin:
    """Give every widget the Bootstrap 5 class for its kind, so templates stay plain, and mark
    the widgets of invalid fields with "is-invalid" after validation. Bound forms render the
    submitted values again, so a failed submission keeps what the user typed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput,)):
                css = "form-check-input"
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                css = "form-select"
            elif isinstance(widget, forms.RadioSelect):
                continue
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            field = self.fields.get(name)
            if field is None:
                continue
            css = field.widget.attrs.get("class", "")
            if "is-invalid" not in css.split():
                field.widget.attrs["class"] = f"{css} is-invalid".strip()


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    pass

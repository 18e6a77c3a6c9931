"""Each user's reminder and display preferences: the language of the portal and their mails,
whether they receive the morning digest and whether large amounts are shown in 万元.
Due-soon reminders, escalations and returned-task notices cannot be switched off."""

import logging

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from portal.forms import BootstrapFormMixin
from portal.models import User

logger = logging.getLogger(__name__)


class ReminderPreferencesForm(BootstrapFormMixin, forms.Form):
    language = forms.ChoiceField(label=_("Language of the portal and your mails"), choices=settings.LANGUAGES)
    receive_digest = forms.BooleanField(
        label=_("Send me the morning digest"),
        required=False,
        help_text=_("Due-soon reminders, escalations and returned-task notices are always sent."),
    )
    amount_in_wan = forms.BooleanField(
        label=_("Show large amounts in 万元 (10,000 yuan)"),
        required=False,
        help_text=_("In the Chinese interface, amounts of 10,000 yuan or more are shown in 万元. Exports always contain the full amount."),
    )


def reminder_preferences_update(
    *, user: User, language: str, receive_digest: bool, amount_in_wan: bool | None = None
) -> User:
    """Save the user's preferences. amount_in_wan None keeps the saved value."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Invalid language {language!r}: expected one of {', '.join(dict(settings.LANGUAGES))}")
    user.language = language
    user.receive_digest = receive_digest
    fields = ["language", "receive_digest"]
    if amount_in_wan is not None:
        user.amount_in_wan = amount_in_wan
        fields.append("amount_in_wan")
    user.save(update_fields=fields)
    logger.info(
        "User %s: preferences set to language %s, digest %s, amounts in wan %s",
        user.pk,
        language,
        receive_digest,
        user.amount_in_wan,
    )
    return user

"""Each user's reminder preferences: the language of their mails and whether they receive
the morning digest. Due-soon reminders, escalations and returned-task notices cannot be
switched off."""

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


def reminder_preferences_update(*, user: User, language: str, receive_digest: bool) -> User:
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Invalid language {language!r}: expected one of {', '.join(dict(settings.LANGUAGES))}")
    user.language = language
    user.receive_digest = receive_digest
    user.save(update_fields=["language", "receive_digest"])
    logger.info("User %s: reminder preferences set to language %s, digest %s", user.pk, language, receive_digest)
    return user

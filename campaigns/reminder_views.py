"""The administrators' reminder status page and every user's reminder preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import override

from portal.models import Role
from portal.permissions import role_required
from portal.views import set_language_cookie

from .reminders import reminders_business_date_today
from .reminders.preferences import ReminderPreferencesForm, reminder_preferences_update
from .reminders.status import reminder_status_get


@role_required(Role.ADMINISTRATOR)
def reminder_status(request):
    status = reminder_status_get(today=reminders_business_date_today())
    return render(request, "campaigns/reminder_status.html", {"status": status})


@login_required
def reminder_preferences(request):
    user = request.user
    form = ReminderPreferencesForm(
        request.POST or None,
        initial={
            "language": user.language,
            "receive_digest": user.receive_digest,
            "amount_in_wan": user.amount_in_wan,
        },
    )
    if request.method == "POST" and form.is_valid():
        reminder_preferences_update(
            user=user,
            language=form.cleaned_data["language"],
            receive_digest=form.cleaned_data["receive_digest"],
            amount_in_wan=form.cleaned_data["amount_in_wan"],
        )
        with override(user.language):
            messages.success(request, _("Your reminder preferences are saved."))
        response = redirect("reminders:preferences")
        set_language_cookie(response, user.language)
        return response
    return render(request, "campaigns/reminder_preferences.html", {"form": form})

"""The administrators' reminder status page."""

from django.shortcuts import render

from portal.models import Role
from portal.permissions import role_required

from .reminders import reminders_business_date_today
from .reminders.status import reminder_status_get


@role_required(Role.ADMINISTRATOR)
def reminder_status(request):
    status = reminder_status_get(today=reminders_business_date_today())
    return render(request, "campaigns/reminder_status.html", {"status": status})

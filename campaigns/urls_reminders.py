from django.urls import path

from . import reminder_views

app_name = "reminders"

urlpatterns = [
    path("", reminder_views.reminder_status, name="status"),
    path("preferences/", reminder_views.reminder_preferences, name="preferences"),
]

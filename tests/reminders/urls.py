"""The portal's URLs plus the reminder status page, mounted where portal/urls.py mounts it."""

from django.urls import include, path

from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [*portal_urlpatterns, path("reminders/", include("campaigns.urls_reminders"))]

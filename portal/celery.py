"""The Celery application. Schedules live in the database (django-celery-beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# portal.dashboard is a package of the portal app, not an installed app of its own.
app.autodiscover_tasks(["portal.dashboard"])

"""The portal's URLs plus the benchmark's admin site, for run_benchmarks only."""

from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns

from .admin_site import site

urlpatterns = [*portal_urlpatterns, path("bench-admin/", site.urls)]

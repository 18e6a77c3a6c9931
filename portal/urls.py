from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import audit_views, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.language_switch, name="language_switch"),
    path("customers/", include("customers.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("dashboard/", include("portal.dashboard.urls")),
    path("reminders/", include("campaigns.urls_reminders")),
    path("audit/", audit_views.audit_log_list, name="audit_log"),
    path("admin/", admin.site.urls),
    path("health/", health.health, name="health"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

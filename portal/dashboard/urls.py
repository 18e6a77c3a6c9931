from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard_index, name="index"),
    path("campaigns/<int:pk>/analysis/", views.campaign_analysis, name="campaign_analysis"),
]

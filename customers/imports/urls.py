from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("upload/", views.import_upload, name="import_upload"),
    path("<int:pk>/", views.import_detail, name="import_detail"),
    path("<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("<int:pk>/commit/", views.import_commit, name="import_commit"),
    path("<int:pk>/reject/", views.import_reject, name="import_reject"),
    path("<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("<int:pk>/errors.xlsx", views.import_errors_download, name="import_errors_download"),
    path("<int:pk>/changes/<slug:kind>/", views.import_changes, name="import_changes"),
    path("<int:pk>/changes/<slug:kind>/segment/", views.import_changes_segment, name="import_changes_segment"),
    path("customer/<int:pk>/aum-trend/", views.customer_aum_trend, name="customer_aum_trend"),
]

from django.urls import path

from . import analysis_views, export_file_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard_index, name="index"),
    path("analysis/", analysis_views.next_campaign_analysis, name="next_campaign_analysis"),
    path("analysis/segment/", analysis_views.segment_from_analysis, name="segment_from_analysis"),
    path("exports/", views.export_log_list, name="export_log"),
    path("exports/<int:pk>/", export_file_views.export_file, name="export_file"),
    path("exports/<int:pk>/progress/", export_file_views.export_file_progress, name="export_file_progress"),
    path("exports/<int:pk>/download/", export_file_views.export_file_download, name="export_file_download"),
    path("filters/", views.saved_filter_create_view, name="saved_filter_create"),
    path("filters/<int:pk>/delete/", views.saved_filter_delete_view, name="saved_filter_delete"),
    path("campaigns/<int:pk>/analysis/", views.campaign_analysis, name="campaign_analysis"),
]

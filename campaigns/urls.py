from django.urls import path

from . import views, views_bulk, views_handover, views_leave, views_verification, views_versions

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_update, name="update"),
    path("<int:pk>/launch/", views.campaign_launch, name="launch"),
    path("<int:pk>/launch/progress/", views.campaign_launch_progress, name="launch_progress"),
    path("<int:pk>/complete/", views.campaign_complete, name="complete"),
    path("<int:pk>/next-version/", views_versions.campaign_next_version, name="next_version"),
    path("<int:pk>/versions/", views_versions.campaign_versions, name="versions"),
    path("leave/", views_leave.leave_list, name="leave_list"),
    path("leave/<int:pk>/delete/", views_leave.leave_remove, name="leave_remove"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_create, name="segment_create"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/mine/", views.my_tasks, name="my_tasks"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<int:pk>/contact/", views.task_record_contact, name="task_record_contact"),
    path("tasks/<int:pk>/verify/", views.task_verify, name="task_verify"),
    path("tasks/<int:pk>/return/", views.task_return, name="task_return"),
    path("tasks/bulk/", views_bulk.task_bulk, name="task_bulk"),
    path("tasks/verification/", views_verification.verification_queue, name="verification_queue"),
    path("handovers/", views_handover.handover_list, name="handover_list"),
    path("handovers/<int:pk>/", views_handover.handover_detail, name="handover_detail"),
]

from django.http import Http404
from django.urls import path

app_name = "campaigns"


def placeholder(request, *args, **kwargs):
    raise Http404


urlpatterns = [
    path("", placeholder, name="list"),
    path("tasks/", placeholder, name="task_list"),
    path("tasks/mine/", placeholder, name="my_tasks"),
    path("tasks/<int:pk>/", placeholder, name="task_detail"),
    path("segments/new/", placeholder, name="segment_create"),
]

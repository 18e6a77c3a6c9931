from django.http import Http404
from django.urls import path


def placeholder(request, *args, **kwargs):
    raise Http404


urlpatterns = [
    path("", placeholder, name="import_list"),
]

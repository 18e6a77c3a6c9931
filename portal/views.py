import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST

from .forms import LoginForm
from .models import Role


def set_language_cookie(response, language):
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")


class LoginView(auth_views.LoginView):
    """Sign in, then switch the interface to the user's saved language."""

    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        language = form.get_user().language
        if language in dict(settings.LANGUAGES):
            set_language_cookie(response, language)
        return response


def home(request):
    """Send each role to where its work starts."""
    role = request.user.role
    if role == Role.CLIENT_MANAGER:
        return redirect("campaigns:my_tasks")
    if role in (Role.PLATFORM, Role.SUPERVISOR):
        return redirect("dashboard:index")
    if role == Role.ADMINISTRATOR:
        return redirect("admin:index")
    return redirect("customers:list")


@login_not_required
@require_POST
def language_switch(request):
    """Set the interface language in a cookie and, for a signed-in user, as their preference,
    which also decides the language of their reminder mails."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("home")
    response = HttpResponseRedirect(next_url)
    if language in dict(settings.LANGUAGES) and check_for_language(language):
        set_language_cookie(response, language)
        if request.user.is_authenticated and request.user.language != language:
            request.user.language = language
            request.user.save(update_fields=["language"])
    return response


def lockout_response(request, original_response=None, credentials=None):
    """Render the lockout page that django-axes returns, with status 429, once a username and
    address combination reaches AXES_FAILURE_LIMIT failed sign-ins."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
    }
    return render(request, "registration/lockout.html", context, status=429)

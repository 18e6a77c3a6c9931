"""Middleware for the session lifetime, the user's interface language and the
Content-Security-Policy header."""

import logging
import secrets
import time

from django.conf import settings
from django.contrib.auth import logout
from django.utils import translation

logger = logging.getLogger(__name__)

# Session key with the sign-in time, in seconds since the epoch.
SESSION_LOGIN_TIME_KEY = "portal_login_time"


class SessionLifetimeMiddleware:
    """Sign a user out SESSION_MAX_LIFETIME after sign-in, however active the session is.
    SESSION_MAX_LIFETIME None turns the check off.

    The idle timeout needs no code: SESSION_SAVE_EVERY_REQUEST renews the expiry of the session
    on each request. Must run after AuthenticationMiddleware and before
    LoginRequiredMiddleware's view check, which then redirects to the sign-in page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_MAX_LIFETIME is not None and request.user.is_authenticated:
            now = time.time()
            login_time = request.session.get(SESSION_LOGIN_TIME_KEY)
            if login_time is None:
                # Django rotates the session key at sign-in, so the first request on a new
                # session key is the sign-in request or the one right after it.
                request.session[SESSION_LOGIN_TIME_KEY] = now
            elif now - login_time > settings.SESSION_MAX_LIFETIME.total_seconds():
                logger.info("Session of user %s expired after the maximum lifetime", request.user.pk)
                logout(request)
        return self.get_response(request)


class UserLanguageMiddleware:
    """Activate the signed-in user's saved language (User.language) for the whole request.

    LocaleMiddleware picks the language from the language cookie or Accept-Language, which is
    right for the sign-in page but not for a user who signs in from another browser or whose
    language an administrator changed. Must run after AuthenticationMiddleware. Anonymous
    requests keep LocaleMiddleware's choice."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = user.language
            if language in dict(settings.LANGUAGES) and translation.check_for_language(language):
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY as the Content-Security-Policy header.

    Every request gets a fresh nonce in request.csp_nonce, which replaces "{nonce}" in the
    policy. The default policy contains no "{nonce}", so it allows no inline script at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            directives = [
                f"{name} {sources}".replace("{nonce}", request.csp_nonce)
                for name, sources in settings.CONTENT_SECURITY_POLICY.items()
            ]
            response["Content-Security-Policy"] = "; ".join(directives)
        return response

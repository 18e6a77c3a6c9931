"""Settings for production: every secret comes from the environment, with no default."""

import copy

from .base import *  # noqa: F401,F403
from .base import CACHES, LOG_FORMATS, LOG_STREAMS, LOGGING, REDIS_URL, env_bool, env_int, env_list, log_choice, os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
# Behind a TLS-terminating proxy Django receives plain HTTP, often with the proxy's upstream
# address as Host. The proxy's header marks the original request as HTTPS, and the public
# origins (scheme and host, e.g. https://portal.bank.example) are trusted for CSRF checks.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """Parse "Header-Name: value" into Django's ("HTTP_HEADER_NAME", "value"); empty means no proxy.

    The proxy must overwrite this header on every request, or a client could claim HTTPS itself."""
    if not value.strip():
        return None
    name, separator, expected = value.partition(":")
    if not separator or not name.strip() or not expected.strip():
        raise ValueError(
            f"Invalid DJANGO_SECURE_PROXY_SSL_HEADER {value!r}: use the form 'X-Forwarded-Proto: https'"
        )
    return "HTTP_" + name.strip().upper().replace("-", "_"), expected.strip()


SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https"))
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if not SECURE_HSTS_PRELOAD:
    # The portal runs on an intranet host name, which the browsers' public HSTS preload list
    # cannot contain, so the deploy check's advice to preload does not apply.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Every web process and worker must see the same sessions, lockout counts and cache, so none of
# them may live in a process's memory. Sessions and django-axes' failure counts are stored in the
# database, set here explicitly so that no later default moves them. Without Redis the cache is
# the database table that `manage.py createcachetable` creates.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
if not REDIS_URL:
    # The progress cache stays as the base settings set it: the database cache would hold a
    # launch's progress back until the launch's transaction commits.
    CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}}

# One JSON object per line on standard output, where systemd's journal or a container runtime
# collects it. LOG_FORMAT=plain and LOG_STREAM=stderr switch back, for a command whose report
# goes to standard output.
LOG_FORMAT = log_choice("LOG_FORMAT", "json", LOG_FORMATS)
LOG_STREAM = log_choice("LOG_STREAM", "stdout", LOG_STREAMS)
# A copy, because the base module's dictionary is shared with every module that imported it.
LOGGING = copy.deepcopy(LOGGING)
LOGGING["handlers"]["console"].update(formatter=LOG_FORMAT, stream=f"ext://sys.{LOG_STREAM}")

"""Settings for production: every secret comes from the environment, with no default."""

from .base import *  # noqa: F401,F403
from .base import env_bool, env_int, env_list, os

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

"""Settings for the test suite."""

from .base import *  # noqa: F401,F403
from .base import CACHES, REDIS_URL, os

SECRET_KEY = "test-key-not-for-production"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
# Serve static files from the app folders, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Saving the session on every request, for the idle timeout, and storing the sign-in time, for
# the maximum lifetime, each add an UPDATE of the session row to a request, which the query
# counts pinned by the page tests do not include. tests/security turns both back on.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_MAX_LIFETIME = None
# Without Redis the tests that need a shared cache are skipped, and the others run in one
# process, so the launch progress stays in memory instead of in files under var/.
if not REDIS_URL:
    CACHES = {**CACHES, "progress": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "progress"}}

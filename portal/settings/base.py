"""Settings shared by every environment. Each value can be set from the environment."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .ldap_config import BACKEND as LDAP_BACKEND
from .ldap_config import ldap_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "django_celery_beat",
    "axes",
    "portal",
    "customers",
    "campaigns",
]

MIDDLEWARE = [
    # First, so every response (redirects and rejections too) gets an X-Request-ID and a log line.
    "portal.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After sign-in the user's saved language replaces LocaleMiddleware's cookie or browser choice.
    "portal.middleware.UserLanguageMiddleware",
    # Gives the audit trail the request's user and address, and records refused access.
    "portal.audit.AuditMiddleware",
    "portal.middleware.SessionLifetimeMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-axes wants its middleware last, so it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default so the portal starts on a bare machine.
# Production and CI set DATABASE_URL to PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the Celery worker and beat write to the same file at once. IMMEDIATE
    # transactions take the write lock when they begin, so a second writer waits up to
    # `timeout` seconds instead of failing with "database is locked" when its read turns
    # into a write; WAL lets readers go on while one process writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # SQLite builds the covering index customer_id_tier_idx as a plain index on the id, which
    # serves it as well. Without this, every command would print Django's warning about it.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes checks for a lockout before any other backend tries the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Optional sign-in through LDAP or Active Directory, only when LDAP_SERVER_URI is set: see
# portal/settings/ldap_config.py for the variables. The directory is asked before the local
# accounts, which stay usable for accounts that are not in the directory.
ldap_configuration = ldap_settings(os.environ)
globals().update(ldap_configuration)
LDAP_ENABLED = bool(ldap_configuration)
if LDAP_ENABLED:
    AUTHENTICATION_BACKENDS.insert(1, LDAP_BACKEND)
# Failed sign-ins are counted per combination of username and client address, so one user
# mistyping a password does not lock out the whole branch behind the same address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.views.lockout_response"
# TRUSTED_PROXY_COUNT is the number of reverse proxies in front of the portal, each appending
# the address it received from to X-Forwarded-For. The client address is then the entry that
# many places from the right end of that header, so entries that the client itself sent further
# left are ignored. python-ipware's proxy_count counts only the proxies listed in the header,
# which leaves out the last proxy, whose address is REMOTE_ADDR. Without a proxy only
# REMOTE_ADDR is trusted, because a client can send any X-Forwarded-For header.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    AXES_IPWARE_PROXY_COUNT = None
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
AXES_IPWARE_PROXY_ORDER = "left-most"
# Strict mode rejects a header with more entries than proxies and falls back to REMOTE_ADDR,
# which would count every client that sends its own X-Forwarded-For as the proxy's address.
IPWARE_STRICT = False

# A session ends after SESSION_IDLE_TIMEOUT_MINUTES without a request, because every request
# saves the session and so renews its expiry, and SESSION_MAX_LIFETIME_HOURS after sign-in
# whatever the activity (portal.middleware.SessionLifetimeMiddleware). 0 hours turns the
# maximum lifetime off.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_MAX_LIFETIME = timedelta(hours=env_int("SESSION_MAX_LIFETIME_HOURS", 12)) or None
SESSION_COOKIE_HTTPONLY = True

# The Content-Security-Policy header that portal.middleware sends on every response.
# "{nonce}" is replaced by a fresh random value per request, which templates read as
# request.csp_nonce. Scripts come from static files only: templates pass data to them with
# json_script or data- attributes, and tests/security/test_csp_inline.py rejects inline
# scripts and event handlers. Styles allow 'unsafe-inline' because htmx inserts its own
# <style> element and templates use style attributes.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# /health/ waits this many seconds for a Celery worker to reply to a ping.
HEALTH_CELERY_TIMEOUT = float(os.environ.get("HEALTH_CELERY_TIMEOUT", "1"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# portal/formats overrides Django's number formats: Django's zh_Hans groups digits by four
# without a separator, while Chinese bank statements group by three with commas.
FORMAT_MODULE_PATH = ["portal.formats"]
# Off on purpose: with it on, every integer a template prints is grouped, including ids in
# data- attributes and page numbers in links. Amounts and counts are grouped explicitly with
# the `amount` filter (portal/templatetags/portal_format.py) or intcomma.
USE_THOUSAND_SEPARATOR = False
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
# Exports with more rows than this are written by a Celery worker, with a progress bar, to a
# file under EXPORT_ROOT that only the user who asked for it can download. The periodic task
# portal.export_files_remove (or `manage.py remove_export_files`) deletes each file
# EXPORT_FILE_RETENTION_HOURS after it was written.
# NOTE: with web servers and workers on several hosts, EXPORT_ROOT must be a shared folder, or
# the download finds no file on the web server.
EXPORT_BACKGROUND_ROWS = env_int("EXPORT_BACKGROUND_ROWS", 10_000)
EXPORT_ROOT = Path(os.environ.get("EXPORT_ROOT", VAR_DIR / "exports"))
EXPORT_FILE_RETENTION_HOURS = env_int("EXPORT_FILE_RETENTION_HOURS", 24)

# Folder whose roster files the Celery task customers.roster_folder_import imports every
# 10 minutes, moving each into processed/ or failed/ below it. Empty: no folder imports.
ROSTER_IMPORT_FOLDER = os.environ.get("ROSTER_IMPORT_FOLDER", "")
# Campaign launches that create more tasks than this run in a Celery worker, with a progress
# bar, instead of within the request.
CAMPAIGN_LAUNCH_BACKGROUND_TASKS = env_int("CAMPAIGN_LAUNCH_BACKGROUND_TASKS", 2000)

# Django streams uploaded files above this size to disk, because rosters can be large.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
PORTAL_PAGE_SIZE = env_int("PORTAL_PAGE_SIZE", 25)
# A filtered roster or task list counts its rows up to this number and above it shows "more
# than", with a link that counts exactly. An exact COUNT of a million matching rows costs
# several times the page itself.
PORTAL_LIST_COUNT_LIMIT = env_int("PORTAL_LIST_COUNT_LIMIT", 10_000)
# Minutes between rebuilds of the dashboard's pre-aggregated figures (portal/dashboard/summary.py).
# Keep it equal to the interval of the "Dashboard figures" beat schedule; the page states it.
DASHBOARD_SUMMARY_REFRESH_MINUTES = env_int("DASHBOARD_SUMMARY_REFRESH_MINUTES", 5)
# Minutes between rebuilds of the next-campaign analysis figures (portal/dashboard/analysis_summary.py).
# Keep it equal to the interval of the "Next-campaign analysis figures" beat schedule.
ANALYSIS_SUMMARY_REFRESH_MINUTES = env_int("ANALYSIS_SUMMARY_REFRESH_MINUTES", 15)

# Reminders. The digest lists tasks due within this many days.
REMINDER_DUE_SOON_DAYS = env_int("REMINDER_DUE_SOON_DAYS", 7)
# Task lines in one digest, most urgent first. The heading keeps the exact totals and a last line
# links to the task list for the rest.
REMINDER_DIGEST_MAX_TASKS = env_int("REMINDER_DIGEST_MAX_TASKS", 50)
# Working days overdue before a task is escalated to the client manager, the supervisor and the
# head of the parent branch, as a comma-separated list ("1,3,5").
REMINDER_ESCALATION_WORKING_DAYS = tuple(
    int(days) for days in env_list("REMINDER_ESCALATION_WORKING_DAYS", "1,3,5")
)
# Attempts before a failed reminder mail is left failed for the administrator to resend.
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 6)
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# Redis is the broker wherever REDIS_URL is set. The quick start sets no REDIS_URL and uses
# kombu's file-system transport, which needs no server.
REDIS_URL = os.environ.get("REDIS_URL") or ""
# The cache is shared by every web process and worker when it lives in Redis. Nothing may keep
# shared state in a process's memory: sessions are in the database (Django's default engine),
# and so are django-axes' failure counts (its default database handler). Without Redis the quick
# start runs one web process, so a process-local cache is enough there. The production settings
# use the database cache instead when REDIS_URL is empty.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "portal"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A background campaign launch reports its progress while its transaction is still open, so the
# progress cannot go through the database: other connections would see it only after the commit,
# and on SQLite the launch's write lock would block it. The web processes and the workers share
# this cache instead. Without Redis it is a folder, which the quick start's web server and worker
# share because they run on one machine.
# NOTE: web servers and workers on several hosts without Redis do not share that folder, so there
# the progress bar stays at "waiting for a worker" until the launch ends.
if REDIS_URL:
    CACHES["progress"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "portal-progress",
    }
else:
    CACHES["progress"] = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "progress")}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu otherwise puts its broadcast exchanges in ./control, wherever the process started.
        "control_folder": str(_broker_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
DJANGO_CELERY_BEAT_TZ_AWARE = True

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@bank.example")

# Every handler masks phone numbers, ID numbers, e-mail addresses and balances (portal.logging)
# and carries the request id, Celery task id and user id. Django's own default handlers have no
# such filters, so the "django" logger drops them and hands its records to the root handler, and
# runserver's request lines get a masked handler of their own. LOG_FORMAT chooses one JSON object
# per line (json, the production default) or plain text (plain, the default elsewhere), and
# LOG_STREAM the stream (stdout, the production default, or stderr, the default elsewhere).
LOG_FORMATS = ("json", "plain")
LOG_STREAMS = ("stdout", "stderr")


def log_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ImproperlyConfigured(f"Invalid {name} {value!r}: use one of {', '.join(choices)}.")
    return value


LOG_FORMAT = log_choice("LOG_FORMAT", "plain", LOG_FORMATS)
LOG_STREAM = log_choice("LOG_STREAM", "stderr", LOG_STREAMS)
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "portal.logging.RequestContextFilter"},
        "forbidden_traceback": {"()": "portal.logging.ForbiddenTracebackFilter"},
        "mask_personal_data": {"()": "portal.logging.MaskPersonalDataFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "portal.log_json.JsonFormatter"},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": f"ext://sys.{LOG_STREAM}",
            "formatter": LOG_FORMAT,
            "filters": ["forbidden_traceback", "request_context", "mask_personal_data"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["forbidden_traceback", "request_context", "mask_personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}
# A Celery worker would otherwise replace the root handlers with its own, unmasked ones.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

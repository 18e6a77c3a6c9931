"""gunicorn settings of the portal's web processes: `gunicorn -c deploy/gunicorn.conf.py`.

gunicorn itself reads WEB_CONCURRENCY for the number of worker processes (default 1) and
GUNICORN_CMD_ARGS for any other option, so a unit file can override these values."""

import os

wsgi_app = "portal.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Large exports stream for longer than gunicorn's default of 30 seconds.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Restarting each worker after some thousand requests returns memory that a large export or
# import grew, and the jitter keeps the workers from restarting all at once.
max_requests = 2000
max_requests_jitter = 200
# portal.request_id.RequestIdMiddleware logs one line per request with its request id and user
# id, so gunicorn's own access log would only repeat it.
accesslog = None
# systemd (or the test that starts it) manages the process, so gunicornc's control socket is not needed,
# and two servers on one machine would otherwise share its default path.
control_socket_disable = True

# gunicorn's own messages (start, stop, worker timeouts) in the same format and on the same
# stream as the portal's, with the same masking.
_log_format = os.environ.get("LOG_FORMAT", "json").strip() or "json"
_log_stream = os.environ.get("LOG_STREAM", "stdout").strip() or "stdout"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "portal.logging.RequestContextFilter"},
        "mask_personal_data": {"()": "portal.logging.MaskPersonalDataFilter"},
    },
    "formatters": {
        "json": {"()": "portal.log_json.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": f"ext://sys.{_log_stream}",
            "formatter": _log_format,
            "filters": ["request_context", "mask_personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": False},
    },
}

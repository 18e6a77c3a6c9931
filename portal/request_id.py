"""A request id for every request, shared with the log records written while it runs.

The reverse proxy's X-Request-ID is kept when it is a sane value, so that the proxy's access
log and the portal's JSON log lines can be joined. Otherwise the portal generates an id. The id
is returned in the response's X-Request-ID header."""

import contextvars
import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject, empty
from django.utils.log import log_response

logger = logging.getLogger("portal.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and . _ : - only, so a client cannot inject quotes, newlines or markup into
# log lines or the response header. Any client may send the header, which is harmless: the id
# only correlates log lines and grants nothing.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# The request being served by this thread or coroutine, None outside a request.
current_request = contextvars.ContextVar("portal_current_request", default=None)


def request_id_from_header(value: str | None) -> str:
    """Return `value` when it is a sane request id, else a new random one (32 hex digits)."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def request_user_id(request) -> int | None:
    """Return the primary key of the request's signed-in user, or None.

    Only a user that the request has already loaded counts. Loading it here would query the
    session and the user table from inside a log call, and a log call made while the session
    loads would then recurse."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if not user.is_authenticated:
        return None
    return user.pk


class RequestIdMiddleware:
    """Give each request an id (request.request_id), log one line when it finishes, and return
    the id in the X-Request-ID response header. Put it first in MIDDLEWARE, so the line and the
    header cover responses that later middleware returns early (redirects, rejections)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        token = current_request.set(request)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            # The path without its query string, which may contain a search for a customer.
            logger.info(
                "%s %s %s %.0f ms",
                request.method, request.path, response.status_code, (time.monotonic() - started) * 1000,
            )
            if response.status_code >= 400:
                # Django's handler logs 4xx and 5xx responses after the whole middleware chain
                # returns, where the request id is gone. log_response marks the response as
                # logged, so logging it here writes the line once, with the id.
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
            response[REQUEST_ID_HEADER] = request.request_id
            return response
        finally:
            current_request.reset(token)

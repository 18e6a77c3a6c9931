"""Writes to the audit trail. Call `audit_record` inside the transaction of the change it
describes, so that a rolled-back change leaves no entry.

Changes made through Model.save() and delete() of the audited models are recorded by
portal.audit_signals. Bulk writes (bulk_create, bulk_update, QuerySet.update) send no model
signals, so their callers record them with `audit_bulk`. AuditMiddleware makes the current
request available to both, for the actor and the client address, and records refused access."""

from contextvars import ContextVar

from axes.helpers import get_client_ip_address
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import AuditEvent

# The request being handled in this thread or task, set by AuditMiddleware. Outside a
# request (Celery workers, management commands) it is None and entries have no actor.
current_request: ContextVar = ContextVar("audit_current_request", default=None)

# object_type of the entries about a page rather than a record: refused access.
PAGE_OBJECT_TYPE = "page"


def request_ip(request) -> str | None:
    """Return the client address the way django-axes reads it: REMOTE_ADDR, or behind
    TRUSTED_PROXY_COUNT reverse proxies the X-Forwarded-For entry that many places from the
    right (see the AXES_IPWARE_* settings)."""
    if request is None:
        return None
    return get_client_ip_address(request)


def request_actor(request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def audit_write(*, action: str, object_type: str, object_id="", detail=None, actor=None, request=None, using=None):
    """Add one entry. Without `request` the current request supplies the client address,
    and without `actor` its signed-in user, if there is one."""
    request = request if request is not None else current_request.get()
    if actor is not None and not actor.is_authenticated:
        actor = None
    if actor is None:
        actor = request_actor(request)
    manager = AuditEvent.objects.using(using) if using else AuditEvent.objects
    return manager.create(
        actor=actor,
        action=action,
        object_type=object_type[:50],
        object_id=str(object_id if object_id is not None else "")[:50],
        detail=detail or {},
        ip_address=request_ip(request),
    )


def audit_record(*, actor, action: str, obj, detail: dict | None = None, request=None) -> AuditEvent:
    return audit_write(
        action=action,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        detail=detail,
        actor=actor,
        request=request,
    )


def audit_bulk(actor, action: str, object_type, count: int, detail: dict | None = None, request=None) -> AuditEvent:
    """Record one entry for `count` rows that a bulk write created, changed or deleted.

    `object_type` is a model class or its label ("customers.customer"). `detail` describes
    the operation (for example the roster import or campaign id) and must not contain
    unmasked phone numbers, ID numbers or e-mail addresses."""
    if not isinstance(object_type, str):
        object_type = object_type._meta.label_lower
    return audit_write(
        action=action,
        object_type=object_type.lower(),
        detail={**(detail or {}), "count": count, "bulk": True},
        actor=actor,
        request=request,
    )


class AuditMiddleware:
    """Make the request available to the audit trail while it is handled, and record refused
    access: every 403 response (PermissionDenied, CSRF failures) and every "not found" that
    a resolved page raised for a signed-in user.

    A 404 cannot tell a record outside the user's scope from one that does not exist, because
    the selectors raise Http404 for both, so both are recorded as NOT_FOUND. A 404 for a URL
    that matches no page is not recorded. Must come after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_request.set(request)
        try:
            response = self.get_response(request)
            self._record_refused_access(request, response)
        finally:
            current_request.reset(token)
        return response

    def process_exception(self, request, exception):
        # Only noted here: Django turns the exception into the 403 or 404 response that
        # __call__ then receives.
        request.audit_exception = exception

    def _record_refused_access(self, request, response):
        exception = getattr(request, "audit_exception", None)
        if response.status_code == 403:
            if isinstance(exception, PermissionDenied):
                reason = "permission_denied"
            elif not getattr(request, "csrf_processing_done", False):
                # CsrfViewMiddleware marks every request it accepts, including safe methods.
                reason = "csrf"
            else:
                reason = "forbidden"
            self._write(request, AuditEvent.Action.ACCESS_DENIED, response, reason)
        elif (
            response.status_code == 404
            and isinstance(exception, Http404)
            and request.resolver_match is not None
            and request_actor(request) is not None
        ):
            self._write(request, AuditEvent.Action.NOT_FOUND, response, "not_found")

    def _write(self, request, action, response, reason):
        match = request.resolver_match
        detail = {
            "path": request.path[:500],
            "method": request.method,
            "status": response.status_code,
            "reason": reason,
        }
        if match is not None and match.kwargs:
            detail["arguments"] = {key: str(value) for key, value in match.kwargs.items()}
        audit_write(
            action=action,
            object_type=PAGE_OBJECT_TYPE,
            object_id=match.view_name if match is not None else "",
            detail=detail,
            request=request,
        )

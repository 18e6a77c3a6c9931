"""Writes to the audit trail. Call `audit_record` inside the transaction of the change it
describes, so that a rolled-back change leaves no entry."""

from .models import AuditEvent


def request_ip(request) -> str | None:
    # NOTE: REMOTE_ADDR is the proxy's address behind a reverse proxy; reading the forwarded
    # header safely needs the proxy count from the deployment settings.
    return request.META.get("REMOTE_ADDR") if request is not None else None


def audit_record(*, actor, action: str, obj, detail: dict | None = None, request=None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        detail=detail or {},
        ip_address=request_ip(request),
    )

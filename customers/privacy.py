"""Full personal identifiers, shown only to roles that need them and only with an audit entry."""

from django.db import transaction

from portal.audit import audit_record
from portal.models import AuditEvent, Role

# The full values each role may reveal. Client managers call and write to their customers,
# and the platform also checks identities. Supervisors work from masked figures.
REVEALABLE_FIELDS = {
    Role.CLIENT_MANAGER: ("phone", "email"),
    Role.PLATFORM: ("phone", "email", "id_number"),
}


class RevealForbidden(Exception):
    pass


def customer_can_reveal(*, user, field: str) -> bool:
    return field in REVEALABLE_FIELDS.get(user.role, ())


def customer_identifier_reveal(*, user, customer, field: str, request=None) -> str:
    """Return the full value of `field` for a customer already in the user's scope, and record
    who saw it. Raises RevealForbidden for a role or field that is not allowed."""
    if not customer_can_reveal(user=user, field=field):
        raise RevealForbidden(field)
    with transaction.atomic():
        audit_record(
            actor=user, action=AuditEvent.Action.REVEAL, obj=customer, detail={"field": field}, request=request
        )
    return getattr(customer, field)

"""Sign-in through LDAP or Active Directory. Imported only when LDAP_SERVER_URI is set
(portal.settings.ldap_config), because it needs python-ldap."""

import logging

from django.conf import settings
from django.dispatch import receiver
from django_auth_ldap.backend import LDAPBackend, populate_user

logger = logging.getLogger(__name__)


class PortalLDAPBackend(LDAPBackend):
    """django-auth-ldap's backend. On every sign-in the user's portal role, and optionally the
    branch, are set from the directory (see `ldap_user_populate`)."""


@receiver(populate_user, sender=PortalLDAPBackend, dispatch_uid="portal_ldap_user_populate")
def ldap_user_populate(sender, user, ldap_user, **kwargs):
    """Set the role of the first mapped group the user belongs to, and the branch whose code is
    in LDAP_BRANCH_ATTRIBUTE. AUTH_LDAP_REQUIRE_GROUP lets only members of a mapped group get here."""
    from customers.models import Branch

    group_dns = {dn.lower() for dn in ldap_user.group_dns}
    for role, group_dn in settings.PORTAL_LDAP_ROLE_GROUPS:
        if group_dn.lower() in group_dns:
            user.role = role
            break

    attribute = settings.PORTAL_LDAP_BRANCH_ATTRIBUTE
    if not attribute:
        return
    # attrs is a case-insensitive dict of lists.
    values = ldap_user.attrs.get(attribute) or []
    if not values:
        logger.warning("LDAP user %s has no %s attribute; branch left unchanged", ldap_user.dn, attribute)
        return
    branch = Branch.objects.filter(code=values[0]).first()
    if branch is None:
        logger.warning("LDAP user %s: no branch with code %r; branch left unchanged", ldap_user.dn, values[0])
        return
    user.branch = branch

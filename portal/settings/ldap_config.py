"""Sign-in through the bank's LDAP or Active Directory (django-auth-ldap), configured only by
environment variables. Without LDAP_SERVER_URI nothing is configured and python-ldap is not
imported, so the portal runs without it.

    LDAP_SERVER_URI           ldap://host:389 or ldaps://host:636; several separated by spaces
    LDAP_BIND_DN              service account that searches for users (empty: anonymous bind)
    LDAP_BIND_PASSWORD        its password
    LDAP_USER_SEARCH_BASE     DN under which user entries are searched (required)
    LDAP_USER_SEARCH_FILTER   default (uid=%(user)s); Active Directory: (sAMAccountName=%(user)s)
    LDAP_GROUP_SEARCH_BASE    DN under which groups are searched (required)
    LDAP_GROUP_TYPE           groupOfNames (default), nestedGroupOfNames, groupOfUniqueNames,
                              posixGroup, activeDirectory or nestedActiveDirectory
    LDAP_GROUP_ADMINISTRATOR, LDAP_GROUP_PLATFORM, LDAP_GROUP_SUPERVISOR,
    LDAP_GROUP_CLIENT_MANAGER group DNs that give the portal role; at least one is required
    LDAP_BRANCH_ATTRIBUTE     optional user attribute that contains the code of the user's branch
    LDAP_START_TLS            true: upgrade an ldap:// connection with StartTLS
    LDAP_TLS_CA_CERT_FILE     CA certificates (PEM) that verify the server, for ldaps:// or StartTLS
    LDAP_TIMEOUT_SECONDS      network timeout per connection, default 5
"""

from django.core.exceptions import ImproperlyConfigured

BACKEND = "portal.ldap_backend.PortalLDAPBackend"
# Role for each group variable, in the order in which a user's groups are matched: a user in
# several mapped groups gets the first role of this list.
ROLE_GROUP_VARIABLES = (
    ("administrator", "LDAP_GROUP_ADMINISTRATOR"),
    ("platform", "LDAP_GROUP_PLATFORM"),
    ("supervisor", "LDAP_GROUP_SUPERVISOR"),
    ("client_manager", "LDAP_GROUP_CLIENT_MANAGER"),
)
GROUP_TYPES = {
    "groupOfNames": "GroupOfNamesType",
    "nestedGroupOfNames": "NestedGroupOfNamesType",
    "groupOfUniqueNames": "GroupOfUniqueNamesType",
    "posixGroup": "PosixGroupType",
    "activeDirectory": "ActiveDirectoryGroupType",
    "nestedActiveDirectory": "NestedActiveDirectoryGroupType",
}
TRUE_VALUES = {"1", "true", "yes", "on"}


def _required(environ, name: str, example: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is missing: LDAP_SERVER_URI is set, so set {name} too, for example {example}.")
    return value


def ldap_settings(environ) -> dict:
    """Return the Django settings for LDAP sign-in read from `environ`, or {} when
    LDAP_SERVER_URI is unset. Raises ImproperlyConfigured for a missing or invalid value."""
    server_uri = environ.get("LDAP_SERVER_URI", "").strip()
    if not server_uri:
        return {}
    try:
        import ldap
        from django_auth_ldap import config
    except ImportError as error:
        raise ImproperlyConfigured(
            f"LDAP_SERVER_URI is set but {error.name} is not installed: run pip install -r requirements-ldap.txt "
            "(python-ldap needs the libldap2-dev and libsasl2-dev headers to build)."
        ) from error

    user_base = _required(environ, "LDAP_USER_SEARCH_BASE", "ou=people,dc=bank,dc=example")
    group_base = _required(environ, "LDAP_GROUP_SEARCH_BASE", "ou=groups,dc=bank,dc=example")
    user_filter = environ.get("LDAP_USER_SEARCH_FILTER", "").strip() or "(uid=%(user)s)"
    group_type_name = environ.get("LDAP_GROUP_TYPE", "").strip() or "groupOfNames"
    if group_type_name not in GROUP_TYPES:
        raise ImproperlyConfigured(
            f"LDAP_GROUP_TYPE {group_type_name!r} is invalid: use one of {', '.join(GROUP_TYPES)}."
        )
    role_groups = [
        (role, environ[variable].strip()) for role, variable in ROLE_GROUP_VARIABLES if environ.get(variable, "").strip()
    ]
    if not role_groups:
        names = ", ".join(variable for _, variable in ROLE_GROUP_VARIABLES)
        raise ImproperlyConfigured(f"Set at least one of {names}: LDAP users get their portal role from these groups.")

    # Only members of a mapped group may sign in, so no directory user gets the default role
    # (client manager) by accident.
    required_group = None
    for _, group_dn in role_groups:
        query = config.LDAPGroupQuery(group_dn)
        required_group = query if required_group is None else required_group | query

    timeout = int(environ.get("LDAP_TIMEOUT_SECONDS", "").strip() or 5)
    connection_options = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        # Active Directory returns referrals that the client cannot follow with the same bind.
        ldap.OPT_REFERRALS: 0,
    }
    ca_cert_file = environ.get("LDAP_TLS_CA_CERT_FILE", "").strip()
    if ca_cert_file:
        connection_options[ldap.OPT_X_TLS_CACERTFILE] = ca_cert_file
        connection_options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        # The TLS options take effect only in a new TLS context, so this option must come last.
        connection_options[ldap.OPT_X_TLS_NEWCTX] = 0

    administrator_groups = [group_dn for role, group_dn in role_groups if role == "administrator"]
    flags_by_group = {}
    if administrator_groups:
        # The administrator role manages accounts in the Django admin, which needs these flags.
        # They are taken away again at the next sign-in of a user who left the group.
        flags_by_group = {"is_staff": administrator_groups[0], "is_superuser": administrator_groups[0]}

    return {
        "AUTH_LDAP_SERVER_URI": server_uri,
        "AUTH_LDAP_BIND_DN": environ.get("LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": environ.get("LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_USER_SEARCH": config.LDAPSearch(user_base, ldap.SCOPE_SUBTREE, user_filter),
        "AUTH_LDAP_GROUP_SEARCH": config.LDAPSearch(group_base, ldap.SCOPE_SUBTREE),
        "AUTH_LDAP_GROUP_TYPE": getattr(config, GROUP_TYPES[group_type_name])(),
        "AUTH_LDAP_REQUIRE_GROUP": required_group,
        "AUTH_LDAP_USER_FLAGS_BY_GROUP": flags_by_group,
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        # Role, names and branch follow the directory at every sign-in.
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_START_TLS": environ.get("LDAP_START_TLS", "").strip().lower() in TRUE_VALUES,
        "AUTH_LDAP_CONNECTION_OPTIONS": connection_options,
        "PORTAL_LDAP_ROLE_GROUPS": role_groups,
        "PORTAL_LDAP_BRANCH_ATTRIBUTE": environ.get("LDAP_BRANCH_ATTRIBUTE", "").strip(),
    }

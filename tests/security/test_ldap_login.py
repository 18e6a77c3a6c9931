"""Sign-in through LDAP against a real slapd on loopback, started with a temporary directory.

Needs Debian's slapd and ldap-utils and python-ldap with django-auth-ldap
(requirements-ldap.txt): skipped without them, failed on CI, where .ci/run installs them."""

import importlib.util
import json
import shutil
import socket
import subprocess
import time
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from portal.models import AuditEvent, Role, User
from portal.settings.ldap_config import BACKEND, ldap_settings
from tests.conftest import need

SUFFIX = "dc=bank,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "directory-root-secret"
SERVICE_DN = f"uid=portal-service,ou=people,{SUFFIX}"
SERVICE_PASSWORD = "service-account-secret"
CLIENT_MANAGERS = f"cn=portal-client-managers,ou=groups,{SUFFIX}"
SUPERVISORS = f"cn=portal-supervisors,ou=groups,{SUFFIX}"
ADMINISTRATORS = f"cn=portal-administrators,ou=groups,{SUFFIX}"
UNMAPPED = f"cn=canteen,ou=groups,{SUFFIX}"
PASSWORDS = {"li.lei": "Li-Lei-pass-1", "han.mei": "Han-Mei-pass-2", "zhao.yun": "Zhao-Yun-pass-3"}
SCHEMA_DIR = Path("/etc/ldap/schema")
# slapd normally listens within a fraction of a second. This only bounds a broken start.
START_TIMEOUT_SECONDS = 20

SLAPD_CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {folder}/data
"""


def person(uid, given_name, surname, password, branch_code):
    return f"""\
dn: uid={uid},ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: {uid}
cn: {given_name} {surname}
givenName: {given_name}
sn: {surname}
mail: {uid}@bank.example
departmentNumber: {branch_code}
userPassword: {password}
"""


def group(dn, *member_uids):
    members = "".join(f"member: uid={uid},ou=people,{SUFFIX}\n" for uid in member_uids)
    return f"dn: {dn}\nobjectClass: groupOfNames\ncn: {dn.split(',')[0][3:]}\n{members}"


DIRECTORY_LDIF = "\n".join([
    f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: bank\no: Bank\n",
    f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
    f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n",
    person("portal-service", "Portal", "Service", SERVICE_PASSWORD, "HO"),
    person("li.lei", "Lei", "Li", PASSWORDS["li.lei"], "BA"),
    person("han.mei", "Mei", "Han", PASSWORDS["han.mei"], "BB"),
    person("zhao.yun", "Yun", "Zhao", PASSWORDS["zhao.yun"], "BA"),
    # han.mei is in two mapped groups and gets the first role in ldap_config's order.
    group(CLIENT_MANAGERS, "li.lei", "han.mei"),
    group(SUPERVISORS, "han.mei"),
    group(ADMINISTRATORS, "portal-service"),
    group(UNMAPPED, "zhao.yun"),
])


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(process, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with status {process.returncode}: {log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"slapd did not listen on 127.0.0.1:{port} within {START_TIMEOUT_SECONDS} s")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    """Start slapd on a free loopback port with the directory above and yield its URI."""
    slapd_path = shutil.which("slapd") or "/usr/sbin/slapd"
    slapadd_path = shutil.which("slapadd") or "/usr/sbin/slapadd"
    need(Path(slapd_path).exists() and SCHEMA_DIR.exists(), "slapd is not installed (apt-get install slapd ldap-utils)")
    need(shutil.which("ldapmodify") is not None, "ldap-utils is not installed (apt-get install ldap-utils)")
    need(
        importlib.util.find_spec("ldap") is not None and importlib.util.find_spec("django_auth_ldap") is not None,
        "python-ldap and django-auth-ldap are not installed (pip install -r requirements-ldap.txt)",
    )

    folder = tmp_path_factory.mktemp("slapd")
    (folder / "data").mkdir()
    config = folder / "slapd.conf"
    config.write_text(SLAPD_CONF.format(
        schema=SCHEMA_DIR, folder=folder, suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD,
    ))
    (folder / "directory.ldif").write_text(DIRECTORY_LDIF)
    subprocess.run(
        [slapadd_path, "-f", config, "-l", folder / "directory.ldif"], check=True, capture_output=True, text=True
    )

    port = free_loopback_port()
    uri = f"ldap://127.0.0.1:{port}/"
    log_path = folder / "slapd.log"
    # -d keeps slapd in the foreground, so the fixture owns the process and ends it. Its
    # output goes to a file, because a pipe nobody reads could fill up and block it.
    with log_path.open("w") as log:
        process = subprocess.Popen([slapd_path, "-f", config, "-h", uri, "-d", "0"], stdout=log, stderr=log)
    try:
        wait_until_listening(process, port, log_path)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def directory_environment(uri, **extra):
    return {
        "LDAP_SERVER_URI": uri,
        "LDAP_BIND_DN": SERVICE_DN,
        "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
        "LDAP_USER_SEARCH_BASE": f"ou=people,{SUFFIX}",
        "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{SUFFIX}",
        "LDAP_GROUP_CLIENT_MANAGER": CLIENT_MANAGERS,
        "LDAP_GROUP_SUPERVISOR": SUPERVISORS,
        "LDAP_GROUP_ADMINISTRATOR": ADMINISTRATORS,
        "LDAP_BRANCH_ATTRIBUTE": "departmentNumber",
        **extra,
    }


@pytest.fixture
def ldap_enabled(slapd, settings, branch_tree):
    """Apply the settings that these environment variables give, as base.py would."""
    for name, value in ldap_settings(directory_environment(slapd)).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend", BACKEND, "django.contrib.auth.backends.ModelBackend",
    ]
    return slapd


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="10.30.0.9")


def move_to_group(uri, uid, old_group, new_group):
    member = f"uid={uid},ou=people,{SUFFIX}"
    # Added first: a groupOfNames must keep at least one member.
    changes = (
        f"dn: {new_group}\nchangetype: modify\nadd: member\nmember: {member}\n\n"
        f"dn: {old_group}\nchangetype: modify\ndelete: member\nmember: {member}\n"
    )
    subprocess.run(
        ["ldapmodify", "-x", "-H", uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
        input=changes, check=True, capture_output=True, text=True,
    )


def test_ldap_off_without_server_uri():
    assert ldap_settings({}) == {}
    assert BACKEND not in django_settings.AUTHENTICATION_BACKENDS


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "role", "branch_key"),
    [("li.lei", Role.CLIENT_MANAGER, "a"), ("han.mei", Role.SUPERVISOR, "b")],
)
def test_sign_in_creates_mapped_user(client, ldap_enabled, branch_tree, username, role, branch_key):
    response = sign_in(client, username, PASSWORDS[username])
    assert response.status_code == HTTPStatus.FOUND

    user = User.objects.get(username=username)
    assert user.role == role
    assert user.branch == branch_tree[branch_key]
    assert user.email == f"{username}@bank.example"
    assert not user.has_usable_password()
    assert not user.is_staff

    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN)
    assert event.actor == user
    assert event.detail["backend"] == BACKEND
    assert event.ip_address == "10.30.0.9"


@pytest.mark.django_db
def test_administrator_group_gets_admin_flags(client, ldap_enabled):
    assert sign_in(client, "portal-service", SERVICE_PASSWORD).status_code == HTTPStatus.FOUND
    user = User.objects.get(username="portal-service")
    assert user.role == Role.ADMINISTRATOR
    assert user.is_staff


@pytest.mark.django_db
def test_wrong_password_fails_audited(client, ldap_enabled):
    response = sign_in(client, "li.lei", "not-the-password")
    assert response.status_code == HTTPStatus.OK
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="li.lei").exists()

    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.detail["username"] == "li.lei"
    assert event.ip_address == "10.30.0.9"
    assert "not-the-password" not in json.dumps(event.detail)


@pytest.mark.django_db
def test_member_of_no_mapped_group_rejected(client, ldap_enabled):
    response = sign_in(client, "zhao.yun", PASSWORDS["zhao.yun"])
    assert response.status_code == HTTPStatus.OK
    assert not User.objects.filter(username="zhao.yun").exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED, detail__username="zhao.yun").exists()


@pytest.mark.django_db
def test_role_follows_directory_changes(client, ldap_enabled):
    assert sign_in(client, "li.lei", PASSWORDS["li.lei"]).status_code == HTTPStatus.FOUND
    assert User.objects.get(username="li.lei").role == Role.CLIENT_MANAGER
    client.post(reverse("logout"))

    move_to_group(ldap_enabled, "li.lei", CLIENT_MANAGERS, SUPERVISORS)
    try:
        assert sign_in(client, "li.lei", PASSWORDS["li.lei"]).status_code == HTTPStatus.FOUND
        assert User.objects.get(username="li.lei").role == Role.SUPERVISOR
    finally:
        move_to_group(ldap_enabled, "li.lei", SUPERVISORS, CLIENT_MANAGERS)


@pytest.mark.django_db
def test_local_accounts_still_sign_in(client, ldap_enabled, users):
    assert sign_in(client, "cm_a", "portal-test-pass").status_code == HTTPStatus.FOUND


def test_missing_search_base_rejected(slapd):
    environment = directory_environment(slapd)
    del environment["LDAP_USER_SEARCH_BASE"]
    with pytest.raises(ImproperlyConfigured, match="LDAP_USER_SEARCH_BASE is missing"):
        ldap_settings(environment)


def test_no_role_group_rejected(slapd):
    environment = {
        key: value for key, value in directory_environment(slapd).items() if not key.startswith("LDAP_GROUP_")
        or key == "LDAP_GROUP_SEARCH_BASE"
    }
    with pytest.raises(ImproperlyConfigured, match="LDAP_GROUP_ADMINISTRATOR"):
        ldap_settings(environment)


def test_unknown_group_type_rejected(slapd):
    with pytest.raises(ImproperlyConfigured, match="LDAP_GROUP_TYPE 'openLdap' is invalid"):
        ldap_settings(directory_environment(slapd, LDAP_GROUP_TYPE="openLdap"))


def test_tls_options(slapd, tmp_path):
    import ldap

    ca_file = tmp_path / "bank-ca.pem"
    configuration = ldap_settings(
        directory_environment(slapd, LDAP_START_TLS="true", LDAP_TLS_CA_CERT_FILE=str(ca_file))
    )
    assert configuration["AUTH_LDAP_START_TLS"] is True
    options = configuration["AUTH_LDAP_CONNECTION_OPTIONS"]
    assert options[ldap.OPT_X_TLS_CACERTFILE] == str(ca_file)
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX
    assert ldap_settings(directory_environment(slapd))["AUTH_LDAP_START_TLS"] is False

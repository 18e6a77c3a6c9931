"""Shared fixtures: a branch tree, one user per role, and checks for the services tests need.

On CI (the CI variable set) a test that needs PostgreSQL, Redis or chromium fails when the
service is missing. Elsewhere it is skipped, so the suite runs on a bare machine."""

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.utils import translation

from customers.models import Branch
from portal.models import Role
from tests.factories import UserFactory

ON_CI = bool(os.environ.get("CI"))
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
BANK_FULL = SHARED_DATA / "bank-marketing" / "bank-full.csv"


def need(condition: bool, reason: str):
    """Skip the test when `condition` is false, or fail it on CI, where everything must run."""
    if condition:
        return
    if ON_CI:
        pytest.fail(f"{reason} (required on CI)")
    pytest.skip(reason)


def port_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def default_language():
    """Start and end each test in LANGUAGE_CODE. Nothing deactivates the language that a
    request activates (LocaleMiddleware, UserLanguageMiddleware), so a request by a user who
    reads Chinese would otherwise turn the messages of the next test in the thread Chinese."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    need(bool(url) and port_open(url, 6379), "Redis is not reachable: set REDIS_URL to a running server")
    return url


@pytest.fixture
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    need(Path(path).exists(), "Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def bank_full_csv():
    need(BANK_FULL.exists(), f"real data file {BANK_FULL} is absent")
    return BANK_FULL


def pytest_sessionstart(session):
    # On CI the whole suite must run against PostgreSQL, never the SQLite default.
    if ON_CI and not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise pytest.UsageError("CI is set but DATABASE_URL does not point to PostgreSQL")


@pytest.fixture
def branch_tree(db):
    """Head office with two branches; branch A has a sub-branch A1."""
    head = Branch.objects.create(code="HO", name="Head office", level=Branch.Level.HEAD_OFFICE)
    branch_a = Branch.objects.create(code="BA", name="Branch A", parent=head)
    sub_a1 = Branch.objects.create(code="BA1", name="Sub-branch A1", parent=branch_a, level=Branch.Level.SUB_BRANCH)
    branch_b = Branch.objects.create(code="BB", name="Branch B", parent=head)
    return {"head": head, "a": branch_a, "a1": sub_a1, "b": branch_b}


@pytest.fixture
def users(branch_tree):
    """One user per role; two client managers in branch A's subtree and one in branch B."""
    platform = UserFactory(username="platform", role=Role.PLATFORM, branch=branch_tree["head"])
    admin = UserFactory(username="admin", role=Role.ADMINISTRATOR, branch=branch_tree["head"])
    supervisor_a = UserFactory(username="sup_a", role=Role.SUPERVISOR, branch=branch_tree["a"])
    supervisor_b = UserFactory(username="sup_b", role=Role.SUPERVISOR, branch=branch_tree["b"])
    manager_a = UserFactory(username="cm_a", branch=branch_tree["a"], supervisor=supervisor_a)
    manager_a1 = UserFactory(username="cm_a1", branch=branch_tree["a1"], supervisor=supervisor_a)
    manager_b = UserFactory(username="cm_b", branch=branch_tree["b"], supervisor=supervisor_b)
    return {
        "platform": platform,
        "admin": admin,
        "supervisor_a": supervisor_a,
        "supervisor_b": supervisor_b,
        "manager_a": manager_a,
        "manager_a1": manager_a1,
        "manager_b": manager_b,
    }


def pytest_collection_modifyitems(config, items):
    # A test that commits (live server, worker thread) ends with a flush, which also removes the
    # rows the migrations create (default tiers, the reminder schedule) for every later test.
    # Serialized rollback puts them back. pytest-django reads the option from the closest
    # django_db marker, so the marker is set again in front, with the test's own options kept.
    for item in items:
        marker = item.get_closest_marker("django_db")
        commits = {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))
        if commits or (marker and marker.kwargs.get("transaction")):
            options = dict(marker.kwargs) if marker else {}
            options.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**options), append=False)


@pytest.fixture(scope="session", autouse=True)
def close_stray_database_sessions(django_db_setup, django_db_blocker):
    """End, before the test database is dropped, the PostgreSQL sessions that threads opened
    and never closed (the live server's, Playwright's greenlets), so that the drop succeeds."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

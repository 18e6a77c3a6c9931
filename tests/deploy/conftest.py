"""Fixtures of the deploy tests: collected static files and the production environment of the
processes they start, pointed at the test database and Redis."""

import pytest
from django.db import connection

from tests.conftest import need
from tests.reminders.test_faults import postgresql_test_url

from .servers import BrowserBehindProxy, collect_static, production_environment


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """Static files collected once, hashed and compressed by the production storage."""
    root = tmp_path_factory.mktemp("staticfiles")
    # collectstatic opens no database connection, so any URL will do.
    environment = production_environment(database_url="sqlite:///unused.sqlite3", redis_url="", static_root=root)
    collect_static(root, environment)
    return root


@pytest.fixture
def web_environment(transactional_db, redis_url, static_root):
    """The environment of a gunicorn server that serves the test database's committed rows."""
    need(connection.vendor == "postgresql", "web server processes need the test database on PostgreSQL")
    return production_environment(database_url=postgresql_test_url(), redis_url=redis_url, static_root=static_root)


@pytest.fixture
def browser_factory():
    return BrowserBehindProxy

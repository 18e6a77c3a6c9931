"""Session idle timeout, absolute lifetime and server-side logout."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from portal.middleware import SESSION_LOGIN_TIME_KEY
from portal.models import Role
from tests.factories import UserFactory

# The values of the base settings, which the test settings turn off.
pytestmark = pytest.mark.usefixtures("production_session_settings")


@pytest.fixture
def production_session_settings(settings):
    settings.SESSION_SAVE_EVERY_REQUEST = True
    settings.SESSION_MAX_LIFETIME = timedelta(hours=12)


@pytest.fixture
def signed_in_client(client, db):
    UserFactory(username="platform-user", role=Role.PLATFORM)
    response = client.post(reverse("login"), {"username": "platform-user", "password": "portal-test-pass"})
    assert response.status_code == 302
    return client


def session_row(client):
    return Session.objects.get(session_key=client.session.session_key)


def set_login_time(client, login_time):
    store = SessionStore(session_key=client.session.session_key)
    store[SESSION_LOGIN_TIME_KEY] = login_time
    store.save()


def test_session_settings_defaults():
    """The base settings, which the test settings override for the page tests' query counts."""
    code = (
        "from django.conf import settings; "
        "print(settings.SESSION_COOKIE_AGE, settings.SESSION_SAVE_EVERY_REQUEST, settings.SESSION_MAX_LIFETIME)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local"}
    for name in ("SESSION_IDLE_TIMEOUT_MINUTES", "SESSION_MAX_LIFETIME_HOURS"):
        environment.pop(name, None)

    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True, text=True, env=environment, cwd=settings.BASE_DIR, check=True,
    )

    assert completed.stdout.strip() == "1800 True 12:00:00"


def test_max_lifetime_off(signed_in_client, settings):
    settings.SESSION_MAX_LIFETIME = None
    signed_in_client.get(reverse("customers:list"))

    assert SESSION_LOGIN_TIME_KEY not in signed_in_client.session


def test_login_time_stored(signed_in_client):
    signed_in_client.get(reverse("customers:list"))

    login_time = signed_in_client.session[SESSION_LOGIN_TIME_KEY]

    assert abs(login_time - time.time()) < 60


def test_request_renews_idle_expiry(signed_in_client):
    Session.objects.filter(pk=signed_in_client.session.session_key).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    )

    response = signed_in_client.get(reverse("customers:list"))

    assert response.status_code == 200
    remaining = session_row(signed_in_client).expire_date - timezone.now()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


def test_idle_session_expired(signed_in_client):
    Session.objects.filter(pk=signed_in_client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    response = signed_in_client.get(reverse("customers:list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_session_ends_after_max_lifetime(signed_in_client):
    signed_in_client.get(reverse("customers:list"))
    session_key = signed_in_client.session.session_key
    set_login_time(signed_in_client, time.time() - 12 * 3600 - 1)

    response = signed_in_client.get(reverse("customers:list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Session.objects.filter(session_key=session_key).exists()


def test_session_kept_within_max_lifetime(signed_in_client):
    signed_in_client.get(reverse("customers:list"))
    set_login_time(signed_in_client, time.time() - 11 * 3600)

    response = signed_in_client.get(reverse("customers:list"))

    assert response.status_code == 200


def test_max_lifetime_configurable(signed_in_client, settings):
    settings.SESSION_MAX_LIFETIME = timedelta(minutes=5)
    signed_in_client.get(reverse("customers:list"))
    set_login_time(signed_in_client, time.time() - 6 * 60)

    response = signed_in_client.get(reverse("customers:list"))

    assert response.status_code == 302


def test_logout_deletes_session_row(signed_in_client):
    session_key = signed_in_client.session.session_key
    assert Session.objects.filter(session_key=session_key).exists()

    response = signed_in_client.post(reverse("logout"))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=session_key).exists()
    assert signed_in_client.get(reverse("customers:list")).status_code == 302


def test_logout_by_get_rejected(signed_in_client):
    session_key = signed_in_client.session.session_key

    response = signed_in_client.get(reverse("logout"))

    assert response.status_code == 405
    assert Session.objects.filter(session_key=session_key).exists()

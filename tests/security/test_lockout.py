"""Sign-in lockout by django-axes, counted per username and client address."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from portal.models import Role
from tests.factories import UserFactory

PASSWORD = "portal-test-pass"
# What TRUSTED_PROXY_COUNT=1 sets.
PROXY_SETTINGS = {
    "AXES_IPWARE_PROXY_COUNT": 0,
    "AXES_IPWARE_META_PRECEDENCE_ORDER": ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"],
}



@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.CLIENT_MANAGER)


def sign_in(client, password, **headers):
    return client.post(reverse("login"), {"username": "manager", "password": password}, **headers)


def fail_five_times(client, **headers):
    responses = [sign_in(client, "wrong-password", **headers) for _ in range(5)]
    assert [response.status_code for response in responses[:4]] == [200] * 4
    return responses[-1]


def test_lockout_settings_defaults():
    assert settings.AXES_IPWARE_META_PRECEDENCE_ORDER == ["REMOTE_ADDR"]
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_sixth_attempt_locked(client, manager):
    fifth = fail_five_times(client, REMOTE_ADDR="198.51.100.7")
    assert fifth.status_code == 429

    sixth = sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert sixth.status_code == 429
    assert "_auth_user_id" not in client.session
    assert b"locked after 5 failed attempts" in sixth.content
    assert b"Try again in 15 minutes" in sixth.content
    attempt = AccessAttempt.objects.get(username="manager", ip_address="198.51.100.7")
    assert attempt.failures_since_start >= 5


def test_lockout_page_in_chinese(client, manager):
    fail_five_times(client, REMOTE_ADDR="198.51.100.7")
    client.cookies["django_language"] = "zh-hans"

    response = sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    assert 'lang="zh-hans"' in response.content.decode()


def test_other_address_not_locked(client, manager):
    fail_five_times(client, REMOTE_ADDR="198.51.100.7")

    response = sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.8")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_other_username_same_address_not_locked(client, manager):
    UserFactory(username="colleague", role=Role.CLIENT_MANAGER)
    fail_five_times(client, REMOTE_ADDR="198.51.100.7")

    response = client.post(
        reverse("login"), {"username": "colleague", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )

    assert response.status_code == 302


def test_lockout_ends_after_cooloff(client, manager):
    fail_five_times(client, REMOTE_ADDR="198.51.100.7")
    attempt = AccessAttempt.objects.get(username="manager", ip_address="198.51.100.7")
    attempt.attempt_time -= timedelta(minutes=16)
    attempt.save(update_fields=["attempt_time"])

    response = sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(minutes=1))
def test_limit_and_cooloff_configurable(client, manager):
    responses = [sign_in(client, "wrong-password", REMOTE_ADDR="198.51.100.7") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert b"locked after 3 failed attempts" in responses[-1].content
    assert b"Try again in 1 minute," in responses[-1].content


def test_forwarded_for_ignored_without_proxy(client, manager):
    """Without a proxy a client cannot escape the lockout by sending X-Forwarded-For."""
    fail_five_times(client, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.1")

    response = sign_in(client, PASSWORD, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.2")

    assert response.status_code == 429
    assert AccessAttempt.objects.filter(ip_address="198.51.100.7").exists()


@override_settings(**PROXY_SETTINGS)
def test_behind_proxy_counts_client_address(client, manager):
    proxy = "10.0.0.2"
    fail_five_times(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="10.20.1.5")

    locked = sign_in(client, PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="10.20.1.5")
    other_client = sign_in(client, PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="10.20.1.6")

    assert locked.status_code == 429
    assert other_client.status_code == 302
    assert AccessAttempt.objects.filter(ip_address="10.20.1.5").exists()
    assert not AccessAttempt.objects.filter(ip_address=proxy).exists()


@override_settings(**PROXY_SETTINGS)
def test_behind_proxy_forged_entry_ignored(client, manager):
    """The proxy appends the real address on the right, so a forged left entry changes nothing."""
    proxy = "10.0.0.2"
    fail_five_times(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="10.20.1.5")

    response = sign_in(client, PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="10.99.0.1, 10.20.1.5")

    assert response.status_code == 429
    assert not AccessAttempt.objects.filter(ip_address__in=[proxy, "10.99.0.1"]).exists()


def test_proxy_count_from_environment():
    """The settings module turns TRUSTED_PROXY_COUNT into the django-axes ipware settings."""
    code = (
        "from django.conf import settings; "
        "print(settings.AXES_IPWARE_PROXY_COUNT, settings.AXES_IPWARE_META_PRECEDENCE_ORDER)"
    )
    environment = {**os.environ, "TRUSTED_PROXY_COUNT": "1", "DJANGO_SETTINGS_MODULE": "portal.settings.test"}

    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True, text=True, env=environment, cwd=settings.BASE_DIR, check=True,
    )

    assert completed.stdout.strip() == "0 ['HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR']"

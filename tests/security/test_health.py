"""The /health/ endpoint: database, Redis and Celery, without sign-in."""

from unittest import mock

import kombu.pools
import pytest
from django.db.utils import OperationalError
from django.test import override_settings
from django.urls import reverse

from portal import health


@pytest.fixture
def fresh_broker_pools():
    """Drop the broker connections that a real ping opens.

    The ping registers the app's producer pool in kombu's global registry. The worker tests close
    the app's connection pool and start a new one, but a task sent later would still take the
    registered producer pool, whose connection pool is closed."""
    yield
    kombu.pools.reset()
    health.celery_app._after_fork()


def get_health(client):
    response = client.get(reverse("health"))
    return response, response.json()


@override_settings(REDIS_URL="")
def test_healthy_without_redis(client, db):
    response, body = get_health(client)

    assert response.status_code == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured", "celery": "unknown"},
    }
    assert "no-cache" in response["Cache-Control"]


@override_settings(REDIS_URL="")
def test_database_failure_503(client, db):
    with mock.patch.object(health.connection, "cursor", side_effect=OperationalError("server closed")):
        response, body = get_health(client)

    assert response.status_code == 503
    assert body["status"] == "failed"
    assert body["checks"]["database"] == "failed"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_redis_unreachable_503(client, db):
    response, body = get_health(client)

    assert response.status_code == 503
    assert body["checks"]["redis"] == "failed"
    assert body["checks"]["celery"] == "unknown"


@pytest.mark.redis
def test_no_celery_worker_503(client, db, redis_url, fresh_broker_pools):
    """With a real Redis and no worker listening, the ping times out."""
    with override_settings(REDIS_URL=redis_url, HEALTH_CELERY_TIMEOUT=0.5):
        response, body = get_health(client)

    assert response.status_code == 503
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"] == "failed"


@pytest.mark.redis
def test_worker_answering_200(client, db, redis_url):
    reply = [{"celery@portal-worker": {"ok": "pong"}}]
    with override_settings(REDIS_URL=redis_url), mock.patch.object(
        health.celery_app.control, "ping", return_value=reply
    ) as ping:
        response, body = get_health(client)

    assert response.status_code == 200
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "celery": "ok"}}
    ping.assert_called_once_with(timeout=1.0)


def test_post_rejected(client, db):
    response = client.post(reverse("health"))

    assert response.status_code == 405

"""Health check for load balancers and monitoring: database, Redis and Celery workers."""

import logging

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
# REDIS_URL is empty, so there is no Redis to check.
NOT_CONFIGURED = "not configured"
# Celery was not asked: without Redis it runs on kombu's file-system broker, which cannot carry a
# ping, and over a failed Redis the ping would only wait for its timeout.
UNKNOWN = "unknown"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database query failed")
        return FAILED
    return OK


def check_redis() -> str:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        logger.error("Health check: Redis ping failed: %s", error)
        return FAILED
    finally:
        client.close()
    return OK


def check_celery() -> str:
    """Return OK when at least one worker replies to a ping within HEALTH_CELERY_TIMEOUT seconds."""
    if not settings.REDIS_URL:
        return UNKNOWN
    try:
        replies = celery_app.control.ping(timeout=settings.HEALTH_CELERY_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - kombu raises many transport errors
        logger.error("Health check: Celery ping failed: %s", error)
        return FAILED
    if not replies:
        logger.error("Health check: no Celery worker replied within %s s", settings.HEALTH_CELERY_TIMEOUT)
        return FAILED
    return OK


@login_not_required
@never_cache
@require_GET
def health(request):
    """Report each check as JSON, with status 503 when any of them failed."""
    checks = {"database": check_database(), "redis": check_redis()}
    checks["celery"] = check_celery() if checks["redis"] != FAILED else UNKNOWN
    healthy = FAILED not in checks.values()
    return JsonResponse({"status": OK if healthy else FAILED, "checks": checks}, status=200 if healthy else 503)

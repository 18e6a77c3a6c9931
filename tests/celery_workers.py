"""A real Celery worker in a thread, consuming from Redis on a queue of its own, for the tests
that need one (background imports, reminders)."""

import contextlib
import uuid

import redis
from celery.contrib.testing.worker import start_worker
from kombu import pools as kombu_pools

from portal.celery import app as celery_app


def reset_broker_connections(app):
    """Drop the app's cached broker connections so the next use reads the current broker_url."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._after_fork()
    # kombu keeps producer pools per connection in a module-level registry, which may still
    # hold a pool closed above ("Acquire on closed pool" in the next test otherwise).
    kombu_pools.reset()


@contextlib.contextmanager
def worker_on_own_queue(redis_url: str, prefix: str):
    """Run an in-thread worker on a new queue, so no other worker or test takes its tasks."""
    queue = f"{prefix}-{uuid.uuid4().hex}"
    overrides = {
        "broker_url": redis_url,
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_default_queue": queue,
        "task_always_eager": False,
    }
    previous = {key: celery_app.conf.get(key) for key in overrides}
    celery_app.conf.update(overrides)
    reset_broker_connections(celery_app)
    try:
        with start_worker(celery_app, perform_ping_check=False, queues=[queue], shutdown_timeout=30) as worker:
            yield worker
    finally:
        celery_app.conf.update(previous)
        reset_broker_connections(celery_app)
        # kombu keeps the queue and its exchange bindings under keys that contain the queue name.
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()

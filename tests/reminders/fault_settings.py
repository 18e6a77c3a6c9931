"""Settings of the worker processes that the fault tests start and kill.

A killed worker's unacknowledged task returns to the queue after the broker's visibility
timeout. Production keeps it at an hour, and these workers use a few seconds."""

from portal.settings.test import *  # noqa: F401,F403

# Scan for unacknowledged tasks every second (kombu 5.7 options; the default is every 10 s,
# throttled to one scan in 10).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

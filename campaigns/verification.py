"""Verification sampling of done tasks, and the platform's verification queue.

When a task is done, `verification_sampled` decides once whether it is sampled. A sampled task
waits in the platform's verification queue until an operator verifies or returns it. An
unsampled task is closed as verified by the system at once (see `services.task_transition`)."""

import hashlib

from django.db.models import Q, QuerySet

from customers.models import Tier

from .models import FollowUpTask
from .selectors import task_list_for


def verification_draw(*, task_id: int, percent: int) -> bool:
    """Return whether task `task_id` falls in a `percent`% sample.

    The draw takes the first 8 bytes of SHA-256("verification:<task id>") as a number from 0 to
    2**64 - 1 and samples the task when that number is below percent% of 2**64. It depends only
    on the task and the share, so it returns the same result on every run and every server."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"verification:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < percent * 2**64 // 100


def top_tier_id() -> int | None:
    """Return the id of the tier with the highest minimum AUM, or None when no tier exists."""
    return Tier.objects.order_by("-min_aum").values_list("id", flat=True).first()


def verification_sampled(*, task: FollowUpTask) -> bool:
    """Decide whether the platform must verify `task`, which is being marked as done.

    A task sampled once stays sampled, so a returned task is verified again when it is done
    again. Every task of a customer in the top tier is sampled. The others are sampled by
    `verification_draw` with the campaign's verification_sample_percent."""
    if task.sampled_for_verification:
        return True
    customer_tier_id = task.customer.tier_id
    if customer_tier_id is not None and customer_tier_id == top_tier_id():
        return True
    return verification_draw(task_id=task.pk, percent=task.campaign.verification_sample_percent)


def verification_queue_for(*, user) -> QuerySet[FollowUpTask]:
    """Return the done tasks waiting for the platform's verification that `user` may see.

    Tasks done before sampling existed have sampled_for_verification null, and they wait in
    the queue too, because every done task was verified then."""
    return task_list_for(user=user).filter(
        Q(sampled_for_verification=True) | Q(sampled_for_verification__isnull=True),
        status=FollowUpTask.Status.DONE,
    )

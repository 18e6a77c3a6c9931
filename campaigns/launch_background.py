"""Campaign launches that run in a Celery worker: queueing, progress and failure.

A launch that creates more tasks than settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS is queued: the
campaign moves from draft to launching, and campaigns.tasks.campaign_launch_task runs
services.campaign_launch for it, with the same locks, fingerprint check, single transaction and
audit entry as a launch within the request. A failed launch writes nothing and moves the
campaign back to draft with the reason in `Campaign.launch_error`.

The progress lives in the "progress" cache, not in the database, because the launch reports it
while its transaction is open."""

import logging

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.models import User

from .models import Campaign
from .services import CampaignServiceError, LaunchPlan, campaign_launch, launch_status_check

logger = logging.getLogger(__name__)

PROGRESS_CACHE = "progress"
# Longer than any launch, so the entry outlives the launch that keeps writing it.
PROGRESS_TIMEOUT_SECONDS = 24 * 60 * 60
# The share of the progress bar reached when each phase starts. Writing the tasks fills the
# bar up to the start of the next phase in proportion to the tasks written.
PHASE_PERCENT = {"queued": 0, "locking": 2, "selecting": 5, "assigning": 15, "writing": 20, "recording": 92}
QUEUED_PROGRESS = {"phase": "queued", "done": 0, "total": 0, "percent": 0}


def campaign_launch_in_background(*, plan: LaunchPlan) -> bool:
    """Return True when the launch previewed in `plan` is large enough for a Celery worker."""
    return len(plan.assignments) > settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS


def _progress_key(campaign_id: int) -> str:
    return f"campaign-launch:{campaign_id}"


def launch_progress_store(*, campaign_id: int, phase: str, done: int = 0, total: int = 0, **counts) -> None:
    """Store the progress of a background launch for the campaign page to poll.

    A cache that cannot be written is logged and skipped: the progress bar is for display only,
    and the launch must not fail because of it."""
    percent = PHASE_PERCENT[phase]
    if phase == "writing" and total:
        percent += (PHASE_PERCENT["recording"] - percent) * done // total
    progress = {
        "phase": phase, "done": done, "total": total, "percent": percent, "updated_at": timezone.now(), **counts,
    }
    try:
        caches[PROGRESS_CACHE].set(_progress_key(campaign_id), progress, PROGRESS_TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - Redis and file caches raise unrelated types; see the docstring
        logger.warning("Campaign %s: could not store the launch progress (%s)", campaign_id, phase, exc_info=True)


def launch_progress_get(*, campaign_id: int) -> dict:
    """Return the stored progress of a background launch, or the queued state when none is stored."""
    try:
        progress = caches[PROGRESS_CACHE].get(_progress_key(campaign_id))
    except Exception:  # noqa: BLE001 - as in launch_progress_store
        logger.warning("Campaign %s: could not read the launch progress", campaign_id, exc_info=True)
        progress = None
    return progress or dict(QUEUED_PROGRESS)


def launch_progress_clear(*, campaign_id: int) -> None:
    try:
        caches[PROGRESS_CACHE].delete(_progress_key(campaign_id))
    except Exception:  # noqa: BLE001 - as in launch_progress_store
        logger.warning("Campaign %s: could not clear the launch progress", campaign_id, exc_info=True)


def campaign_launch_queue(*, campaign: Campaign, actor: User, expected_fingerprint: str | None) -> Campaign:
    """Move a draft campaign to launching and send its launch to a Celery worker once this
    transaction commits. The worker checks `expected_fingerprint` as a launch within the
    request does.

    Raises CampaignLaunchInProgress when the launch is already queued or running, and
    CampaignAlreadyLaunched when the campaign is no longer a draft."""
    from .tasks import campaign_launch_task

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        launch_status_check(campaign=locked, expected=Campaign.Status.DRAFT)
        locked.status = Campaign.Status.LAUNCHING
        locked.launch_error = ""
        locked.save(update_fields=["status", "launch_error"])
        launch_progress_store(campaign_id=locked.pk, phase="queued")
        transaction.on_commit(
            lambda: campaign_launch_task.delay(
                campaign_id=locked.pk, user_id=actor.pk, expected_fingerprint=expected_fingerprint
            )
        )
    logger.info("Campaign %s: launch queued for a worker by user %s", locked.pk, actor.pk)
    return locked


def campaign_launch_fail(*, campaign_id: int, reason: str) -> bool:
    """Move a launching campaign back to draft with `reason` as its launch error.

    Returns False, changing nothing, when the campaign is no longer launching, because its
    launch committed or already failed."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if locked is None or locked.status != Campaign.Status.LAUNCHING:
            return False
        locked.status = Campaign.Status.DRAFT
        locked.launch_error = reason
        locked.save(update_fields=["status", "launch_error"])
    launch_progress_clear(campaign_id=campaign_id)
    return True


def campaign_launch_run(*, campaign_id: int, user_id: int, expected_fingerprint: str | None) -> int | None:
    """Launch a queued campaign in a worker and return the number of tasks created, or None
    when the launch failed or the campaign is not launching (a redelivered message).

    Messages are in the language of the operator who queued the launch, because the campaign
    page shows the failure's reason to them."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.LAUNCHING:
        logger.info(
            "Campaign %s: not launching (%s), launch task skipped",
            campaign_id, campaign.status if campaign else "not found",
        )
        return None
    actor = User.objects.get(pk=user_id)

    def progress(phase: str, done: int, total: int, **counts) -> None:
        launch_progress_store(campaign_id=campaign_id, phase=phase, done=done, total=total, **counts)

    with translation.override(actor.language or settings.LANGUAGE_CODE):
        try:
            created = campaign_launch(
                campaign=campaign, actor=actor, expected_fingerprint=expected_fingerprint, progress=progress, queued=True
            )
        except CampaignServiceError as error:
            logger.info("Campaign %s: background launch by user %s rejected: %s", campaign_id, actor.pk, error)
            campaign_launch_fail(campaign_id=campaign_id, reason=str(error))
            return None
        except Exception as error:
            # Left launching, the campaign would show a progress bar forever.
            logger.exception("Campaign %s: background launch by user %s failed", campaign_id, actor.pk)
            campaign_launch_fail(
                campaign_id=campaign_id,
                reason=_("The launch failed and nothing was written: %(error)s") % {"error": error},
            )
            raise
    launch_progress_clear(campaign_id=campaign_id)
    return created

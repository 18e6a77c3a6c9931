"""Reads for campaign versions: the chain a campaign belongs to, each version's results side by
side, and how a launch built its frozen target list."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from .models import Campaign, ContactRecord, FollowUpTask, HeldOutCustomer, Outcome
from .segment_display import segment_filter_rows
from .uplift import GroupConversion, UpliftEstimate, uplift_estimate

Status = FollowUpTask.Status


def campaign_version_chain(*, campaign: Campaign) -> list[Campaign]:
    """Return every version of `campaign`'s chain, the first version first.

    One recursive query walks up to the first version and down from it again, so the query
    count does not grow with the number of versions. The chain has no forks, because a unique
    constraint allows one next version per campaign."""
    table = connection.ops.quote_name(Campaign._meta.db_table)
    previous = connection.ops.quote_name(Campaign._meta.get_field("previous_version").column)
    sql = (
        f"WITH RECURSIVE ancestors(id, previous_id) AS ("
        f" SELECT id, {previous} FROM {table} WHERE id = %s"
        f" UNION SELECT c.id, c.{previous} FROM {table} c JOIN ancestors a ON c.id = a.previous_id"
        f"), chain(id, depth) AS ("
        f" SELECT id, 1 FROM ancestors WHERE previous_id IS NULL"
        f" UNION SELECT c.id, chain.depth + 1 FROM {table} c JOIN chain ON c.{previous} = chain.id"
        f") SELECT id, depth FROM chain"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk])
        depth_of = dict(cursor.fetchall())
    campaigns = Campaign.objects.filter(pk__in=depth_of).select_related("segment", "owner", "fallback_branch")
    chain = sorted(campaigns, key=lambda version: depth_of[version.pk])
    for version in chain:
        version.version_number = depth_of[version.pk]
    return chain


@dataclass(frozen=True)
class VersionResult:
    """One version's figures for the side-by-side comparison."""

    campaign: Campaign
    targets: int
    tasks: int
    done: int
    verified: int
    cancelled: int
    results: UpliftEstimate

    @property
    def done_percent(self) -> float | None:
        return self.done * 100 / self.tasks if self.tasks else None

    @property
    def has_holdout(self) -> bool:
        return self.results.held_out.total > 0


def version_results(*, campaigns: list[Campaign]) -> list[VersionResult]:
    """Return the figures of each campaign in `campaigns`, in the same order, in two queries.

    The definitions match the campaign page's results (see `uplift.campaign_results`): a task
    counts as converted when its outcome is "converted", and a held-out customer when any
    contact with outcome "converted" is recorded for them from the launch on. "Done" counts done
    and verified tasks. "Targets" is the target after exclusions stored at launch, or tasks plus
    held-out customers for a campaign launched before launches stored it."""
    ids = [campaign.pk for campaign in campaigns]
    task_rows = (
        FollowUpTask.objects.filter(campaign_id__in=ids)
        .order_by()
        .values("campaign_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status__in=(Status.DONE, Status.VERIFIED))),
            verified=Count("id", filter=Q(status=Status.VERIFIED)),
            cancelled=Count("id", filter=Q(status=Status.CANCELLED)),
            converted=Count("id", filter=Q(outcome=Outcome.CONVERTED)),
        )
    )
    tasks = {row["campaign_id"]: row for row in task_rows}
    converted_after_launch = ContactRecord.objects.filter(
        customer=OuterRef("customer"), outcome=Outcome.CONVERTED, contacted_at__gte=OuterRef("campaign__launched_at")
    )
    held_out_rows = (
        HeldOutCustomer.objects.filter(campaign_id__in=ids)
        .order_by()
        .values("campaign_id")
        .annotate(total=Count("id"), converted=Count("id", filter=Exists(converted_after_launch)))
    )
    held_out = {row["campaign_id"]: row for row in held_out_rows}

    figures = []
    empty = {"total": 0, "done": 0, "verified": 0, "cancelled": 0, "converted": 0}
    for campaign in campaigns:
        task_row = tasks.get(campaign.pk, empty)
        held_out_row = held_out.get(campaign.pk, {"total": 0, "converted": 0})
        results = uplift_estimate(
            contacted=GroupConversion(total=task_row["total"], converted=task_row["converted"]),
            held_out=GroupConversion(total=held_out_row["total"], converted=held_out_row["converted"]),
        )
        targets = campaign.launch_summary.get("targeted", task_row["total"] + held_out_row["total"])
        figures.append(
            VersionResult(
                campaign=campaign,
                targets=targets,
                tasks=task_row["total"],
                done=task_row["done"],
                verified=task_row["verified"],
                cancelled=task_row["cancelled"],
                results=results,
            )
        )
    return figures


def launch_filter_rows(*, summary: dict, user=None) -> list[tuple[str, str]]:
    """Return the segment filters stored at launch as (label, value) pairs in the reader's
    language, with the branch, tier and client manager names of the launch day."""
    segment = summary.get("segment") or {}
    return segment_filter_rows(
        filters=segment.get("filters") or {}, names=segment.get("filter_values") or {}, user=user
    )

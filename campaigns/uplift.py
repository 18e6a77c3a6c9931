"""Campaign results: conversion among contacted and held-out customers and the uplift between them.

The uplift is the difference of the two conversion rates. Its confidence interval uses the normal
approximation for a difference of two independent proportions (the Wald interval):

    uplift ± z * sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)

where p1, n1 are the contacted group's rate and size and p0, n0 the control group's. The Wald
interval is known to be too narrow for small groups or rates near 0 or 1, so the page shows the
group sizes next to it."""

import math
from dataclasses import dataclass
from statistics import NormalDist

from django.db.models import Count, Exists, OuterRef, Q

from .models import Campaign, ContactRecord, HeldOutCustomer, Outcome

CONFIDENCE_LEVEL = 0.95


@dataclass(frozen=True)
class GroupConversion:
    """The size of one group and how many of its customers converted."""

    total: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.total if self.total else None

    @property
    def rate_percent(self) -> float | None:
        return None if self.rate is None else self.rate * 100


@dataclass(frozen=True)
class UpliftEstimate:
    """Conversion of both groups, the uplift and its confidence interval.

    `uplift`, `ci_low` and `ci_high` are None when either group is empty."""

    contacted: GroupConversion
    held_out: GroupConversion
    uplift: float | None
    ci_low: float | None
    ci_high: float | None
    confidence_level: float = CONFIDENCE_LEVEL

    @property
    def has_estimate(self) -> bool:
        return self.uplift is not None

    # The page shows the uplift and its interval in percentage points.
    @property
    def uplift_points(self) -> float | None:
        return None if self.uplift is None else self.uplift * 100

    @property
    def ci_low_points(self) -> float | None:
        return None if self.ci_low is None else self.ci_low * 100

    @property
    def ci_high_points(self) -> float | None:
        return None if self.ci_high is None else self.ci_high * 100

    @property
    def confidence_percent(self) -> float:
        return self.confidence_level * 100


def uplift_estimate(
    *, contacted: GroupConversion, held_out: GroupConversion, confidence_level: float = CONFIDENCE_LEVEL
) -> UpliftEstimate:
    """Compute the uplift (contacted rate minus held-out rate) and its Wald confidence interval."""
    if not contacted.total or not held_out.total:
        return UpliftEstimate(contacted=contacted, held_out=held_out, uplift=None, ci_low=None, ci_high=None,
                              confidence_level=confidence_level)

    contacted_rate, held_out_rate = contacted.rate, held_out.rate
    uplift = contacted_rate - held_out_rate
    standard_error = math.sqrt(
        contacted_rate * (1 - contacted_rate) / contacted.total + held_out_rate * (1 - held_out_rate) / held_out.total
    )
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2)
    margin = z * standard_error
    return UpliftEstimate(
        contacted=contacted,
        held_out=held_out,
        uplift=uplift,
        ci_low=uplift - margin,
        ci_high=uplift + margin,
        confidence_level=confidence_level,
    )


def campaign_results(*, campaign: Campaign) -> UpliftEstimate:
    """Count conversions of the campaign's contacted and held-out customers in two queries.

    A task counts as converted when its outcome is "converted". A held-out customer counts as
    converted when a contact record with outcome "converted" exists for them from the launch on,
    from any campaign or import. The counts cover the whole campaign, so only callers allowed to
    see every task of the campaign may show them."""
    task_counts = campaign.tasks.aggregate(
        total=Count("id"), converted=Count("id", filter=Q(outcome=Outcome.CONVERTED))
    )
    contacted = GroupConversion(total=task_counts["total"], converted=task_counts["converted"])

    held_out_rows = HeldOutCustomer.objects.filter(campaign=campaign)
    if campaign.launched_at is None:
        held_out = GroupConversion(total=held_out_rows.count(), converted=0)
    else:
        converted_after_launch = ContactRecord.objects.filter(
            customer=OuterRef("customer"), outcome=Outcome.CONVERTED, contacted_at__gte=campaign.launched_at
        )
        held_out_counts = held_out_rows.aggregate(
            total=Count("id"), converted=Count("id", filter=Exists(converted_after_launch))
        )
        held_out = GroupConversion(total=held_out_counts["total"], converted=held_out_counts["converted"])
    return uplift_estimate(contacted=contacted, held_out=held_out)

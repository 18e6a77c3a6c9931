"""Reads behind the analysis for the next campaign: the roster by segment, and the response
to past campaigns by segment with conversion and lift.

Every figure starts from `customer_list_for` or `task_list_for`, so a supervisor's figures
cover their branch subtree only. Each table is one grouped query, plus one for the overall
rate or the branch names, whatever the number of customers."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from campaigns.filters import AUM_BANDS, UNKNOWN_KEY, age_band_case, aum_band_case, task_segment_expression
from campaigns.models import Campaign, Channel, FollowUpTask, Outcome
from campaigns.selectors import task_list_for
from customers.filters import AGE_BAND_CHOICES
from customers.models import Branch
from customers.selectors import customer_list_for
from portal.models import Role

from .selectors import _tier_label

ROSTER_DIMENSIONS = ("tier", "branch", "age_band", "occupation", "aum_band")
RESPONSE_DIMENSIONS = ("occupation", "age_band", "aum_band", "previous_outcome", "channel", "tier")


@dataclass
class RosterFigures:
    """Customers and their summed AUM in one roster group."""

    key: str
    label: str
    customers: int = 0
    aum: Decimal = Decimal("0")
    # Roster filter parameters (customers.filters.CustomerFilter) that select the group.
    filters: dict | None = field(default=None)


@dataclass
class ResponseFigures:
    """Customers of one group who have an outcome in a past campaign, how many of them
    converted, and the lift: the group's conversion rate divided by the overall rate."""

    key: str
    label: str
    customers: int
    converted: int
    conversion_rate: float | None
    lift: float | None
    filters: dict | None = None


def aum_band_filters(key: str) -> dict:
    """Return the roster filter parameters that select the customers of one AUM band."""
    for band_key, _label, low, high in AUM_BANDS:
        if band_key == key:
            filters = {}
            if low is not None:
                filters["aum_min"] = str(low)
            if high is not None:
                filters["aum_max"] = str(high)
            return filters
    raise ValueError(f"Unknown AUM band {key!r}; expected one of {', '.join(band[0] for band in AUM_BANDS)}")


def _group_filters(dimension: str, key) -> dict | None:
    """Return the roster filter parameters that select a group, or None when the roster
    filter has no parameter for it (channel, previous outcome, customers of unknown age)."""
    if key in (None, UNKNOWN_KEY) and dimension != "tier":
        return None
    if dimension == "occupation":
        return {"occupation": key}
    if dimension == "age_band":
        return {"age_band": key}
    if dimension == "aum_band":
        return aum_band_filters(key)
    if dimension == "tier":
        # The roster filter's "null" choice selects the customers without a tier.
        return {"tier": "null" if key in (None, UNKNOWN_KEY) else str(key)}
    if dimension == "branch":
        return {"branch": str(key)}
    return None


def _labels(dimension: str) -> dict:
    if dimension == "age_band":
        return {key: str(label) for key, label in AGE_BAND_CHOICES}
    if dimension == "aum_band":
        return {key: str(label) for key, label, _low, _high in AUM_BANDS}
    if dimension == "channel":
        return {key: str(label) for key, label in Channel.choices}
    return {}


def _band_order(dimension: str) -> list[str]:
    if dimension == "age_band":
        return [key for key, _label in AGE_BAND_CHOICES]
    if dimension == "aum_band":
        return [band[0] for band in AUM_BANDS]
    return []


# Roster


def roster_by(*, user, dimension: str) -> list[RosterFigures]:
    """Count the customers in the user's scope and sum their AUM per group of `dimension`
    (one of ROSTER_DIMENSIONS). A branch row covers the branch and its sub-branches."""
    if dimension not in ROSTER_DIMENSIONS:
        raise ValueError(f"Unknown roster dimension {dimension!r}; expected one of {', '.join(ROSTER_DIMENSIONS)}")
    customers = customer_list_for(user=user).order_by()
    totals = {"customers": Count("id"), "aum": Coalesce(Sum("aum"), Value(Decimal("0")), output_field=DecimalField())}

    if dimension == "branch":
        rows = list(customers.values("branch_id", "branch__path").annotate(**totals))
    elif dimension == "tier":
        rows = customers.values("tier_id", "tier__name_en", "tier__name_zh", "tier__min_aum").annotate(**totals)
    elif dimension == "occupation":
        rows = customers.values("occupation").annotate(**totals)
    else:
        band = age_band_case() if dimension == "age_band" else aum_band_case()
        rows = customers.annotate(band=band).values("band").annotate(**totals)
    return roster_from_rows(user=user, dimension=dimension, rows=rows)


def roster_from_rows(*, user, dimension: str, rows) -> list[RosterFigures]:
    """Turn the grouped customer rows of roster_by, or the same rows summed from the analysis
    summary, into the roster table of `dimension`."""
    if dimension == "branch":
        return _roster_by_branch(user=user, rows=list(rows))
    if dimension == "tier":
        rows = sorted(rows, key=lambda row: (row["tier_id"] is None, -(row["tier__min_aum"] or 0)))
        return [
            RosterFigures(
                key=str(row["tier_id"] or UNKNOWN_KEY),
                label=_tier_label(row["tier__name_en"], row["tier__name_zh"]),
                customers=row["customers"],
                aum=row["aum"],
                filters=_group_filters("tier", row["tier_id"]),
            )
            for row in rows
        ]
    if dimension == "occupation":
        merged = {}
        for row in rows:
            key = row["occupation"] or UNKNOWN_KEY
            figures = merged.setdefault(
                key,
                RosterFigures(
                    key=key,
                    label=row["occupation"] or str(_("Unknown")),
                    filters=_group_filters("occupation", key),
                ),
            )
            figures.customers += row["customers"]
            figures.aum += row["aum"]
        return sorted(merged.values(), key=lambda item: (-item.customers, item.label))

    rows = {row["band"]: row for row in rows}
    labels = _labels(dimension)
    result = []
    for key in [*_band_order(dimension), UNKNOWN_KEY]:
        if key in rows:
            result.append(
                RosterFigures(
                    key=key,
                    label=labels.get(key, str(_("Unknown"))),
                    customers=rows[key]["customers"],
                    aum=rows[key]["aum"],
                    filters=_group_filters(dimension, key),
                )
            )
    return result


def _roster_by_branch(*, user, rows: list[dict]) -> list[RosterFigures]:
    branch_ids = set()
    for row in rows:
        branch_ids.update(int(part) for part in row["branch__path"].strip("/").split("/") if part)
    branches = Branch.objects.filter(pk__in=branch_ids).only("id", "name", "path")
    if user.role != Role.PLATFORM:
        # Rows above the user's own branch would only repeat their subtree under a wider name.
        branches = branches.filter(path__startswith=user.branch.path if user.branch_id else "/none/")
    figures = {
        branch.pk: RosterFigures(key=str(branch.pk), label=branch.name, filters=_group_filters("branch", branch.pk))
        for branch in branches
    }
    paths = {branch.pk: branch.path for branch in branches}
    for row in rows:
        for part in row["branch__path"].strip("/").split("/"):
            ancestor = figures.get(int(part)) if part else None
            if ancestor is not None:
                ancestor.customers += row["customers"]
                ancestor.aum += row["aum"]
    return sorted(figures.values(), key=lambda item: paths[int(item.key)])


# Response to past campaigns


def response_tasks(*, user, campaign: Campaign | None = None) -> QuerySet[FollowUpTask]:
    """Return the tasks in the user's scope with a recorded outcome, of one campaign or all."""
    tasks = task_list_for(user=user).exclude(outcome="").order_by()
    if campaign is not None:
        tasks = tasks.filter(campaign=campaign)
    return tasks


def _customer_counts() -> dict:
    # A customer contacted in several campaigns counts once per group, and as converted when
    # any of their tasks converted.
    return {
        "customers": Count("customer_id", distinct=True),
        "converted": Count("customer_id", distinct=True, filter=Q(outcome=Outcome.CONVERTED)),
    }


def response_overall(*, tasks: QuerySet[FollowUpTask]) -> ResponseFigures:
    return overall_from_row(tasks.aggregate(**_customer_counts()))


def overall_from_row(row: dict) -> ResponseFigures:
    """Build the overall response from its customers and converted counts."""
    rate = row["converted"] / row["customers"] if row["customers"] else None
    return ResponseFigures(
        key="all",
        label=str(_("All customers")),
        customers=row["customers"],
        converted=row["converted"],
        conversion_rate=rate,
        lift=1.0 if rate else None,
    )


def response_by(
    *, user, dimension: str, campaign: Campaign | None = None, overall: ResponseFigures | None = None
) -> list[ResponseFigures]:
    """Compute the customers with an outcome, the converted ones, the conversion rate and the
    lift per group of `dimension` (one of RESPONSE_DIMENSIONS), sorted by lift, highest
    first, and groups without a lift last. Pass `overall` to save its query."""
    if dimension not in RESPONSE_DIMENSIONS:
        raise ValueError(
            f"Unknown response dimension {dimension!r}; expected one of {', '.join(RESPONSE_DIMENSIONS)}"
        )
    tasks = response_tasks(user=user, campaign=campaign)
    if overall is None:
        overall = response_overall(tasks=tasks)
    counts = _customer_counts()
    if dimension == "tier":
        rows = tasks.values("customer__tier_id", "customer__tier__name_en", "customer__tier__name_zh").annotate(**counts)
    else:
        rows = tasks.annotate(group=task_segment_expression(dimension)).values("group").annotate(**counts)
    return response_from_rows(dimension=dimension, rows=rows, overall=overall)


def response_from_rows(*, dimension: str, rows, overall: ResponseFigures) -> list[ResponseFigures]:
    """Turn the grouped rows of response_by, or the same rows read from the analysis summary,
    into the response table of `dimension`, in response_by's order."""
    if dimension == "tier":
        groups = [
            (
                row["customer__tier_id"],
                _tier_label(row["customer__tier__name_en"], row["customer__tier__name_zh"]),
                row,
            )
            for row in rows
        ]
    else:
        labels = _labels(dimension)
        groups = [
            (
                row["group"] or UNKNOWN_KEY,
                labels.get(row["group"], row["group"]) if row["group"] != UNKNOWN_KEY else str(_("Unknown")),
                row,
            )
            for row in rows
        ]

    result = []
    for key, label, row in groups:
        rate = row["converted"] / row["customers"] if row["customers"] else None
        lift = rate / overall.conversion_rate if rate is not None and overall.conversion_rate else None
        result.append(
            ResponseFigures(
                key=str(key if key is not None else UNKNOWN_KEY),
                label=label or str(_("Unknown")),
                customers=row["customers"],
                converted=row["converted"],
                conversion_rate=rate,
                lift=lift,
                filters=_group_filters(dimension, key),
            )
        )
    return sorted(result, key=lambda item: (item.lift is None, -(item.lift or 0), -item.customers, item.label))


def segment_filters_for(*, dimension: str, key: str) -> dict:
    """Return the roster filter of one response group for a new campaign segment, leaving out
    customers marked do-not-contact. Raises ValueError for a group the roster cannot select."""
    if dimension not in RESPONSE_DIMENSIONS:
        raise ValueError(f"Unknown dimension {dimension!r}")
    # An unknown tier id or age band passes here; segment_create rejects it with the roster
    # filter's own message.
    filters = _group_filters(dimension, key)
    if filters is None:
        raise ValueError(f"The roster filter has no parameter for {dimension} {key!r}")
    return {**filters, "do_not_contact": "false"}

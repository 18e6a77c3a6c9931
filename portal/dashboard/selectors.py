"""Reads behind the dashboard and the campaign analysis page.

Every figure starts from `campaigns.selectors.task_list_for`, so a supervisor's figures cover
their branch subtree only. Each table is one grouped query with conditional counts, so the
number of queries does not grow with the number of tasks, campaigns, branches or managers.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from campaigns.filters import prefixed_q
from campaigns.models import Campaign, Channel, ContactRecord, FollowUpTask, HeldOutCustomer, Outcome
from campaigns.selectors import task_list_for
from campaigns.uplift import GroupConversion, UpliftEstimate, uplift_estimate
from customers.filters import AGE_BAND_CHOICES, age_band_q
from customers.models import Branch
from portal.models import Role

Status = FollowUpTask.Status

COMPLETED_STATUSES = (Status.DONE, Status.VERIFIED)
OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.RETURNED)
# Tasks that count as work: every status except cancelled. A cancelled task (the platform
# withdrew it, with a reason) has its own count and stays out of every other figure.
WORK_STATUSES = (*OPEN_STATUSES, *COMPLETED_STATUSES)
OUTCOMES = tuple(Outcome.values)
GROUPINGS = ("campaign", "branch", "assignee", "tier")
ANALYSIS_DIMENSIONS = ("tier", "age_band", "occupation", "channel")
UNKNOWN_KEY = "unknown"


@dataclass
class TaskFigures:
    """Task counts of one group (a campaign, a branch subtree, a client manager or all)
    and the rates derived from them. A rate is None when its denominator is zero."""

    key: object
    label: str
    # Tasks to work, that is every task except the cancelled ones.
    tasks: int = 0
    cancelled: int = 0
    done: int = 0
    verified: int = 0
    on_time: int = 0
    overdue: int = 0
    outcomes: dict = field(default_factory=dict)
    # Completed tasks with a completion time after their creation, and their summed duration.
    # Imported history is completed before it is created, so it has no duration.
    timed: int = 0
    duration_total: datetime.timedelta = datetime.timedelta(0)
    # Results of a campaign row against its holdout group, for the whole campaign; None for
    # other rows and for campaigns without held-out customers.
    uplift: UpliftEstimate | None = None

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.done, self.tasks)

    @property
    def closed_rate(self) -> float | None:
        """Share of tasks closed, which counts only verified tasks: a done task still
        waiting for the platform's verification is not closed."""
        return _ratio(self.verified, self.tasks)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time, self.done)

    @property
    def average_days(self) -> float | None:
        """Average days from task creation to completion, over the timed tasks."""
        if not self.timed:
            return None
        return self.duration_total.total_seconds() / self.timed / 86_400

    @property
    def converted(self) -> int:
        return self.outcomes.get(Outcome.CONVERTED, 0)

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converted, self.tasks)

    def add(self, other: "TaskFigures") -> None:
        self.tasks += other.tasks
        self.cancelled += other.cancelled
        self.done += other.done
        self.verified += other.verified
        self.on_time += other.on_time
        self.overdue += other.overdue
        self.timed += other.timed
        self.duration_total += other.duration_total
        for outcome, count in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count


@dataclass
class WeekFigures:
    """Tasks completed in one week (Monday start, local time) and the share of all tasks
    completed by the end of that week."""

    week: datetime.date
    completed: int
    cumulative_completed: int
    cumulative_rate: float | None
    # Tasks completed in the week with the outcome "converted".
    converted: int = 0


@dataclass
class ConversionFigures:
    """Conversion of one analysis group. Lift is the group's conversion rate divided by the
    campaign's overall rate: 1.5 means the group converted half again as often."""

    key: str
    label: str
    tasks: int
    converted: int
    conversion_rate: float | None
    lift: float | None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _figure_annotations(*, today: datetime.date) -> dict:
    completed = Q(status__in=COMPLETED_STATUSES)
    timed = completed & Q(completed_at__gte=F("created_at"))
    work = Q(status__in=WORK_STATUSES)
    annotations = {
        "tasks": Count("id", filter=work),
        "cancelled": Count("id", filter=Q(status=Status.CANCELLED)),
        "done": Count("id", filter=completed),
        "verified": Count("id", filter=Q(status=Status.VERIFIED)),
        # completed_at__date converts to the current time zone, so "on time" is judged on the
        # local calendar day. A completed task without completed_at counts as late.
        "on_time": Count("id", filter=completed & Q(completed_at__date__lte=F("due_on"))),
        "overdue": Count("id", filter=Q(status__in=OPEN_STATUSES, due_on__lt=today)),
        "timed": Count("id", filter=timed),
        "duration_total": Sum(
            ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField()), filter=timed
        ),
    }
    for outcome in OUTCOMES:
        annotations[f"outcome_{outcome}"] = Count("id", filter=work & Q(outcome=outcome))
    return annotations


def _figures_from_row(row: dict, *, key, label: str) -> TaskFigures:
    return TaskFigures(
        key=key,
        label=label,
        tasks=row["tasks"],
        cancelled=row["cancelled"],
        done=row["done"],
        verified=row["verified"],
        on_time=row["on_time"],
        overdue=row["overdue"],
        outcomes={outcome: row[f"outcome_{outcome}"] for outcome in OUTCOMES},
        timed=row["timed"],
        duration_total=row["duration_total"] or datetime.timedelta(0),
    )


def dashboard_task_list(
    *,
    user,
    campaign: Campaign | None = None,
    due_from: datetime.date | None = None,
    due_to: datetime.date | None = None,
) -> QuerySet[FollowUpTask]:
    """Return the tasks `user` may see, narrowed by the dashboard's optional filters
    (one campaign, a due_on range with both ends included)."""
    tasks = task_list_for(user=user)
    if campaign is not None:
        tasks = tasks.filter(campaign=campaign)
    if due_from is not None:
        tasks = tasks.filter(due_on__gte=due_from)
    if due_to is not None:
        tasks = tasks.filter(due_on__lte=due_to)
    return tasks


def task_figures_total(*, tasks: QuerySet[FollowUpTask], today: datetime.date | None = None) -> TaskFigures:
    """Compute the figures of all `tasks` in one aggregate query."""
    today = today or timezone.localdate()
    row = tasks.order_by().aggregate(**_figure_annotations(today=today))
    return _figures_from_row(row, key=None, label=str(_("All tasks")))


def task_figures_by(
    *, tasks: QuerySet[FollowUpTask], grouping: str, user, today: datetime.date | None = None
) -> list[TaskFigures]:
    """Compute the figures of `tasks` per campaign, per branch or per client manager.

    `grouping` is one of GROUPINGS. A branch row covers the branch and its sub-branches,
    because the task list's branch filter does too. Branch rows therefore overlap and do not
    add up to the total. `user` limits branch rows to branches inside the user's own scope.
    """
    if grouping not in GROUPINGS:
        raise ValueError(f"Unknown grouping {grouping!r}; expected one of {', '.join(GROUPINGS)}")
    today = today or timezone.localdate()
    annotations = _figure_annotations(today=today)
    tasks = tasks.order_by()

    if grouping == "campaign":
        return campaign_figures_from_rows(tasks.values("campaign_id", "campaign__name").annotate(**annotations))

    if grouping == "assignee":
        rows = tasks.values(
            "assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name"
        ).annotate(**annotations)
        return assignee_figures_from_rows(rows)

    if grouping == "tier":
        rows = tasks.values(
            "customer__tier_id", "customer__tier__name_en", "customer__tier__name_zh", "customer__tier__min_aum"
        ).annotate(**annotations)
        return tier_figures_from_rows(rows)

    return _branch_figures(tasks=tasks, annotations=annotations, user=user)


def campaign_figures_from_rows(rows) -> list[TaskFigures]:
    figures = [_figures_from_row(row, key=row["campaign_id"], label=row["campaign__name"]) for row in rows]
    return sorted(figures, key=lambda item: (item.label, item.key))


def assignee_figures_from_rows(rows) -> list[TaskFigures]:
    figures = [_figures_from_row(row, key=row["assignee_id"], label=_assignee_label(row)) for row in rows]
    return sorted(figures, key=lambda item: (item.key is None, item.label))


def tier_figures_from_rows(rows) -> list[TaskFigures]:
    # Highest tier first; tasks of customers without a tier last.
    rows = sorted(rows, key=lambda row: (row["customer__tier_id"] is None, -(row["customer__tier__min_aum"] or 0)))
    return [
        _figures_from_row(
            row,
            key=row["customer__tier_id"],
            label=_tier_label(row["customer__tier__name_en"], row["customer__tier__name_zh"]),
        )
        for row in rows
    ]


def _assignee_label(row: dict) -> str:
    if row["assignee_id"] is None:
        return str(_("Unassigned"))
    full_name = f"{row['assignee__last_name']}{row['assignee__first_name']}".strip()
    return full_name or row["assignee__username"]


def _branch_figures(*, tasks, annotations: dict, user) -> list[TaskFigures]:
    """Group by the task's own branch, then add each group into every ancestor branch, so a
    row contains its whole subtree. Two queries: the grouped counts and the branch names."""
    return branch_figures_from_rows(list(tasks.values("branch_id", "branch__path").annotate(**annotations)), user=user)


def branch_figures_from_rows(rows: list[dict], *, user) -> list[TaskFigures]:
    """Add the figures of each branch's own tasks into the branch and every ancestor branch
    in the user's scope. One query, for the branch names."""
    branch_ids = set()
    for row in rows:
        branch_ids.update(int(part) for part in row["branch__path"].strip("/").split("/") if part)
    branches = Branch.objects.filter(pk__in=branch_ids).only("id", "name", "path")
    if user.role != Role.PLATFORM:
        # A supervisor gets no row for the branches above their own: such a row would only
        # repeat their own subtree's figures under a wider branch's name.
        branches = branches.filter(path__startswith=user.branch.path if user.branch_id else "/none/")
    figures_by_id = {
        branch.pk: TaskFigures(key=branch.pk, label=branch.name, outcomes={}) for branch in branches
    }
    paths = {branch.pk: branch.path for branch in branches}
    for row in rows:
        own = _figures_from_row(row, key=row["branch_id"], label="")
        for part in row["branch__path"].strip("/").split("/"):
            ancestor = figures_by_id.get(int(part)) if part else None
            if ancestor is not None:
                ancestor.add(own)
    return sorted(figures_by_id.values(), key=lambda item: paths[item.key])


def campaign_uplifts(*, campaign_ids) -> dict[int, UpliftEstimate]:
    """Compute campaigns.uplift.campaign_results for every campaign in `campaign_ids` that has
    held-out customers, in two queries whatever the number of campaigns.

    The counts follow campaign_results exactly, so they cover each campaign's whole target,
    not the caller's scope or filter. Every task of the campaign is in the contacted group.
    A held-out customer counts as converted when a "converted" contact record exists for them
    from the launch on. Only callers allowed to see every task of a campaign may show them."""
    campaign_ids = list(campaign_ids)
    if not campaign_ids:
        return {}
    return uplift_estimates(campaign_uplift_groups(campaign_ids=campaign_ids))


def uplift_estimates(groups: dict[int, tuple[GroupConversion, GroupConversion]]) -> dict[int, UpliftEstimate]:
    """Turn the (contacted, held-out) groups of each campaign into its uplift estimate."""
    return {
        campaign_id: uplift_estimate(contacted=contacted, held_out=held_out)
        for campaign_id, (contacted, held_out) in groups.items()
    }


def campaign_uplift_groups(*, campaign_ids=None) -> dict[int, tuple[GroupConversion, GroupConversion]]:
    """Count the contacted and the held-out group of each campaign in `campaign_ids` (every
    campaign when None) that has held-out customers, in two queries. See campaign_uplifts."""
    held_out_customers = HeldOutCustomer.objects.all()
    if campaign_ids is not None:
        held_out_customers = held_out_customers.filter(campaign_id__in=campaign_ids)
    converted_after_launch = ContactRecord.objects.filter(
        customer=OuterRef("customer"),
        outcome=Outcome.CONVERTED,
        # NULL for a campaign never launched, so no held-out customer of it counts as converted.
        contacted_at__gte=OuterRef("campaign__launched_at"),
    )
    held_out_rows = (
        held_out_customers.order_by()
        .values("campaign_id")
        .annotate(total=Count("id"), converted=Count("id", filter=Exists(converted_after_launch)))
    )
    held_out = {
        row["campaign_id"]: GroupConversion(total=row["total"], converted=row["converted"]) for row in held_out_rows
    }
    # A subquery rather than the ids read above keeps the number of queries the same for
    # campaigns with and without held-out customers.
    with_holdout = held_out_customers.values("campaign_id")
    # Counting "*" and "outcome" rather than "id" lets PostgreSQL read only the index on
    # (campaign, outcome), not the table's rows.
    task_rows = (
        FollowUpTask.objects.filter(campaign_id__in=with_holdout)
        .order_by()
        .values("campaign_id")
        .annotate(total=Count("*"), converted=Count("outcome", filter=Q(outcome=Outcome.CONVERTED)))
    )
    contacted = {
        row["campaign_id"]: GroupConversion(total=row["total"], converted=row["converted"]) for row in task_rows
    }
    return {
        campaign_id: (contacted.get(campaign_id, GroupConversion(total=0, converted=0)), group)
        for campaign_id, group in held_out.items()
    }


def attach_campaign_uplifts(rows: list[TaskFigures], *, uplifts: dict[int, UpliftEstimate] | None = None) -> None:
    """Set `uplift` on each campaign row whose campaign has held-out customers. Pass `uplifts`
    (from the dashboard's pre-aggregated figures) to save the two queries."""
    if uplifts is None:
        uplifts = campaign_uplifts(campaign_ids=[row.key for row in rows])
    for row in rows:
        row.uplift = uplifts.get(row.key)


def completion_by_week(*, tasks: QuerySet[FollowUpTask], total: int | None = None) -> list[WeekFigures]:
    """Count the tasks completed (done or verified) per week of completed_at, with the
    cumulative share of all `tasks` except cancelled ones completed by each week's end. Two
    queries, one when the caller passes `total`, the number of `tasks` except cancelled ones."""
    if total is None:
        total = tasks.order_by().filter(status__in=WORK_STATUSES).count()
    rows = (
        tasks.order_by()
        .filter(status__in=COMPLETED_STATUSES, completed_at__isnull=False)
        .annotate(week=TruncWeek("completed_at"))
        .values("week")
        .annotate(completed=Count("id"), converted=Count("id", filter=Q(outcome=Outcome.CONVERTED)))
        .order_by("week")
    )
    return weeks_from_rows(rows, total=total)


def weeks_from_rows(rows, *, total: int) -> list[WeekFigures]:
    """Build the weekly figures from rows of week, completed and converted, in week order."""
    weeks = []
    cumulative = 0
    for row in rows:
        cumulative += row["completed"]
        week = row["week"]
        if isinstance(week, datetime.datetime):
            week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
        weeks.append(
            WeekFigures(
                week=week,
                completed=row["completed"],
                cumulative_completed=cumulative,
                cumulative_rate=_ratio(cumulative, total),
                converted=row["converted"],
            )
        )
    return weeks


def campaign_conversion_overall(*, user, campaign: Campaign) -> ConversionFigures:
    """Count the tasks of `campaign` in the user's scope, cancelled ones left out, and how many converted."""
    row = (
        task_list_for(user=user)
        .filter(campaign=campaign, status__in=WORK_STATUSES)
        .order_by()
        .aggregate(tasks=Count("id"), converted=Count("id", filter=Q(outcome=Outcome.CONVERTED)))
    )
    rate = _ratio(row["converted"], row["tasks"])
    return ConversionFigures(
        key="all",
        label=str(_("All tasks")),
        tasks=row["tasks"],
        converted=row["converted"],
        conversion_rate=rate,
        lift=1.0 if rate is not None else None,
    )


def campaign_conversion_by(*, user, campaign: Campaign, dimension: str) -> list[ConversionFigures]:
    """Compute the conversion of `campaign`'s tasks in the user's scope per group of
    `dimension` (one of ANALYSIS_DIMENSIONS): tier, age band, occupation or channel.

    Returns one row per group with its task count, converted count, conversion rate and lift
    against the overall rate, sorted by lift (highest first, groups without a lift last).
    Customers with no tier, age, occupation or channel fall into the group "unknown". Two
    queries: the overall counts and the grouped counts.
    """
    if dimension not in ANALYSIS_DIMENSIONS:
        raise ValueError(
            f"Unknown analysis dimension {dimension!r}; expected one of {', '.join(ANALYSIS_DIMENSIONS)}"
        )
    overall = campaign_conversion_overall(user=user, campaign=campaign)
    tasks = task_list_for(user=user).filter(campaign=campaign, status__in=WORK_STATUSES).order_by()
    counts = {"tasks": Count("id"), "converted": Count("id", filter=Q(outcome=Outcome.CONVERTED))}

    if dimension == "tier":
        rows = tasks.values("customer__tier_id", "customer__tier__name_en", "customer__tier__name_zh").annotate(
            **counts
        )
        groups = [
            (
                row["customer__tier_id"] or UNKNOWN_KEY,
                _tier_label(row["customer__tier__name_en"], row["customer__tier__name_zh"]),
                row,
            )
            for row in rows
        ]
    elif dimension == "age_band":
        band = Case(
            *[When(prefixed_q(age_band_q(key), "customer__"), then=Value(key)) for key, _label in AGE_BAND_CHOICES],
            default=Value(UNKNOWN_KEY),
            output_field=CharField(),
        )
        rows = tasks.annotate(age_band=band).values("age_band").annotate(**counts)
        labels = {key: str(label) for key, label in AGE_BAND_CHOICES}
        groups = [(row["age_band"], labels.get(row["age_band"], str(_("Unknown"))), row) for row in rows]
    elif dimension == "occupation":
        rows = tasks.values("customer__occupation").annotate(**counts)
        groups = _merge_blank(
            [(row["customer__occupation"] or UNKNOWN_KEY, row["customer__occupation"], row) for row in rows]
        )
    else:
        rows = tasks.values("channel").annotate(**counts)
        labels = dict(Channel.choices)
        groups = _merge_blank([(row["channel"] or UNKNOWN_KEY, str(labels.get(row["channel"], "")), row) for row in rows])

    result = []
    for key, label, row in groups:
        rate = _ratio(row["converted"], row["tasks"])
        lift = rate / overall.conversion_rate if rate is not None and overall.conversion_rate else None
        result.append(
            ConversionFigures(
                key=str(key),
                label=label or str(_("Unknown")),
                tasks=row["tasks"],
                converted=row["converted"],
                conversion_rate=rate,
                lift=lift,
            )
        )
    return sorted(result, key=lambda item: (item.lift is None, -(item.lift or 0), -item.tasks, item.label))


def _tier_label(name_en: str | None, name_zh: str | None) -> str:
    if name_en is None and name_zh is None:
        return str(_("No tier"))
    return name_zh if (get_language() or "").startswith("zh") else name_en


def _merge_blank(groups: list) -> list:
    """Merge the groups of NULL and "" values into one "unknown" group."""
    merged = {}
    for key, label, row in groups:
        if key in merged:
            previous = merged[key][2]
            row = {"tasks": previous["tasks"] + row["tasks"], "converted": previous["converted"] + row["converted"]}
        merged[key] = (key, label, row)
    return list(merged.values())

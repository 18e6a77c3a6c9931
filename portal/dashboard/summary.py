"""Pre-aggregated dashboard figures for the platform and supervisors.

Grouping millions of tasks per campaign, branch, client manager, tier and week takes seconds,
so `summary_refresh` (a Celery beat job, see portal/tasks.py) stores the figures of each
branch's own tasks in campaigns.TaskFigureSummary. The unfiltered dashboard of the platform
and of a supervisor then sums the rows of the user's branch subtree. The rows are computed with
the same annotations as the live figures in selectors.py, so they are equal to the live
figures as of the refresh. A filtered dashboard, a client manager's dashboard and any
dashboard without a usable summary compute the figures live.
"""

import datetime
import logging
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import FollowUpTask, Outcome, TaskFigureSummary, TaskFigureSummaryRun
from campaigns.uplift import GroupConversion, UpliftEstimate
from portal.models import Role

from .selectors import (
    COMPLETED_STATUSES,
    OUTCOMES,
    TaskFigures,
    WeekFigures,
    _figure_annotations,
    _figures_from_row,
    assignee_figures_from_rows,
    branch_figures_from_rows,
    campaign_figures_from_rows,
    campaign_uplift_groups,
    tier_figures_from_rows,
    uplift_estimates,
    weeks_from_rows,
)
from .work_views import work_view_conditions

logger = logging.getLogger(__name__)

Grouping = TaskFigureSummary.Grouping
FIGURE_FIELDS = (
    "tasks", "cancelled", "done", "verified", "on_time", "overdue", "timed", "duration_total",
    *(f"outcome_{outcome}" for outcome in OUTCOMES),
)
VIEW_FIELDS = tuple(f"view_{key}" for key in ("overdue", "due_this_week", "returned", "awaiting_verification"))
# Arbitrary constant key of the PostgreSQL advisory lock that lets one rebuild run at a time.
REFRESH_LOCK_KEY = 80_420_001
BATCH_SIZE = 5_000


@contextmanager
def rebuild_transaction(*, lock_key: int, label: str):
    """Open the transaction of a summary rebuild and yield whether the rebuild may run. On
    PostgreSQL its reads share one REPEATABLE READ snapshot, so the groupings agree with each
    other, and it yields False at once when another rebuild holds the advisory lock `lock_key`."""
    # Inside a caller's transaction (a test, for one) the isolation level is already set.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if outermost:
                    # Must be the first statement of the transaction to take effect.
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key])
                if not cursor.fetchone()[0]:
                    logger.info("%s refresh skipped: another refresh is running", label)
                    yield False
                    return
        yield True


def summary_refresh(*, today: datetime.date | None = None) -> TaskFigureSummaryRun | None:
    """Rebuild every TaskFigureSummary row from the tasks in one transaction.

    On PostgreSQL the grouped reads share one REPEATABLE READ snapshot, so the groupings agree
    with each other, and a rebuild that finds another one running returns None at once."""
    today = today or timezone.localdate()
    started_at = timezone.now()
    with rebuild_transaction(lock_key=REFRESH_LOCK_KEY, label="Dashboard summary") as may_run:
        if not may_run:
            return None
        rows, task_count = _summary_rows(today=today)
        uplift_groups = {
            str(campaign_id): [contacted.total, contacted.converted, held_out.total, held_out.converted]
            for campaign_id, (contacted, held_out) in campaign_uplift_groups().items()
        }
        TaskFigureSummary.objects.all().delete()
        TaskFigureSummary.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        run = TaskFigureSummaryRun.objects.create(
            as_of=today,
            started_at=started_at,
            finished_at=timezone.now(),
            task_count=task_count,
            uplift_groups=uplift_groups,
        )
        TaskFigureSummaryRun.objects.exclude(pk=run.pk).delete()
    logger.info(
        "Dashboard summary refreshed: %s rows from %s tasks in %.1f s",
        len(rows), task_count, (run.finished_at - started_at).total_seconds(),
    )
    return run


def _summary_rows(*, today: datetime.date) -> tuple[list[TaskFigureSummary], int]:
    annotations = _figure_annotations(today=today)
    view_annotations = {
        f"view_{key}": Count("id", filter=condition) for key, condition in work_view_conditions(today=today).items()
    }
    tasks = FollowUpTask.objects.order_by()
    groupings = (
        (Grouping.BRANCH, (), {}),
        (Grouping.CAMPAIGN, ("campaign_id",), {"campaign_id": "campaign_id"}),
        (Grouping.ASSIGNEE, ("assignee_id",), {"assignee_id": "assignee_id"}),
        (Grouping.TIER, ("customer__tier_id",), {"tier_id": "customer__tier_id"}),
    )
    rows = []
    task_count = 0
    for grouping, fields, keys in groupings:
        is_branch = grouping == Grouping.BRANCH
        grouped = tasks.values("branch_id", *fields).annotate(**annotations, **(view_annotations if is_branch else {}))
        for row in grouped:
            if is_branch:
                task_count += row["tasks"] + row["cancelled"]
            rows.append(
                TaskFigureSummary(
                    grouping=grouping,
                    branch_id=row["branch_id"],
                    **{field: row[source] for field, source in keys.items()},
                    **({name: row[name] for name in view_annotations} if is_branch else {}),
                    **{name: row[name] or (datetime.timedelta(0) if name == "duration_total" else 0)
                       for name in FIGURE_FIELDS},
                )
            )
    rows.extend(_bank_wide_campaign_rows(rows))
    weeks = (
        tasks.filter(status__in=COMPLETED_STATUSES, completed_at__isnull=False)
        .annotate(week=TruncWeek("completed_at"))
        .values("branch_id", "week")
        .annotate(completed=Count("id"), converted=Count("id", filter=Q(outcome=Outcome.CONVERTED)))
    )
    for row in weeks:
        rows.append(
            TaskFigureSummary(
                grouping=Grouping.WEEK,
                branch_id=row["branch_id"],
                week=_week_date(row["week"]),
                completed=row["completed"],
                completed_converted=row["converted"],
            )
        )
    return rows, task_count


def _bank_wide_campaign_rows(rows: list[TaskFigureSummary]) -> list[TaskFigureSummary]:
    """Add up the campaign rows of all branches into one row per campaign without a branch."""
    totals = {}
    for row in rows:
        if row.grouping != Grouping.CAMPAIGN:
            continue
        total = totals.get(row.campaign_id)
        if total is None:
            total = totals[row.campaign_id] = TaskFigureSummary(grouping=Grouping.CAMPAIGN, campaign_id=row.campaign_id)
        for name in FIGURE_FIELDS:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return list(totals.values())


def _week_date(week) -> datetime.date:
    if isinstance(week, datetime.datetime):
        return timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
    return week


def summary_max_age() -> datetime.timedelta:
    """Return how old a summary may be before the dashboard computes its figures live instead:
    three refresh intervals, so one late or failed run does not slow every dashboard down."""
    return datetime.timedelta(minutes=3 * settings.DASHBOARD_SUMMARY_REFRESH_MINUTES)


def summary_run_for(*, user, filtered: bool, now: datetime.datetime | None = None) -> TaskFigureSummaryRun | None:
    """Return the summary run the dashboard of `user` may use, or None for live figures.

    Only the unfiltered dashboard of the platform and of a supervisor with a branch uses it,
    and only a run of today (the overdue counts change at midnight) that is younger than
    summary_max_age(). One query, none for the roles that never use it."""
    if filtered or not (user.role == Role.PLATFORM or (user.role == Role.SUPERVISOR and user.branch_id)):
        return None
    now = now or timezone.now()
    run = TaskFigureSummaryRun.objects.order_by("-finished_at", "-id").first()
    if run is None or run.as_of != timezone.localdate(now) or now - run.finished_at > summary_max_age():
        return None
    return run


def freshness_note(run: TaskFigureSummaryRun, *, figures: bool) -> str:
    """Say how old the summary's counts on the page are: all figures, or with `figures` False
    (a filtered dashboard) only the counts under "My work"."""
    values = {
        "time": timezone.localtime(run.finished_at).strftime("%H:%M"),
        "minutes": settings.DASHBOARD_SUMMARY_REFRESH_MINUTES,
    }
    if figures:
        return _(
            "Figures as of %(time)s, refreshed every %(minutes)s minutes. With a filter they are computed live."
        ) % values
    return _(
        "The counts under “My work” are as of %(time)s, refreshed every %(minutes)s minutes. "
        "The filtered figures are computed live."
    ) % values


def summary_uplifts(run: TaskFigureSummaryRun) -> dict[int, UpliftEstimate]:
    """Return the uplift of each campaign with a holdout group as of the run, without a query."""
    groups = {
        int(campaign_id): (
            GroupConversion(total=counts[0], converted=counts[1]),
            GroupConversion(total=counts[2], converted=counts[3]),
        )
        for campaign_id, counts in run.uplift_groups.items()
    }
    return uplift_estimates(groups)


def _summary_rows_for(*, user, grouping: str) -> QuerySet[TaskFigureSummary]:
    rows = TaskFigureSummary.objects.filter(grouping=grouping).order_by()
    if user.role == Role.PLATFORM:
        # The whole bank: the bank-wide rows of campaigns, the branch rows of everything else.
        return rows.filter(branch__isnull=grouping == Grouping.CAMPAIGN)
    # The same subtree as campaigns.selectors.task_list_for, on the task's own branch. The
    # join leaves out the bank-wide rows.
    return rows.filter(branch__path__startswith=user.branch.path)


def _sums() -> dict:
    return {f"sum_{name}": Sum(name) for name in FIGURE_FIELDS}


def _unprefixed(row: dict) -> dict:
    values = {key[len("sum_"):] if key.startswith("sum_") else key: value for key, value in row.items()}
    for name in FIGURE_FIELDS:
        if values.get(name) is None:
            values[name] = datetime.timedelta(0) if name == "duration_total" else 0
    return values


def summary_figures_total(*, user) -> tuple[TaskFigures, dict[str, int]]:
    """Return the figures of all tasks in the user's scope and the counts of the curated task
    views by key (see work_views.work_views_for) from the summary, in one query."""
    view_sums = {name: Sum(name) for name in VIEW_FIELDS}
    row = _unprefixed(_summary_rows_for(user=user, grouping=Grouping.BRANCH).aggregate(**_sums(), **view_sums))
    view_counts = {name[len("view_"):]: row[name] or 0 for name in VIEW_FIELDS}
    return _figures_from_row(row, key=None, label=str(_("All tasks"))), view_counts


def summary_work_view_counts(*, user) -> dict[str, int]:
    """Return the counts of the curated task views in the user's scope by key, in one query."""
    row = _summary_rows_for(user=user, grouping=Grouping.BRANCH).aggregate(
        **{name: Sum(name) for name in VIEW_FIELDS}
    )
    return {name[len("view_"):]: row[name] or 0 for name in VIEW_FIELDS}


def summary_figures_by(*, user, grouping: str) -> list[TaskFigures]:
    """Return the same rows as selectors.task_figures_by on the user's unfiltered tasks, from
    the summary. One query, two for branches (the second reads the branch names)."""
    sums = _sums()
    if grouping == "campaign":
        # A campaign deleted since the refresh has no name to show; its rows go at the next refresh.
        rows = (
            _summary_rows_for(user=user, grouping=Grouping.CAMPAIGN)
            .filter(campaign__name__isnull=False)
            .values("campaign_id", "campaign__name")
        )
        return campaign_figures_from_rows(_unprefixed(row) for row in rows.annotate(**sums))
    if grouping == "assignee":
        rows = _summary_rows_for(user=user, grouping=Grouping.ASSIGNEE).values(
            "assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name"
        )
        return assignee_figures_from_rows([_unprefixed(row) for row in rows.annotate(**sums)])
    if grouping == "tier":
        rows = _summary_rows_for(user=user, grouping=Grouping.TIER).values(
            "tier_id", "tier__name_en", "tier__name_zh", "tier__min_aum"
        )
        return tier_figures_from_rows(
            [
                {key.replace("tier", "customer__tier", 1) if key.startswith("tier") else key: value
                 for key, value in _unprefixed(row).items()}
                for row in rows.annotate(**sums)
            ]
        )
    if grouping == "branch":
        rows = _summary_rows_for(user=user, grouping=Grouping.BRANCH).values("branch_id", "branch__path")
        return branch_figures_from_rows([_unprefixed(row) for row in rows.annotate(**sums)], user=user)
    raise ValueError(f"Unknown grouping {grouping!r}; expected campaign, branch, assignee or tier")


def summary_completion_by_week(*, user, total: TaskFigures) -> list[WeekFigures]:
    """Return the same weeks as selectors.completion_by_week from the summary, in one query.
    `total` is the user's summary_figures_total, whose task count is the denominator."""
    rows = (
        _summary_rows_for(user=user, grouping=Grouping.WEEK)
        .values("week")
        .annotate(completed=Sum("completed"), converted=Sum("completed_converted"))
        .order_by("week")
    )
    return weeks_from_rows(rows, total=total.tasks)

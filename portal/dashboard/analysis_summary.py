"""Pre-aggregated figures of the analysis for the next campaign (analysis.py).

Grouping a million customers and the distinct customers of over a million outcomes by six
dimensions takes tens of seconds. So `analysis_summary_refresh` (a Celery beat job, see
tasks.py) stores the groups in campaigns.AnalysisSummary, and the unfiltered page of the
platform and of a supervisor reads them. The rows come from the same expressions as the live figures,
so they equal the live figures as of the refresh. A page filtered by campaign, and any page
without a fresh summary, computes the figures live.
"""

import datetime
import logging

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, DecimalField, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.filters import age_band_case, aum_band_case, task_segment_expression
from campaigns.models import AnalysisSummary, AnalysisSummaryRun, FollowUpTask, Outcome
from customers.models import Branch, Customer
from portal.models import Role

from .analysis import (
    RESPONSE_DIMENSIONS,
    ResponseFigures,
    RosterFigures,
    overall_from_row,
    response_from_rows,
    roster_from_rows,
)
from .summary import rebuild_transaction

logger = logging.getLogger(__name__)

Kind = AnalysisSummary.Kind
# Arbitrary constant key of the PostgreSQL advisory lock that lets one rebuild run at a time.
REFRESH_LOCK_KEY = 80_420_002
BATCH_SIZE = 5_000
OVERALL = "all"


def analysis_summary_refresh() -> AnalysisSummaryRun | None:
    """Rebuild every AnalysisSummary row in one transaction. On PostgreSQL the reads share one
    REPEATABLE READ snapshot, and a rebuild that finds another one running returns None."""
    # The age bands are computed for this date (age_band_case reads the local date too).
    today = timezone.localdate()
    started_at = timezone.now()
    with rebuild_transaction(lock_key=REFRESH_LOCK_KEY, label="Analysis summary") as may_run:
        if not may_run:
            return None
        rows = [*_roster_rows(), *_response_rows()]
        AnalysisSummary.objects.all().delete()
        AnalysisSummary.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        run = AnalysisSummaryRun.objects.create(as_of=today, started_at=started_at, finished_at=timezone.now())
        AnalysisSummaryRun.objects.exclude(pk=run.pk).delete()
    logger.info(
        "Analysis summary refreshed: %s rows in %.1f s", len(rows), (run.finished_at - started_at).total_seconds()
    )
    return run


def _roster_rows() -> list[AnalysisSummary]:
    """Build one row per customer branch and group. Each customer has one branch, so the rows
    of a subtree add up."""
    customers = Customer.objects.order_by()
    totals = {"customers": Count("id"), "aum": Coalesce(Sum("aum"), Value(0), output_field=DecimalField())}
    rows = []
    branch_totals = {}
    for row in customers.values("branch_id", "tier_id").annotate(**totals):
        rows.append(AnalysisSummary(kind=Kind.ROSTER, dimension="tier", branch_id=row["branch_id"],
                                    tier_id=row["tier_id"], customers=row["customers"], aum=row["aum"]))
        # The branch roster needs no query of its own: the tier groups of a branch cover it.
        total = branch_totals.setdefault(row["branch_id"], [0, 0])
        total[0] += row["customers"]
        total[1] += row["aum"]
    rows.extend(
        AnalysisSummary(kind=Kind.ROSTER, dimension="branch", branch_id=branch_id, customers=count, aum=aum)
        for branch_id, (count, aum) in branch_totals.items()
    )
    groups = {"occupation": F("occupation"), "age_band": age_band_case(), "aum_band": aum_band_case()}
    for dimension, expression in groups.items():
        for row in customers.annotate(segment=expression).values("branch_id", "segment").annotate(**totals):
            rows.append(AnalysisSummary(kind=Kind.ROSTER, dimension=dimension, branch_id=row["branch_id"],
                                        key=row["segment"], customers=row["customers"], aum=row["aum"]))
    return rows


def _response_rows() -> list[AnalysisSummary]:
    """Build one row per group for the bank and one per branch subtree with an outcome in it.

    A customer counts once per group however many of their tasks are in it, and their tasks
    may sit in several branches, so each subtree's count is taken over the subtree's tasks
    themselves rather than added up from its branches."""
    tasks = FollowUpTask.objects.exclude(outcome="").order_by()
    converted = Case(When(outcome=Outcome.CONVERTED, then=Value(1)), default=Value(0), output_field=IntegerField())
    counts = {
        "customers": Count("customer_id", distinct=True),
        "converted": Count("customer_id", distinct=True, filter=Q(outcome=Outcome.CONVERTED)),
    }
    branch_table = connection.ops.quote_name(Branch._meta.db_table)
    rows = []
    for dimension in (OVERALL, *RESPONSE_DIMENSIONS):
        if dimension == OVERALL:
            grouped = tasks.annotate(segment=Value(""))
        elif dimension == "tier":
            grouped = tasks.annotate(segment=F("customer__tier_id"))
        else:
            grouped = tasks.annotate(segment=task_segment_expression(dimension))
        for row in grouped.values("segment").annotate(**counts):
            rows.append(_response_row(dimension, None, row["segment"], row["customers"], row["converted"]))
        inner_sql, params = (
            grouped.annotate(is_converted=converted).values("customer_id", "branch_id", "segment", "is_converted")
            .query.sql_with_params()
        )
        # Every task counts in the subtree of each of its branch's ancestors, its own branch
        # included: the same prefix match as task_list_for's branch__path__startswith.
        sql = (
            "SELECT scope.id, t.segment, COUNT(DISTINCT t.customer_id), "
            "COUNT(DISTINCT CASE WHEN t.is_converted = 1 THEN t.customer_id END) "
            f"FROM ({inner_sql}) t "
            f"JOIN {branch_table} own ON own.id = t.branch_id "
            f"JOIN {branch_table} scope ON own.path LIKE scope.path || '%%' "
            "GROUP BY scope.id, t.segment"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for branch_id, group, customer_count, converted_count in cursor.fetchall():
                rows.append(_response_row(dimension, branch_id, group, customer_count, converted_count))
    return rows


def _response_row(dimension, branch_id, group, customers, converted) -> AnalysisSummary:
    if dimension == "tier":
        return AnalysisSummary(kind=Kind.RESPONSE, dimension=dimension, branch_id=branch_id, tier_id=group,
                               customers=customers, converted=converted)
    return AnalysisSummary(kind=Kind.RESPONSE, dimension=dimension, branch_id=branch_id,
                           key=None if dimension == OVERALL else group, customers=customers, converted=converted)


def analysis_summary_max_age() -> datetime.timedelta:
    """Return three refresh intervals, so one late or failed run does not slow every page down."""
    return datetime.timedelta(minutes=3 * settings.ANALYSIS_SUMMARY_REFRESH_MINUTES)


def analysis_summary_run_for(*, user, filtered: bool, now: datetime.datetime | None = None):
    """Return the run the analysis page of `user` may use, or None for live figures.

    Only the unfiltered page of the platform and of a supervisor with a branch uses a run. The
    run must be of today, because age bands change with the date, and younger than
    analysis_summary_max_age()."""
    if filtered or not (user.role == Role.PLATFORM or (user.role == Role.SUPERVISOR and user.branch_id)):
        return None
    now = now or timezone.now()
    run = AnalysisSummaryRun.objects.order_by("-finished_at", "-id").first()
    if run is None or run.as_of != timezone.localdate(now) or now - run.finished_at > analysis_summary_max_age():
        return None
    return run


def analysis_freshness_note(run: AnalysisSummaryRun) -> str:
    return _(
        "Figures as of %(time)s, refreshed every %(minutes)s minutes. With a campaign chosen they are computed live."
    ) % {
        "time": timezone.localtime(run.finished_at).strftime("%H:%M"),
        "minutes": settings.ANALYSIS_SUMMARY_REFRESH_MINUTES,
    }


def summary_roster_by(*, user, dimension: str) -> list[RosterFigures]:
    """Return the same rows as analysis.roster_by from the summary, in one query (two for
    branches, whose names come from the live branch table)."""
    rows = AnalysisSummary.objects.filter(kind=Kind.ROSTER, dimension=dimension).order_by()
    if user.role != Role.PLATFORM:
        rows = rows.filter(branch__path__startswith=user.branch.path)
    sums = {"customers": Sum("customers"), "aum": Sum("aum")}
    if dimension == "branch":
        grouped = rows.values("branch_id", "branch__path").annotate(**sums)
    elif dimension == "tier":
        grouped = rows.values("tier_id", "tier__name_en", "tier__name_zh", "tier__min_aum").annotate(**sums)
    else:
        name = "occupation" if dimension == "occupation" else "band"
        grouped = ({name: row["key"], **row} for row in rows.values("key").annotate(**sums))
    return roster_from_rows(user=user, dimension=dimension, rows=grouped)


def _response_rows_for(*, user, dimension: str):
    rows = AnalysisSummary.objects.filter(kind=Kind.RESPONSE, dimension=dimension).order_by()
    return rows.filter(branch__isnull=True) if user.role == Role.PLATFORM else rows.filter(branch_id=user.branch_id)


def summary_response_overall(*, user) -> ResponseFigures:
    row = _response_rows_for(user=user, dimension=OVERALL).values("customers", "converted").first()
    return overall_from_row(row or {"customers": 0, "converted": 0})


def summary_response_by(*, user, dimension: str, overall: ResponseFigures) -> list[ResponseFigures]:
    """Return the same rows as analysis.response_by on all campaigns from the summary, in one query."""
    rows = _response_rows_for(user=user, dimension=dimension)
    if dimension == "tier":
        grouped = [
            {
                "customer__tier_id": row["tier_id"],
                "customer__tier__name_en": row["tier__name_en"],
                "customer__tier__name_zh": row["tier__name_zh"],
                "customers": row["customers"],
                "converted": row["converted"],
            }
            for row in rows.values("tier_id", "tier__name_en", "tier__name_zh", "customers", "converted")
        ]
    else:
        grouped = [{"group": row["key"], **row} for row in rows.values("key", "customers", "converted")]
    return response_from_rows(dimension=dimension, rows=grouped, overall=overall)

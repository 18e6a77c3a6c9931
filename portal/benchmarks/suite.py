"""The measurements of run_benchmarks. Each benchmark returns a list of result entries: plain
dicts with the timings of every run, their median, minimum, maximum (and p95 for pages), the
number of queries where it applies, and the goal with whether it was met."""

import datetime
import logging
import multiprocessing
import os
import queue
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, FollowUpTask, Reminder, Segment
from customers.models import AumSnapshot, Branch, Customer, RosterChange, Tier
from portal.models import ExportLog, Role, User
from portal.pagination import COUNT_TOTAL, NON_FILTER_PARAMETERS

from .dataset import CUSTOMER_NO_DIGITS, PREFIX, DatasetParameters
from .export_child import xlsx_export_child

logger = logging.getLogger(__name__)

# The goals for the default size, in the units of the figure they apply to.
GOALS = {
    "list_page_median_ms": 150,
    "dashboard_median_ms": 300,
    "launch_median_s": 10,
    "xlsx_median_s": 20,
    "xlsx_peak_mib": 300,
}


@dataclass(frozen=True)
class Size:
    dataset: DatasetParameters
    launch_targets: int
    # A power of ten: the export selects the customers whose number starts with the prefix
    # that covers exactly this many numbers.
    export_rows: int
    import_rows: int
    repeat: int
    import_runs: int


SIZES = {
    "default": Size(DatasetParameters(), launch_targets=50_000, export_rows=100_000, import_rows=100_000, repeat=5,
                    import_runs=5),
    "small": Size(DatasetParameters(customers=20_000, tasks=40_000, campaigns=40, managers=100, branches=30),
                  launch_targets=5_000, export_rows=10_000, import_rows=10_000, repeat=3, import_runs=1),
    # For the test suite: seconds, not minutes.
    "tiny": Size(DatasetParameters(customers=600, tasks=1_200, campaigns=6, managers=12, branches=6),
                 launch_targets=200, export_rows=1_000, import_rows=300, repeat=2, import_runs=1),
}


def spread(values: list[float], *, digits: int = 1) -> dict:
    """Return the median, minimum and maximum of `values`, and the 95th percentile of several."""
    figures = {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }
    if len(values) > 1:
        figures["p95"] = round(statistics.quantiles(values, n=20, method="inclusive")[-1], digits)
    else:
        figures["p95"] = figures["max"]
    return figures


def response_consume(response) -> int:
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


@dataclass
class Context:
    """The users, reference rows and clients the benchmarks share."""

    size: Size
    repeat: int
    log: object
    users: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)
    references: dict = field(default_factory=dict)

    def prepare(self) -> None:
        manager = (
            User.objects.filter(role=Role.CLIENT_MANAGER, username__startswith=PREFIX)
            .annotate(book=Count("customers")).order_by("-book", "pk").select_related("branch").first()
        )
        # The supervisor of the branch above the client manager's sub-branch, so the
        # manager's customers are in every role's scope.
        branch = manager.branch
        top_branch = branch.parent if branch.level == Branch.Level.SUB_BRANCH and branch.parent else branch
        supervisor = User.objects.filter(role=Role.SUPERVISOR, branch=top_branch).order_by("pk").first()

        self.users = {
            "platform": User.objects.get(username=f"{PREFIX}platform_01"),
            "supervisor": supervisor,
            "client_manager": manager,
            "superuser": User.objects.get(username=f"{PREFIX}admin"),
        }
        largest_branch = (
            Branch.objects.filter(level=Branch.Level.BRANCH, code__startswith=PREFIX)
            .annotate(size=Count("children")).order_by("-size", "pk").first()
        ) or top_branch
        largest_sub_branch = (
            Branch.objects.filter(parent=top_branch).annotate(size=Count("customers")).order_by("-size", "pk").first()
        ) or branch

        searched = Customer.objects.filter(client_manager=manager).order_by("pk").first()
        self.references = {
            "branch": {"platform": largest_branch, "supervisor": largest_sub_branch, "client_manager": branch},
            "tier": tier_reference(),
            "search": searched.name if searched else "王",
            "campaign": FollowUpTask.objects.filter(assignee=manager, campaign__status=Campaign.Status.ACTIVE)
            .values_list("campaign_id", flat=True).first()
            or FollowUpTask.objects.filter(assignee=manager).values_list("campaign_id", flat=True).first(),
        }

        for role, user in self.users.items():
            client = Client()
            client.force_login(user)
            self.clients[role] = client
        self.log(
            f"Users: platform {self.users['platform'].username}, supervisor {supervisor.username} "
            f"({top_branch.name}), client manager {manager.username} ({manager.book} customers)"
        )

    def close(self) -> None:
        for client in self.clients.values():
            client.logout()

    def page_measure(
        self, role: str, url: str, params: dict, *, repeat: int | None = None, headers: dict | None = None
    ) -> dict:
        """Request `url` once to warm up, then `repeat` times, and return the server time of
        each run (the request handled in-process, response content read) and the queries."""
        client = self.clients[role]
        response = client.get(url, params, headers=headers)
        response_consume(response)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} {params} as {role} returned HTTP {response.status_code}")
        runs = []
        queries = 0
        for _run in range(repeat or self.repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, params, headers=headers)
                response_consume(response)
                runs.append((time.perf_counter() - started) * 1000)
            queries = len(captured)
        return {"url": url, "params": {key: str(value) for key, value in params.items()}, "runs_ms": [round(run, 1) for run in runs],
                **{f"{key}_ms": value for key, value in spread(runs).items()}, "queries": queries}


def tier_reference() -> Tier:
    """Return the second tier by AUM that has customers (Platinum by default), a typical filter value."""
    used = list(Tier.objects.filter(customers__isnull=False).distinct().order_by("min_aum")[:2])
    return used[-1] if used else Tier.objects.order_by("min_aum").first()


def goal_entry(entry: dict, *, metric: str, limit: float, figure: str) -> dict:
    value = entry.get(figure)
    entry["goal"] = {"figure": figure, "below": limit, "name": metric}
    entry["pass"] = value is not None and value < limit
    return entry


# List pages


def roster_filters(context: Context, role: str) -> dict:
    refs = context.references
    return {
        "unfiltered": {},
        "branch": {"branch": refs["branch"][role].pk},
        "tier": {"tier": refs["tier"].pk},
        "search": {"q": refs["search"]},
    }


def task_filters(context: Context, role: str) -> dict:
    refs = context.references
    return {
        "unfiltered": {},
        "branch": {"branch": refs["branch"][role].pk},
        "tier": {"tier": refs["tier"].pk},
        "status": {"status": FollowUpTask.Status.OPEN},
        "overdue": {"overdue": "true"},
        "campaign": {"campaign": refs["campaign"]},
    }


def list_pages(context: Context, page: str) -> list[dict]:
    entries = []
    for role in ("platform", "supervisor", "client_manager"):
        if page == "roster":
            url, filters = reverse("customers:list"), roster_filters(context, role)
        elif role == "client_manager":
            # Client managers have no task list with filters: they work "my tasks", their open
            # tasks with the overdue ones first.
            url, filters = reverse("campaigns:my_tasks"), {"my tasks": {}, "my tasks, page 2": {"page": 2}}
        else:
            url, filters = reverse("campaigns:task_list"), task_filters(context, role)
        for name, params in filters.items():
            entry = {"page": page, "role": role, "filter": name, **context.page_measure(role, url, params)}
            entries.append(goal_entry(entry, metric="list_page_median_ms", limit=GOALS["list_page_median_ms"],
                                      figure="median_ms"))
            context.log(f"  {page} as {role}, {name}: {entry['median_ms']} ms median, {entry['queries']} queries")
            if any(key not in NON_FILTER_PARAMETERS for key in params):
                # A filtered list shows its rows first and then requests its total separately.
                # The user waits for that request too, so it is measured beside the page.
                entry["total"] = context.page_measure(
                    role, url, {**params, "count": COUNT_TOTAL}, headers={"HX-Request": "true"}
                )
                context.log(f"    its total: {entry['total']['median_ms']} ms median")
    return entries


def roster_list(context: Context) -> list[dict]:
    return list_pages(context, "roster")


def task_list(context: Context) -> list[dict]:
    return list_pages(context, "task")


def admin_changelist(context: Context) -> list[dict]:
    """Time the Django admin's changelist of the same tables, as a superuser, with the filters
    the admin offers for the portal's typical ones. The admin's branch filter matches one
    branch, where the portal's includes the sub-branches."""
    refs = context.references
    branch = refs["branch"]["platform"].pk
    pages = {
        "roster": ("bench_admin:customers_customer_changelist", {
            "unfiltered": {}, "branch": {"branch__id__exact": branch}, "tier": {"tier__id__exact": refs["tier"].pk},
            "search": {"q": refs["search"]},
        }),
        "task": ("bench_admin:campaigns_followuptask_changelist", {
            "unfiltered": {}, "branch": {"branch__id__exact": branch},
            "tier": {"customer__tier__id__exact": refs["tier"].pk},
            "status": {"status__exact": FollowUpTask.Status.OPEN}, "campaign": {"campaign__id__exact": refs["campaign"]},
        }),
    }
    entries = []
    for page, (url_name, filters) in pages.items():
        url = reverse(url_name)
        for name, params in filters.items():
            entry = {"page": page, "role": "admin superuser", "filter": name,
                     **context.page_measure("superuser", url, params)}
            entries.append(entry)
            context.log(f"  admin {page}, {name}: {entry['median_ms']} ms median, {entry['queries']} queries")
    return entries


def dashboard_summary_module():
    """Return portal.dashboard.summary when this version of the portal has pre-aggregated
    dashboard figures, else None."""
    try:
        from portal.dashboard import summary
    except ImportError:
        return None
    return summary if hasattr(summary, "summary_refresh") else None


def dashboard(context: Context) -> list[dict]:
    """Time the dashboard of the platform and of a supervisor. Where the portal pre-aggregates
    the figures (a beat job), the unfiltered dashboard is timed with live figures (no summary),
    then the refresh itself, then with the summary, and a campaign filter, which is always live."""
    summary = dashboard_summary_module()
    entries = []

    def measure(role: str, name: str, params: dict, *, repeat: int | None = None, page: str = "dashboard") -> None:
        url_name = "dashboard:next_campaign_analysis" if page == "analysis" else "dashboard:index"
        entry = {"page": page, "role": role, "filter": name,
                 **context.page_measure(role, reverse(url_name), params, repeat=repeat)}
        entries.append(goal_entry(entry, metric="dashboard_median_ms", limit=GOALS["dashboard_median_ms"],
                                  figure="median_ms"))
        context.log(f"  {page} as {role}, {name}: {entry['median_ms']} ms median, {entry['queries']} queries")

    if summary is None:
        for role in ("platform", "supervisor"):
            measure(role, "unfiltered", {})
        return entries

    from campaigns.models import TaskFigureSummaryRun

    TaskFigureSummaryRun.objects.all().delete()
    for role in ("platform", "supervisor"):
        # Live figures over the whole data set take seconds, so fewer runs.
        measure(role, "unfiltered, live figures", {}, repeat=min(context.repeat, 3))
    started = time.perf_counter()
    summary.summary_refresh()
    refresh_seconds = time.perf_counter() - started
    entries.append({"page": "dashboard summary refresh", "runs_s": [round(refresh_seconds, 2)],
                    **{f"{key}_s": value for key, value in spread([refresh_seconds], digits=2).items()}})
    context.log(f"  dashboard summary refresh: {refresh_seconds:.2f} s")
    for role in ("platform", "supervisor"):
        measure(role, "unfiltered, summary", {})
        measure(role, "campaign, live figures", {"campaign": context.references["campaign"]})

    # The next-campaign analysis has a summary of its own, rebuilt by a separate beat job.
    from campaigns.models import AnalysisSummaryRun
    from portal.dashboard.analysis_summary import analysis_summary_refresh

    AnalysisSummaryRun.objects.all().delete()
    for role in ("platform", "supervisor"):
        measure(role, "next-campaign analysis, live figures", {}, repeat=1, page="analysis")
    started = time.perf_counter()
    analysis_summary_refresh()
    refresh_seconds = time.perf_counter() - started
    entries.append({"page": "analysis summary refresh", "runs_s": [round(refresh_seconds, 2)],
                    **{f"{key}_s": value for key, value in spread([refresh_seconds], digits=2).items()}})
    context.log(f"  analysis summary refresh: {refresh_seconds:.2f} s")
    for role in ("platform", "supervisor"):
        measure(role, "next-campaign analysis, summary", {}, page="analysis")
    return entries


# Campaign launch


class RolledBack(Exception):
    """Raised to leave a benchmark's transaction without keeping its rows."""


def launch_campaign_create(context: Context, *, threshold: Decimal) -> Campaign:
    from campaigns import services

    platform = context.users["platform"]
    segment = Segment.objects.create(
        name=f"{PREFIX}launch target", filters={"aum_min": str(threshold)}, created_by=platform
    )
    today = timezone.localdate()
    return services.campaign_create(
        actor=platform, name=f"{PREFIX}launch benchmark", segment=segment, starts_on=today,
        due_on=today + datetime.timedelta(days=30), fallback_branch=Branch.objects.get(code=f"{PREFIX}HO"),
        pool_include_sub_branches=True,
    )


def launch(context: Context) -> list[dict]:
    """Time the launch preview and the launch of a campaign whose segment has the
    `launch_targets` customers of the highest AUM. Each run is a transaction that is rolled
    back, so the final COMMIT is not timed."""
    from campaigns import services

    targets = min(context.size.launch_targets, Customer.objects.count())
    threshold = Customer.objects.order_by("-aum").values_list("aum", flat=True)[targets - 1]
    preview_runs, launch_runs = [], []
    plan = None
    created = 0
    for _run in range(context.repeat):
        try:
            with transaction.atomic():
                campaign = launch_campaign_create(context, threshold=threshold)
                started = time.perf_counter()
                plan = services.campaign_launch_preview(campaign=campaign)
                preview_runs.append(time.perf_counter() - started)
                started = time.perf_counter()
                created = services.campaign_launch(campaign=campaign, actor=context.users["platform"])
                launch_runs.append(time.perf_counter() - started)
                raise RolledBack()
        except RolledBack:
            pass
    details = {
        "segment_customers": plan.segment_size, "excluded_do_not_contact": plan.excluded_do_not_contact,
        "held_out": len(plan.held_out), "tasks": created, "from_pool": plan.to_pool,
    }
    preview = {"page": "launch preview", "runs_s": [round(run, 2) for run in preview_runs],
               **{f"{key}_s": value for key, value in spread(preview_runs, digits=2).items()}, **details}
    launched = {"page": "launch", "runs_s": [round(run, 2) for run in launch_runs],
                **{f"{key}_s": value for key, value in spread(launch_runs, digits=2).items()}, **details}
    goal_entry(launched, metric="launch_median_s", limit=GOALS["launch_median_s"], figure="median_s")
    context.log(f"  launch preview {preview['median_s']} s, launch {launched['median_s']} s for {created} tasks")
    return [preview, launched]


# XLSX export


def export_prefix(rows: int) -> str:
    digits = len(str(rows)) - 1
    if rows != 10**digits or digits > CUSTOMER_NO_DIGITS:
        raise ValueError(f"export rows must be a power of ten up to 10^{CUSTOMER_NO_DIGITS}, got {rows}")
    return PREFIX + "0" * (CUSTOMER_NO_DIGITS - digits)


def child_result_wait(child, results) -> dict:
    """Return what `child` put on `results`, or an error when it ended without a result."""
    while True:
        try:
            outcome = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                outcome = {"error": f"the child process ended with exit code {child.exitcode} and no result"}
                break
    child.join()
    return outcome


def xlsx_export(context: Context) -> list[dict]:
    """Time the roster's XLSX export of `export_rows` customers, each run in a child process.
    The rows are the customers numbered with one prefix, the roster search's customer number
    match."""
    rows = context.size.export_rows
    params = {"q": export_prefix(rows), "_export": "xlsx"}
    platform = context.users["platform"]
    spawn = multiprocessing.get_context("spawn")
    runs, peaks, baselines, maxrss = [], [], [], []
    size = exported = 0
    for _run in range(min(context.repeat, 3)):
        connections.close_all()
        results = spawn.Queue()
        child = spawn.Process(target=xlsx_export_child, args=(platform.username, reverse("customers:list"), params, results))
        child.start()
        outcome = child_result_wait(child, results)
        if "error" in outcome or outcome["status"] != 200:
            raise RuntimeError(f"XLSX export failed: {outcome}")
        runs.append(outcome["seconds"])
        peaks.append(outcome["peak_kib"] / 1024)
        baselines.append(outcome["baseline_kib"] / 1024)
        maxrss.append(outcome["ru_maxrss_kib"] / 1024)
        size = outcome["bytes"]
        exported = ExportLog.objects.filter(user=platform).order_by("-started_at").values_list("row_count", flat=True).first()
    entry = {
        "page": "roster XLSX export", "params": params, "rows": exported, "bytes": size,
        "note": "written in the request with EXPORT_BACKGROUND_ROWS=0, not by a Celery worker",
        "runs_s": [round(run, 2) for run in runs], **{f"{key}_s": value for key, value in spread(runs, digits=2).items()},
        "peak_rss_mib": round(max(peaks), 1), "baseline_rss_mib": round(min(baselines), 1),
        "child_ru_maxrss_mib": round(max(maxrss), 1),
        # ru_maxrss of RUSAGE_CHILDREN: the largest of every child this process has waited for,
        # at least this process's own size when it started the child (see peak_rss_kib).
        "children_max_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    entry["goal"] = {"figure": "median_s and peak_rss_mib", "below": [GOALS["xlsx_median_s"], GOALS["xlsx_peak_mib"]],
                     "name": "xlsx"}
    entry["pass"] = entry["median_s"] < GOALS["xlsx_median_s"] and entry["peak_rss_mib"] < GOALS["xlsx_peak_mib"]
    context.log(f"  XLSX export of {exported} rows: {entry['median_s']} s, peak RSS {entry['peak_rss_mib']} MiB")
    return [entry]


# Roster import


IMPORT_LINE = re.compile(
    r"^\s*(?P<importer>portal|django-import-export):\s+(?P<median>[\d.]+) s\s+(?P<rate>\d+) rows/s\s+"
    r"peak RSS\s+(?P<peak>[\d.]+) MiB\s+\(runs: (?P<runs>[^)]*) s\)"
)


def import_database_url() -> tuple[str, str]:
    """Return the name and URL of the empty database the import comparison runs in, beside the
    benchmark database: the comparison starts from an empty roster, as in docs/benchmarks.md."""
    database = connection.settings_dict
    name = database["NAME"]
    import_name = f"{name}_import" if name.startswith(PREFIX) else f"{PREFIX}import"
    credentials = quote(database["USER"] or "postgres")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"])
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return import_name, f"postgres://{credentials}@{host}:{port}/{import_name}"


def import_database_prepare(name: str, url: str) -> None:
    import psycopg

    database = connection.settings_dict
    with psycopg.connect(
        dbname="postgres", user=database["USER"] or "postgres", password=database.get("PASSWORD") or None,
        host=database.get("HOST") or "127.0.0.1", port=database.get("PORT") or 5432, autocommit=True,
    ) as admin_connection:
        exists = admin_connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin_connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "migrate", "-v0"],
        env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True, text=True,
    )
    # benchmark_import vacuums these tables before each run. Autovacuum, started by the dead rows
    # of a rolled-back run, would otherwise take a CPU core at a random moment of a later run.
    tables = [model._meta.db_table for model in (Customer, AumSnapshot, RosterChange)]
    with psycopg.connect(url, autocommit=True) as import_connection:
        for table in tables:
            import_connection.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')


def roster_import(context: Context) -> list[dict]:
    """Run benchmark_import (the portal's import against django-import-export) in a database
    of its own and return its figures."""
    name, url = import_database_url()
    import_database_prepare(name, url)
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "benchmark_import",
               "--rows", str(context.size.import_rows), "--runs", str(context.size.import_runs)]
    finished = subprocess.run(command, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"benchmark_import failed: {finished.stderr.strip()[-2000:]}")
    entries = []
    for line in finished.stdout.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        runs = [float(value) for value in match["runs"].split(",")]
        entries.append({
            "page": f"import {context.size.import_rows:,} rows", "importer": match["importer"], "database": name,
            "runs_s": runs, **{f"{key}_s": value for key, value in spread(runs, digits=2).items()},
            "rows_per_s": int(match["rate"]), "peak_rss_mib": float(match["peak"]),
        })
        context.log(f"  import, {match['importer']}: {match['median']} s median")
    if len(entries) != 2:
        raise RuntimeError(f"benchmark_import printed no figures for both importers: {finished.stdout[-2000:]}")
    return entries


# Morning digest


def digest_business_date() -> datetime.date:
    from campaigns.calendar import WorkingCalendar

    calendar = WorkingCalendar()
    day = timezone.localdate()
    while not calendar.is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def digest(context: Context) -> list[dict]:
    """Send the morning digest of the next working day to every client manager who gets one,
    through the reminder ledger to an aiosmtpd sink on 127.0.0.1, and time it until the last
    mail has arrived. The ledger rows are deleted after each run, so the next run sends again."""
    from aiosmtpd.controller import Controller

    from campaigns.management.commands.benchmark_reminders import (
        CountingHandler,
        free_loopback_port,
        smtp_sink_settings,
    )
    from campaigns.reminders import reminders_run

    business_date = digest_business_date()
    runs = []
    mails = 0
    for _run in range(min(context.repeat, 3)):
        Reminder.objects.filter(kind=Reminder.Kind.DIGEST, business_date=business_date).delete()
        handler = CountingHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=free_loopback_port())
        controller.start()
        try:
            with smtp_sink_settings(controller.port):
                started = time.perf_counter()
                result = reminders_run(business_date=business_date, kinds=(Reminder.Kind.DIGEST,))
        finally:
            controller.stop()
            Reminder.objects.filter(kind=Reminder.Kind.DIGEST, business_date=business_date).delete()
        if handler.count != result.sent or handler.count == 0:
            raise RuntimeError(f"the run sent {result.sent} digests and the sink received {handler.count}")
        runs.append(handler.last_at - started)
        mails = handler.count
    entry = {
        "page": "morning digest", "business_date": business_date.isoformat(), "mails": mails,
        "runs_s": [round(run, 2) for run in runs], **{f"{key}_s": value for key, value in spread(runs, digits=2).items()},
    }
    entry["mails_per_s"] = round(mails / entry["median_s"], 1)
    context.log(f"  digest: {mails} mails in {entry['median_s']} s")
    return [entry]


BENCHMARKS = {
    "roster_list": roster_list,
    "task_list": task_list,
    "admin_changelist": admin_changelist,
    "dashboard": dashboard,
    "launch": launch,
    "xlsx_export": xlsx_export,
    "import": roster_import,
    "digest": digest,
}

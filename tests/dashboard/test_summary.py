"""The dashboard's pre-aggregated figures (portal/dashboard/summary.py) against the live
figures computed straight from the tasks, and when the dashboard uses which."""

import datetime
import random
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import ContactRecord, HeldOutCustomer, TaskFigureSummary, TaskFigureSummaryRun
from campaigns.selectors import task_list_for
from portal.dashboard.selectors import (
    GROUPINGS,
    campaign_uplifts,
    completion_by_week,
    task_figures_by,
    task_figures_total,
)
from portal.dashboard.summary import (
    summary_completion_by_week,
    summary_figures_by,
    summary_figures_total,
    summary_max_age,
    summary_refresh,
    summary_run_for,
    summary_uplifts,
)
from portal.dashboard.tasks import refresh_dashboard_summary
from portal.dashboard.work_views import work_views_for
from tests.conftest import need
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

from .conftest import local_datetime

pytestmark = pytest.mark.django_db

INDEX = reverse("dashboard:index")
STATUSES = ("open", "in_progress", "done", "verified", "returned", "cancelled")
OUTCOMES = ("", "reached", "not_reachable", "declined", "interested", "converted")
SCOPES = ("platform", "supervisor_a", "supervisor_b")


@pytest.fixture
def varied(dataset, users, branch_tree, tiers, today):
    """Return the hand-built dataset plus 150 random but reproducible tasks. They cover every
    status and outcome and due dates a year around today. Completion times fall before creation
    (imported history), on the due date's local evening, or are missing. Some tasks have no
    client manager, some customers no tier, and a third campaign has a holdout group."""
    rng = random.Random(20261205)
    campaign_z = CampaignFactory(name="Campaign Z", owner=users["platform"], holdout_percent=10,
                                 launched_at=timezone.now() - datetime.timedelta(days=90))
    campaigns = [dataset["x"], dataset["y"], campaign_z]
    managers = [users["manager_a"], users["manager_a1"], users["manager_b"], None]
    tier_choices = [tiers["gold"], tiers["private"], None]
    for _number in range(150):
        assignee = rng.choice(managers)
        branch = assignee.branch if assignee else branch_tree[rng.choice(["head", "a", "a1", "b"])]
        status = rng.choice(STATUSES)
        due_on = today + datetime.timedelta(days=rng.randint(-365, 60))
        completed_at = None
        if status in ("done", "verified"):
            completed_at = rng.choice(
                [
                    None,
                    local_datetime(due_on, 21),
                    local_datetime(due_on + datetime.timedelta(days=1), 7),
                    timezone.now() - datetime.timedelta(days=rng.randint(0, 300)),
                    # Before the task's creation, as imported history is.
                    timezone.now() - datetime.timedelta(days=400),
                ]
            )
        TaskFactory(
            campaign=rng.choice(campaigns),
            assignee=assignee,
            branch=branch,
            status=status,
            outcome=rng.choice(OUTCOMES),
            due_on=due_on,
            completed_at=completed_at,
            customer=CustomerFactory(branch=branch, tier=rng.choice(tier_choices)),
        )
    for index in range(12):
        customer = CustomerFactory(branch=branch_tree["b"])
        HeldOutCustomer.objects.create(campaign=campaign_z, customer=customer)
        if index % 3 == 0:
            ContactRecord.objects.create(
                customer=customer, outcome="converted", contacted_at=timezone.now() - datetime.timedelta(days=index)
            )
    return {**dataset, "z": campaign_z}


def _work_counts(views) -> dict:
    return {view.key: view.count for view in views}


@pytest.mark.parametrize("scope", SCOPES)
def test_summary_equals_live_figures(varied, users, scope):
    user = users[scope]
    tasks = task_list_for(user=user)
    summary_refresh()

    live_total = task_figures_total(tasks=tasks)
    total, view_counts = summary_figures_total(user=user)
    assert total == live_total
    assert live_total.tasks > 10
    assert view_counts == _work_counts(work_views_for(user=user))
    for grouping in GROUPINGS:
        assert summary_figures_by(user=user, grouping=grouping) == task_figures_by(
            tasks=tasks, grouping=grouping, user=user
        ), grouping
    assert summary_completion_by_week(user=user, total=total) == completion_by_week(tasks=tasks)


def test_summary_equals_live_uplifts(varied):
    run = summary_refresh()

    live = campaign_uplifts(campaign_ids=[varied["x"].pk, varied["y"].pk, varied["z"].pk])
    assert set(live) == {varied["z"].pk}
    assert summary_uplifts(run) == live


def test_summary_refresh_replaces_rows(varied, users):
    summary_refresh()
    first_rows = TaskFigureSummary.objects.count()
    TaskFactory(campaign=varied["y"], assignee=users["manager_b"], status="verified", outcome="converted")

    run = refresh_dashboard_summary()

    assert TaskFigureSummaryRun.objects.count() == 1
    assert run == TaskFigureSummaryRun.objects.get().task_count
    assert TaskFigureSummary.objects.count() >= first_rows
    total, _views = summary_figures_total(user=users["platform"])
    assert total == task_figures_total(tasks=task_list_for(user=users["platform"]))


def test_dashboard_shows_summary_and_its_time(client, varied, users):
    summary_refresh()
    # Written after the refresh, so only the live figures contain it.
    TaskFactory(campaign=varied["y"], assignee=users["manager_a"], status="open")
    client.force_login(users["supervisor_a"])

    response = client.get(INDEX)

    total = response.context["total_table"].data.data[0]
    live = task_figures_total(tasks=task_list_for(user=users["supervisor_a"]))
    assert total.tasks == live.tasks - 1
    assert "Figures as of" in response.content.decode()


def test_dashboard_filter_computes_live(client, varied, users):
    summary_refresh()
    TaskFactory(campaign=varied["y"], assignee=users["manager_a"], status="open")
    client.force_login(users["platform"])

    response = client.get(INDEX, {"campaign": varied["y"].pk})

    live = task_figures_total(tasks=task_list_for(user=users["platform"]).filter(campaign=varied["y"]))
    assert response.context["total_table"].data.data[0].tasks == live.tasks
    assert "Figures as of" not in response.content.decode()


def test_filtered_dashboard_work_views_from_summary(client, varied, users, today):
    summary_refresh()
    overdue_on = today - datetime.timedelta(days=3)
    TaskFactory(campaign=varied["y"], assignee=users["manager_a"], status="open", due_on=overdue_on)
    client.force_login(users["supervisor_a"])

    response = client.get(INDEX, {"campaign": varied["y"].pk})

    counts = {view.key: view.count for view in response.context["work_views"]}
    live = _work_counts(work_views_for(user=users["supervisor_a"]))
    assert counts["overdue"] == live["overdue"] - 1
    assert counts["returned"] == live["returned"]
    assert "The counts under “My work” are as of" in response.content.decode()


def test_dashboard_ignores_old_summary(client, varied, users):
    run = summary_refresh()
    TaskFactory(campaign=varied["y"], assignee=users["manager_a"], status="open")
    run.finished_at = timezone.now() - summary_max_age() - datetime.timedelta(minutes=1)
    run.save()
    client.force_login(users["platform"])

    response = client.get(INDEX)

    live = task_figures_total(tasks=task_list_for(user=users["platform"]))
    assert response.context["total_table"].data.data[0].tasks == live.tasks
    assert "Figures as of" not in response.content.decode()


def test_summary_of_yesterday_not_used(varied, users, today):
    summary_refresh(today=today - datetime.timedelta(days=1))

    assert summary_run_for(user=users["platform"], filtered=False) is None


def test_summary_not_for_client_manager(varied, users):
    summary_refresh()

    assert summary_run_for(user=users["platform"], filtered=False) is not None
    assert summary_run_for(user=users["supervisor_b"], filtered=False) is not None
    assert summary_run_for(user=users["platform"], filtered=True) is None
    assert summary_run_for(user=users["manager_a"], filtered=False) is None


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_summary_dashboard_query_count_constant(client, users, dataset, role):
    client.force_login(users[role])
    summary_refresh()
    client.get(INDEX)
    with CaptureQueriesContext(connection) as few:
        assert client.get(INDEX).status_code == HTTPStatus.OK
    for number in range(15):
        campaign = CampaignFactory(name=f"More {number}", owner=users["platform"])
        TaskFactory(campaign=campaign, assignee=users["manager_a1"], status="verified", completed_at=timezone.now())
    summary_refresh()

    with CaptureQueriesContext(connection) as many:
        response = client.get(INDEX)

    assert "Figures as of" in response.content.decode()
    assert len(response.context["campaign_table"].data.data) == 17
    assert len(many) == len(few)


def test_figure_tables_show_one_page(client, users, dataset):
    for number in range(12):
        campaign = CampaignFactory(name=f"Extra {number:02d}", owner=users["platform"])
        TaskFactory(campaign=campaign, assignee=users["manager_b"])
    client.force_login(users["platform"])

    first = client.get(INDEX).context["campaign_table"]
    second = client.get(INDEX, {"campaign-page": 2}).context["campaign_table"]

    assert len(first.data) == 14
    extras = [f"Extra {number:02d}" for number in range(12)]
    assert [row.record.label for row in first.paginated_rows] == ["Campaign X", "Campaign Y", *extras[:8]]
    assert [row.record.label for row in second.paginated_rows] == extras[8:]


def test_export_matches_summary(client, varied, users):
    summary_refresh()
    TaskFactory(campaign=varied["y"], assignee=users["manager_a"], status="open")
    client.force_login(users["platform"])

    response = client.get(INDEX, {"_export": "csv", "table": "campaign"})

    content = b"".join(response.streaming_content) if response.streaming else response.content
    rows = content.decode("utf-8-sig").splitlines()
    summary_y = next(row for row in summary_figures_by(user=users["platform"], grouping="campaign")
                     if row.key == varied["y"].pk)
    line_y = next(line for line in rows if line.startswith("Campaign Y,"))
    assert line_y.split(",")[1] == str(summary_y.tasks)


@pytest.mark.django_db(transaction=True)
def test_refresh_on_postgresql_outside_transaction(users, branch_tree):
    need(connection.vendor == "postgresql", "the REPEATABLE READ refresh runs on PostgreSQL only")
    campaign = CampaignFactory(owner=users["platform"])
    for status in STATUSES:
        TaskFactory(campaign=campaign, assignee=users["manager_a1"], status=status, outcome="converted")

    run = summary_refresh()

    assert run is not None
    assert run.task_count == len(STATUSES)
    total, _views = summary_figures_total(user=users["supervisor_a"])
    assert total == task_figures_total(tasks=task_list_for(user=users["supervisor_a"]))


def test_beat_schedule_runs_registered_task(db, settings):
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app

    periodic = PeriodicTask.objects.select_related("interval").get(name="Dashboard figures")
    app.loader.import_default_modules()

    assert periodic.task == "portal.refresh_dashboard_summary"
    assert periodic.task in app.tasks
    assert periodic.enabled
    assert periodic.interval.every == settings.DASHBOARD_SUMMARY_REFRESH_MINUTES
    assert periodic.interval.period == "minutes"


@pytest.mark.django_db(transaction=True)
def test_refresh_skipped_while_lock_held(users, branch_tree):
    """A rebuild returns at once, writing nothing, while another holds its advisory lock, and
    the dashboard and analysis rebuilds do not wait for each other."""
    need(connection.vendor == "postgresql", "the rebuild lock is a PostgreSQL advisory lock")
    import psycopg

    from portal.dashboard import summary
    from portal.dashboard.analysis_summary import analysis_summary_refresh

    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [summary.REFRESH_LOCK_KEY])

        assert summary.summary_refresh() is None
        assert not TaskFigureSummaryRun.objects.exists()
        assert analysis_summary_refresh() is not None

        other.rollback()
    assert summary.summary_refresh() is not None
    assert TaskFigureSummaryRun.objects.count() == 1

"""The next-campaign analysis's pre-aggregated figures (portal/dashboard/analysis_summary.py)
against the live figures of portal/dashboard/analysis.py, and when the page uses which."""

import datetime
import random
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import AnalysisSummary, AnalysisSummaryRun, ContactRecord
from portal.dashboard.analysis import (
    RESPONSE_DIMENSIONS,
    ROSTER_DIMENSIONS,
    response_by,
    response_overall,
    response_tasks,
    roster_by,
)
from portal.dashboard.analysis_summary import (
    analysis_summary_max_age,
    analysis_summary_refresh,
    analysis_summary_run_for,
    summary_response_by,
    summary_response_overall,
    summary_roster_by,
)
from portal.dashboard.tasks import refresh_analysis_summary
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

ANALYSIS = reverse("dashboard:next_campaign_analysis")
SCOPES = ("platform", "supervisor_a", "supervisor_b")
OUTCOMES = ("", "reached", "not_reachable", "declined", "interested", "converted")


@pytest.fixture
def varied(dataset, users, branch_tree, tiers, today):
    """The hand-built dataset plus 60 customers drawn with a fixed seed, each with a task in one to
    three campaigns. A task's branch is often not its customer's, so one
    customer's outcomes sit in several branches and subtrees. Occupations, ages, birth dates,
    AUM, tiers, channels and previous outcomes vary. A previous outcome comes from the roster
    or from a contact record."""
    rng = random.Random(20261205)
    campaigns = [dataset["x"], dataset["y"], CampaignFactory(name="Campaign Z", owner=users["platform"])]
    branches = [branch_tree[name] for name in ("head", "a", "a1", "b")]
    managers = [users["manager_a"], users["manager_a1"], users["manager_b"], None]
    for _number in range(60):
        birth_date = rng.choice([None, today.replace(year=today.year - rng.randint(20, 80))])
        customer = CustomerFactory(
            branch=rng.choice(branches),
            tier=rng.choice([tiers["gold"], tiers["private"], None]),
            occupation=rng.choice(["", "management", "technician", "retired"]),
            age=rng.choice([None, rng.randint(18, 90)]),
            birth_date=birth_date,
            aum=Decimal(rng.choice([0, 5_000, 120_000, 800_000, 3_000_000, 12_000_000])),
            extra=rng.choice([{}, {"poutcome": "success"}, {"poutcome": ""}, {"poutcome": "failure"}]),
        )
        for campaign in rng.sample(campaigns, rng.randint(1, 3)):
            assignee = rng.choice(managers)
            task = TaskFactory(
                campaign=campaign,
                customer=customer,
                assignee=assignee,
                branch=assignee.branch if assignee else rng.choice(branches),
                status="done",
                outcome=rng.choice(OUTCOMES),
                channel=rng.choice(["", "phone", "wechat", "visit"]),
            )
            if rng.random() < 0.3:
                ContactRecord.objects.create(
                    task=task, customer=customer, outcome="reached", contacted_at=timezone.now(),
                    extra={"poutcome": rng.choice(["success", "other"])},
                )
    return dataset


@pytest.mark.parametrize("scope", SCOPES)
def test_summary_equals_live_analysis(varied, users, scope):
    user = users[scope]
    analysis_summary_refresh()

    live_overall = response_overall(tasks=response_tasks(user=user))
    overall = summary_response_overall(user=user)
    assert overall == live_overall
    assert live_overall.customers > 5
    for dimension in ROSTER_DIMENSIONS:
        live = roster_by(user=user, dimension=dimension)
        assert live
        assert summary_roster_by(user=user, dimension=dimension) == live, dimension
    for dimension in RESPONSE_DIMENSIONS:
        live = response_by(user=user, dimension=dimension, overall=live_overall)
        assert live
        assert summary_response_by(user=user, dimension=dimension, overall=overall) == live, dimension


def test_distinct_customers_across_branches_are_exact(users, branch_tree):
    """A customer of branch A1 with converted tasks in A1 and in A counts once for supervisor A,
    though adding up one row per branch would count them twice."""
    customer = CustomerFactory(branch=branch_tree["a1"])
    for campaign, branch in ((CampaignFactory(), branch_tree["a1"]), (CampaignFactory(), branch_tree["a"])):
        TaskFactory(campaign=campaign, customer=customer, branch=branch, assignee=None, outcome="converted")
    analysis_summary_refresh()

    overall = summary_response_overall(user=users["supervisor_a"])

    assert (overall.customers, overall.converted) == (1, 1)
    assert overall == response_overall(tasks=response_tasks(user=users["supervisor_a"]))


def test_refresh_replaces_rows(varied, users):
    analysis_summary_refresh()
    TaskFactory(campaign=varied["y"], assignee=users["manager_b"], status="done", outcome="converted")

    run_id = refresh_analysis_summary()

    assert AnalysisSummaryRun.objects.get().pk == run_id
    user = users["platform"]
    assert summary_response_overall(user=user) == response_overall(tasks=response_tasks(user=user))


def test_run_for_roles_filters_and_age(dataset, users):
    run = analysis_summary_refresh()
    now = run.finished_at

    assert analysis_summary_run_for(user=users["platform"], filtered=False, now=now) == run
    assert analysis_summary_run_for(user=users["supervisor_a"], filtered=False, now=now) == run
    assert analysis_summary_run_for(user=users["platform"], filtered=True, now=now) is None
    assert analysis_summary_run_for(user=users["manager_a"], filtered=False, now=now) is None
    late = now + analysis_summary_max_age() + datetime.timedelta(seconds=1)
    assert analysis_summary_run_for(user=users["platform"], filtered=False, now=late) is None


def _tamper_overall():
    """Make the summary's overall row wrong, so a page showing it differs from a live one."""
    AnalysisSummary.objects.filter(kind="response", dimension="all").update(customers=999_999, converted=0)


def test_page_shows_summary_and_its_time(client, dataset, users):
    run = analysis_summary_refresh()
    _tamper_overall()
    client.force_login(users["platform"])

    response = client.get(ANALYSIS)

    assert response.status_code == HTTPStatus.OK
    assert response.context["overall"].customers == 999_999
    time = timezone.localtime(run.finished_at).strftime("%H:%M")
    assert f"Figures as of {time}" in response.content.decode()


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_stale_summary_falls_back_to_live(client, dataset, users, role):
    run = analysis_summary_refresh()
    _tamper_overall()
    AnalysisSummaryRun.objects.filter(pk=run.pk).update(
        finished_at=run.finished_at - analysis_summary_max_age() - datetime.timedelta(minutes=1)
    )
    client.force_login(users[role])

    response = client.get(ANALYSIS)

    live = response_overall(tasks=response_tasks(user=users[role]))
    assert response.context["overall"] == live
    assert live.customers < 999_999
    assert 'id="analysis-freshness"' not in response.content.decode()


def test_summary_of_yesterday_falls_back_to_live(client, dataset, users):
    run = analysis_summary_refresh()
    _tamper_overall()
    AnalysisSummaryRun.objects.filter(pk=run.pk).update(as_of=run.as_of - datetime.timedelta(days=1))
    client.force_login(users["platform"])

    response = client.get(ANALYSIS)

    assert response.context["overall"] == response_overall(tasks=response_tasks(user=users["platform"]))


def test_campaign_filter_computes_live(client, dataset, users):
    analysis_summary_refresh()
    _tamper_overall()
    client.force_login(users["platform"])

    response = client.get(ANALYSIS, {"campaign": dataset["x"].pk})

    assert response.context["overall"] == response_overall(
        tasks=response_tasks(user=users["platform"], campaign=dataset["x"])
    )
    assert 'id="analysis-freshness"' not in response.content.decode()


def test_export_uses_summary_while_page_does(client, dataset, users):
    analysis_summary_refresh()
    AnalysisSummary.objects.filter(kind="roster", dimension="tier").update(customers=424_242)
    client.force_login(users["platform"])

    response = client.get(ANALYSIS, {"_export": "csv", "table": "roster_tier"})

    assert response.status_code == HTTPStatus.OK
    assert "424242" in b"".join(response).decode().replace(",", "")


def test_beat_schedule_runs_analysis_refresh(db, settings):
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app

    periodic = PeriodicTask.objects.select_related("interval").get(name="Next-campaign analysis figures")
    app.loader.import_default_modules()

    assert periodic.task == "portal.refresh_analysis_summary"
    assert periodic.task in app.tasks
    assert periodic.enabled
    assert periodic.interval.every == settings.ANALYSIS_SUMMARY_REFRESH_MINUTES
    assert periodic.interval.period == "minutes"

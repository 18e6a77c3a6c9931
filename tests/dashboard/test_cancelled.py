"""Cancelled tasks on the dashboard: counted on their own, never as work to do, and out of
the completion, on-time and conversion denominators. Expected figures start from the
`dataset` fixture (campaign X: 6 tasks, 3 done, 2 on time, 2 overdue, 2 converted)."""

import datetime
import html
import re

import pytest
from django.urls import reverse

from campaigns.models import FollowUpTask
from portal.dashboard.selectors import campaign_conversion_overall, completion_by_week, task_figures_by, task_figures_total
from tests.factories import CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("dashboard:index")
TASK_LIST = reverse("campaigns:task_list")


@pytest.fixture
def cancelled(dataset, users, branch_tree, today):
    """Two cancelled tasks in campaign X: one long past its due date, one whose contact had
    already recorded a conversion before the platform cancelled it."""
    campaign_x = dataset["x"]
    return [
        TaskFactory(
            campaign=campaign_x, assignee=users["manager_a"], status="cancelled",
            due_on=today - datetime.timedelta(days=30), customer=CustomerFactory(branch=branch_tree["a"]),
        ),
        TaskFactory(
            campaign=campaign_x, assignee=users["manager_b"], status="cancelled", outcome="converted",
            due_on=today - datetime.timedelta(days=3), customer=CustomerFactory(branch=branch_tree["b"]),
        ),
    ]


def test_campaign_figures_leave_out_cancelled(users, dataset, cancelled):
    rows = task_figures_by(tasks=FollowUpTask.objects.all(), grouping="campaign", user=users["platform"])

    campaign_x = next(row for row in rows if row.key == dataset["x"].pk)
    assert campaign_x.tasks == 6
    assert campaign_x.cancelled == 2
    assert campaign_x.done == 3
    assert campaign_x.completion_rate == pytest.approx(3 / 6)
    assert campaign_x.on_time_rate == pytest.approx(2 / 3)
    assert campaign_x.overdue == 2
    assert campaign_x.converted == 2
    assert campaign_x.conversion_rate == pytest.approx(2 / 6)


def test_total_counts_cancelled_separately(dataset, cancelled):
    total = task_figures_total(tasks=FollowUpTask.objects.all())

    assert total.tasks == 8
    assert total.cancelled == 2


def test_branch_rollup_adds_cancelled(users, dataset, cancelled, branch_tree):
    rows = {row.key: row for row in task_figures_by(tasks=FollowUpTask.objects.all(), grouping="branch", user=users["platform"])}

    assert rows[branch_tree["head"].pk].cancelled == 2
    assert rows[branch_tree["a"].pk].cancelled == 1
    assert rows[branch_tree["b"].pk].cancelled == 1


def test_weekly_rate_leaves_out_cancelled(dataset, cancelled):
    weeks = completion_by_week(tasks=FollowUpTask.objects.all())

    # 4 completed tasks of the 8 that are not cancelled.
    assert weeks[-1].cumulative_completed == 4
    assert weeks[-1].cumulative_rate == pytest.approx(4 / 8)


def test_campaign_analysis_leaves_out_cancelled(users, dataset, cancelled):
    overall = campaign_conversion_overall(user=users["platform"], campaign=dataset["x"])

    assert (overall.tasks, overall.converted) == (6, 2)


def test_cancelled_not_in_work_views(client, users, dataset, cancelled):
    client.force_login(users["platform"])

    views = {view.key: view for view in client.get(INDEX).context["work_views"]}

    # Tasks 3 and 6 of the dataset; the cancelled tasks past their due date are not overdue.
    assert views["overdue"].count == 2


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_cancelled_drill_counts_match_task_list(client, users, dataset, cancelled, role):
    client.force_login(users[role])
    body = client.get(INDEX).content.decode()
    links = re.findall(r'href="(' + re.escape(TASK_LIST) + r'\?[^"]*)">([\d,]+)</a>', body)
    cancelled_links = [(href, figure) for href, figure in links if "status=cancelled" in href]

    assert cancelled_links
    for href, figure in links:
        task_list = client.get(html.unescape(href))
        assert task_list.context["filter"].qs.count() == int(figure.replace(",", "")), href

import datetime

import pytest

from campaigns.selectors import task_list_for
from portal.dashboard.selectors import (
    campaign_conversion_by,
    campaign_conversion_overall,
    completion_by_week,
    dashboard_task_list,
    task_figures_by,
    task_figures_total,
)

pytestmark = pytest.mark.django_db


def by_label(figures):
    return {item.label: item for item in figures}


def test_total_figures_platform(users, dataset):
    total = task_figures_total(tasks=task_list_for(user=users["platform"]))

    assert total.tasks == 8
    assert total.done == 4
    assert total.verified == 2
    assert total.on_time == 3
    assert total.overdue == 2
    assert total.outcomes == {"reached": 1, "not_reachable": 1, "declined": 1, "interested": 1, "converted": 2}
    assert total.completion_rate == 0.5
    assert total.on_time_rate == 0.75
    assert total.conversion_rate == 0.25


def test_closed_rate_counts_only_verified(users, dataset):
    total = task_figures_total(tasks=task_list_for(user=users["platform"]))

    # 4 of the 8 tasks are done, but only the 2 verified ones are closed.
    assert total.closed_rate == 0.25


def test_on_time_uses_local_date(users, dataset):
    # Task 2 was completed at 07:00 Shanghai the day after it was due, which is still its
    # due date in UTC; it must count as late.
    late = dataset["tasks"][2]
    figures = task_figures_total(tasks=task_list_for(user=users["platform"]).filter(pk=late.pk))

    assert figures.done == 1
    assert figures.on_time == 0
    assert figures.on_time_rate == 0.0


def test_figures_per_campaign(users, dataset):
    rows = by_label(task_figures_by(tasks=task_list_for(user=users["platform"]), grouping="campaign", user=users["platform"]))

    x, y = rows["Campaign X"], rows["Campaign Y"]
    assert x.key == dataset["x"].pk
    assert (x.tasks, x.done, x.verified, x.on_time, x.overdue, x.converted) == (6, 3, 1, 2, 2, 2)
    assert x.completion_rate == 0.5
    assert x.on_time_rate == pytest.approx(2 / 3)
    assert x.conversion_rate == pytest.approx(1 / 3)
    assert (y.tasks, y.done, y.verified, y.on_time, y.overdue, y.converted) == (2, 1, 1, 1, 0, 0)
    assert y.on_time_rate == 1.0
    assert y.conversion_rate == 0.0


def test_figures_per_branch_roll_up(users, dataset, branch_tree):
    rows = task_figures_by(tasks=task_list_for(user=users["platform"]), grouping="branch", user=users["platform"])

    tasks_by_branch = {item.label: item.tasks for item in rows}
    assert tasks_by_branch == {"Head office": 8, "Branch A": 5, "Sub-branch A1": 2, "Branch B": 3}
    branch_a = by_label(rows)["Branch A"]
    assert branch_a.key == branch_tree["a"].pk
    assert (branch_a.done, branch_a.on_time, branch_a.overdue, branch_a.converted) == (2, 1, 1, 1)


def test_figures_per_assignee(users, dataset):
    supervisor = users["supervisor_a"]
    rows = by_label(task_figures_by(tasks=task_list_for(user=supervisor), grouping="assignee", user=supervisor))

    assert set(rows) == {"cm_a", "cm_a1"}
    assert rows["cm_a"].key == users["manager_a"].pk
    assert (rows["cm_a"].tasks, rows["cm_a"].done, rows["cm_a"].converted) == (3, 2, 1)
    assert (rows["cm_a1"].tasks, rows["cm_a1"].done, rows["cm_a1"].overdue) == (2, 0, 1)
    assert rows["cm_a1"].on_time_rate is None


def test_supervisor_scope_figures(users, dataset):
    supervisor = users["supervisor_a"]
    tasks = task_list_for(user=supervisor)

    total = task_figures_total(tasks=tasks)
    branches = {item.label: item.tasks for item in task_figures_by(tasks=tasks, grouping="branch", user=supervisor)}

    assert (total.tasks, total.done, total.verified, total.on_time, total.overdue, total.converted) == (5, 2, 1, 1, 1, 1)
    assert total.completion_rate == 0.4
    assert total.conversion_rate == 0.2
    # No row for head office or branch B.
    assert branches == {"Branch A": 5, "Sub-branch A1": 2}


def test_filter_by_campaign_and_due_range(users, dataset, today):
    platform = users["platform"]

    only_y = dashboard_task_list(user=platform, campaign=dataset["y"])
    due_in_past = dashboard_task_list(user=platform, due_to=today - datetime.timedelta(days=1))

    assert set(only_y) == {dataset["tasks"][7], dataset["tasks"][8]}
    assert set(due_in_past) == {dataset["tasks"][2], dataset["tasks"][3], dataset["tasks"][6]}


def test_unknown_grouping_raises(users, dataset):
    with pytest.raises(ValueError, match="Unknown grouping 'region'"):
        task_figures_by(tasks=task_list_for(user=users["platform"]), grouping="region", user=users["platform"])


def test_completion_by_week_cumulative(users, dataset):
    weeks = completion_by_week(tasks=task_list_for(user=users["platform"]))

    assert sum(week.completed for week in weeks) == 4
    assert sum(week.converted for week in weeks) == 2
    assert weeks[-1].cumulative_completed == 4
    assert weeks[-1].cumulative_rate == 0.5
    assert all(week.week.weekday() == 0 for week in weeks)
    assert [week.week for week in weeks] == sorted(week.week for week in weeks)


def test_conversion_overall(users, dataset):
    overall = campaign_conversion_overall(user=users["platform"], campaign=dataset["x"])

    assert (overall.tasks, overall.converted) == (6, 2)
    assert overall.conversion_rate == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        # label: (tasks, converted, lift); the overall rate of campaign X is 2 of 6.
        ("occupation", {"Unknown": (1, 1, 3.0), "management": (2, 1, 1.5), "technician": (3, 0, 0.0)}),
        ("channel", {"Visit": (1, 1, 3.0), "Phone": (3, 1, 1.0), "WeChat": (1, 0, 0.0), "Unknown": (1, 0, 0.0)}),
        ("tier", {"Private Banking": (1, 1, 3.0), "Gold": (2, 1, 1.5), "No tier": (3, 0, 0.0)}),
        (
            "age_band",
            {
                "Under 30": (1, 1, 3.0), "60 and over": (1, 1, 3.0), "30–39": (1, 0, 0.0),
                "40–49": (1, 0, 0.0), "50–59": (1, 0, 0.0), "Unknown": (1, 0, 0.0),
            },
        ),
    ],
)
def test_conversion_by_dimension(users, dataset, dimension, expected):
    rows = campaign_conversion_by(user=users["platform"], campaign=dataset["x"], dimension=dimension)

    actual = {row.label: (row.tasks, row.converted, pytest.approx(row.lift)) for row in rows}
    assert actual == expected
    lifts = [row.lift for row in rows]
    assert lifts == sorted(lifts, reverse=True)


def test_conversion_by_scoped_to_user(users, dataset):
    rows = campaign_conversion_by(user=users["supervisor_b"], campaign=dataset["x"], dimension="channel")

    # Supervisor B can see tasks 5 (visit, converted) and 6 (phone): overall 1 of 2.
    assert {row.label: (row.tasks, row.converted) for row in rows} == {"Visit": (1, 1), "Phone": (1, 0)}
    assert rows[0].lift == 2.0


def test_conversion_unknown_dimension_raises(users, dataset):
    with pytest.raises(ValueError, match="Unknown analysis dimension 'region'"):
        campaign_conversion_by(user=users["platform"], campaign=dataset["x"], dimension="region")

import csv
import html
import datetime
import io
import re
from http import HTTPStatus

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from campaigns.models import ContactRecord, HeldOutCustomer
from customers.models import Branch
from portal.models import Role
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("dashboard:index")
TASK_LIST = reverse("campaigns:task_list")


def analysis_url(campaign):
    return reverse("dashboard:campaign_analysis", args=[campaign.pk])


# The task list parameters of every status except cancelled.
WORK = "status=open&status=in_progress&status=returned&status=done&status=verified"


def drill_href(query: str) -> str:
    return f'href="{TASK_LIST}?{query}"'.replace("&", "&amp;")


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def read_xlsx(response) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(response.content))
    return list(workbook.active.iter_rows(values_only=True))


# Access


@pytest.mark.parametrize("role", ["platform", "supervisor_a", "manager_a"])
def test_index_permitted_roles(client, users, dataset, role):
    client.force_login(users[role])

    response = client.get(INDEX)

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("role", ["admin"])
def test_index_forbidden_roles(client, users, dataset, role):
    client.force_login(users[role])

    assert client.get(INDEX).status_code == HTTPStatus.FORBIDDEN
    assert client.get(INDEX, {"_export": "csv", "table": "campaign"}).status_code == HTTPStatus.FORBIDDEN


def test_index_requires_login(client, dataset):
    response = client.get(INDEX)

    assert response.status_code == HTTPStatus.FOUND
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("role", ["manager_a", "admin"])
def test_analysis_forbidden_roles(client, users, dataset, role):
    client.force_login(users[role])

    assert client.get(analysis_url(dataset["x"])).status_code == HTTPStatus.FORBIDDEN


def test_analysis_outside_scope_404(client, users, dataset, branch_tree):
    only_in_a = CampaignFactory(name="Campaign A only", owner=users["platform"])
    TaskFactory(campaign=only_in_a, assignee=users["manager_a"], customer=CustomerFactory(branch=branch_tree["a"]))
    client.force_login(users["supervisor_b"])

    assert client.get(analysis_url(only_in_a)).status_code == HTTPStatus.NOT_FOUND
    assert client.get(analysis_url(dataset["x"])).status_code == HTTPStatus.OK


# Dashboard content


def test_index_supervisor_sees_own_subtree(client, users, dataset):
    client.force_login(users["supervisor_a"])

    response = client.get(INDEX)

    total = response.context["total_table"].data.data[0]
    assert (total.tasks, total.done, total.overdue) == (5, 2, 1)
    branches = [row.label for row in response.context["branch_table"].data.data]
    assert branches == ["Branch A", "Sub-branch A1"]
    assignees = {row.label for row in response.context["assignee_table"].data.data}
    assert assignees == {"cm_a", "cm_a1"}
    body = response.content.decode()
    assert "Branch B" not in body
    assert "cm_b" not in body


def test_index_percentages_formatted(client, users, dataset):
    client.force_login(users["platform"])

    body = client.get(INDEX).content.decode()

    # Campaign X: on time 2 of 3 done, conversion 2 of 6.
    assert "66.7%" in body
    assert "33.3%" in body
    assert "75.0%" in body


def test_index_drill_down_links(client, users, dataset):
    campaign_x = dataset["x"]
    client.force_login(users["platform"])

    body = client.get(INDEX).content.decode()

    x = f"campaign={campaign_x.pk}"
    assert drill_href(f"{x}&{WORK}") in body
    assert drill_href(f"{x}&status=done&status=verified") in body
    assert drill_href(f"{x}&status=verified") in body
    assert drill_href(f"{x}&status=done&status=verified&completed_on_time=true") in body
    assert drill_href(f"{x}&overdue=true") in body
    assert drill_href(f"{x}&{WORK}&outcome=converted") in body
    assert drill_href(f"{x}&status=cancelled") in body
    assert drill_href(f"branch={Branch.objects.get(code='BA').pk}&overdue=true") in body
    assert drill_href(f"assignee={users['manager_b'].pk}&{WORK}&outcome=declined") in body
    assert f'href="{analysis_url(campaign_x)}"' in body


def test_index_filter_applies_to_links(client, users, dataset):
    campaign_y = dataset["y"]
    client.force_login(users["platform"])

    response = client.get(INDEX, {"campaign": campaign_y.pk, "due_from": "2000-01-01"})

    total = response.context["total_table"].data.data[0]
    assert total.tasks == 2
    body = response.content.decode()
    assert drill_href(f"campaign={campaign_y.pk}&due_from=2000-01-01&assignee={users['manager_b'].pk}&{WORK}") in body


def test_index_invalid_filter_message(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(INDEX, {"due_from": "2025-03-02", "due_to": "2025-03-01"})

    assert response.status_code == HTTPStatus.OK
    assert "2025-03-02 is after 2025-03-01" in response.content.decode()
    assert response.context["total_table"].data.data[0].tasks == 8


def test_index_campaign_outside_scope_rejected(client, users, dataset, branch_tree):
    only_in_a = CampaignFactory(name="Campaign A only", owner=users["platform"])
    TaskFactory(campaign=only_in_a, assignee=users["manager_a"], customer=CustomerFactory(branch=branch_tree["a"]))
    client.force_login(users["supervisor_b"])

    response = client.get(INDEX, {"campaign": only_in_a.pk, "_export": "csv", "table": "campaign"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "campaign" in response.content.decode()


def test_index_chart_uses_local_echarts(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(INDEX)

    body = response.content.decode()
    assert "/static/vendor/echarts/echarts.min.js" in body
    assert 'id="completion-data"' in body
    assert sum(response.context["chart_data"]["completed"]) == 4


def add_tasks(*, users, branch_tree, count: int):
    """Add `count` tasks over `count` new campaigns, managers and sub-branches of branch A.
    Every campaign has a holdout group of two customers, one converted after the launch, and
    one cancelled task besides the done one."""
    for number in range(count):
        branch = Branch.objects.create(code=f"EXTRA{number}", name=f"Extra {number}", parent=branch_tree["a"])
        manager = UserFactory(username=f"extra_cm{number}", role=Role.CLIENT_MANAGER, branch=branch)
        campaign = CampaignFactory(
            name=f"Extra campaign {number}", owner=users["platform"], holdout_percent=50,
            launched_at=datetime.datetime(2023, 12, 1, tzinfo=datetime.UTC),
        )
        TaskFactory(
            campaign=campaign,
            assignee=manager,
            customer=CustomerFactory(branch=branch),
            status="done",
            outcome="converted",
            completed_at=datetime.datetime(2024, 1, 1 + number % 28, 10, tzinfo=datetime.UTC),
        )
        TaskFactory(campaign=campaign, assignee=manager, customer=CustomerFactory(branch=branch), status="cancelled")
        for converted in (True, False):
            held_out = HeldOutCustomer.objects.create(campaign=campaign, customer=CustomerFactory(branch=branch))
            if converted:
                ContactRecord.objects.create(
                    customer=held_out.customer, outcome="converted",
                    contacted_at=datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC),
                )


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_index_query_count_constant(client, users, dataset, branch_tree, role):
    client.force_login(users[role])
    client.get(INDEX)  # Warm up the session and the content type cache.

    with CaptureQueriesContext(connection) as few:
        assert client.get(INDEX).status_code == HTTPStatus.OK
    add_tasks(users=users, branch_tree=branch_tree, count=25)
    with CaptureQueriesContext(connection) as many:
        response = client.get(INDEX)

    campaign_rows = response.context["campaign_table"].data.data
    assert len(campaign_rows) == 27
    if role == "platform":
        assert sum(row.uplift is not None for row in campaign_rows) == 25
    assert len(many) == len(few)
    assert len(few) <= 15


def test_analysis_query_count_constant(client, users, dataset, branch_tree):
    client.force_login(users["platform"])
    client.get(analysis_url(dataset["x"]))

    with CaptureQueriesContext(connection) as few:
        client.get(analysis_url(dataset["x"]))
    for number in range(20):
        TaskFactory(
            campaign=dataset["x"],
            assignee=users["manager_b"],
            customer=CustomerFactory(branch=branch_tree["b"], occupation=f"job {number}", age=20 + number * 2),
        )
    with CaptureQueriesContext(connection) as many:
        client.get(analysis_url(dataset["x"]))

    assert len(many) == len(few)
    assert len(few) <= 15


# Exports


def test_export_campaign_csv(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(INDEX, {"_export": "csv", "table": "campaign"})

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="dashboard-campaign.csv"'
    header, *rows = read_csv(response)
    assert header[:9] == [
        "Campaign", "Tasks", "Done", "Verified", "Completion rate (%)", "Closed (verified) rate (%)",
        "On-time rate (%)", "Overdue", "Cancelled",
    ]
    assert header[-8:] == [
        "Conversion (%)",
        "Average days to complete",
        "Held-out customers",
        "Conversion of contacted customers (%)",
        "Conversion of held-out customers (%)",
        "Uplift (percentage points)",
        "Uplift, lower limit (95%)",
        "Uplift, upper limit (95%)",
    ]
    assert "Analysis" not in header
    assert rows[0][:10] == ["Campaign X", "6", "3", "1", "50.0", "16.7", "66.7", "2", "0", "1"]
    assert rows[0][-9:-6] == ["2", "33.3", ""]
    # Campaign X has no holdout group.
    assert rows[0][-6:] == ["", "", "", "", "", ""]


def test_export_xlsx_numbers_are_numbers(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(INDEX, {"_export": "xlsx", "table": "branch"})

    assert response.status_code == HTTPStatus.OK
    header, *rows = read_xlsx(response)
    assert header[0] == "Branch (with sub-branches)"
    by_branch = {row[0]: row for row in rows}
    assert set(by_branch) == {"Head office", "Branch A", "Sub-branch A1", "Branch B"}
    head = by_branch["Head office"]
    assert head[1:5] == (8, 4, 2, 50)
    assert isinstance(head[1], int)
    assert head[5] == 25
    assert head[6] == 75


def test_export_same_scope_as_screen(client, users, dataset):
    client.force_login(users["supervisor_a"])

    response = client.get(INDEX, {"_export": "csv", "table": "assignee"})

    names = {row[0] for row in read_csv(response)[1:]}
    assert names == {"cm_a", "cm_a1"}


def test_export_weekly_xlsx(client, users, dataset):
    client.force_login(users["platform"])

    header, *rows = read_xlsx(client.get(INDEX, {"_export": "xlsx", "table": "weekly"}))

    assert header == ("Week starting", "Completed", "Completed to date", "Completion rate to date (%)", "Converted")
    # Tasks 1 and 5 converted this week.
    assert rows[-1][2:] == (4, 50, 2)
    assert isinstance(rows[0][0], datetime.datetime)


def test_export_neutralises_formula(client, users, dataset):
    dataset["y"].name = "=HYPERLINK(\"http://x\")"
    dataset["y"].save()
    client.force_login(users["platform"])

    rows = read_csv(client.get(INDEX, {"_export": "csv", "table": "campaign"}))
    xlsx_rows = read_xlsx(client.get(INDEX, {"_export": "xlsx", "table": "campaign"}))

    assert "'=HYPERLINK(\"http://x\")" in [row[0] for row in rows]
    # XLSX keeps the text as it is, in a cell typed as a string, which a spreadsheet never runs.
    assert "=HYPERLINK(\"http://x\")" in [row[0] for row in xlsx_rows]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"_export": "pdf", "table": "campaign"}, "Unknown export format “pdf”"),
        ({"_export": "csv", "table": "region"}, "Unknown table “region”"),
        ({"_export": "csv", "table": "campaign", "due_from": "tomorrow"}, "Invalid filter, nothing exported"),
    ],
)
def test_export_bad_request(client, users, dataset, params, message):
    client.force_login(users["platform"])

    response = client.get(INDEX, params)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()


# Analysis page


def test_analysis_overall_line(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(analysis_url(dataset["x"]))

    assert response.status_code == HTTPStatus.OK
    assert "Conversion: 33.3% (2 of 6)" in response.content.decode()


def test_analysis_overall_thousands_separator(client, users, branch_tree):
    campaign = CampaignFactory(name="Large", owner=users["platform"])
    customers = CustomerFactory.create_batch(1200, branch=branch_tree["b"])
    TaskFactory.create_batch(
        1200, campaign=campaign, assignee=users["manager_b"], customer=factory.Iterator(customers, cycle=False),
        outcome=factory.Iterator(["converted"] * 150 + [""] * 1050, cycle=False),
    )
    client.force_login(users["platform"])

    body = client.get(analysis_url(campaign)).content.decode()

    assert "Conversion: 12.5% (150 of 1,200)" in body


def test_analysis_groups_sorted_by_lift(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(analysis_url(dataset["x"]))

    sections = {section["name"]: section["table"] for section in response.context["sections"]}
    assert list(sections) == ["tier", "age_band", "occupation", "channel"]
    occupation_labels = [row.label for row in sections["occupation"].data.data]
    assert occupation_labels == ["Unknown", "management", "technician"]
    body = response.content.decode()
    assert "3.00×" in body
    assert "1.50×" in body


def test_analysis_export_xlsx(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(analysis_url(dataset["x"]), {"_export": "xlsx", "table": "tier"})

    header, *rows = read_xlsx(response)
    assert header == ("Group", "Tasks", "Converted", "Conversion (%)", "Lift")
    assert rows[0] == ("Private Banking", 1, 1, 100, 3)
    assert rows[1][:4] == ("Gold", 2, 1, 50)
    assert rows[1][4] == pytest.approx(1.5)


def test_analysis_export_unknown_table(client, users, dataset):
    client.force_login(users["platform"])

    response = client.get(analysis_url(dataset["x"]), {"_export": "csv", "table": "region"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "tier, age_band, occupation, channel" in response.content.decode()


def test_export_missing_rate_is_empty_cell(client, users, dataset):
    client.force_login(users["supervisor_a"])

    header, *rows = read_xlsx(client.get(INDEX, {"_export": "xlsx", "table": "assignee"}))

    on_time_column = header.index("On-time rate (%)")
    by_name = {row[0]: row for row in rows}
    # cm_a1 has completed nothing, so there is no on-time rate.
    assert by_name["cm_a1"][on_time_column] is None
    assert by_name["cm_a"][on_time_column] == 50


@pytest.mark.parametrize("role", ["platform", "supervisor_a"])
def test_drill_down_counts_match_task_list(client, users, dataset, role):
    client.force_login(users[role])
    body = client.get(INDEX, {"due_from": "2000-01-01"}).content.decode()
    links = re.findall(r'href="(' + re.escape(TASK_LIST) + r'\?[^"]*)">([\d,]+)</a>', body)

    assert len(links) > 50
    for href, figure in links:
        task_list = client.get(html.unescape(href))
        assert task_list.context["filter"].qs.count() == int(figure.replace(",", "")), href

"""The main job end to end on the bank-marketing file, through the portal's own pages:
import the roster and the past outcomes, read the conversion figures, launch a campaign on a
segment, work the tasks as client managers, verify them as the platform, read the dashboard."""

import csv
import datetime
from collections import Counter
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, FollowUpTask, TaskEvent
from customers.models import Customer, RosterImport
from portal.dashboard.selectors import campaign_conversion_by, dashboard_task_list, task_figures_by

pytestmark = [pytest.mark.realdata, pytest.mark.django_db]

BANK_ROWS = 45_211
BANK_CONVERTED = 5_289


@pytest.fixture
def keyed_bank_file(bank_full_csv, tmp_path):
    """The real file with a customer_no column (BM000001, ...) in front, every other value as it is."""
    keyed = tmp_path / "bank-full-keyed.csv"
    with open(bank_full_csv, newline="", encoding="ascii") as source, open(keyed, "w", newline="") as target:
        reader = csv.reader(source, delimiter=";")
        writer = csv.writer(target, delimiter=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(["customer_no", *next(reader)])
        for number, row in enumerate(reader, start=1):
            writer.writerow([f"BM{number:06d}", *row])
    return keyed


def file_figures(path, column):
    """Count rows and subscriptions per value of `column`, straight from the original file."""
    totals, converted = Counter(), Counter()
    with open(path, newline="", encoding="ascii") as source:
        for row in csv.DictReader(source, delimiter=";"):
            totals[row[column]] += 1
            converted[row[column]] += row["y"] == "yes"
    return totals, converted


def upload_and_commit(client, path, **fields):
    """Go through upload, mapping (the suggested one) and preview, then commit; return the import."""
    with open(path, "rb") as handle:
        response = client.post(reverse("customers:import_upload"), {"file": handle, "delimiter": "", **fields})
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    roster_import = RosterImport.objects.latest("pk")

    mapping_page = client.get(reverse("customers:import_mapping", args=[roster_import.pk]))
    form = mapping_page.context["form"]
    suggested = {name: form[name].initial for name in form.fields}
    response = client.post(reverse("customers:import_mapping", args=[roster_import.pk]), suggested)
    assert response.status_code == HTTPStatus.FOUND

    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.PREVIEWED
    response = client.post(reverse("customers:import_commit", args=[roster_import.pk]))
    assert response.status_code == HTTPStatus.FOUND
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.COMMITTED
    return roster_import


def test_main_job_on_bank_marketing(client, settings, tmp_path, bank_full_csv, keyed_bank_file, branch_tree, users):
    settings.MEDIA_ROOT = tmp_path / "media"
    platform = users["platform"]
    client.force_login(platform)

    # 1. The roster: every row becomes a customer of branch A, with age, job and balance mapped.
    roster_import = upload_and_commit(client, keyed_bank_file, kind="roster", default_branch="BA")
    assert roster_import.summary["new"] == BANK_ROWS
    assert roster_import.summary["invalid"] == 0
    assert Customer.objects.count() == BANK_ROWS
    first = Customer.objects.get(customer_no="BM000001")
    assert (first.age, first.occupation, first.aum, first.housing_loan) == (58, "management", 2143, True)

    # 2. The past outcomes become a completed historical campaign.
    upload_and_commit(client, keyed_bank_file, kind="outcomes", campaign_name="Term deposit 2008-2010")
    history = Campaign.objects.get(is_historical=True)
    assert history.tasks.count() == BANK_ROWS
    assert history.tasks.filter(outcome="converted").count() == BANK_CONVERTED

    # 3. The analysis reads 11.7% overall and matches a count made straight from the file.
    analysis = client.get(reverse("dashboard:campaign_analysis", args=[history.pk]))
    assert "11.7% (5,289 of 45,211)" in analysis.content.decode()
    for dimension, column in (("occupation", "job"), ("channel", "contact")):
        totals, converted = file_figures(bank_full_csv, column)
        rows = campaign_conversion_by(user=platform, campaign=history, dimension=dimension)
        if dimension == "channel":
            # Mobile and landline calls are both the portal's "phone" channel; no channel is "unknown".
            totals = Counter({"phone": totals["cellular"] + totals["telephone"], "unknown": totals["unknown"]})
            converted = Counter({"phone": converted["cellular"] + converted["telephone"], "unknown": converted["unknown"]})
        assert {row.key or "": row.tasks for row in rows} == dict(totals)
        assert {row.key or "": row.converted for row in rows} == dict(converted)

    # 4. A campaign on a segment: the students, who responded best. Nobody in the file has a
    # client manager, so launch balances the tasks across branch A's two client managers.
    students = sum(1 for _ in Customer.objects.filter(occupation="student").iterator())
    response = client.post(
        reverse("campaigns:segment_create") + "?occupation=student",
        {"name": "Students", "description": "Best lift in the last campaign"},
    )
    assert response.status_code == HTTPStatus.FOUND
    response = client.post(
        reverse("campaigns:create"),
        {
            "name": "Term deposit for students",
            "objective": "Offer the term deposit to the segment that converted best",
            "segment": Campaign.segment.field.related_model.objects.get(name="Students").pk,
            "talking_points": "Mention the rate and the short term",
            "starts_on": timezone.localdate().isoformat(),
            "due_on": (timezone.localdate() + datetime.timedelta(days=14)).isoformat(),
            "fallback_branch": branch_tree["a"].pk,
            "pool_include_sub_branches": "on",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    campaign = Campaign.objects.get(name="Term deposit for students")
    # Balanced assignment stops at each client manager's capacity (100 open tasks by default).
    for key in ("manager_a", "manager_a1"):
        users[key].capacity = students
        users[key].save(update_fields=["capacity"])
    preview = client.get(reverse("campaigns:launch", args=[campaign.pk]))
    assert preview.context["plan"].targeted == students
    client.post(reverse("campaigns:launch", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    tasks = FollowUpTask.objects.filter(campaign=campaign)
    per_manager = Counter(tasks.values_list("assignee__username", flat=True))
    assert sum(per_manager.values()) == students
    assert set(per_manager) == {"cm_a", "cm_a1"}
    assert abs(per_manager["cm_a"] - per_manager["cm_a1"]) <= 1

    # 5. Each client manager works three tasks: two conversions and one decline, all done.
    worked = []
    for username in ("cm_a", "cm_a1"):
        manager = users["manager_a"] if username == "cm_a" else users["manager_a1"]
        client.force_login(manager)
        my_tasks = client.get(reverse("campaigns:my_tasks"))
        assert my_tasks.status_code == HTTPStatus.OK
        for outcome, task in zip(("converted", "converted", "declined"), tasks.filter(assignee=manager)[:3]):
            response = client.post(
                reverse("campaigns:task_record_contact", args=[task.pk]),
                {"channel": "phone", "outcome": outcome, "note": "Called", "complete": "on", "version": task.version},
            )
            assert response.status_code == HTTPStatus.FOUND
            worked.append(task.pk)
    assert tasks.filter(status=FollowUpTask.Status.DONE).count() == 6

    # 6. The platform verifies five and returns one with a reason.
    client.force_login(platform)
    for pk in worked[:5]:
        client.post(reverse("campaigns:task_verify", args=[pk]), {"version": FollowUpTask.objects.get(pk=pk).version})
    client.post(
        reverse("campaigns:task_return", args=[worked[5]]),
        {"reason": "No call recording", "version": FollowUpTask.objects.get(pk=worked[5]).version},
    )
    assert tasks.filter(status=FollowUpTask.Status.VERIFIED).count() == 5
    returned = tasks.get(pk=worked[5])
    assert (returned.status, returned.return_reason) == (FollowUpTask.Status.RETURNED, "No call recording")
    assert TaskEvent.objects.filter(task=returned, to_status="returned", actor=platform).exists()

    # 7. The dashboard now shows the new campaign's progress, to the platform and to branch A's
    # supervisor; branch B's supervisor sees none of it.
    dashboard = client.get(reverse("dashboard:index"))
    assert dashboard.status_code == HTTPStatus.OK
    assert "Term deposit for students" in dashboard.content.decode()
    figures = {
        row.key: row
        for row in task_figures_by(
            tasks=dashboard_task_list(user=platform, campaign=campaign), grouping="campaign", user=platform
        )
    }
    row = figures[campaign.pk]
    assert (row.tasks, row.done, row.verified, row.converted) == (students, 5, 5, 4)
    supervisor_rows = task_figures_by(
        tasks=dashboard_task_list(user=users["supervisor_a"], campaign=campaign), grouping="campaign",
        user=users["supervisor_a"],
    )
    assert [row.tasks for row in supervisor_rows] == [students]
    client.force_login(users["supervisor_b"])
    assert "Term deposit for students" not in client.get(reverse("dashboard:index")).content.decode()

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign, ContactRecord, FollowUpTask
from campaigns.outcomes import outcomes_import_commit, outcomes_import_preview
from customers.imports.mapping import OUTCOME_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.imports.report import ImportInvalid, ImportRejected
from customers.services import CommitMode
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(branch_tree, users):
    return {
        "C1": CustomerFactory(customer_no="C1", branch=branch_tree["a"], client_manager=users["manager_a"]),
        "C2": CustomerFactory(customer_no="C2", branch=branch_tree["b"], client_manager=None),
    }


def read(path):
    table = table_read(path=path)
    return table, mapping_suggest(headers=table.headers, fields=OUTCOME_FIELDS)


def test_outcomes_create_historical_campaign(write_csv, customers, users, branch_tree):
    path = write_csv(
        "outcomes.csv",
        "customer_no;y;contact;campaign;duration;month\n"
        '"C1";"yes";"cellular";3;125;"may"\n'
        '"C2";"no";"unknown";1;40;"jun"\n',
    )
    table, mapping = read(path)

    report = outcomes_import_commit(
        table=table, mapping=mapping, campaign_name="Spring deposits", user=users["platform"],
        campaign_date=datetime.date(2024, 5, 31),
    )

    campaign = Campaign.objects.get(pk=report.details["campaign_id"])
    assert campaign.name == "Spring deposits"
    assert campaign.is_historical
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.starts_on == datetime.date(2024, 5, 31)
    assert campaign.due_on == datetime.date(2024, 5, 31)
    assert campaign.owner == users["platform"]
    first = FollowUpTask.objects.get(campaign=campaign, customer=customers["C1"])
    assert first.status == FollowUpTask.Status.VERIFIED
    assert first.outcome == "converted"
    assert first.channel == "phone"
    assert first.assignee == users["manager_a"]
    assert first.branch == branch_tree["a"]
    second = FollowUpTask.objects.get(campaign=campaign, customer=customers["C2"])
    assert second.assignee is None
    assert second.branch == branch_tree["b"]
    assert second.outcome == "declined"
    assert second.channel == ""
    contact = ContactRecord.objects.get(task=first)
    assert contact.attempts == 3
    assert contact.duration_seconds == 125
    assert contact.extra == {"month": "may"}
    assert contact.recorded_by is None
    assert report.details["outcomes"] == {"converted": 1, "declined": 1}


def test_outcomes_unknown_and_repeated_customer(write_csv, customers, users):
    path = write_csv(
        "bad.csv",
        "customer_no,outcome,channel\nC1,reached,visit\nC9,reached,visit\nC1,declined,phone\nC2,maybe,fax\n",
    )
    table, mapping = read(path)

    report = outcomes_import_preview(table=table, mapping=mapping)

    assert (report.new, report.invalid) == (0, 4)
    messages = {(error.row, error.column): error.message for error in report.errors}
    assert "Unknown customer number" in messages[(3, "customer_no")]
    assert "appears in rows 2, 4" in messages[(2, "customer_no")]
    assert "appears in rows 2, 4" in messages[(4, "customer_no")]
    assert "Invalid outcome" in messages[(5, "outcome")]
    assert "Invalid channel" in messages[(5, "channel")]


def test_outcomes_reject_writes_nothing(write_csv, customers, users):
    path = write_csv("bad.csv", "customer_no,outcome\nC1,converted\nC9,converted\n")
    table, mapping = read(path)

    with pytest.raises(ImportRejected):
        outcomes_import_commit(table=table, mapping=mapping, campaign_name="X", user=users["platform"])

    assert Campaign.objects.count() == 0
    assert FollowUpTask.objects.count() == 0
    assert ContactRecord.objects.count() == 0


def test_outcomes_valid_rows_mode(write_csv, customers, users):
    path = write_csv(
        "mixed.csv", "customer_no,outcome,contacted_at,note\nC1,interested,2024-03-01 10:30,call back\nC9,converted,,\n"
    )
    table, mapping = read(path)

    report = outcomes_import_commit(
        table=table, mapping=mapping, campaign_name="X", user=users["platform"], mode=CommitMode.VALID_ROWS
    )

    assert (report.new, report.invalid) == (1, 1)
    contact = ContactRecord.objects.get()
    assert contact.outcome == "interested"
    assert contact.note == "call back"
    # The file's times are local (Asia/Shanghai); the database stores UTC.
    assert timezone.localtime(contact.contacted_at).hour == 10
    assert FollowUpTask.objects.get().completed_at == contact.contacted_at


def test_outcomes_need_campaign_name(write_csv, customers, users):
    path = write_csv("ok.csv", "customer_no,outcome\nC1,converted\n")
    table, mapping = read(path)

    with pytest.raises(ImportInvalid, match="campaign name"):
        outcomes_import_commit(table=table, mapping=mapping, campaign_name=" ", user=users["platform"])

    assert Campaign.objects.count() == 0

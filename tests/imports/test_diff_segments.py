"""Campaign segments made from the lists of a roster diff."""

import pytest
from django.urls import reverse

from campaigns.models import Segment
from campaigns.services import segment_customers
from customers.filters import customer_filter_apply
from customers.imports.services import ImportSource, roster_file_commit
from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.models import Customer, RosterChange, RosterImport
from customers.services import CommitMode
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,网点,客户经理,资产\n"


def commit_file(path) -> RosterImport:
    table = table_read(path=path)
    roster_import, _report = roster_file_commit(
        path=path,
        table=table,
        mapping=mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS),
        user=None,
        source=ImportSource.COMMAND_LINE,
        options={},
        default_branch=None,
        mode=CommitMode.VALID_ROWS,
    )
    return roster_import


@pytest.fixture
def second_import(write_csv, users):
    """Two months of roster: the second has a new customer, a missing one, an upgrade, a
    downgrade with an AUM drop, and an unrelated customer created by hand."""
    commit_file(write_csv(
        "m1.csv",
        HEADER
        + "001,张三,BA,cm_a,2500000\n"
        + "002,李四,BA,cm_a,600000\n"
        + "003,王五,BB,cm_b,1000000\n"
        + "004,赵六,BB,cm_b,100000\n",
    ))
    CustomerFactory(customer_no="900", branch=users["manager_a"].branch, aum=0, tier=None)
    return commit_file(write_csv(
        "m2.csv",
        HEADER
        + "001,张三,BA,cm_a,600000\n"
        + "002,李四,BA,cm_a,2100000\n"
        + "003,王五,BB,cm_b,1000000\n"
        + "005,孙七,BA,cm_a,50000\n"
        + "900,,BA,,0\n",
    ))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (RosterChange.Kind.NEW, {"005"}),
        (RosterChange.Kind.MISSING, {"004"}),
        (RosterChange.Kind.UPGRADE, {"002"}),
        (RosterChange.Kind.DOWNGRADE, {"001"}),
        (RosterChange.Kind.AUM_DROP, {"001"}),
    ],
)
def test_segment_matches_diff_list(client, users, second_import, kind, expected):
    client.force_login(users["platform"])

    response = client.post(reverse("customers:import_changes_segment", args=[second_import.pk, kind]))

    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('campaigns:create')}?segment={segment.pk}"
    listed = set(RosterChange.objects.filter(roster_import=second_import, kind=kind).values_list("customer__customer_no", flat=True))
    assert listed == expected
    assert set(segment_customers(segment=segment).values_list("customer_no", flat=True)) == listed
    assert segment.filters == {"roster_change": f"{second_import.pk}:{kind}"}
    assert segment.created_by == users["platform"]


def test_segment_stays_on_list_after_next_import(client, users, second_import, write_csv):
    client.force_login(users["platform"])
    client.post(reverse("customers:import_changes_segment", args=[second_import.pk, RosterChange.Kind.NEW]))
    commit_file(write_csv("m3.csv", HEADER + "006,周八,BA,cm_a,50000\n"))

    segment = Segment.objects.get()

    assert list(segment_customers(segment=segment).values_list("customer_no", flat=True)) == ["005"]


def test_changes_page_offers_campaign(client, users, second_import):
    client.force_login(users["platform"])

    response = client.get(reverse("customers:import_changes", args=[second_import.pk, RosterChange.Kind.MISSING]))

    content = response.content.decode()
    assert reverse("customers:import_changes_segment", args=[second_import.pk, "missing"]) in content
    assert f"roster_change={second_import.pk}%3Amissing" in content


def test_roster_list_filtered_by_diff_list(client, users, second_import):
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"roster_change": f"{second_import.pk}:upgrade"})

    numbers = [customer.customer_no for customer in response.context["table"].data]
    assert numbers == ["002"]


def test_segment_view_platform_only(client, users, second_import):
    client.force_login(users["supervisor_a"])

    response = client.post(reverse("customers:import_changes_segment", args=[second_import.pk, "new"]))

    assert response.status_code in (403, 404)
    assert not Segment.objects.exists()


def test_segment_view_unknown_kind(client, users, second_import):
    client.force_login(users["platform"])

    response = client.post(reverse("customers:import_changes_segment", args=[second_import.pk, "gone"]))

    assert response.status_code == 404


@pytest.mark.parametrize("value", ["12", "x:new", "12:gone", "12:new:1"])
def test_roster_change_filter_invalid(value, db):
    with pytest.raises(ValueError, match="Invalid roster diff list"):
        customer_filter_apply(queryset=Customer.objects.all(), filters={"roster_change": value})

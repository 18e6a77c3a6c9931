"""The segment list and the new-segment page show saved roster filters in words, in the reader's
language: names in place of ids, choice labels in place of codes and the AUM band as amounts."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from campaigns.segment_display import segment_filter_rows, segment_filter_rows_now
from customers.models import RosterChange, RosterImport, Tier
from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold():
    return Tier.objects.create(
        code="UX9GOLD", name_en="Gold Plus", name_zh="金卡加", min_aum=Decimal("987654"), contact_interval_days=30
    )


@pytest.fixture
def segment(users, branch_tree, gold):
    manager = users["manager_a"]
    manager.last_name, manager.first_name = "王", "小明"
    manager.save()
    return SegmentFactory(
        name="Wealthy A",
        filters={
            "tier": str(gold.pk),
            "branch": str(branch_tree["a"].pk),
            "client_manager": str(manager.pk),
            "aum_min": "500000",
            "aum_max": "1000000",
            "age_band": "40_49",
            "do_not_contact": "false",
        },
        created_by=users["platform"],
    )


def test_segment_list_in_english(client, users, segment):
    client.force_login(users["platform"])

    body = client.get(reverse("campaigns:segment_list")).content.decode()

    assert "Tier: Gold Plus" in body
    assert "Branch (with sub-branches): Branch A" in body
    assert "Client manager: 王小明" in body
    assert "AUM (CNY): 500,000.00 to 1,000,000.00" in body
    assert "Age band: 40–49" in body
    assert "Do not contact: No" in body
    assert f"branch={segment.filters['branch']}" in body  # the link to the roster keeps the ids
    assert f"branch={segment.filters['branch']}</" not in body


def test_segment_list_in_chinese(client, users, segment):
    platform = users["platform"]
    platform.language = "zh-hans"
    platform.amount_in_wan = True
    platform.save()
    client.force_login(platform)

    body = client.get(reverse("campaigns:segment_list")).content.decode()

    assert "客户等级: 金卡加" in body
    assert "机构（含下级）: Branch A" in body
    assert "客户经理: 王小明" in body
    assert "AUM（元）: 50.00万元 至 100.00万元" in body
    assert "勿扰: 否" in body
    assert "Gold Plus" not in body


def test_segment_form_shows_names(client, users, branch_tree, gold):
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:segment_create"), {"branch": branch_tree["a1"].pk, "tier": gold.pk})
    body = response.content.decode()

    assert "Branch (with sub-branches): Sub-branch A1" in body
    assert "Tier: Gold Plus" in body
    assert "<code>branch</code>" not in body


def test_rows_for_null_choices_and_bounds():
    with translation.override("en"):
        rows = segment_filter_rows(filters={"tier": "null", "client_manager": "null", "aum_min": "2000000"})

    assert rows == [("Tier", "No tier"), ("Client manager", "No client manager"), ("AUM (CNY)", "2,000,000.00 or more")]


def test_rows_for_upper_bound_and_search():
    with translation.override("en"):
        rows = segment_filter_rows(filters={"aum_max": "300000", "q": "Zhang", "occupation": "teacher"})

    assert rows == [("AUM (CNY)", "up to 300,000.00"), ("Name or customer number", "Zhang"), ("Occupation", "teacher")]


def test_rows_for_roster_diff_list(users):
    roster_import = RosterImport.objects.create(
        original_name="march.csv", file="imports/march.csv", created_by=users["platform"],
        status=RosterImport.Status.COMMITTED,
    )
    filters = {"roster_change": f"{roster_import.pk}:{RosterChange.Kind.NEW}"}

    with translation.override("en"):
        english = segment_filter_rows(filters=filters)
    with translation.override("zh-hans"):
        chinese = segment_filter_rows(filters=filters)

    assert english == [("Roster diff list", "New customer of the import of march.csv")]
    assert chinese[0][0] == "名单差异清单"
    assert "march.csv" in chinese[0][1]
    assert "New customer" not in chinese[0][1]


def test_rows_keep_stale_ids(users, branch_tree):
    segment = SegmentFactory(filters={"branch": "999999", "age_band": "40_49"}, created_by=users["platform"])

    with translation.override("en"):
        rows = segment_filter_rows_now(filters=segment.filters)

    assert rows == [("Branch (with sub-branches)", "999999"), ("Age band", "40–49")]

"""AUM snapshots, the roster diff and the per-field change samples of roster imports."""

import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.imports.report import ImportRejected
from customers.models import AumSnapshot, Customer, RosterChange, Tier
from customers.services import CommitMode, roster_import_commit, roster_import_preview
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,网点,客户经理,资产,手机号\n"


def commit(path, mode=CommitMode.VALID_ROWS, **options):
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
    return roster_import_commit(table=table, mapping=mapping, user=None, mode=mode, **options)


@pytest.fixture
def month_one(write_csv, users):
    return write_csv(
        "m1.csv",
        HEADER
        + "001,张三,BA,cm_a,2500000,13812345678\n"  # platinum
        + "002,李四,BA,cm_a,600000,\n"  # gold
        + "003,王五,BB,cm_b,1000000,\n"  # gold
        + "004,赵六,BB,cm_b,100000,\n",  # no tier
    )


@pytest.fixture
def month_two(write_csv, users):
    # 001 drops to gold (-76 %), 002 rises to platinum, 003 falls by 25 %, 004 is missing,
    # 005 is new and 006 has an invalid row, which is not "missing".
    return write_csv(
        "m2.csv",
        HEADER
        + "001,张三,BA,cm_a,600000,13900001111\n"
        + "002,李四,BA,cm_a,2100000,\n"
        + "003,王五,BB,cm_b,750000,\n"
        + "005,孙七,BA,cm_a,50000,\n"
        + "006,周八,BA,cm_a,lots,\n",
    )


def test_first_import_all_new(month_one):
    report = commit(month_one)

    assert report.details["diff"] == {"new": 4, "missing": 0, "upgrade": 0, "downgrade": 0, "aum_drop": 0}
    assert RosterChange.objects.filter(kind=RosterChange.Kind.NEW).count() == 4
    snapshot = AumSnapshot.objects.get(customer__customer_no="001")
    assert snapshot.aum == Decimal("2500000")
    assert snapshot.tier.code == "platinum"
    assert snapshot.taken_on == timezone.localdate()


def test_second_import_diff(month_one, month_two, write_csv):
    commit(month_one)
    CustomerFactory(customer_no="006", branch_id=Customer.objects.get(customer_no="001").branch_id)
    AumSnapshot.objects.update(taken_on=datetime.date(2024, 1, 31))

    report = commit(month_two)

    kinds = {}
    for change in RosterChange.objects.exclude(kind=RosterChange.Kind.NEW).select_related("customer", "tier_before", "tier_after"):
        kinds.setdefault(change.kind, []).append(change.customer.customer_no)
    assert kinds == {"downgrade": ["001"], "aum_drop": ["001"], "upgrade": ["002"], "missing": ["004"]}
    assert report.details["diff"] == {"new": 1, "missing": 1, "upgrade": 1, "downgrade": 1, "aum_drop": 1}
    downgrade = RosterChange.objects.get(kind=RosterChange.Kind.DOWNGRADE)
    assert (downgrade.tier_before.code, downgrade.tier_after.code) == ("platinum", "gold")
    assert (downgrade.aum_before, downgrade.aum_after) == (Decimal("2500000.00"), Decimal("600000"))
    missing = Customer.objects.get(customer_no="004")
    assert missing.missing_since == timezone.localdate()
    assert Customer.objects.filter(missing_since__isnull=False).count() == 1
    assert AumSnapshot.objects.filter(customer__customer_no="001").count() == 2


def test_aum_drop_threshold_configurable(month_one, month_two):
    commit(month_one)

    commit(month_two, aum_drop_percent=Decimal("20"))

    drops = set(RosterChange.objects.filter(kind=RosterChange.Kind.AUM_DROP).values_list("customer__customer_no", flat=True))
    assert drops == {"001", "003"}


def test_partial_file_flags_no_one(month_one, write_csv, users):
    commit(month_one)
    partial = write_csv("branch_a.csv", HEADER + "001,张三,BA,cm_a,2500000,\n")

    report = commit(partial, complete_roster=False)

    assert report.details["diff"]["missing"] == 0
    assert not Customer.objects.filter(missing_since__isnull=False).exists()
    assert Customer.objects.count() == 4


def test_returning_customer_unflagged(month_one, month_two):
    commit(month_one)
    commit(month_two)
    assert Customer.objects.get(customer_no="004").missing_since is not None

    commit(month_one)

    assert Customer.objects.get(customer_no="004").missing_since is None


def test_same_day_import_replaces_snapshot(month_one, month_two):
    commit(month_one)
    commit(month_two)

    snapshots = AumSnapshot.objects.filter(customer__customer_no="002")
    assert snapshots.count() == 1
    assert snapshots.get().aum == Decimal("2100000")


def test_rejected_commit_writes_no_history(month_two, users):
    with pytest.raises(ImportRejected, match="1 of 5 rows are invalid"):
        commit(month_two, mode=CommitMode.REJECT)

    assert AumSnapshot.objects.count() == 0
    assert RosterChange.objects.count() == 0


def test_preview_lists_field_changes(month_one, month_two):
    commit(month_one)
    table = table_read(path=month_two)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)

    report = roster_import_preview(table=table, mapping=mapping)

    changes = report.details["changes"]
    assert changes["aum"]["count"] == 3
    assert changes["aum"]["examples"][0] == ["001", "2500000.00", "600000"]
    assert changes["tier"]["count"] == 2
    assert ["001", "platinum", "gold"] in changes["tier"]["examples"]
    # Phone numbers are masked in the stored summary.
    assert changes["phone"]["examples"] == [["001", "138****5678", "139****1111"]]
    assert "13900001111" not in json.dumps(changes)
    assert RosterChange.objects.filter(kind=RosterChange.Kind.UPGRADE).count() == 0


def test_change_examples_capped(write_csv, users):
    lines = "".join(f"{number:03d},客户,BA,cm_a,{number},\n" for number in range(1, 9))
    commit(write_csv("a.csv", HEADER + lines))
    lines = "".join(f"{number:03d},客户,BB,cm_b,{number},\n" for number in range(1, 9))
    table = table_read(path=write_csv("b.csv", HEADER + lines))

    report = roster_import_preview(table=table, mapping=mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS))

    assert report.details["changes"]["branch"]["count"] == 8
    assert len(report.details["changes"]["branch"]["examples"]) == 5
    assert report.details["changes"]["client_manager"]["examples"][0] == ["001", "cm_a", "cm_b"]


def test_dry_run_json_report(month_two, capsys):
    with pytest.raises(CommandError, match="1 rows are invalid"):
        call_command("import_roster", str(month_two), "--dry-run", "--report", "json")

    report = json.loads(capsys.readouterr().out)
    assert (report["total"], report["new"], report["invalid"]) == (5, 4, 1)
    assert report["dry_run"] is True
    assert report["errors"] == [
        {"row": 6, "column": "资产", "value": "lots", "message": report["errors"][0]["message"]}
    ]
    assert "Invalid amount" in report["errors"][0]["message"]
    assert Customer.objects.count() == 0


def test_json_report_lists_every_error(write_csv, users):
    lines = "".join(f"{number:03d},客户,BA,cm_a,bad,\n" for number in range(1, 251))
    path = write_csv("bad.csv", HEADER + lines)

    out = io.StringIO()

    with pytest.raises(CommandError, match="250 rows are invalid"):
        call_command("import_roster", str(path), "--dry-run", "--report", "json", stdout=out)

    report = json.loads(out.getvalue())
    assert len(report["errors"]) == 250
    assert report["error_count"] == 250


def test_command_commit_reports_diff(month_one, month_two, capsys):
    call_command("import_roster", str(month_one), "--report", "json")
    capsys.readouterr()

    call_command("import_roster", str(month_two), "--report", "json", "--commit-valid", "--partial")

    report = json.loads(capsys.readouterr().out)
    assert report["committed"] is True
    assert report["diff"]["missing"] == 0
    assert report["diff"]["upgrade"] == 1
    assert Tier.objects.get(code="platinum").customers.get().customer_no == "002"

"""The one-pass roster write on PostgreSQL (customers/imports/pipeline.py): it writes the same
rows as checking the whole file first, and it writes nothing when a row turns out invalid.

A progress callback makes roster_import_commit check the whole file first, so passing one
selects the two-pass path on either database. On SQLite both calls take that path."""

import logging

import pytest
from django.db import DataError, connection, transaction

from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.imports.postgresql import customer_copy_fields
from customers.imports.report import ImportInvalid, ImportRejected
from customers.imports.services import ImportSource, roster_file_commit
from customers.models import AumSnapshot, Customer, RosterChange, RosterImport
from customers.services import CommitMode, roster_import_commit
from tests.conftest import need

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,网点,客户经理,资产,手机号,备注\n"
# Logged by roster_import_commit when the one-pass write meets an invalid row.
STOPPED_MESSAGE = "one-pass write rolled back"


class RolledBack(Exception):
    pass


def commit(path, *, mode=CommitMode.REJECT, checked_first=False, **options):
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
    progress = (lambda phase, done, total: None) if checked_first else None
    return roster_import_commit(table=table, mapping=mapping, user=None, mode=mode, progress=progress, **options)


def written_rows() -> dict:
    """Return what an import wrote, without ids and timestamps, so two imports can be compared."""
    customers = sorted(
        Customer.objects.values_list(
            "customer_no", "name", "branch__code", "client_manager__username", "aum", "tier__code", "phone",
            "extra", "missing_since",
        )
    )
    snapshots = sorted(AumSnapshot.objects.values_list("customer__customer_no", "taken_on", "aum", "tier__code"))
    lines = sorted(
        RosterChange.objects.values_list(
            "customer__customer_no", "kind", "aum_before", "aum_after", "tier_before__code", "tier_after__code"
        )
    )
    return {"customers": customers, "snapshots": snapshots, "lines": lines}


def import_outcome(path, **options) -> tuple[dict, dict]:
    """Import `path`, return the report's counts and the rows written, and roll the import back."""
    outcome = {}
    try:
        with transaction.atomic():
            report = commit(path, **options)
            outcome["report"] = {
                "counts": (report.new, report.changed, report.unchanged, report.invalid),
                "diff": report.details["diff"],
                "changes": report.details["changes"],
            }
            outcome["rows"] = written_rows()
            raise RolledBack()
    except RolledBack:
        pass
    return outcome["report"], outcome["rows"]


@pytest.fixture
def roster_with_changes(write_csv, users, branch_tree):
    """Existing customers 001 (changed, moves to BB with cm_b), 002 (unchanged), 003 (absent
    from the file) and new customers 005 and 006."""
    commit(write_csv("baseline.csv", HEADER + "001,张三,BA,cm_a,2500000,,\n002,李四,BA,cm_a,600000,,\n003,王五,BB,cm_b,100,,\n"))
    return write_csv(
        "changes.csv",
        HEADER
        + "001,张三,BB,cm_b,500000,13812345678,VIP\n"
        + "002,李四,BA,cm_a,600000,,\n"
        + "005,孙七,BA1,,50000,,新客户\n"
        + "006,周八,BB,cm_b,3000000,139 0000 1111,\n",
    )


def test_one_pass_writes_same_rows(roster_with_changes, caplog):
    checked_first = import_outcome(roster_with_changes, checked_first=True)
    with caplog.at_level(logging.INFO, logger="customers.services"):
        one_pass = import_outcome(roster_with_changes)

    assert STOPPED_MESSAGE not in caplog.text

    assert one_pass[0] == checked_first[0]
    assert one_pass[1]["customers"] == checked_first[1]["customers"]
    assert one_pass[1]["snapshots"] == checked_first[1]["snapshots"]
    assert one_pass[1]["lines"] == checked_first[1]["lines"]
    assert one_pass[0]["counts"] == (2, 1, 1, 0)
    assert one_pass[0]["diff"]["missing"] == 1
    # The binary COPY stores the extra columns as a JSON object, not as a JSON string.
    extras = {row[0]: row[7] for row in one_pass[1]["customers"]}
    assert extras["005"] == {"备注": "新客户"}
    assert extras["006"] == {"备注": ""}


@pytest.mark.parametrize("checked_first", [False, True])
def test_missing_customers_with_scattered_new_ids(roster_with_changes, monkeypatch, checked_first):
    """Flag only the absent customer, never a new one, whatever ids the new ones get. The
    ids here have gaps, as when another transaction takes ids from the sequence meanwhile."""
    need(connection.vendor == "postgresql", "the id reservation and the one pass are PostgreSQL's")
    from customers.imports import pipeline, postgresql

    reserve = postgresql.customer_ids_reserve

    def reserve_with_gaps(raw_cursor, count):
        return reserve(raw_cursor, count * 2)[::2]

    monkeypatch.setattr(pipeline, "customer_ids_reserve", reserve_with_gaps)
    monkeypatch.setattr(postgresql, "customer_ids_reserve", reserve_with_gaps)
    report, rows = import_outcome(roster_with_changes, checked_first=checked_first)

    assert report["diff"]["missing"] == 1
    missing = [line for line in rows["lines"] if line[1] == RosterChange.Kind.MISSING]
    assert [line[0] for line in missing] == ["003"]
    flagged = [customer[0] for customer in rows["customers"] if customer[-1] is not None]
    assert flagged == ["003"]


def test_failed_copy_recorded_as_failed(write_csv, users, branch_tree, monkeypatch):
    """A database error inside the one pass's COPY, which the raw psycopg cursor raises as
    psycopg's own error, reaches roster_file_commit as Django's DatabaseError: the import is
    recorded as failed and nothing is written."""
    need(connection.vendor == "postgresql", "the one pass is PostgreSQL's")
    from customers.imports import pipeline

    build = pipeline.customer_row_builder

    def builder_with_long_email():
        # The parsers reject such an address, so the row is changed after its check.
        row_build = build()
        email_position = 1 + [model_field.attname for model_field in customer_copy_fields()].index("email")

        def row_build_long(customer_id, values):
            row = row_build(customer_id, values)
            row[email_position] = "a" * 300 + "@bank.example"
            return row

        return row_build_long

    monkeypatch.setattr(pipeline, "customer_row_builder", builder_with_long_email)
    path = write_csv("long_email.csv", HEADER + "001,张三,BA,cm_a,2500000,,\n")
    table = table_read(path=path)
    with pytest.raises(ImportInvalid) as error:
        roster_file_commit(
            path=path, table=table, mapping=mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS),
            user=None, source=ImportSource.COMMAND_LINE, options={}, default_branch=None, mode=CommitMode.REJECT,
        )

    assert isinstance(error.value.__cause__, DataError)
    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "character varying(254)" in roster_import.summary["failure"]
    assert not Customer.objects.exists()
    assert not AumSnapshot.objects.exists()


@pytest.fixture
def long_file_bad_last_row(write_csv, users, branch_tree):
    """500 valid new customers, then a row with an unknown branch code."""
    rows = [f"{number:05d},客户{number},BA,cm_a,{number * 1000},,\n" for number in range(1, 501)]
    return write_csv("long.csv", HEADER + "".join(rows) + "99999,坏行,ZZ,,100,,\n")


def test_invalid_last_row_rejects_file(long_file_bad_last_row, caplog):
    with caplog.at_level(logging.INFO, logger="customers.services"), pytest.raises(ImportRejected) as rejected:
        commit(long_file_bad_last_row, mode=CommitMode.REJECT)

    if connection.vendor == "postgresql":
        assert f"{STOPPED_MESSAGE} (row 502 is invalid)" in caplog.text

    assert rejected.value.report.invalid == 1
    assert rejected.value.report.errors[0].row == 502
    assert Customer.objects.count() == 0
    assert AumSnapshot.objects.count() == 0
    assert RosterChange.objects.count() == 0


def test_invalid_last_row_skipped_in_valid_rows_mode(long_file_bad_last_row):
    report = commit(long_file_bad_last_row, mode=CommitMode.VALID_ROWS)

    assert (report.new, report.invalid) == (500, 1)
    assert Customer.objects.count() == 500
    assert AumSnapshot.objects.count() == 500
    assert RosterChange.objects.filter(kind=RosterChange.Kind.NEW).count() == 500
    assert not Customer.objects.filter(customer_no="99999").exists()


def test_repeated_number_rejects_both_rows(write_csv, users, branch_tree):
    path = write_csv("repeated.csv", HEADER + "001,张三,BA,cm_a,100,,\n002,李四,BA,cm_a,100,,\n001,张三,BB,cm_b,100,,\n")

    with pytest.raises(ImportRejected) as rejected:
        commit(path, mode=CommitMode.REJECT)

    assert rejected.value.report.invalid == 2
    assert [error.row for error in rejected.value.report.errors] == [2, 4]
    assert Customer.objects.count() == 0


def test_manager_of_other_line_rejects_file(write_csv, users, branch_tree):
    # cm_b belongs to branch BB, which is in another line of the branch tree than BA.
    path = write_csv("line.csv", HEADER + "001,张三,BA,cm_a,100,,\n002,李四,BA,cm_b,100,,\n")

    with pytest.raises(ImportRejected) as rejected:
        commit(path, mode=CommitMode.REJECT)

    assert rejected.value.report.invalid == 1
    assert rejected.value.report.errors[0].row == 3
    assert Customer.objects.count() == 0

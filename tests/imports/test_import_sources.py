"""Import history of command-line and scheduled folder imports."""

import os
import time

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from customers.imports.folder import FAILED, PROCESSED, roster_folder_import
from customers.imports.services import ImportSource, roster_import_source_label
from customers.models import Customer, RosterChange, RosterImport
from customers.tasks import roster_folder_import_task

pytestmark = pytest.mark.django_db

HEADER = "客户号,姓名,网点,资产\n"


@pytest.fixture
def roster_file(write_csv):
    return write_csv("roster-2024-06.csv", HEADER + "001,张三,BA,1000\n002,李四,BA,2000\n")


# Command line


def test_command_records_history(roster_file, branch_tree, capsys):
    call_command("import_roster", str(roster_file))

    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.COMMITTED
    assert roster_import.original_name == "roster-2024-06.csv"
    assert roster_import.created_by is None
    assert roster_import.options["source"] == ImportSource.COMMAND_LINE
    assert roster_import.summary["new"] == 2
    assert roster_import.summary["committed"] is True
    assert roster_import.file.read().decode() == roster_file.read_text(encoding="utf-8")
    assert roster_import_source_label(roster_import) == "command line"
    assert RosterChange.objects.filter(roster_import=roster_import, kind=RosterChange.Kind.NEW).count() == 2
    assert f"Committed as import {roster_import.pk}." in capsys.readouterr().out


def test_command_records_user_and_profile(roster_file, users):
    from customers.models import ImportProfile

    ImportProfile.objects.create(
        name="core banking", mapping={"客户号": "customer_no", "姓名": "name", "网点": "branch", "资产": "aum"},
        created_by=users["platform"],
    )

    call_command("import_roster", str(roster_file), "--user", "platform", "--profile", "core banking")

    roster_import = RosterImport.objects.get()
    assert roster_import.created_by == users["platform"]
    assert roster_import.options["profile"] == "core banking"
    assert roster_import_source_label(roster_import) == str(users["platform"])


def test_command_unknown_user(roster_file, branch_tree):
    with pytest.raises(CommandError, match="User 'nobody' not found"):
        call_command("import_roster", str(roster_file), "--user", "nobody")

    assert not RosterImport.objects.exists()


def test_command_rejected_file_recorded(write_csv, branch_tree):
    path = write_csv("bad.csv", HEADER + "001,张三,BA,1000\n002,李四,BA,lots\n")

    with pytest.raises(CommandError, match="1 of 2 rows are invalid"):
        call_command("import_roster", str(path))

    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.REJECTED
    assert roster_import.summary["invalid"] == 1
    assert roster_import.errors[0]["row"] == 3
    assert roster_import.errors[0]["column"] == "资产"
    assert roster_import.errors[0]["value"] == "lots"
    assert not Customer.objects.exists()


def test_command_unusable_mapping_recorded_failed(write_csv, branch_tree):
    path = write_csv("no-branch.csv", "客户号,姓名\n001,张三\n")

    with pytest.raises(CommandError, match="no branch column"):
        call_command("import_roster", str(path))

    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.FAILED
    assert "no branch column" in roster_import.summary["failure"]


def test_command_dry_run_records_nothing(roster_file, branch_tree):
    call_command("import_roster", str(roster_file), "--dry-run")

    assert not RosterImport.objects.exists()


# Scheduled folder imports


@pytest.fixture
def folder(tmp_path, settings):
    path = tmp_path / "drop"
    path.mkdir()
    settings.ROSTER_IMPORT_FOLDER = str(path)
    return path


def drop(folder, name: str, text: str, *, age_seconds: int = 120):
    """Write a file into the folder as if it had been copied there `age_seconds` ago."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


def test_schedule_registered(db):
    periodic_task = PeriodicTask.objects.get(task="customers.roster_folder_import")

    assert periodic_task.enabled
    assert periodic_task.crontab.minute == "*/10"


def test_folder_import_commits_and_moves(folder, branch_tree):
    drop(folder, "june.csv", HEADER + "001,张三,BA,1000\n")

    results = roster_folder_import_task.apply().get()

    roster_import = RosterImport.objects.get()
    assert results == [{"name": "june.csv", "outcome": PROCESSED, "roster_import_id": roster_import.pk, "message": ""}]
    assert roster_import.status == RosterImport.Status.COMMITTED
    assert roster_import.options["source"] == ImportSource.FOLDER
    assert roster_import_source_label(roster_import) == "scheduled folder import"
    assert Customer.objects.get().customer_no == "001"
    assert (folder / PROCESSED / "june.csv").exists()
    assert not (folder / "june.csv").exists()


def test_folder_same_content_not_imported_twice(folder, branch_tree):
    text = HEADER + "001,张三,BA,1000\n"
    drop(folder, "june.csv", text)
    roster_folder_import()
    drop(folder, "june-again.csv", text)

    results = roster_folder_import()

    first = RosterImport.objects.get()
    assert [result.outcome for result in results] == [FAILED]
    assert results[0].roster_import_id == first.pk
    assert "same content as import" in results[0].message
    assert RosterImport.objects.count() == 1
    assert (folder / FAILED / "june-again.csv").exists()


def test_folder_invalid_file_fails_and_is_recorded(folder, branch_tree):
    drop(folder, "bad.csv", HEADER + "001,张三,BA,1000\n002,李四,BA,lots\n")

    results = roster_folder_import()

    roster_import = RosterImport.objects.get()
    assert results[0].outcome == FAILED
    assert results[0].roster_import_id == roster_import.pk
    assert roster_import.status == RosterImport.Status.REJECTED
    assert not Customer.objects.exists()
    assert (folder / FAILED / "bad.csv").exists()


def test_folder_unreadable_file_recorded(folder, branch_tree):
    (folder / "broken.xlsx").write_bytes(b"not a workbook")
    past = time.time() - 120
    os.utime(folder / "broken.xlsx", (past, past))

    results = roster_folder_import()

    roster_import = RosterImport.objects.get()
    assert results[0].outcome == FAILED
    assert roster_import.status == RosterImport.Status.FAILED
    assert "not a readable XLSX workbook" in roster_import.summary["failure"]
    assert (folder / FAILED / "broken.xlsx").exists()


def test_folder_skips_fresh_and_other_files(folder, branch_tree):
    drop(folder, "still-copying.csv", HEADER + "001,张三,BA,1000\n", age_seconds=0)
    drop(folder, "notes.pdf", "not a roster")
    drop(folder, ".hidden.csv", HEADER + "002,李四,BA,1000\n")

    assert roster_folder_import() == []

    assert not RosterImport.objects.exists()
    assert (folder / "still-copying.csv").exists()


def test_folder_name_clash_in_processed(folder, branch_tree):
    drop(folder, "roster.csv", HEADER + "001,张三,BA,1000\n")
    roster_folder_import()
    drop(folder, "roster.csv", HEADER + "001,张三,BA,2000\n")

    roster_folder_import()

    assert (folder / PROCESSED / "roster.csv").exists()
    assert (folder / PROCESSED / "roster.1.csv").exists()
    assert Customer.objects.get().aum == 2000


def test_folder_not_configured(settings, db):
    settings.ROSTER_IMPORT_FOLDER = ""

    assert roster_folder_import() == []


def test_folder_file_with_nul_fails_cleanly(folder, branch_tree):
    drop(folder, "a_nul.csv", HEADER + "001,\x00张三,BA,1000\n")
    drop(folder, "b_good.csv", HEADER + "002,李四,BA,2000\n")

    results = roster_folder_import()

    outcomes = {result.name: result.outcome for result in results}
    assert outcomes == {"a_nul.csv": FAILED, "b_good.csv": PROCESSED}
    assert "Line 2" in results[0].message
    assert "NUL" in results[0].message
    assert (folder / FAILED / "a_nul.csv").exists()
    assert not any((folder / "processing").glob("*"))
    failed = RosterImport.objects.get(original_name="a_nul.csv")
    assert failed.status == RosterImport.Status.FAILED
    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["002"]


def test_folder_unexpected_error_moves_file(folder, branch_tree, monkeypatch):
    drop(folder, "june.csv", HEADER + "001,张三,BA,1000\n")

    def broken_commit(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("customers.imports.folder.roster_file_commit", broken_commit)
    [result] = roster_folder_import()

    assert result.outcome == FAILED
    assert result.message == "RuntimeError: disk full"
    assert (folder / FAILED / "june.csv").exists()
    assert not any((folder / "processing").glob("*"))
    assert RosterImport.objects.get().status == RosterImport.Status.FAILED

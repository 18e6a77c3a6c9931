"""run_benchmarks at the tiny size: the JSON and markdown it writes carry real figures."""

import io
import json

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from campaigns.models import Campaign, FollowUpTask
from tests.conftest import need


@pytest.fixture
def postgresql(db):
    need(connection.vendor == "postgresql", "run_benchmarks needs PostgreSQL: set DATABASE_URL")


def test_pages_and_launch_results(postgresql, tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "suite.md"

    call_command(
        "run_benchmarks", size="tiny", repeat=2, only=["roster_list", "dashboard", "launch"],
        output=str(output), markdown=str(markdown), stdout=io.StringIO(),
    )

    results = json.loads(output.read_text())
    assert {"command", "git", "date", "machine", "load_average_before", "load_average_after", "benchmarks", "goals"} <= set(results)
    assert results["machine"]["cpu_count"] > 0
    assert results["machine"]["postgresql"]
    assert results["errors"] == {}
    assert set(results["benchmarks"]) == {"roster_list", "dashboard", "launch"}

    roster = results["benchmarks"]["roster_list"]
    assert {entry["role"] for entry in roster} == {"platform", "supervisor", "client_manager"}
    assert {entry["filter"] for entry in roster} == {"unfiltered", "branch", "tier", "search"}
    dashboard_pages = [entry for entry in results["benchmarks"]["dashboard"] if entry["page"] == "dashboard"]
    assert {entry["role"] for entry in dashboard_pages} == {"platform", "supervisor"}
    for entry in roster + dashboard_pages:
        assert len(entry["runs_ms"]) == 2
        assert entry["min_ms"] > 0
        assert entry["min_ms"] <= entry["median_ms"] <= entry["max_ms"]
        assert entry["queries"] > 0
        assert isinstance(entry["pass"], bool)

    # A filtered page's total comes in a request of its own, measured beside the page.
    for entry in roster:
        if entry["filter"] == "unfiltered":
            assert "total" not in entry
        else:
            assert entry["total"]["params"]["count"] == "total"
            assert entry["total"]["median_ms"] > 0
            assert entry["total"]["queries"] > 0

    analysis = [entry for entry in results["benchmarks"]["dashboard"] if entry["page"] == "analysis"]
    assert {(entry["role"], entry["filter"]) for entry in analysis} == {
        (role, f"next-campaign analysis, {figures}")
        for role in ("platform", "supervisor") for figures in ("live figures", "summary")
    }
    assert all(entry["median_ms"] > 0 and entry["queries"] > 0 for entry in analysis)
    assert any(entry["page"] == "analysis summary refresh" for entry in results["benchmarks"]["dashboard"])

    preview, launch = results["benchmarks"]["launch"]
    assert preview["median_s"] > 0
    assert launch["median_s"] > 0
    assert launch["segment_customers"] == 200
    assert 0 < launch["tasks"] <= 200
    assert launch["goal"]["below"] == 10
    # The launches were rolled back.
    assert not Campaign.objects.filter(name__contains="launch benchmark").exists()
    assert FollowUpTask.objects.count() == 1_200

    text = markdown.read_text()
    assert "### Roster list" in text
    assert "### Dashboard" in text
    assert "Campaign launch, 200 customers in the segment" in text


def test_admin_changelist_beside_lists(postgresql, tmp_path):
    output = tmp_path / "results.json"

    call_command(
        "run_benchmarks", size="tiny", repeat=1, only=["task_list", "admin_changelist"],
        output=str(output), markdown=str(tmp_path / "suite.md"), stdout=io.StringIO(),
    )

    results = json.loads(output.read_text())
    admin = results["benchmarks"]["admin_changelist"]
    assert {(entry["page"], entry["filter"]) for entry in admin} >= {("roster", "unfiltered"), ("task", "status")}
    assert all(entry["median_ms"] > 0 and entry["queries"] > 0 for entry in admin)
    tasks = results["benchmarks"]["task_list"]
    platform_filters = {entry["filter"] for entry in tasks if entry["role"] == "platform"}
    assert platform_filters == {"unfiltered", "branch", "tier", "status", "overdue", "campaign"}
    assert {entry["filter"] for entry in tasks if entry["role"] == "client_manager"} == {"my tasks", "my tasks, page 2"}


def test_merge_keeps_other_benchmarks(postgresql, tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "suite.md"
    common = {"size": "tiny", "repeat": 1, "output": str(output), "markdown": str(markdown)}
    call_command("run_benchmarks", only=["roster_list"], stdout=io.StringIO(), **common)
    first = json.loads(output.read_text())

    call_command("run_benchmarks", only=["launch"], merge=True, stdout=io.StringIO(), **common)

    results = json.loads(output.read_text())
    assert set(results["benchmarks"]) == {"roster_list", "launch"}
    assert results["benchmarks"]["roster_list"] == first["benchmarks"]["roster_list"]
    assert results["provenance"]["roster_list"]["command"] == first["command"]
    assert "launch" not in results["provenance"]
    assert "Figures of roster_list come from an earlier run" in markdown.read_text()


def test_merge_accepts_regenerated_data_set(postgresql, tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "suite.md"
    common = {"size": "tiny", "repeat": 1, "output": str(output), "markdown": str(markdown)}
    call_command("run_benchmarks", only=["roster_list"], stdout=io.StringIO(), **common)
    results = json.loads(output.read_text())
    # The same rows, generated again at another time or on another machine.
    results["dataset"]["generated_at"] = "2026-01-01T00:00:00+00:00"
    results["dataset"]["seconds"] = 1.0
    output.write_text(json.dumps(results))

    call_command("run_benchmarks", only=["launch"], merge=True, stdout=io.StringIO(), **common)

    assert set(json.loads(output.read_text())["benchmarks"]) == {"roster_list", "launch"}


def test_merge_rejects_other_generation_day(postgresql, tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "suite.md"
    common = {"size": "tiny", "repeat": 1, "output": str(output), "markdown": str(markdown)}
    call_command("run_benchmarks", only=["roster_list"], stdout=io.StringIO(), **common)
    results = json.loads(output.read_text())
    # Dates in the data set are relative to the day of generation, so the rows differ.
    results["dataset"]["generated_on"] = "2020-01-01"
    output.write_text(json.dumps(results))

    with pytest.raises(CommandError, match="another size or data set"):
        call_command("run_benchmarks", only=["launch"], merge=True, stdout=io.StringIO(), **common)


def test_import_uses_own_database(postgresql, tmp_path):
    output, markdown = tmp_path / "results.json", tmp_path / "suite.md"

    call_command(
        "run_benchmarks", size="tiny", repeat=1, only=["import"], output=str(output), markdown=str(markdown),
        stdout=io.StringIO(),
    )

    entries = json.loads(output.read_text())["benchmarks"]["import"]
    assert {entry["importer"] for entry in entries} == {"portal", "django-import-export"}
    assert all(entry["median_s"] > 0 for entry in entries)
    name = entries[0]["database"]
    assert name != connection.settings_dict["NAME"]
    with psycopg.connect(dbname=name, host=connection.settings_dict["HOST"] or "127.0.0.1",
                         port=connection.settings_dict["PORT"] or 5432,
                         user=connection.settings_dict["USER"] or "postgres") as import_connection:
        options = import_connection.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s", ["customers_customer"]
        ).fetchone()[0]
        customers = import_connection.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
    # benchmark_import vacuums before each run, so autovacuum cannot start in the middle of one.
    assert "autovacuum_enabled=false" in options
    # Every run was rolled back.
    assert customers == 0

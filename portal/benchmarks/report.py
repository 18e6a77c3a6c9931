"""The machine description and the markdown rendering of run_benchmarks' results."""

import os
import platform
import subprocess
from pathlib import Path

import django
from django.conf import settings
from django.db import connection


def machine_describe() -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    return {
        "cpu_model": cpu_model, "cpu_count": os.cpu_count(), "ram_gib": ram_gib, "postgresql": postgresql,
        "python": platform.python_version(), "django": django.get_version(),
    }


def git_commit() -> dict:
    """Return the checked-out commit and whether the working tree has changes (read-only git calls)."""
    base = str(settings.BASE_DIR)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=base, capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain"], cwd=base, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(changed.strip())}


def _ms(entry: dict, key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _verdict(entry: dict) -> str:
    if "pass" not in entry:
        return ""
    return "pass" if entry["pass"] else "**fail**"


FILTER_LABELS = {
    "unfiltered": "none", "branch": "branch", "tier": "tier", "search": "search by name", "status": "status open",
    "overdue": "overdue", "campaign": "campaign",
}


def markdown_render(results: dict) -> str:
    """Return a markdown section for docs/benchmarks.md with the figures of `results`."""
    machine = results["machine"]
    dataset = results.get("dataset") or {}
    counts = dataset.get("counts", {})
    lines = [
        f"## Benchmark suite, size {results['size']}",
        "",
        f"Command: `{results['command']}`, {results['date']}, commit {str(results['git']['commit'])[:10]}"
        + (" with uncommitted changes" if results["git"]["uncommitted_changes"] else "") + ".",
        "",
        f"Machine: {machine['cpu_count']} × {machine['cpu_model']}, {machine['ram_gib']} GiB RAM, PostgreSQL "
        f"{machine['postgresql']} on the same host, Python {machine['python']}, Django {machine['django']}. "
        f"Load average (1, 5, 15 minutes) {results['load_average_before']} before and "
        f"{results['load_average_after']} after.",
        "",
    ]
    earlier_runs = {}
    for name, run in results.get("provenance", {}).items():
        earlier_runs.setdefault((run["command"], run["date"]), (run, []))[1].append(name)
    for run, names in earlier_runs.values():
        lines += [
            f"Figures of {', '.join(sorted(names))} come from an earlier run: `{run['command']}`, {run['date']}, "
            f"load average {run['load_average_before']} before and {run['load_average_after']} after.",
            "",
        ]
    if counts:
        lines += [
            "Data (`bench_data`, generated on " + str(dataset.get("generated_on")) + "): "
            + ", ".join(f"{value:,} {name}" for name, value in counts.items()) + ".",
            "",
        ]
    benchmarks = results["benchmarks"]
    admin = {(entry["page"], entry["filter"]): entry for entry in benchmarks.get("admin_changelist", [])}
    for name, title in (("roster_list", "Roster list"), ("task_list", "Task list")):
        entries = benchmarks.get(name)
        if not entries:
            continue
        lines += [
            f"### {title}",
            "",
            f"Server time in ms over {results['repeat']} runs after one warm-up; goal: median below "
            f"{results['goals']['list_page_median_ms']} ms. The admin columns show the Django admin's changelist "
            "of the same table as a superuser, with its closest filter (its branch filter matches one branch "
            "without the sub-branches). Once its rows are shown, a filtered page requests its total, counted up to "
            f"{results['settings'].get('PORTAL_LIST_COUNT_LIMIT', 10_000):,} rows, and the total columns time that "
            "second request.",
            "",
            "| Role | Filter | Median | p95 | Min–max | Queries | Goal | Total median | Total p95 | Admin median "
            "| Admin queries |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
        ]
        for entry in entries:
            compared = admin.get((entry["page"], entry["filter"])) if entry["role"] == "platform" else None
            lines.append(
                f"| {entry['role'].replace('_', ' ')} | {FILTER_LABELS.get(entry['filter'], entry['filter'])} "
                f"| {_ms(entry, 'median_ms')} | {_ms(entry, 'p95_ms')} | {_ms(entry, 'min_ms')}–{_ms(entry, 'max_ms')} "
                f"| {entry['queries']} | {_verdict(entry)} "
                f"| {_ms(entry['total'], 'median_ms') if 'total' in entry else ''} "
                f"| {_ms(entry['total'], 'p95_ms') if 'total' in entry else ''} "
                f"| {_ms(compared, 'median_ms') if compared else ''} "
                f"| {compared['queries'] if compared else ''} |"
            )
        lines.append("")
    if benchmarks.get("dashboard"):
        lines += [
            "### Dashboard",
            "",
            f"Server time in ms; goal: median below {results['goals']['dashboard_median_ms']} ms. Live figures are "
            "computed from the tasks on each request; the summary is what the scheduled refresh pre-aggregates.",
            "",
            "| Role | Figures | Median | p95 | Min–max | Queries | Goal |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for entry in benchmarks["dashboard"]:
            if "median_ms" not in entry:
                lines.append(f"| {entry['page']} | | {entry['median_s']:.2f} s | | | | |")
                continue
            lines.append(
                f"| {entry['role']} | {entry['filter']} | {_ms(entry, 'median_ms')} | {_ms(entry, 'p95_ms')} "
                f"| {_ms(entry, 'min_ms')}–{_ms(entry, 'max_ms')} | {entry['queries']} | {_verdict(entry)} |"
            )
        lines.append("")
    seconds_rows = []
    for entry in benchmarks.get("launch", []):
        seconds_rows.append((f"Campaign {entry['page']}, {entry['segment_customers']:,} customers in the segment, "
                             f"{entry['tasks']:,} tasks", entry, f"below {results['goals']['launch_median_s']} s"
                             if "pass" in entry else ""))
    for entry in benchmarks.get("xlsx_export", []):
        seconds_rows.append((
            f"Roster XLSX export, {entry['rows']:,} rows ({entry['bytes']:,} bytes), peak RSS "
            f"{entry['peak_rss_mib']} MiB (the process after start-up: {entry['baseline_rss_mib']} MiB)",
            entry, f"below {results['goals']['xlsx_median_s']} s and {results['goals']['xlsx_peak_mib']} MB",
        ))
    for entry in benchmarks.get("import", []):
        seconds_rows.append((
            f"{entry['page'].capitalize()}, {entry['importer']}, peak RSS {entry['peak_rss_mib']} MiB", entry, "",
        ))
    for entry in benchmarks.get("digest", []):
        seconds_rows.append((
            f"Morning digest for {entry['mails']:,} client managers to an SMTP sink ({entry['mails_per_s']} mails/s)",
            entry, "",
        ))
    if seconds_rows:
        lines += [
            "### Launch, export, import and reminders",
            "",
            "| Benchmark | Median | Min–max | Runs | Goal |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for label, entry, goal in seconds_rows:
            verdict = _verdict(entry)
            lines.append(
                f"| {label} | {entry['median_s']:.2f} s | {entry['min_s']:.2f}–{entry['max_s']:.2f} s "
                f"| {len(entry['runs_s'])} | {goal + ': ' + verdict if goal else ''} |"
            )
        lines.append("")
    if results.get("errors"):
        lines += ["### Benchmarks that failed", ""]
        lines += [f"- {name}: {message.splitlines()[0]}" for name, message in results["errors"].items()]
        lines.append("")
    return "\n".join(lines)

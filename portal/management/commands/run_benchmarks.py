"""Run the benchmark suite on the generated data set and write its results."""

import json
import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils import timezone

from portal.benchmarks.dataset import marker_read
from portal.benchmarks.report import git_commit, machine_describe, markdown_render
from portal.benchmarks.suite import BENCHMARKS, GOALS, SIZES, Context


def run_description(results: dict) -> dict:
    """Return what identifies the run that wrote `results`: command, date, commit and load."""
    return {
        key: results.get(key)
        for key in ("command", "date", "git", "repeat", "load_average_before", "load_average_after")
    }


def command_line(options: dict, repeat: int) -> str:
    """Return the command that reproduces this run, with every option spelled out."""
    words = ["manage.py", "run_benchmarks", "--size", options["size"], "--repeat", str(repeat)]
    if options["only"]:
        words += ["--only", *options["only"]]
    return " ".join([*words, "--output", options["output"], "--markdown", options["markdown"]])


def dataset_identity(dataset: dict | None) -> tuple | None:
    """Return what decides a generated data set's rows: bench_data writes the same rows for the
    same parameters on the same day, so a data set generated again, or on another machine, keeps
    its identity while its time of generation changes."""
    if not dataset:
        return None
    return (dataset.get("parameters"), dataset.get("counts"), dataset.get("generated_on"))


class Command(BaseCommand):
    help = (
        "Generate (or reuse) the benchmark data set of a size with bench_data, then time the roster and task "
        "lists per role beside the Django admin, the dashboards, a campaign launch, the roster import, an "
        "XLSX export and the morning digest. Writes the results as JSON and as a markdown section."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), default="default",
                            help="Data set and workload size: default (1,000,000 customers), small (20,000, about "
                                 "a minute), tiny (for the tests).")
        parser.add_argument("--repeat", type=int, help="Timed runs per measurement after one warm-up "
                                                       "(default 5 for the default size, fewer for the others).")
        parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                            help=f"Run only these benchmarks: {', '.join(BENCHMARKS)}.")
        parser.add_argument("--output", default="docs/benchmarks-results.json",
                            help="File for the JSON results (default docs/benchmarks-results.json).")
        # docs/benchmarks.md has prose around the results, so the section goes to a file of its
        # own, to be pasted in under "Results".
        parser.add_argument("--markdown", default="benchmarks-results.md",
                            help="File for the markdown section of the results (default benchmarks-results.md).")
        parser.add_argument("--merge", action="store_true",
                            help="Keep the other benchmarks' figures already in --output and replace only those "
                                 "run now, e.g. to rerun one benchmark after a change.")

    def handle(self, *args, **options):
        size = SIZES[options["size"]]
        repeat = options["repeat"] or size.repeat
        if repeat < 1:
            raise CommandError(f"Invalid --repeat {repeat}: give 1 or more.")
        names = options["only"] or list(BENCHMARKS)
        parameters = size.dataset
        load_before = [round(value, 2) for value in os.getloadavg()]
        call_command(
            "bench_data", customers=parameters.customers, tasks=parameters.tasks, campaigns=parameters.campaigns,
            managers=parameters.managers, branches=parameters.branches, seed=parameters.seed, stdout=self.stdout,
        )
        results = {
            "command": command_line(options, repeat),
            "size": options["size"],
            "repeat": repeat,
            "date": timezone.now().isoformat(timespec="seconds"),
            "git": git_commit(),
            "machine": machine_describe(),
            "settings": {
                "module": os.environ.get("DJANGO_SETTINGS_MODULE"), "debug": False,
                "PORTAL_LIST_COUNT_LIMIT": settings.PORTAL_LIST_COUNT_LIMIT,
            },
            "dataset": marker_read(),
            "goals": GOALS,
            "load_average_before": load_before,
            "load_average_after": None,
            "benchmarks": {},
            "errors": {},
            "provenance": {},
        }
        # The pages run as in production: without DEBUG (template debugging, query logging
        # outside the measured runs), and with the benchmark's admin site routed.
        if options["merge"]:
            self.previous_results_merge(results, options)
        with override_settings(
            DEBUG=False, ROOT_URLCONF="portal.benchmarks.urls", ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
        ):
            context = Context(size=size, repeat=repeat, log=self.stdout.write)
            context.prepare()
            try:
                for name in names:
                    self.stdout.write(f"{name}:")
                    started = time.perf_counter()
                    results["provenance"].pop(name, None)
                    try:
                        results["benchmarks"][name] = BENCHMARKS[name](context)
                    except Exception as error:  # noqa: BLE001 - one failing benchmark must not lose the others
                        results["errors"][name] = f"{type(error).__name__}: {error}"
                        self.stderr.write(f"{name} failed: {results['errors'][name]}")
                    self.stdout.write(f"{name}: {time.perf_counter() - started:.1f} s in all")
                    # Written after every benchmark, so a long run that is stopped keeps its figures.
                    output, markdown = self.results_write(results, options)
            finally:
                context.close()
        output, markdown = self.results_write(results, options)
        failed = [entry for entries in results["benchmarks"].values() for entry in entries if entry.get("pass") is False]
        self.stdout.write(
            f"Results in {output} and {markdown}: {len(failed)} figures miss their goal, "
            f"{len(results['errors'])} benchmarks failed."
        )
        if results["errors"]:
            raise CommandError(f"Benchmarks failed: {', '.join(results['errors'])}")

    def previous_results_merge(self, results: dict, options: dict) -> None:
        """Start `results` from the figures in --output, which must come from the same size and data set."""
        path = Path(options["output"])
        if not path.exists():
            return
        previous = json.loads(path.read_text(encoding="utf-8"))
        current = json.loads(json.dumps(results["dataset"], default=str))
        if previous.get("size") != results["size"] or dataset_identity(previous.get("dataset")) != dataset_identity(current):
            raise CommandError(f"{path} contains results of another size or data set: write to another --output.")
        kept = [name for name in previous["benchmarks"] if name not in (options["only"] or ())]
        results["benchmarks"] = {name: previous["benchmarks"][name] for name in kept}
        # Each kept benchmark keeps the command, date and load average of the run that measured it.
        previous_run = run_description(previous)
        provenance = previous.get("provenance", {})
        results["provenance"] = {name: provenance.get(name, previous_run) for name in kept}

    @staticmethod
    def results_write(results: dict, options: dict) -> tuple[Path, Path]:
        results["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        markdown = Path(options["markdown"])
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_render(results), encoding="utf-8")
        return output, markdown

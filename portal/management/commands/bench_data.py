"""Generate the benchmark data set, or find it already there."""

from django.core.management.base import BaseCommand, CommandError

from portal.benchmarks.dataset import (
    DEFAULT_SEED,
    DatasetParameters,
    DatasetRefused,
    database_check,
    dataset_generate,
    dataset_is_current,
    marker_read,
)


class Command(BaseCommand):
    help = (
        "Generate a reproducible bank-scale data set (branches, staff, customers, campaigns, follow-up tasks, "
        "contact records) on a PostgreSQL database of its own, with COPY. A second run with the same "
        "parameters finds the data set and does nothing; --force generates it again. Refuses to run on "
        "SQLite or on a database that contains anything not named bench_*."
    )

    def add_arguments(self, parser):
        defaults = DatasetParameters()
        parser.add_argument("--customers", type=int, default=defaults.customers,
                            help=f"Number of customers (default {defaults.customers}).")
        parser.add_argument("--tasks", type=int, default=defaults.tasks,
                            help=f"Number of follow-up tasks, spread over the campaigns (default {defaults.tasks}).")
        parser.add_argument("--campaigns", type=int, default=defaults.campaigns,
                            help=f"Number of campaigns; one in 50 is a draft without tasks (default {defaults.campaigns}).")
        parser.add_argument("--managers", type=int, default=defaults.managers,
                            help=f"Number of client managers (default {defaults.managers}).")
        parser.add_argument("--branches", type=int, default=defaults.branches,
                            help="Number of branches including the head office; one in ten of the rest is a "
                                 f"branch, the others are its sub-branches (default {defaults.branches}).")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=f"Seed of the random generator (default {DEFAULT_SEED}).")
        parser.add_argument("--force", action="store_true",
                            help="Generate the data set again even when the same one exists.")

    def handle(self, *args, **options):
        parameters = DatasetParameters(
            customers=options["customers"], tasks=options["tasks"], campaigns=options["campaigns"],
            managers=options["managers"], branches=options["branches"], seed=options["seed"],
        )
        problems = parameters.problems()
        if problems:
            raise CommandError("Invalid parameters: " + "; ".join(problems))
        try:
            database_check()
        except DatasetRefused as error:
            raise CommandError(str(error)) from error
        if not options["force"] and dataset_is_current(parameters):
            marker = marker_read()
            self.stdout.write(
                f"The data set exists already (generated on {marker['generated_on']} in {marker['seconds']:.0f} s): "
                f"{marker['counts']}. Use --force to generate it again."
            )
            return
        self.stdout.write(f"Generating {parameters}")
        try:
            counts = dataset_generate(parameters, log=self.stdout.write)
        except DatasetRefused as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Data set generated in {counts.pop('seconds')} s: {counts}"))

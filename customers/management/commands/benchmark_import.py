"""Time the roster import against django-import-export on one generated file.

Each importer runs in a forked child process, so its peak resident memory is its own, inside
a transaction that is rolled back, so the database is left as it was and both importers
start from the same empty roster. On PostgreSQL the foreign-key checks of the commit run, and
are timed, before the rollback. The commit's own fsync is timed for neither importer, and on
SQLite neither are the checks at its commit.

On PostgreSQL the parent vacuums the tables the importers write before each run. A rolled-back
run leaves its rows behind as dead tuples with the same customer numbers, and the next run's
unique check visits each of them. Without the vacuum the portal's five runs took 2.76, 2.89,
3.28, 3.43 and 3.59 s, each slower than the one before.
"""

import csv
import multiprocessing
import resource
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction

from customers.imports.mapping import ROSTER_FIELDS, mapping_suggest
from customers.imports.parsing import table_read
from customers.imports.values import id_number_check_character
from customers.models import AumSnapshot, Branch, Customer, RosterChange
from customers.services import CommitMode, roster_import_commit

BENCHMARK_BRANCH_CODE = "BENCH"
HEADER = ["客户号", "姓名", "性别", "出生日期", "手机号", "身份证号", "网点", "资产", "风险等级"]
# The same columns under the model's field names, for django-import-export.
IMPORT_EXPORT_HEADER = ["customer_no", "name", "gender", "birth_date", "phone", "id_number", "branch", "aum", "risk_level"]


class RolledBack(Exception):
    """Raised to leave the benchmark's transaction without keeping its rows."""


def roster_file_write(*, path: Path, rows: int, header: list[str]) -> None:
    """Write a roster CSV of `rows` valid, distinct customers in branch BENCH."""
    surnames = "王李张刘陈杨黄赵吴周"
    with open(path, "w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target)
        writer.writerow(header)
        for number in range(1, rows + 1):
            year, month, day = 1950 + number % 50, 1 + number % 12, 1 + number % 28
            first_17 = f"110105{year:04d}{month:02d}{day:02d}{number % 1000:03d}"
            writer.writerow([
                f"B{number:09d}",
                f"{surnames[number % 10]}客户{number}",
                "M" if number % 2 else "F",
                f"{year:04d}-{month:02d}-{day:02d}",
                f"138{number:08d}",
                first_17 + id_number_check_character(first_17),
                BENCHMARK_BRANCH_CODE,
                f"{(number * 7919) % 50_000_000 + 1000}.{number % 100:02d}",
                f"R{1 + number % 5}",
            ])


def portal_import(path: Path) -> int:
    table = table_read(path=path)
    mapping = mapping_suggest(headers=table.headers, fields=ROSTER_FIELDS)
    report = roster_import_commit(table=table, mapping=mapping, user=None, mode=CommitMode.REJECT)
    return report.new


def import_export_resource():
    """Return a django-import-export resource configured as its documentation advises for
    speed on new rows: bulk mode, no diffs, no instance lookups, cached foreign keys."""
    from import_export import fields, resources, widgets
    from import_export.instance_loaders import CachedInstanceLoader

    class CachedBranchWidget(widgets.ForeignKeyWidget):
        def __init__(self):
            super().__init__(Branch, field="code")
            self.by_code = {branch.code: branch for branch in Branch.objects.all()}

        def clean(self, value, row=None, **kwargs):
            return self.by_code[value]

    class CustomerResource(resources.ModelResource):
        branch = fields.Field(attribute="branch", column_name="branch", widget=CachedBranchWidget())

        class Meta:
            model = Customer
            fields = IMPORT_EXPORT_HEADER
            import_id_fields = ["customer_no"]
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            skip_html_diff = True
            force_init_instance = True
            instance_loader_class = CachedInstanceLoader

    return CustomerResource()


def import_export_import(path: Path) -> int:
    import tablib

    dataset = tablib.Dataset().load(path.read_text(encoding="utf-8"), format="csv")
    result = import_export_resource().import_data(dataset, raise_errors=True, use_transactions=True)
    return result.totals["new"]


IMPORTERS = {"portal": portal_import, "django-import-export": import_export_import}


def child_run(name: str, path: str, results) -> None:
    """Run one importer in a rolled-back transaction and put (rows, customers created,
    seconds, peak KiB) on `results`, or an error message so the parent does not wait forever."""
    try:
        results.put(child_measure(name, path))
    except Exception as error:  # noqa: BLE001 - any failure must reach the parent process
        results.put(f"{type(error).__name__}: {error}")
        raise


def child_measure(name: str, path: str) -> tuple[int, int, float, int]:
    rows = created = 0
    seconds = 0.0
    try:
        with transaction.atomic():
            Branch.objects.get_or_create(code=BENCHMARK_BRANCH_CODE, defaults={"name": "Benchmark"})
            started = time.perf_counter()
            rows = IMPORTERS[name](Path(path))
            foreign_keys_check()
            seconds = time.perf_counter() - started
            created = Customer.objects.filter(branch__code=BENCHMARK_BRANCH_CODE).count()
            raise RolledBack()
    except RolledBack:
        pass
    # ru_maxrss is in KiB on Linux.
    return rows, created, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def foreign_keys_check() -> None:
    """Run now the foreign-key checks that PostgreSQL defers to the commit, so they are timed
    although the transaction is rolled back."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def tables_vacuum() -> None:
    """Remove the dead rows earlier runs left, on PostgreSQL, so every run starts alike."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in (Customer, AumSnapshot, RosterChange))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {tables}")


class Command(BaseCommand):
    help = (
        "Generate a roster CSV and import it with the portal's importer and with django-import-export, "
        "each in a forked process and a rolled-back transaction, on the configured database. Prints "
        "the median seconds, rows per second and peak resident memory per importer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000, help="Rows in the generated file (default 100000).")
        parser.add_argument(
            "--runs", type=int, default=1,
            help="Runs per importer; the median time and the largest peak memory are printed (default 1).",
        )
        parser.add_argument(
            "--importer", action="append", choices=sorted(IMPORTERS),
            help="Run only this importer; repeat for several. Default: both.",
        )

    def handle(self, *args, **options):
        if options["rows"] < 1:
            raise CommandError(f"Invalid --rows {options['rows']}: use a positive number.")
        if options["runs"] < 1:
            raise CommandError(f"Invalid --runs {options['runs']}: use a positive number.")
        if Customer.objects.filter(branch__code=BENCHMARK_BRANCH_CODE).exists():
            raise CommandError(f"Branch {BENCHMARK_BRANCH_CODE} already has customers; the benchmark needs it empty.")
        names = options["importer"] or list(IMPORTERS)
        context = multiprocessing.get_context("fork")
        self.stdout.write(f"database: {connection.vendor}, rows: {options['rows']}")
        timings = {}
        with tempfile.TemporaryDirectory() as folder:
            paths = {}
            for name in names:
                paths[name] = Path(folder) / f"{name}.csv"
                roster_file_write(
                    path=paths[name], rows=options["rows"], header=HEADER if name == "portal" else IMPORT_EXPORT_HEADER
                )
            # The importers take turns, so a change in the machine's load affects each alike.
            runs = {name: [] for name in names}
            for _run in range(options["runs"]):
                for name in names:
                    runs[name].append(self.child_time(context, name, paths[name], options["rows"]))
        for name in names:
            seconds = statistics.median(run[0] for run in runs[name])
            peak_kib = max(run[1] for run in runs[name])
            timings[name] = seconds
            each = ", ".join(f"{run[0]:.2f}" for run in runs[name])
            self.stdout.write(
                f"{name:>22}: {seconds:7.2f} s  {options['rows'] / seconds:9.0f} rows/s  "
                f"peak RSS {peak_kib / 1024:7.1f} MiB  (runs: {each} s)"
            )
        if len(timings) == 2:
            ratio = Decimal(timings["django-import-export"] / timings["portal"]).quantize(Decimal("0.1"))
            self.stdout.write(f"portal is {ratio} times as fast as django-import-export")

    def child_time(self, context, name: str, path: Path, rows: int) -> tuple[float, int]:
        """Run one importer once in a forked child and return its seconds and peak KiB."""
        tables_vacuum()
        # A forked child must not share the parent's database socket.
        connections.close_all()
        results = context.Queue()
        child = context.Process(target=child_run, args=(name, str(path), results))
        child.start()
        outcome = results.get()
        child.join()
        if isinstance(outcome, str):
            raise CommandError(f"{name}: the import failed: {outcome}")
        _rows, created, seconds, peak_kib = outcome
        if child.exitcode != 0 or created != rows:
            raise CommandError(f"{name}: the import failed ({created} of {rows} customers created).")
        return seconds, peak_kib

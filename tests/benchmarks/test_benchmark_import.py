"""benchmark_import: each run starts from vacuumed tables and its time includes the foreign-key
checks PostgreSQL defers to the commit, although the run is rolled back."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from customers.management.commands.benchmark_import import foreign_keys_check
from customers.models import Branch, Customer
from tests.conftest import need
from tests.factories import CustomerFactory


@pytest.fixture
def postgresql():
    need(connection.vendor == "postgresql", "benchmark_import's checks run on PostgreSQL: set DATABASE_URL")


def test_foreign_keys_check_runs_deferred(postgresql, db, branch_tree):
    customer = CustomerFactory(branch=branch_tree["a"])
    missing_branch = Branch.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    with pytest.raises(IntegrityError), transaction.atomic():
        # The branch foreign key is deferred, so this UPDATE alone succeeds.
        Customer.objects.filter(pk=customer.pk).update(branch_id=missing_branch)
        foreign_keys_check()


@pytest.mark.django_db(transaction=True)
def test_runs_leave_database_unchanged(postgresql):
    output = io.StringIO()

    call_command("benchmark_import", rows=300, runs=2, importer=["portal"], stdout=output)

    line = next(line for line in output.getvalue().splitlines() if line.strip().startswith("portal:"))
    runs = [float(seconds) for seconds in re.search(r"runs: ([\d., ]+) s", line).group(1).split(", ")]
    assert len(runs) == 2
    assert all(seconds > 0 for seconds in runs)
    assert not Customer.objects.exists()
    with connection.cursor() as cursor:
        # VACUUM before each run removed the dead rows of the runs before it, so only the last
        # run's rolled-back rows remain.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", [Customer._meta.db_table])
        dead_rows = cursor.fetchone()[0]
    assert dead_rows <= 300

"""bench_data: the generated data set matches its parameters, is reused, and is refused where
it could mix with real data."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, ContactRecord, FollowUpTask, HeldOutCustomer
from customers.models import Branch, Customer
from portal.benchmarks.dataset import PREFIX, marker_read
from portal.models import Role, User
from tests.conftest import need

TINY = {"customers": 500, "tasks": 900, "campaigns": 5, "managers": 10, "branches": 6}


def bench_data(**options) -> str:
    output = io.StringIO()
    call_command("bench_data", **{**TINY, **options}, stdout=output)
    return output.getvalue()


@pytest.fixture
def postgresql(db):
    need(connection.vendor == "postgresql", "bench_data needs PostgreSQL: set DATABASE_URL")


def test_counts_match_parameters(postgresql):
    bench_data()

    assert Customer.objects.count() == 500
    assert FollowUpTask.objects.count() == 900
    assert Campaign.objects.count() == 5
    assert Branch.objects.count() == 6
    assert User.objects.filter(role=Role.CLIENT_MANAGER).count() == 10
    assert not Customer.objects.exclude(customer_no__startswith=PREFIX).exists()
    assert not User.objects.exclude(username__startswith=PREFIX).exists()
    marker = marker_read()
    assert marker["parameters"]["customers"] == 500
    assert marker["counts"]["tasks"] == 900


def test_branch_hierarchy_and_staff(postgresql):
    bench_data()

    head_office = Branch.objects.get(level=Branch.Level.HEAD_OFFICE)
    assert head_office.parent is None
    branches = Branch.objects.filter(level=Branch.Level.BRANCH)
    assert branches.count() == 1
    assert set(branches.values_list("parent", flat=True)) == {head_office.pk}
    for sub_branch in Branch.objects.filter(level=Branch.Level.SUB_BRANCH):
        assert sub_branch.parent.level == Branch.Level.BRANCH
        assert sub_branch.path == f"{sub_branch.parent.path}{sub_branch.pk}/"
        assert sub_branch.head.role == Role.SUPERVISOR
    manager = User.objects.filter(role=Role.CLIENT_MANAGER).first()
    assert manager.supervisor.branch_id == manager.branch_id
    assert User.objects.filter(role=Role.PLATFORM).exists()
    assert User.objects.filter(is_superuser=True).count() == 1


def test_tasks_cover_statuses_and_contacts(postgresql):
    bench_data()

    statuses = set(FollowUpTask.objects.values_list("status", flat=True))
    assert {"open", "done", "verified", "cancelled"} <= statuses
    overdue = FollowUpTask.objects.filter(
        status__in=["open", "in_progress", "returned"], due_on__lt=timezone.localdate()
    )
    assert overdue.exists()
    due_dates = FollowUpTask.objects.values_list("due_on", flat=True)
    assert max(due_dates) - min(due_dates) > datetime.timedelta(days=100)
    completed = FollowUpTask.objects.filter(status__in=["done", "verified"])
    assert not completed.filter(outcome="").exists()
    assert not completed.filter(completed_at__isnull=True).exists()
    assert ContactRecord.objects.filter(task__in=completed).count() == completed.count()
    # One task per customer per campaign, and no held-out customer gets a task.
    assert FollowUpTask.objects.values("campaign", "customer").distinct().count() == 900
    held_out_table = HeldOutCustomer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {FollowUpTask._meta.db_table} AS task JOIN {held_out_table} AS held "
            "ON held.campaign_id = task.campaign_id AND held.customer_id = task.customer_id"
        )
        assert cursor.fetchone()[0] == 0


def test_same_parameters_reuse_data_set(postgresql):
    bench_data()
    first_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:3])

    output = bench_data()

    assert "exists already" in output
    assert list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:3]) == first_ids


def test_force_regenerates_same_content(postgresql):
    bench_data()
    first_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:3])
    first_content = list(Customer.objects.order_by("customer_no").values_list("customer_no", "name", "aum", "branch__code"))

    output = bench_data(force=True)

    assert "exists already" not in output
    assert Customer.objects.count() == 500
    assert list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:3]) != first_ids
    # Seeded: the same parameters give the same customers.
    assert list(Customer.objects.order_by("customer_no").values_list("customer_no", "name", "aum", "branch__code")) == first_content


def test_other_parameters_regenerate(postgresql):
    bench_data()

    bench_data(customers=400)

    assert Customer.objects.count() == 400
    assert marker_read()["parameters"]["customers"] == 400


def test_rejects_real_customers(postgresql):
    branch = Branch.objects.create(code="HO", name="Head office", level=Branch.Level.HEAD_OFFICE)
    Customer.objects.create(customer_no="C0001", name="Real customer", branch=branch)

    with pytest.raises(CommandError, match="not benchmark data"):
        bench_data()

    assert Customer.objects.get().customer_no == "C0001"


def test_rejects_invalid_parameters(db):
    with pytest.raises(CommandError, match="exceeds one task per customer per campaign"):
        bench_data(customers=10, tasks=100, campaigns=2)


def test_rejects_sqlite(db, monkeypatch):
    if connection.vendor != "sqlite":
        # On PostgreSQL the refusal is checked by making the connection report SQLite.
        monkeypatch.setattr(connection, "vendor", "sqlite")

    with pytest.raises(CommandError, match="needs PostgreSQL"):
        bench_data()

import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from portal.exports import neutralise
from tests.factories import CustomerFactory, TaskFactory


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+8613800000000", "'+8613800000000"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("Campaign X", "Campaign X"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_neutralise_text(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize("value", [-3, 0, 12.5, Decimal("-1.50"), datetime.date(2025, 1, 6)])
def test_neutralise_keeps_numbers_and_dates(value):
    assert neutralise(value) is value


def test_neutralise_bool_is_text():
    assert neutralise(True) == "True"


@pytest.mark.django_db
def test_task_export_local_time_and_formula_text(client, users):
    manager = users["manager_a"]
    customer = CustomerFactory(name='=HYPERLINK("http://x")', branch=manager.branch, client_manager=manager)
    completed = datetime.datetime(2026, 12, 4, 20, 25, 42, tzinfo=datetime.timezone.utc)
    TaskFactory(customer=customer, assignee=manager, status="done", completed_at=completed)
    client.force_login(users["platform"])

    csv_body = b"".join(
        client.get(reverse("campaigns:task_list"), {"_export": "csv"}).streaming_content
    ).decode("utf-8-sig")
    workbook = load_workbook(
        io.BytesIO(client.get(reverse("campaigns:task_list"), {"_export": "xlsx"}).content)
    )
    cells = [cell for row in workbook.active.iter_rows(min_row=2) for cell in row]

    assert "2026-12-05 04:25:42" in csv_body
    assert "'=HYPERLINK" in csv_body
    assert datetime.datetime(2026, 12, 5, 4, 25, 42) in [cell.value for cell in cells]
    formula_cells = [cell for cell in cells if str(cell.value).startswith("=HYPERLINK")]
    assert [cell.data_type for cell in formula_cells] == ["s"]

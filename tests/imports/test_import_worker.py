"""A large roster commit through a real Celery worker consuming from a real Redis, while the
import page polls the progress."""

import time
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from customers.models import AumSnapshot, Customer, RosterImport
from tests.celery_workers import worker_on_own_queue

pytestmark = pytest.mark.redis

COMMIT_TIMEOUT_SECONDS = 60
ROWS = 1500


@pytest.fixture
def import_worker(redis_url):
    with worker_on_own_queue(redis_url, "imports-test") as worker:
        yield worker


def test_worker_commits_large_roster(transactional_db, users, import_worker):
    client = Client()
    client.force_login(users["platform"])
    lines = "".join(f"W{number:05d},客户{number},BA,{number}万\n" for number in range(1, ROWS + 1))
    content = ("客户号,姓名,网点,资产\n" + lines).encode("gb18030")
    client.post(
        reverse("customers:import_upload"),
        {"file": SimpleUploadedFile("big.csv", content), "kind": "roster", "delimiter": "", "complete_roster": "on"},
    )
    roster_import = RosterImport.objects.get()
    columns = {f"column_{index}": field for index, field in enumerate(["customer_no", "name", "branch", "aum"])}
    client.post(reverse("customers:import_mapping", args=[roster_import.pk]), columns)

    response = client.post(reverse("customers:import_commit", args=[roster_import.pk]), {"background": "1"})
    assert response.status_code == HTTPStatus.FOUND

    # The operator left the page; polling comes back until the worker has finished.
    deadline = time.monotonic() + COMMIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        progress = client.get(reverse("customers:import_progress", args=[roster_import.pk]))
        if progress.has_header("HX-Refresh"):
            break
        assert 'id="import-progress"' in progress.content.decode()
        time.sleep(0.2)
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.COMMITTED
    assert roster_import.summary["new"] == ROWS
    assert roster_import.summary["diff"]["new"] == ROWS
    assert Customer.objects.count() == ROWS
    assert Customer.objects.get(customer_no="W01500").aum == 15_000_000
    assert AumSnapshot.objects.filter(roster_import=roster_import).count() == ROWS
    page = client.get(reverse("customers:import_detail", args=[roster_import.pk])).content.decode()
    assert 'id="diff-new">1500<' in page

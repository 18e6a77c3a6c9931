"""The values_list() export path (portal.export_rows) must write exactly what django-tables2's
own rows write, for every list that exports a queryset, in both languages."""

import datetime
import io
from decimal import Decimal

import django_tables2 as tables
import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from customers.models import Gender, Tier
from portal import export_rows, exports
from portal.models import Leave
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory, UserFactory

# (URL name, user key, query parameters): every list whose export reads a queryset.
QUERYSET_EXPORTS = [
    ("campaigns:task_list", "platform", {}),
    ("campaigns:task_list", "platform", {"sort": "-customer_name"}),
    ("campaigns:task_list", "supervisor_a", {"status": "done"}),
    ("campaigns:verification_queue", "platform", {}),
    ("customers:list", "platform", {"sort": "tier"}),
    ("customers:list", "supervisor_a", {}),
    ("campaigns:leave_list", "platform", {}),
    ("campaigns:handover_list", "platform", {}),
    # An export adds its own audit entry, so the audit exports leave out the export entries.
    ("audit_log", "admin", {"action": "create"}),
]


@pytest.fixture
def mixed_data(users):
    """Rows with every kind of value a list shows: empty values, choices, dates and
    date-times, masked phone and ID numbers, Chinese text and text a spreadsheet would run
    as a formula."""
    manager_a = users["manager_a"]
    leaver = UserFactory(username="cm_left", branch=manager_a.branch, first_name="离", last_name="职")
    top_tier = Tier.objects.order_by("-min_aum").first()
    campaign = CampaignFactory(name="年末理财回访", owner=users["platform"])
    formula_campaign = CampaignFactory(name="=HYPERLINK(\"http://x\")", owner=users["platform"])
    customers = [
        CustomerFactory(name="张三", gender=Gender.MALE, phone="13812345678", branch=manager_a.branch, client_manager=manager_a,
                        tier=top_tier, aum=Decimal("12345678.90")),
        CustomerFactory(name="=SUM(A1:A9)", phone="+8613800000000", branch=users["manager_a1"].branch,
                        client_manager=users["manager_a1"], occupation=""),
        CustomerFactory(name="", id_number="", phone="", branch=users["manager_b"].branch,
                        client_manager=None, tier=None, aum=Decimal("0")),
        CustomerFactory(name="@李四", branch=leaver.branch, client_manager=leaver),
    ]
    completed = datetime.datetime(2026, 12, 4, 20, 25, 42, 123456, tzinfo=datetime.timezone.utc)
    TaskFactory(campaign=campaign, customer=customers[0], assignee=manager_a, status="done", outcome="converted",
                completed_at=completed, sampled_for_verification=True)
    TaskFactory(campaign=formula_campaign, customer=customers[1], assignee=users["manager_a1"], status="open")
    TaskFactory(campaign=campaign, customer=customers[2], assignee=None, branch=users["manager_b"].branch,
                status="cancelled", outcome="")
    TaskFactory(campaign=campaign, customer=customers[3], assignee=leaver, status="returned")
    today = timezone.localdate()
    Leave.objects.create(user=manager_a, starts_on=today, ends_on=today + datetime.timedelta(days=3), note="年假")
    Leave.objects.create(user=users["manager_b"], starts_on=today, ends_on=today, note="-1 day")
    Leave.objects.create(user=users["manager_a1"], starts_on=today, ends_on=today, note="")
    leaver.is_active = False
    leaver.save()
    return customers


def _export(client, url_name, params, export_format):
    response = client.get(reverse(url_name), {**params, "_export": export_format})
    assert response.status_code == 200
    if export_format == "csv":
        return b"".join(response.streaming_content).decode("utf-8-sig")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = load_workbook(io.BytesIO(body)).active
    return [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
@pytest.mark.parametrize(("url_name", "user_key", "params"), QUERYSET_EXPORTS)
def test_fast_export_equals_generic(
    client, users, mixed_data, monkeypatch, language, export_format, url_name, user_key, params
):
    user = users[user_key]
    user.language = language
    user.save()
    client.force_login(user)
    fast_calls = []
    original_fast_rows = exports.fast_rows

    def counting_fast_rows(*args, **kwargs):
        fast_calls.append(args)
        return original_fast_rows(*args, **kwargs)

    monkeypatch.setattr(exports, "fast_rows", counting_fast_rows)
    fast = _export(client, url_name, params, export_format)
    monkeypatch.setattr(exports, "plan_columns", lambda table, columns: None)
    generic = _export(client, url_name, params, export_format)

    assert len(fast_calls) == 1
    assert fast == generic
    data_rows = fast.splitlines()[1:] if export_format == "csv" else fast[1:]
    assert data_rows


@pytest.mark.django_db
def test_fast_task_export_values(client, users, mixed_data):
    """A spot check that the shared output is the expected one, not only equal."""
    users["platform"].language = "zh-hans"
    users["platform"].save()
    client.force_login(users["platform"])

    rows = _export(client, "campaigns:task_list", {"sort": "id"}, "xlsx")

    header = [value for value, _type in rows[0]]
    first = [value for value, _type in rows[1]]
    second = rows[2]
    assert header == ["任务", "客户号", "客户", "电话", "客户等级", "活动", "客户经理", "机构", "状态", "截止日期", "跟进结果", "完成时间"]
    assert first[2] == "张三"
    assert first[3] == "138****5678"
    assert first[8] == "已完成"
    assert first[10] == "已转化"
    assert first[11] == datetime.datetime(2026, 12, 5, 4, 25, 42)
    assert second[2] == ("=SUM(A1:A9)", "s")
    assert second[4] == (None, "n")


def test_unplannable_table_uses_generic_rows():
    class ListTable(tables.Table):
        name = tables.Column()

    table = ListTable([{"name": "a"}])

    assert export_rows.plan_columns(table, list(table.columns)) is None

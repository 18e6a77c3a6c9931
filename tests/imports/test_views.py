import re
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from campaigns.models import Campaign, FollowUpTask
from customers.models import Customer, RosterImport
from portal.models import Role
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

ROSTER_CSV = "客户号,姓名,网点,资产\n001,张三,BA,\"1,000\"\n002,李四,ZZ,2000\n".encode("gbk")
NOT_PLATFORM = ["admin", "supervisor_a", "manager_a"]


def upload(client, content=ROSTER_CSV, name="roster.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "kind": "roster", "delimiter": "", **fields}
    return client.post(reverse("customers:import_upload"), data)


@pytest.fixture
def platform_client(client, users):
    client.force_login(users["platform"])
    return client


@pytest.fixture
def uploaded(platform_client):
    upload(platform_client)
    return RosterImport.objects.get()


def mapping_post(client, roster_import, **overrides):
    data = {"column_0": "customer_no", "column_1": "name", "column_2": "branch", "column_3": "aum", **overrides}
    return client.post(reverse("customers:import_mapping", args=[roster_import.pk]), data)


def test_upload_suggests_mapping(platform_client, users):
    response = upload(platform_client)

    roster_import = RosterImport.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("customers:import_mapping", args=[roster_import.pk])
    assert roster_import.status == RosterImport.Status.UPLOADED
    assert roster_import.created_by == users["platform"]
    assert roster_import.mapping == {"客户号": "customer_no", "姓名": "name", "网点": "branch", "资产": "aum"}
    assert roster_import.summary == {"total": 2}


def test_upload_unreadable_file_shows_error(platform_client):
    response = upload(platform_client, content=b"not a workbook", name="roster.xlsx")

    assert response.status_code == HTTPStatus.OK
    assert "not a readable XLSX" in response.content.decode()
    assert RosterImport.objects.count() == 0


def test_upload_outcomes_needs_campaign_name(platform_client):
    response = upload(platform_client, kind="outcomes")

    assert response.status_code == HTTPStatus.OK
    assert RosterImport.objects.count() == 0


def test_mapping_page_prefilled(platform_client, uploaded):
    response = platform_client.get(reverse("customers:import_mapping", args=[uploaded.pk]))

    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert "客户号" in body
    assert '<option value="customer_no" selected>' in body


def test_mapping_preview_counts_and_errors(platform_client, uploaded):
    response = mapping_post(platform_client, uploaded)

    assert response.status_code == HTTPStatus.FOUND
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.PREVIEWED
    assert uploaded.summary["new"] == 1
    assert uploaded.summary["invalid"] == 1
    assert uploaded.errors == [
        {"row": 3, "column": "网点", "value": "ZZ", "msgid": "Unknown branch code: no branch has this code.", "params": {}}
    ]
    detail = platform_client.get(reverse("customers:import_detail", args=[uploaded.pk])).content.decode()
    assert "Unknown branch code" in detail
    assert "Commit valid rows" in detail
    assert Customer.objects.count() == 0


def test_mapping_field_twice_rejected(platform_client, uploaded):
    response = mapping_post(platform_client, uploaded, column_1="customer_no")

    assert response.status_code == HTTPStatus.OK
    assert "mapped from two columns" in response.content.decode()
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.UPLOADED


def test_commit_writes_valid_rows(platform_client, uploaded):
    mapping_post(platform_client, uploaded)

    response = platform_client.post(reverse("customers:import_commit", args=[uploaded.pk]))

    assert response.status_code == HTTPStatus.FOUND
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.COMMITTED
    assert uploaded.finished_at is not None
    assert uploaded.summary["committed"] is True
    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["001"]


def test_commit_before_preview_rejected(platform_client, uploaded):
    response = platform_client.post(reverse("customers:import_commit", args=[uploaded.pk]), follow=True)

    assert "Preview the import" in response.content.decode()
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.UPLOADED
    assert Customer.objects.count() == 0


def test_reject_writes_nothing(platform_client, uploaded):
    mapping_post(platform_client, uploaded)

    platform_client.post(reverse("customers:import_reject", args=[uploaded.pk]))
    second = platform_client.post(reverse("customers:import_commit", args=[uploaded.pk]))

    assert second.status_code == HTTPStatus.FOUND
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.REJECTED
    assert Customer.objects.count() == 0


def test_outcomes_web_flow(platform_client, users, branch_tree):
    CustomerFactory(customer_no="001", branch=branch_tree["a"], client_manager=users["manager_a"])
    content = b"customer_no;y;contact\n001;yes;cellular\n"
    upload(platform_client, content=content, name="history.csv", kind="outcomes", campaign_name="Old deposits",
           campaign_date="2023-01-31")
    roster_import = RosterImport.objects.get()
    assert roster_import.mapping == {"customer_no": "customer_no", "y": "outcome", "contact": "channel"}

    platform_client.post(
        reverse("customers:import_mapping", args=[roster_import.pk]),
        {"column_0": "customer_no", "column_1": "outcome", "column_2": "channel"},
    )
    platform_client.post(reverse("customers:import_commit", args=[roster_import.pk]))

    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.COMMITTED
    campaign = Campaign.objects.get(name="Old deposits")
    assert str(campaign.due_on) == "2023-01-31"
    assert roster_import.summary["campaign_id"] == campaign.pk
    task = FollowUpTask.objects.get(campaign=campaign)
    assert task.outcome == "converted"
    assert task.assignee == users["manager_a"]


def test_other_platform_operator_sees_import(uploaded, branch_tree):
    colleague = UserFactory(username="platform2", role=Role.PLATFORM, branch=branch_tree["head"])
    client = Client()
    client.force_login(colleague)

    assert client.get(reverse("customers:import_detail", args=[uploaded.pk])).status_code == HTTPStatus.OK


@pytest.mark.parametrize("role", NOT_PLATFORM)
@pytest.mark.parametrize(
    ("name", "method", "with_pk"),
    [
        ("import_list", "get", False),
        ("import_upload", "get", False),
        ("import_upload", "post", False),
        ("import_detail", "get", True),
        ("import_mapping", "get", True),
        ("import_mapping", "post", True),
        ("import_commit", "post", True),
        ("import_reject", "post", True),
    ],
)
def test_pages_forbidden_to_other_roles(client, users, uploaded, role, name, method, with_pk):
    client.force_login(users[role])
    url = reverse(f"customers:{name}", args=[uploaded.pk] if with_pk else [])

    response = getattr(client, method)(url)

    assert response.status_code == HTTPStatus.FORBIDDEN
    uploaded.refresh_from_db()
    assert uploaded.status == RosterImport.Status.UPLOADED


def test_pages_require_login(uploaded):
    response = Client().get(reverse("customers:import_list"))

    assert response.status_code == HTTPStatus.FOUND
    assert reverse("login") in response["Location"]


def test_commit_get_not_allowed(platform_client, uploaded):
    response = platform_client.get(reverse("customers:import_commit", args=[uploaded.pk]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.parametrize("count", [1, 30])
def test_import_list_query_count(platform_client, users, count, django_assert_num_queries):
    for number in range(count):
        RosterImport.objects.create(
            original_name=f"file{number}.csv", file=f"imports/file{number}.csv", created_by=users["platform"],
            summary={"total": 10, "invalid": 1},
        )

    # Session, user, row count, page of imports with their uploaders.
    with django_assert_num_queries(4):
        response = platform_client.get(reverse("customers:import_list"))

    assert response.status_code == HTTPStatus.OK
    assert f"file{count - 1}.csv" in response.content.decode()


def test_upload_wrong_file_type_rejected(platform_client):
    response = upload(platform_client, content=b"%PDF-1.7", name="roster.pdf")

    assert response.status_code == HTTPStatus.OK
    assert "Invalid file type: roster.pdf" in response.content.decode()
    assert RosterImport.objects.count() == 0


def test_upload_page_renders(platform_client):
    response = platform_client.get(reverse("customers:import_upload"))

    assert response.status_code == HTTPStatus.OK
    assert 'name="default_branch"' in response.content.decode()


def test_xlsx_upload_keeps_leading_zeros(platform_client, branch_tree, tmp_path):
    workbook = Workbook()
    workbook.active.append(["客户号", "姓名", "资产"])
    workbook.active.append(["000123", "张三", 2500000])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)

    upload(platform_client, content=path.read_bytes(), name="roster.xlsx", default_branch="BB")
    roster_import = RosterImport.objects.get()
    platform_client.post(
        reverse("customers:import_mapping", args=[roster_import.pk]),
        {"column_0": "customer_no", "column_1": "name", "column_2": "aum"},
    )
    platform_client.post(reverse("customers:import_commit", args=[roster_import.pk]))

    customer = Customer.objects.get()
    assert customer.customer_no == "000123"
    assert customer.branch == branch_tree["b"]
    assert customer.tier.code == "platinum"


def test_upload_header_without_rows_rejected(platform_client, settings):
    response = upload(platform_client, content="客户号,姓名,网点\n".encode("gbk"))

    assert response.status_code == HTTPStatus.OK
    assert "The file has a header row but no data rows" in response.content.decode()
    assert RosterImport.objects.count() == 0
    assert not any(path.is_file() for path in settings.MEDIA_ROOT.rglob("*"))


def test_mapping_selects_styled(platform_client, uploaded):
    response = platform_client.get(reverse("customers:import_mapping", args=[uploaded.pk]))

    body = response.content.decode()
    for index in range(4):
        select = re.search(rf'<select name="column_{index}"[^>]*>', body)
        assert select is not None
        assert "form-select" in select.group(0)

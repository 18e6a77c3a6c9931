"""Pages added for the operator: the invalid-rows download, the roster diff lists, import
profiles, the AUM trend on the customer page and background commits with a progress bar."""

import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from customers.imports import services as import_services
from customers.models import AumSnapshot, Customer, ImportProfile, RosterChange, RosterImport
from customers.tasks import roster_import_commit_task
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOT_PLATFORM = ["admin", "supervisor_a", "manager_a"]
ROSTER_CSV = "客户号,姓名,网点,资产\n001,张三,BA,\"1,000\"\n002,李四,ZZ,2000\n003,王五,BA,4.5万\n"


def upload(client, content: bytes, name="roster.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "kind": "roster", "delimiter": "", **fields}
    return client.post(reverse("customers:import_upload"), data)


def preview(client, roster_import, **fields):
    data = {f"column_{index}": field for index, field in enumerate(["customer_no", "name", "branch", "aum"])}
    return client.post(reverse("customers:import_mapping", args=[roster_import.pk]), {**data, **fields})


@pytest.fixture
def platform_client(client, users):
    client.force_login(users["platform"])
    return client


@pytest.fixture
def previewed(platform_client):
    upload(platform_client, ROSTER_CSV.encode("gbk"), complete_roster="on", aum_drop_percent="30")
    roster_import = RosterImport.objects.get()
    preview(platform_client, roster_import)
    roster_import.refresh_from_db()
    return roster_import


@pytest.fixture
def committed(platform_client, previewed):
    platform_client.post(reverse("customers:import_commit", args=[previewed.pk]))
    previewed.refresh_from_db()
    return previewed


def test_errors_download_in_english(platform_client, previewed):
    with translation.override("en"):
        response = platform_client.get(reverse("customers:import_errors_download", args=[previewed.pk]))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("File", "roster.csv", None, None)
    assert rows[2] == ("Row", "Column", "Value", "Problem")
    assert rows[3][:3] == (3, "网点", "ZZ")
    assert rows[3][3].startswith("Unknown branch code")
    assert len(rows) == 4


def test_errors_download_in_chinese(client, users, previewed):
    users["platform"].language = "zh-hans"
    users["platform"].save()
    client.force_login(users["platform"])

    response = client.get(
        reverse("customers:import_errors_download", args=[previewed.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    with translation.override("zh-hans"):
        expected_header = tuple(translation.gettext(word) for word in ("Row", "Column", "Value", "Problem"))
        expected_reason = translation.gettext("Unknown branch code: no branch has this code.")
    assert rows[2] == expected_header
    assert rows[2][0] != "Row"
    assert rows[3][3] == expected_reason


def test_errors_download_rechecks_beyond_stored(platform_client, users, write_csv):
    lines = "".join(f"{number:04d},客户,BA,bad\n" for number in range(1, 251))
    upload(platform_client, ("客户号,姓名,网点,资产\n" + lines).encode("utf-8"))
    roster_import = RosterImport.objects.get()
    preview(platform_client, roster_import)
    roster_import.refresh_from_db()
    assert len(roster_import.errors) == 200

    response = platform_client.get(reverse("customers:import_errors_download", args=[roster_import.pk]))

    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3 + 250
    assert rows[-1][:3] == (251, "资产", "bad")


def test_detail_shows_field_changes(platform_client, users, branch_tree):
    CustomerFactory(customer_no="001", name="旧名", branch=branch_tree["b"], aum=Decimal("500"))
    upload(platform_client, ROSTER_CSV.encode("utf-8"))
    roster_import = RosterImport.objects.get()
    preview(platform_client, roster_import)

    body = platform_client.get(reverse("customers:import_detail", args=[roster_import.pk])).content.decode()

    assert 'id="field-changes"' in body
    assert "旧名" in body
    assert "<code>BB</code>" in body
    assert "<code>BA</code>" in body
    assert "500.00" in body
    assert 'id="errors-download"' in body


def test_commit_shows_roster_diff(platform_client, committed):
    body = platform_client.get(reverse("customers:import_detail", args=[committed.pk])).content.decode()

    assert committed.summary["diff"]["new"] == 2
    assert 'id="diff-new">2<' in body
    assert RosterChange.objects.filter(roster_import=committed, kind="new").count() == 2
    assert AumSnapshot.objects.filter(roster_import=committed).count() == 2
    assert set(AumSnapshot.objects.values_list("aum", flat=True)) == {Decimal("1000"), Decimal("45000")}


@pytest.mark.parametrize("count", [1, 25])
def test_changes_page_query_count(platform_client, users, branch_tree, count, django_assert_num_queries):
    roster_import = RosterImport.objects.create(
        original_name="m.csv", file="imports/m.csv", created_by=users["platform"], status=RosterImport.Status.COMMITTED,
    )
    for number in range(count):
        customer = CustomerFactory(customer_no=f"D{number:03d}", branch=branch_tree["a"])
        RosterChange.objects.create(
            roster_import=roster_import, taken_on="2024-01-31", customer=customer, kind="aum_drop",
            aum_before=Decimal("1000000"), aum_after=Decimal("10"),
        )

    # Session, user, the import, row count, page of changes with customers, branches and tiers.
    with django_assert_num_queries(5):
        response = platform_client.get(reverse("customers:import_changes", args=[roster_import.pk, "aum_drop"]))

    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert "D000" in body
    assert "1,000,000.00" in body


def test_changes_page_unknown_kind_404(platform_client, committed):
    response = platform_client.get(reverse("customers:import_changes", args=[committed.pk, "deleted"]))

    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("role", NOT_PLATFORM)
@pytest.mark.parametrize("name", ["import_errors_download", "import_progress", "import_changes"])
def test_operator_pages_forbidden(client, users, committed, role, name):
    client.force_login(users[role])
    args = [committed.pk, "new"] if name == "import_changes" else [committed.pk]

    response = client.get(reverse(f"customers:{name}", args=args))

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_aum_trend_scoped(client, users, branch_tree, committed):
    own = Customer.objects.get(customer_no="001")
    own.client_manager = users["manager_a"]
    own.save()
    other = Customer.objects.get(customer_no="003")
    AumSnapshot.objects.create(customer=own, taken_on="2023-12-31", aum=Decimal("4000"))

    client.force_login(users["manager_a"])
    allowed = client.get(reverse("customers:customer_aum_trend", args=[own.pk]))
    hidden = client.get(reverse("customers:customer_aum_trend", args=[other.pk]))

    assert allowed.status_code == HTTPStatus.OK
    assert hidden.status_code == HTTPStatus.NOT_FOUND
    body = allowed.content.decode()
    assert body.index("2023-12-31") < body.index("4,000.00") < body.index("-3,000.00")
    assert "width: 100%" in body
    assert "width: 25%" in body


def test_customer_page_loads_trend(client, users, committed):
    client.force_login(users["platform"])
    customer = Customer.objects.get(customer_no="001")

    body = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert reverse("customers:customer_aum_trend", args=[customer.pk]) in body


def test_profile_saved_and_used(platform_client, users):
    upload(platform_client, "id;full name;branch;wealth\nX1;Ann;BA;5\n".encode("utf-8"))
    first = RosterImport.objects.get()
    preview(platform_client, first, profile_name="Core banking")
    profile = ImportProfile.objects.get()
    assert profile.mapping == {"id": "customer_no", "fullname": "name", "branch": "branch", "wealth": "aum"}
    assert profile.options == {}

    # Next month: extra spaces, full-width letters and another column order.
    upload(platform_client, "ｗｅａｌｔｈ;Full Name ; ID;branch\n9;Bo;X2;BA\n".encode("utf-8"), profile=str(profile.pk))

    second = RosterImport.objects.latest("pk")
    assert second.mapping == {"ｗｅａｌｔｈ": "aum", "Full Name": "name", "ID": "customer_no", "branch": "branch"}
    assert second.options["profile"] == "Core banking"
    assert "Core banking" in platform_client.get(reverse("customers:import_list")).content.decode()


def test_profile_of_other_kind_rejected(platform_client, users):
    profile = ImportProfile.objects.create(name="Call centre", kind="outcomes", mapping={}, created_by=users["platform"])

    response = upload(platform_client, ROSTER_CSV.encode("utf-8"), profile=str(profile.pk))

    assert response.status_code == HTTPStatus.OK
    assert "Call centre" in response.content.decode()
    assert RosterImport.objects.count() == 0


@pytest.fixture
def large_previewed(platform_client, users):
    lines = "".join(f"{number:05d},客户{number},BA,{number * 1000}\n" for number in range(1, 1102))
    upload(platform_client, ("客户号,姓名,网点,资产\n" + lines).encode("utf-8"), complete_roster="on")
    roster_import = RosterImport.objects.get()
    preview(platform_client, roster_import)
    roster_import.refresh_from_db()
    return roster_import


def test_large_commit_queued(platform_client, users, large_previewed, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(roster_import_commit_task, "delay", lambda **kwargs: sent.append(kwargs))

    page = platform_client.get(reverse("customers:import_detail", args=[large_previewed.pk])).content.decode()
    assert 'name="background"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = platform_client.post(reverse("customers:import_commit", args=[large_previewed.pk]), {"background": "1"})

    large_previewed.refresh_from_db()
    assert response.status_code == HTTPStatus.FOUND
    assert large_previewed.status == RosterImport.Status.COMMITTING
    assert large_previewed.summary["progress"]["phase"] == "queued"
    assert sent == [{"roster_import_id": large_previewed.pk, "user_id": users["platform"].pk}]
    assert Customer.objects.count() == 0
    page = platform_client.get(reverse("customers:import_detail", args=[large_previewed.pk])).content.decode()
    assert 'id="import-progress"' in page
    assert "every 2s" in page


def test_background_task_commits(platform_client, users, large_previewed, monkeypatch):
    monkeypatch.setattr(roster_import_commit_task, "delay", lambda **kwargs: None)
    platform_client.post(reverse("customers:import_commit", args=[large_previewed.pk]), {"background": "1"})
    seen_phases = []
    store = import_services.roster_import_progress_store

    def record(**kwargs):
        seen_phases.append(kwargs["phase"])
        store(**kwargs)

    monkeypatch.setattr("customers.tasks.roster_import_progress_store", record)

    summary = roster_import_commit_task.apply(kwargs={"roster_import_id": large_previewed.pk, "user_id": users["platform"].pk}).get()

    large_previewed.refresh_from_db()
    assert large_previewed.status == RosterImport.Status.COMMITTED
    assert summary["new"] == 1101
    assert "progress" not in large_previewed.summary
    assert seen_phases == ["writing"]
    assert Customer.objects.count() == 1101
    progress = platform_client.get(reverse("customers:import_progress", args=[large_previewed.pk]))
    assert progress["HX-Refresh"] == "true"
    # A redelivered task finds the import committed and writes nothing.
    assert roster_import_commit_task.apply(kwargs={"roster_import_id": large_previewed.pk, "user_id": users["platform"].pk}).get() == {}
    assert AumSnapshot.objects.count() == 1101


def test_progress_store_percent(users, large_previewed):
    import_services.roster_import_progress_store(roster_import_id=large_previewed.pk, phase="checking", done=550, total=1101)

    large_previewed.refresh_from_db()
    assert large_previewed.summary["progress"] == {"phase": "checking", "done": 550, "total": 1101, "percent": 29}
    assert large_previewed.summary["total"] == 1101


def test_background_failure_marks_failed(platform_client, users, large_previewed, monkeypatch):
    monkeypatch.setattr(roster_import_commit_task, "delay", lambda **kwargs: None)
    platform_client.post(reverse("customers:import_commit", args=[large_previewed.pk]), {"background": "1"})
    large_previewed.refresh_from_db()
    large_previewed.file.delete(save=False)

    with pytest.raises(FileNotFoundError):
        roster_import_commit_task.apply(
            kwargs={"roster_import_id": large_previewed.pk, "user_id": users["platform"].pk}, throw=True
        ).get()

    large_previewed.refresh_from_db()
    assert large_previewed.status == RosterImport.Status.FAILED
    assert "No such file" in large_previewed.summary["failure"]
    assert Customer.objects.count() == 0


def test_small_file_commits_in_request(platform_client, previewed):
    page = platform_client.get(reverse("customers:import_detail", args=[previewed.pk])).content.decode()
    assert 'name="background"' not in page

    platform_client.post(reverse("customers:import_commit", args=[previewed.pk]), {"background": "1"})

    previewed.refresh_from_db()
    assert previewed.status == RosterImport.Status.COMMITTED


def test_large_file_without_background_field(platform_client, large_previewed):
    platform_client.post(reverse("customers:import_commit", args=[large_previewed.pk]))

    large_previewed.refresh_from_db()
    assert large_previewed.status == RosterImport.Status.COMMITTED
    assert Customer.objects.count() == 1101

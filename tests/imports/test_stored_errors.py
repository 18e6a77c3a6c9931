"""Row errors are stored untranslated and shown in the language of whoever reads them."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from customers.imports.report import RowError, stored_error_display
from customers.imports.services import roster_import_create, roster_import_map
from customers.models import RosterImport

pytestmark = pytest.mark.django_db

ROSTER_CSV = "客户号,姓名,网点,资产\n001,张三,BA,1.234\n002,李四,ZZ,2000\n".encode("utf-8")
BRANCH_ENGLISH = "Unknown branch code: no branch has this code."
BRANCH_CHINESE = "分支机构代码不存在：没有使用此代码的分支机构。"
AMOUNT_CHINESE = "金额无效：小数超过两位。"


@pytest.fixture
def previewed_in_english(users):
    with translation.override("en"):
        roster_import = roster_import_create(
            user=users["platform"],
            uploaded_file=SimpleUploadedFile("roster.csv", ROSTER_CSV),
            kind=RosterImport.Kind.ROSTER,
            options={},
        )
        return roster_import_map(
            roster_import=roster_import,
            mapping={"客户号": "customer_no", "姓名": "name", "网点": "branch", "资产": "aum"},
            user=users["platform"],
        )


def detail_page(client, user, roster_import, language):
    # A signed-in user's pages are in the language saved on the user.
    user.language = language
    user.save(update_fields=["language"])
    client.force_login(user)
    response = client.get(reverse("customers:import_detail", args=[roster_import.pk]))
    assert response.status_code == HTTPStatus.OK
    return response.content.decode()


def test_errors_stored_untranslated(previewed_in_english):
    previewed_in_english.refresh_from_db()

    assert previewed_in_english.errors[1] == {
        "row": 3, "column": "网点", "value": "ZZ", "msgid": BRANCH_ENGLISH, "params": {}
    }
    assert "message" not in previewed_in_english.errors[0]


def test_english_preview_shown_in_chinese(client, users, previewed_in_english):
    body = detail_page(client, users["platform"], previewed_in_english, "zh-hans")

    assert BRANCH_CHINESE in body
    assert AMOUNT_CHINESE in body
    assert BRANCH_ENGLISH not in body


def test_english_preview_shown_in_english(client, users, previewed_in_english):
    body = detail_page(client, users["platform"], previewed_in_english, "en")

    assert BRANCH_ENGLISH in body
    assert BRANCH_CHINESE not in body


def test_old_plain_message_still_shown(client, users, previewed_in_english):
    RosterImport.objects.filter(pk=previewed_in_english.pk).update(
        errors=[{"row": 4, "column": "网点", "value": "QQ", "message": "旧的错误信息"}]
    )

    body = detail_page(client, users["platform"], previewed_in_english, "en")

    assert "旧的错误信息" in body
    assert "QQ" in body


def test_stored_error_display_fills_params():
    entry = RowError(
        row=5, column="客户号", value="001",
        msgid="Duplicate customer number: it already appears in row %(row)s.", params={"row": 2},
    ).as_dict()

    with translation.override("en"):
        english = stored_error_display(entry)
    with translation.override("zh-hans"):
        chinese = stored_error_display(entry)

    assert english == {
        "row": 5, "column": "客户号", "value": "001",
        "message": "Duplicate customer number: it already appears in row 2.",
    }
    assert chinese["message"] != english["message"]
    assert "2" in chinese["message"]


def test_command_prints_active_language(write_csv, branch_tree, capsys):
    path = write_csv("bad.csv", "客户号,姓名,网点\n001,张三,ZZ\n")

    with translation.override("zh-hans"):
        call_command("import_roster", str(path), "--dry-run", "--commit-valid")

    assert BRANCH_CHINESE in capsys.readouterr().err


def test_fake_xlsx_message_has_no_library_text(client, users):
    client.force_login(users["platform"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    data = {"file": SimpleUploadedFile("roster.xlsx", b"not a workbook"), "kind": "roster", "delimiter": ""}

    response = client.post(reverse("customers:import_upload"), data)

    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "not a readable XLSX workbook" in body
    assert "zip" not in body.lower()
    assert RosterImport.objects.count() == 0

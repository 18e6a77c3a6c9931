"""Amounts on screen follow the language and the user's 万元 preference. Exports keep the raw
numbers."""

import csv
import datetime
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from portal.models import User
from portal.templatetags.portal_format import format_amount
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def prefer(user, *, language, in_wan):
    user.language = language
    user.amount_in_wan = in_wan
    user.save(update_fields=["language", "amount_in_wan"])
    return user


@pytest.mark.parametrize(
    ("language", "in_wan", "value", "expected"),
    [
        ("en", False, Decimal("1234567.89"), "1,234,567.89"),
        ("zh-hans", False, Decimal("1234567.89"), "1,234,567.89"),
        ("zh-hans", True, Decimal("1234567.89"), "123.46万元"),
        ("zh-hans", True, Decimal("10000"), "1.00万元"),
        ("zh-hans", True, Decimal("9999.99"), "9,999.99"),
        ("zh-hans", True, Decimal("-250000"), "-25.00万元"),
        ("zh-hans", True, Decimal("123456789012.35"), "12,345,678.90万元"),
        ("en", True, Decimal("1234567.89"), "1,234,567.89"),
        ("en", False, Decimal("0.005"), "0.01"),
        ("en", False, None, "—"),
        ("en", False, "not a number", ""),
        ("zh-hans", True, Decimal("Infinity"), ""),
    ],
)
def test_format_amount(language, in_wan, value, expected):
    user = User(amount_in_wan=in_wan)

    with translation.override(language):
        assert format_amount(value, user) == expected


def test_format_amount_without_user():
    with translation.override("zh-hans"):
        assert format_amount(Decimal("1234567.8")) == "1,234,567.80"


def test_amount_filter_in_template():
    template = Template("{% load portal_format %}{{ value|amount:user }}")
    context = Context({"value": Decimal("56789000"), "user": User(amount_in_wan=True)})

    with translation.override("zh-hans"):
        assert template.render(context) == "5,678.90万元"


def test_chinese_numbers_grouped_by_thousands():
    # Django's own zh_Hans format groups by four digits without a separator.
    with translation.override("zh-hans"):
        assert intcomma(12345678) == "12,345,678"


def test_roster_list_shows_wan(client, users):
    manager = prefer(users["manager_a"], language="zh-hans", in_wan=True)
    CustomerFactory(branch=manager.branch, client_manager=manager, aum=Decimal("3456789.12"))
    client.force_login(manager)

    body = client.get(reverse("customers:list")).content.decode()

    assert "345.68万元" in body
    assert "3,456,789.12" not in body


def test_roster_list_full_amount_in_english(client, users):
    manager = prefer(users["manager_a"], language="en", in_wan=True)
    CustomerFactory(branch=manager.branch, client_manager=manager, aum=Decimal("3456789.12"))
    client.force_login(manager)

    body = client.get(reverse("customers:list")).content.decode()

    assert "3,456,789.12" in body
    assert "万元" not in body


def test_roster_export_keeps_raw_amount(client, users):
    manager = prefer(users["manager_a"], language="zh-hans", in_wan=True)
    CustomerFactory(branch=manager.branch, client_manager=manager, aum=Decimal("3456789.12"))
    client.force_login(manager)

    response = client.get(reverse("customers:list"), {"_export": "csv"})
    content = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))

    assert response.status_code == HTTPStatus.OK
    assert "3456789.12" in rows[1]
    assert "万元" not in content.decode("utf-8-sig")


def test_customer_detail_shows_wan(client, users):
    manager = prefer(users["manager_a"], language="zh-hans", in_wan=True)
    customer = CustomerFactory(branch=manager.branch, client_manager=manager, aum=Decimal("120000"))
    client.force_login(manager)

    body = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert "12.00万元" in body


def test_analysis_roster_aum_shows_wan(client, users):
    supervisor = prefer(users["supervisor_a"], language="zh-hans", in_wan=True)
    CustomerFactory(branch=users["manager_a"].branch, client_manager=users["manager_a"], aum=Decimal("2500000"))
    client.force_login(supervisor)

    response = client.get(reverse("dashboard:next_campaign_analysis"))

    assert response.status_code == HTTPStatus.OK
    assert "250.00万元" in response.content.decode()


def test_preferences_page_saves_wan(client, users):
    manager = users["manager_a"]
    client.force_login(manager)

    page = client.get(reverse("reminders:preferences")).content.decode()
    response = client.post(
        reverse("reminders:preferences"), {"language": "zh-hans", "receive_digest": "on", "amount_in_wan": "on"}
    )

    manager.refresh_from_db()
    assert 'name="amount_in_wan"' in page
    assert response.status_code == HTTPStatus.FOUND
    assert manager.amount_in_wan is True
    assert manager.receive_digest is True


def test_preferences_page_clears_wan(client, users):
    manager = prefer(users["manager_a"], language="zh-hans", in_wan=True)
    client.force_login(manager)

    client.post(reverse("reminders:preferences"), {"language": "zh-hans"})

    manager.refresh_from_db()
    assert manager.amount_in_wan is False


@pytest.mark.parametrize(
    ("language", "format_name", "expected"),
    [
        ("zh-hans", "DATE_FORMAT", "2026年3月5日"),
        ("zh-hans", "SHORT_DATE_FORMAT", "2026-03-05"),
        ("en", "DATE_FORMAT", "March 5, 2026"),
        ("en", "SHORT_DATE_FORMAT", "2026-03-05"),
    ],
)
def test_date_formats(language, format_name, expected):
    with translation.override(language):
        assert date_format(datetime.date(2026, 3, 5), format_name) == expected

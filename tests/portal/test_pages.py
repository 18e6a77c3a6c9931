from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_forbidden_page_in_layout(client, users):
    client.force_login(users["admin"])
    response = client.get(reverse("customers:list"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Access denied" in response.content.decode()
    assert "navbar" in response.content.decode()


def test_not_found_page_in_chinese(client, users):
    manager = users["manager_a"]
    manager.language = "zh-hans"
    manager.save(update_fields=["language"])
    client.force_login(manager)
    response = client.get("/customers/999999/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "页面不存在" in response.content.decode()


def test_login_applies_saved_language(client, users):
    manager = users["manager_a"]
    manager.language = "zh-hans"
    manager.save()
    response = client.post(reverse("login"), {"username": manager.username, "password": "portal-test-pass"})
    assert response.status_code == HTTPStatus.FOUND
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


def test_language_button_uses_own_name(client):
    chinese = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">English</button>" in chinese
    assert ">简体中文</button>" in english

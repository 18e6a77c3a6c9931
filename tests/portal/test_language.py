"""Which language a page is in: the browser's for the sign-in page, the user's own after sign-in."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from portal.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "portal-test-pass"
MY_TASKS_CHINESE = "<title>我的任务"
MY_TASKS_ENGLISH = "<title>My tasks"


def test_login_page_follows_accept_language():
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").get(reverse("login"))
    english = Client(HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").get(reverse("login"))

    assert chinese["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert english["Content-Language"] == "en"
    assert '<html lang="en">' in english.content.decode()


def test_login_page_without_accept_language_uses_default():
    response = Client().get(reverse("login"))

    assert response["Content-Language"] == settings.LANGUAGE_CODE


def test_language_switch_overrides_browser_on_login_page():
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    switched = browser.post(reverse("language_switch"), {"language": "zh-hans", "next": reverse("login")})
    response = browser.get(reverse("login"))

    assert switched.status_code == HTTPStatus.FOUND
    assert response["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()


def test_user_language_beats_cookie_and_browser(users):
    manager = users["manager_a"]
    manager.language = "zh-hans"
    manager.save(update_fields=["language"])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    browser.force_login(manager)

    response = browser.get(reverse("campaigns:my_tasks"))

    assert response["Content-Language"] == "zh-hans"
    assert MY_TASKS_CHINESE in response.content.decode()


def test_user_language_applied_on_every_request(users):
    manager = users["manager_a"]
    browser = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    browser.force_login(manager)
    first = browser.get(reverse("campaigns:my_tasks"))

    # An administrator changes the language; the open session follows on its next request.
    User.objects.filter(pk=manager.pk).update(language="zh-hans")
    second = browser.get(reverse("campaigns:my_tasks"))

    assert MY_TASKS_ENGLISH in first.content.decode()
    assert MY_TASKS_CHINESE in second.content.decode()


def test_sign_in_applies_saved_language(users):
    manager = users["manager_a"]
    manager.language = "zh-hans"
    manager.save(update_fields=["language"])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    login_page = browser.get(reverse("login"))
    signed_in = browser.post(reverse("login"), {"username": manager.username, "password": PASSWORD}, follow=True)

    assert login_page["Content-Language"] == "en"
    assert signed_in.status_code == HTTPStatus.OK
    assert MY_TASKS_CHINESE in signed_in.content.decode()
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


def test_language_switch_changes_signed_in_pages(users):
    manager = users["manager_a"]
    browser = Client()
    browser.force_login(manager)

    browser.post(reverse("language_switch"), {"language": "zh-hans", "next": reverse("campaigns:my_tasks")})
    response = browser.get(reverse("campaigns:my_tasks"))

    manager.refresh_from_db()
    assert manager.language == "zh-hans"
    assert MY_TASKS_CHINESE in response.content.decode()


def test_invalid_saved_language_falls_back(users):
    manager = users["manager_a"]
    User.objects.filter(pk=manager.pk).update(language="xx")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    browser.force_login(manager)

    response = browser.get(reverse("campaigns:my_tasks"))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Language"] == "en"

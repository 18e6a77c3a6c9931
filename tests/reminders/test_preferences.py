"""Every user's reminder preferences: language and the morning digest."""

from http import HTTPStatus

import pytest
from django.conf import settings

from campaigns.reminders.preferences import reminder_preferences_update

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.reminders.urls")]

PREFERENCES_URL = "/reminders/preferences/"


def test_preferences_need_login(client):
    response = client.get(PREFERENCES_URL)

    assert response.status_code == HTTPStatus.FOUND
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ["manager_a", "supervisor_a", "platform", "admin"])
def test_preferences_page_for_every_role(client, users, role):
    client.force_login(users[role])

    response = client.get(PREFERENCES_URL)

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].initial == {"language": "en", "receive_digest": True, "amount_in_wan": False}


def test_preferences_saved(client, users, zh_hans_catalog):
    manager = users["manager_a"]
    client.force_login(manager)

    response = client.post(PREFERENCES_URL, {"language": "zh-hans"}, follow=True)

    manager.refresh_from_db()
    assert manager.language == "zh-hans"
    assert manager.receive_digest is False
    assert response.redirect_chain == [(PREFERENCES_URL, HTTPStatus.FOUND)]
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "您的提醒设置已保存。" in response.content.decode()


def test_invalid_language_writes_nothing(client, users):
    manager = users["manager_a"]
    client.force_login(manager)

    response = client.post(PREFERENCES_URL, {"language": "fr", "receive_digest": "on"})

    assert response.status_code == HTTPStatus.OK
    assert "language" in response.context["form"].errors
    manager.refresh_from_db()
    assert (manager.language, manager.receive_digest) == ("en", True)


def test_service_rejects_unknown_language(users):
    with pytest.raises(ValueError, match="Invalid language 'fr': expected one of zh-hans, en"):
        reminder_preferences_update(user=users["manager_a"], language="fr", receive_digest=True)

    users["manager_a"].refresh_from_db()
    assert users["manager_a"].language == "en"

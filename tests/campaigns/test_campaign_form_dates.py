import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign

pytestmark = pytest.mark.django_db


def campaign_data(starts_on, due_on):
    return {
        "name": "Year-end review",
        "objective": "Review maturing deposits",
        "talking_points": "",
        "starts_on": starts_on.isoformat(),
        "due_on": due_on.isoformat(),
    }


def test_campaign_due_in_past_rejected(client, users):
    client.force_login(users["platform"])
    long_ago = datetime.date(2020, 1, 1)
    response = client.post(reverse("campaigns:create"), campaign_data(long_ago, long_ago + datetime.timedelta(days=1)))
    assert response.status_code == HTTPStatus.OK
    assert "is in the past" in response.content.decode()
    assert not Campaign.objects.exists()


def test_campaign_due_today_accepted(client, users):
    client.force_login(users["platform"])
    today = timezone.localdate()
    response = client.post(reverse("campaigns:create"), campaign_data(today, today))
    assert response.status_code == HTTPStatus.FOUND
    assert Campaign.objects.count() == 1

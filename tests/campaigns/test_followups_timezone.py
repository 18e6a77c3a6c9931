""""Today" and "overdue" follow the bank's day in Asia/Shanghai, not the UTC date of the server.

The clock is frozen at 16:30 UTC on 6 December 2026, which is already 00:30 on 7 December in
Shanghai: every date below is the Shanghai one."""

import datetime
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import bulk
from campaigns.filters import overdue_q
from campaigns.followups import followups_create_due
from campaigns.models import FollowUpTask
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

FROZEN_UTC = datetime.datetime(2026, 12, 6, 16, 30, tzinfo=datetime.UTC)
SHANGHAI_TODAY = datetime.date(2026, 12, 7)
UTC_TODAY = datetime.date(2026, 12, 6)


@pytest.fixture
def frozen_clock():
    with mock.patch("django.utils.timezone.now", return_value=FROZEN_UTC):
        yield


def test_localdate_is_shanghai_day(frozen_clock):
    assert timezone.localdate() == SHANGHAI_TODAY
    assert FROZEN_UTC.date() == UTC_TODAY


def test_overdue_uses_shanghai_day(frozen_clock, client, users):
    manager = users["manager_a"]
    due_yesterday = TaskFactory(assignee=manager, due_on=UTC_TODAY)
    due_today = TaskFactory(assignee=manager, due_on=SHANGHAI_TODAY)

    assert set(FollowUpTask.objects.filter(overdue_q()).values_list("pk", flat=True)) == {due_yesterday.pk}

    client.force_login(manager)
    page = client.get(reverse("campaigns:my_tasks"))
    overdue = {task.pk: task.is_overdue for task in page.context["page"]}
    assert overdue == {due_yesterday.pk: True, due_today.pk: False}
    assert client.get(reverse("campaigns:task_detail", args=[due_yesterday.pk])).context["is_overdue"] is True
    assert client.get(reverse("campaigns:task_detail", args=[due_today.pk])).context["is_overdue"] is False


def test_followup_job_uses_shanghai_day(frozen_clock, users):
    source = TaskFactory(assignee=users["manager_a"], status="done", next_follow_up_on=SHANGHAI_TODAY)

    assert followups_create_due().created == 1

    assert FollowUpTask.objects.get(previous_task=source).due_on == SHANGHAI_TODAY


def test_bulk_extend_rejects_utc_today(frozen_clock, users):
    task = TaskFactory(assignee=users["manager_a"], due_on=UTC_TODAY - datetime.timedelta(days=3))
    with pytest.raises(bulk.BulkInvalid, match="in the past"):
        bulk.bulk_extend_due(actor=users["platform"], snapshot={task.pk: task.version}, due_on=UTC_TODAY, reason="x")

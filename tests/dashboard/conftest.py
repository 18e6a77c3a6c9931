"""A hand-built set of tasks whose dashboard figures are worked out by hand in the tests.

Campaign X has six tasks and campaign Y two, spread over client managers in branch A,
sub-branch A1 and branch B (see the `users` fixture in tests/conftest.py)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from customers.models import Tier
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_datetime(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=SHANGHAI)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def tiers(db):
    """The default tiers, created by a data migration."""
    return {"gold": Tier.objects.get(code="gold"), "private": Tier.objects.get(code="private")}


@pytest.fixture
def dataset(users, branch_tree, tiers, today):
    """Eight tasks; the comment on each line gives the facts the expected figures rest on."""
    campaign_x = CampaignFactory(name="Campaign X", owner=users["platform"])
    campaign_y = CampaignFactory(name="Campaign Y", owner=users["platform"])
    manager_a, manager_a1, manager_b = users["manager_a"], users["manager_a1"], users["manager_b"]

    def customer(branch, **kwargs):
        return CustomerFactory(branch=branch_tree[branch], **kwargs)

    now = timezone.now()
    late_day = today - datetime.timedelta(days=10)
    tasks = {
        # Verified on time, converted; age 25, gold, management, phone.
        1: TaskFactory(
            campaign=campaign_x, assignee=manager_a, status="verified", outcome="converted", channel="phone",
            due_on=today + datetime.timedelta(days=5), completed_at=now,
            customer=customer("a", age=25, tier=tiers["gold"], occupation="management"),
        ),
        # Done at 07:00 Shanghai the day after its due date (still the due date in UTC): late.
        # Age 35 from the birth date only, gold, management, phone.
        2: TaskFactory(
            campaign=campaign_x, assignee=manager_a, status="done", outcome="interested", channel="phone",
            due_on=late_day, completed_at=local_datetime(late_day + datetime.timedelta(days=1), 7),
            customer=customer(
                "a", age=None, birth_date=today.replace(year=today.year - 36) + datetime.timedelta(days=1),
                tier=tiers["gold"], occupation="management",
            ),
        ),
        # Open and overdue; age 45, no tier, technician, no channel.
        3: TaskFactory(
            campaign=campaign_x, assignee=manager_a1, status="open", outcome="", channel="",
            due_on=today - datetime.timedelta(days=2),
            customer=customer("a1", age=45, occupation="technician"),
        ),
        # In progress, not yet due; age 55, no tier, technician, WeChat.
        4: TaskFactory(
            campaign=campaign_x, assignee=manager_a1, status="in_progress", outcome="reached", channel="wechat",
            due_on=today + datetime.timedelta(days=3),
            customer=customer("a1", age=55, occupation="technician"),
        ),
        # Done on time, converted; age 65, private banking, no occupation, visit.
        5: TaskFactory(
            campaign=campaign_x, assignee=manager_b, status="done", outcome="converted", channel="visit",
            due_on=today + datetime.timedelta(days=1), completed_at=now,
            customer=customer("b", age=65, tier=tiers["private"], occupation=""),
        ),
        # Returned and overdue; no age, no tier, technician, phone.
        6: TaskFactory(
            campaign=campaign_x, assignee=manager_b, status="returned", outcome="declined", channel="phone",
            due_on=today - datetime.timedelta(days=1),
            customer=customer("b", age=None, occupation="technician"),
        ),
        # Open, not yet due.
        7: TaskFactory(
            campaign=campaign_y, assignee=manager_a, status="open",
            due_on=today + datetime.timedelta(days=7), customer=customer("a"),
        ),
        # Verified on time, not reachable.
        8: TaskFactory(
            campaign=campaign_y, assignee=manager_b, status="verified", outcome="not_reachable", channel="phone",
            due_on=today + datetime.timedelta(days=2), completed_at=now, customer=customer("b"),
        ),
    }
    return {"x": campaign_x, "y": campaign_y, "tasks": tasks}

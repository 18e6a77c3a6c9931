import io

import pytest
from django.core.management import call_command

from campaigns.models import FollowUpTask
from customers.models import Customer
from portal.models import Role, User

pytestmark = pytest.mark.django_db


def test_seed_demo_covers_roles_and_statuses():
    output = io.StringIO()
    call_command("seed_demo", "--customers", "120", stdout=output)

    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert Customer.objects.count() == 120
    assert set(FollowUpTask.objects.values_list("status", flat=True)) == set(FollowUpTask.Status.values)
    assert "portal-demo-2026" in output.getvalue()
    assert User.objects.get(username="cm_bj1").check_password("portal-demo-2026")


def test_seed_demo_if_empty_keeps_data(users):
    output = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=output)
    assert not Customer.objects.exists()
    assert "already has users" in output.getvalue()

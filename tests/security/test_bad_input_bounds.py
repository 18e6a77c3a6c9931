"""Out-of-range and non-ASCII numbers in query strings and forms get a message, never a 500."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from campaigns import bulk
from campaigns.forms import CampaignForm
from campaigns.handover import handover_apply, handover_preview
from customers.filters import RosterChangeField
from portal.pagination import MAX_PAGE_NUMBER
from tests.factories import CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("item", ["²:1", "1:²", "١:1", "99999999999999999999:1", "1:99999999999999999999"])
def test_bulk_snapshot_rejects_bad_numbers(item):
    with pytest.raises(bulk.BulkInvalid, match="is invalid"):
        bulk.bulk_snapshot_decode(item)


def test_bulk_view_bad_snapshot_is_400(client, users):
    client.force_login(users["platform"])

    response = client.post(reverse("campaigns:task_bulk"), {"action": "cancel", "reason": "Test", "snapshot": "²:1"})

    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("value", ["99999999999999999999:new", "9223372036854775808:missing"])
def test_roster_change_rejects_huge_id(value):
    with pytest.raises(Exception, match="Invalid roster diff list"):
        RosterChangeField(required=False).clean(value)


def test_roster_list_huge_roster_change_id(client, users):
    client.force_login(users["platform"])

    response = client.get(reverse("customers:list"), {"roster_change": "99999999999999999999:new"})

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("page", [str(MAX_PAGE_NUMBER + 1), "99999999999999999999"])
def test_audit_log_huge_page(client, users, page):
    client.force_login(users["admin"])

    response = client.get(reverse("audit_log"), {"page": page})

    assert response.status_code == HTTPStatus.OK


def test_audit_log_date_out_of_range(client, users):
    client.force_login(users["admin"])

    response = client.get(reverse("audit_log"), {"created_at_after": "0001-01-01", "created_at_before": "9999-12-31"})

    assert response.status_code == HTTPStatus.OK
    assert "choose a date between 1900 and 2999" in response.content.decode()


@pytest.mark.parametrize(("field", "value"), [("fatigue_contact_days", 3651), ("fatigue_max_open_tasks", 1001)])
def test_campaign_form_fatigue_upper_bound(field, value):
    form = CampaignForm(data={field: value})

    form.is_valid()

    assert field in form.errors


def test_handover_long_leaver_name(users, branch_tree):
    leaver = users["manager_a1"]
    leaver.first_name = "名" * 150
    leaver.last_name = "长" * 150
    leaver.is_active = False
    leaver.save()
    UserFactory(username="cm_colleague", branch=leaver.branch)
    customer = CustomerFactory(branch=leaver.branch, client_manager=leaver)
    TaskFactory(customer=customer, assignee=leaver)
    plan = handover_preview(leaver=leaver)

    result = handover_apply(leaver=leaver, actor=users["platform"], fingerprint=plan.fingerprint)

    assert result.campaign is not None
    assert len(result.campaign.name) <= 200

"""What the audit trail records: changes of customers, tasks and campaigns with masked values,
exports, sign-ins, refused access, and who, when and from which address."""

import datetime
import json
from http import HTTPStatus

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, FollowUpTask
from customers.models import Customer
from portal.audit import AuditMiddleware, audit_bulk
from portal.models import AuditEvent
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"
EMAIL = "wang.fang@mail.example"
PASSWORD = "portal-test-pass"
PROXY_SETTINGS = {
    "AXES_IPWARE_PROXY_COUNT": 0,
    "AXES_IPWARE_META_PRECEDENCE_ORDER": ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"],
}


def events(action, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def as_request(user, function, remote_addr="10.1.2.3", **headers):
    """Run `function` the way a view runs it: inside AuditMiddleware, with `user` signed in."""
    request = RequestFactory().post("/somewhere/", REMOTE_ADDR=remote_addr, **headers)
    request.user = user

    def view(request):
        function()
        return HttpResponse("ok")

    return AuditMiddleware(view)(request)


@pytest.fixture
def customer(users, branch_tree):
    return CustomerFactory(
        customer_no="A0001", name="王芳芳", phone=PHONE, id_number=ID_NUMBER, email=EMAIL,
        branch=branch_tree["a"], client_manager=users["manager_a"],
    )


def test_customer_create_masked(customer):
    [event] = events(AuditEvent.Action.CREATE, object_type="customers.customer")
    assert event.object_id == str(customer.pk)
    changes = event.detail["changes"]
    assert changes["phone"] == [None, "138****5678"]
    assert changes["id_number"] == [None, "1101**********002X"]
    assert changes["email"] == [None, "w***@mail.example"]
    assert changes["customer_no"] == [None, "A0001"]
    assert changes["name"] == [None, "王**"]
    stored = json.dumps(event.detail, ensure_ascii=False)
    for secret in (PHONE, ID_NUMBER, EMAIL, "王芳芳"):
        assert secret not in stored


def test_customer_change_only_changed_fields(customer, users):
    customer.phone = "13900001111"
    customer.aum = customer.aum + 1
    as_request(users["platform"], customer.save)

    [event] = events(AuditEvent.Action.UPDATE, object_type="customers.customer")
    assert set(event.detail["changes"]) == {"phone", "aum"}
    assert event.detail["changes"]["phone"] == ["138****5678", "139****1111"]
    assert event.actor == users["platform"]
    assert event.ip_address == "10.1.2.3"


def test_save_without_change_records_nothing(customer):
    customer.save()
    assert events(AuditEvent.Action.UPDATE) == []


def test_customer_update_fields_compared_only(customer):
    Customer.objects.filter(pk=customer.pk).update(name="Changed elsewhere")
    customer.aum = customer.aum + 5
    customer.save(update_fields=["aum"])
    [event] = events(AuditEvent.Action.UPDATE, object_type="customers.customer")
    assert set(event.detail["changes"]) == {"aum"}


def test_customer_extra_records_keys_only(customer):
    customer.extra = {"address": "1 Secret Road"}
    customer.save()
    [event] = events(AuditEvent.Action.UPDATE, object_type="customers.customer")
    assert event.detail["changes"]["extra"] == {"changed_keys": ["address"]}
    assert "Secret Road" not in json.dumps(event.detail)


def test_customer_reassignment_is_assign(customer, users):
    customer.client_manager = users["manager_a1"]
    as_request(users["supervisor_a"], customer.save)
    [event] = events(AuditEvent.Action.ASSIGN, object_type="customers.customer")
    assert event.detail["changes"]["client_manager"] == [users["manager_a"].pk, users["manager_a1"].pk]
    assert event.actor == users["supervisor_a"]


def test_customer_delete_masked(customer):
    pk = customer.pk
    customer.delete()
    [event] = events(AuditEvent.Action.DELETE, object_type="customers.customer")
    assert event.object_id == str(pk)
    assert event.detail["changes"]["phone"] == ["138****5678", None]
    assert PHONE not in json.dumps(event.detail)


def test_task_lifecycle_recorded(customer, users):
    task = TaskFactory(customer=customer, assignee=users["manager_a"])
    [created] = events(AuditEvent.Action.CREATE, object_type="campaigns.followuptask")
    assert created.object_id == str(task.pk)
    assert created.detail["changes"]["assignee"] == [None, users["manager_a"].pk]

    task.status = FollowUpTask.Status.IN_PROGRESS
    task.save(update_fields=["status"])
    [changed] = events(AuditEvent.Action.UPDATE, object_type="campaigns.followuptask")
    assert changed.detail["changes"] == {"status": ["open", "in_progress"]}

    task.assignee = users["manager_a1"]
    task.save()
    [reassigned] = events(AuditEvent.Action.ASSIGN, object_type="campaigns.followuptask")
    assert reassigned.detail["changes"]["assignee"] == [users["manager_a"].pk, users["manager_a1"].pk]

    task_pk = task.pk
    task.delete()
    [deleted] = events(AuditEvent.Action.DELETE, object_type="campaigns.followuptask")
    assert deleted.object_id == str(task_pk)


def test_campaign_change_and_cascade_delete(customer, users):
    campaign = CampaignFactory(owner=users["platform"], name="Spring review")
    task = TaskFactory(campaign=campaign, customer=customer, assignee=users["manager_a"])
    [created] = events(AuditEvent.Action.CREATE, object_type="campaigns.campaign")
    assert created.detail["changes"]["name"] == [None, "Spring review"]

    campaign.due_on = campaign.due_on + datetime.timedelta(days=1)
    campaign.save()
    [changed] = events(AuditEvent.Action.UPDATE, object_type="campaigns.campaign")
    assert list(changed.detail["changes"]) == ["due_on"]

    Campaign.objects.filter(pk=campaign.pk).delete()
    # Deleting the campaign deletes its tasks, and each one is recorded.
    assert [event.object_id for event in events(AuditEvent.Action.DELETE, object_type="campaigns.followuptask")] == [
        str(task.pk)
    ]
    assert len(events(AuditEvent.Action.DELETE, object_type="campaigns.campaign")) == 1


def test_rolled_back_change_leaves_no_entry(customer):
    with pytest.raises(RuntimeError), transaction.atomic():
        customer.phone = "13900002222"
        customer.save()
        raise RuntimeError("roll back")
    assert events(AuditEvent.Action.UPDATE) == []


def test_audit_bulk_records_count(users):
    event = audit_bulk(users["platform"], AuditEvent.Action.CREATE, FollowUpTask, 120, {"campaign": 7})
    assert event.object_type == "campaigns.followuptask"
    assert event.object_id == ""
    assert event.detail == {"campaign": 7, "count": 120, "bulk": True}
    assert event.actor == users["platform"]


def test_time_stored_aware(customer):
    event = events(AuditEvent.Action.CREATE)[0]
    assert timezone.is_aware(event.created_at)


def test_export_recorded(client, users, customer):
    client.force_login(users["platform"])
    response = client.get(reverse("customers:list"), {"_export": "csv", "q": "A0001"}, REMOTE_ADDR="10.9.8.7")
    assert response.status_code == HTTPStatus.OK
    b"".join(response.streaming_content)
    [event] = events(AuditEvent.Action.EXPORT)
    assert event.actor == users["platform"]
    assert event.object_type == "portal.exportlog"
    assert event.detail["format"] == "csv"
    assert event.detail["page"] == "customers:list"
    assert event.detail["filter"] == "q=A0001"
    assert event.ip_address == "10.9.8.7"


def test_login_success_recorded(client, users):
    response = client.post(reverse("login"), {"username": "cm_a", "password": PASSWORD}, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == HTTPStatus.FOUND
    [event] = events(AuditEvent.Action.LOGIN)
    assert event.actor == users["manager_a"]
    assert event.ip_address == "10.0.0.5"
    assert event.detail["backend"].endswith("ModelBackend")


def test_login_failure_keeps_username_only(client, users):
    response = client.post(reverse("login"), {"username": "cm_a", "password": "Wrong-Secret-42"}, REMOTE_ADDR="10.0.0.6")
    assert response.status_code == HTTPStatus.OK
    [event] = events(AuditEvent.Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.detail == {"username": "cm_a", "locked_out": False}
    assert event.ip_address == "10.0.0.6"
    assert "Wrong-Secret-42" not in json.dumps(event.detail)


def test_login_failure_for_unknown_username(client, db):
    client.post(reverse("login"), {"username": "nobody", "password": "x"})
    [event] = events(AuditEvent.Action.LOGIN_FAILED)
    assert event.detail["username"] == "nobody"


@override_settings(**PROXY_SETTINGS)
def test_login_address_behind_proxy(client, users):
    client.post(
        reverse("login"), {"username": "cm_a", "password": "wrong"},
        REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.99.0.1, 10.20.1.5",
    )
    [event] = events(AuditEvent.Action.LOGIN_FAILED)
    # The proxy appended the client address; the entry left of it came from the client.
    assert event.ip_address == "10.20.1.5"


def test_forwarded_for_ignored_without_proxy(client, users):
    client.post(
        reverse("login"), {"username": "cm_a", "password": "wrong"},
        REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.20.1.5",
    )
    [event] = events(AuditEvent.Action.LOGIN_FAILED)
    assert event.ip_address == "192.0.2.10"


def test_logout_recorded(client, users):
    client.force_login(users["manager_a"])
    client.post(reverse("logout"))
    [event] = events(AuditEvent.Action.LOGOUT)
    assert event.actor == users["manager_a"]


def test_permission_denied_recorded(client, users):
    client.force_login(users["manager_a"])
    response = client.get(reverse("audit_log"), REMOTE_ADDR="10.3.3.3")
    assert response.status_code == HTTPStatus.FORBIDDEN
    [event] = events(AuditEvent.Action.ACCESS_DENIED)
    assert event.actor == users["manager_a"]
    assert event.object_type == "page"
    assert event.object_id == "audit_log"
    assert event.ip_address == "10.3.3.3"
    assert event.detail == {"path": "/audit/", "method": "GET", "status": 403, "reason": "permission_denied"}


def test_csrf_failure_recorded(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["manager_a"])
    response = client.post(reverse("logout"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    [event] = events(AuditEvent.Action.ACCESS_DENIED)
    assert event.detail["reason"] == "csrf"


def test_out_of_scope_recorded_not_found(client, users, customer):
    client.force_login(users["manager_b"])
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == HTTPStatus.NOT_FOUND
    [event] = events(AuditEvent.Action.NOT_FOUND)
    assert event.actor == users["manager_b"]
    assert event.object_id == "customers:detail"
    assert event.detail["arguments"] == {"pk": str(customer.pk)}


def test_unknown_url_not_recorded(client, users):
    client.force_login(users["manager_b"])
    assert client.get("/no-such-page/").status_code == HTTPStatus.NOT_FOUND
    assert events(AuditEvent.Action.NOT_FOUND) == []


def test_allowed_page_records_nothing(client, users, customer):
    client.force_login(users["manager_a"])
    before = AuditEvent.objects.count()
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == HTTPStatus.OK
    assert AuditEvent.objects.count() == before


def test_entry_cannot_be_changed_or_deleted(customer):
    event = events(AuditEvent.Action.CREATE)[0]
    event.object_id = "0"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    event.refresh_from_db()
    assert event.object_id == str(customer.pk)

from http import HTTPStatus

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from tests.factories import CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(users, branch_tree):
    return CustomerFactory(
        customer_no="R0001", phone="13812345678", id_number="11010519491231002X",
        branch=branch_tree["a"], client_manager=users["manager_a"],
    )


def reveal(client, customer, field):
    return client.post(reverse("customers:reveal", args=[customer.pk, field]))


def test_reveal_phone_by_own_manager_recorded(client, users, customer):
    client.force_login(users["manager_a"])
    response = reveal(client, customer, "phone")
    assert response.status_code == HTTPStatus.OK
    assert 'href="tel:13812345678"' in response.content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (event.actor, event.action, event.object_id) == (users["manager_a"], "reveal", str(customer.pk))
    assert event.detail == {"field": "phone"}
    assert event.ip_address == "127.0.0.1"


def test_reveal_id_number_forbidden_for_manager(client, users, customer):
    client.force_login(users["manager_a"])
    assert reveal(client, customer, "id_number").status_code == HTTPStatus.FORBIDDEN
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()


def test_reveal_id_number_by_platform(client, users, customer):
    client.force_login(users["platform"])
    response = reveal(client, customer, "id_number")
    assert "11010519491231002X" in response.content.decode()
    assert AuditEvent.objects.filter(actor=users["platform"], detail__field="id_number").count() == 1


@pytest.mark.parametrize("role_key", ["supervisor_a", "admin"])
def test_reveal_forbidden_roles(client, users, customer, role_key):
    client.force_login(users[role_key])
    assert reveal(client, customer, "phone").status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()


def test_reveal_other_managers_customer_404(client, users, customer):
    client.force_login(users["manager_b"])
    assert reveal(client, customer, "phone").status_code == HTTPStatus.NOT_FOUND
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()


def test_reveal_get_not_allowed(client, users, customer):
    client.force_login(users["manager_a"])
    response = client.get(reverse("customers:reveal", args=[customer.pk, "phone"]))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_reveal_unknown_field_forbidden(client, users, customer):
    client.force_login(users["platform"])
    assert reveal(client, customer, "aum").status_code == HTTPStatus.FORBIDDEN


def test_task_assignee_sees_unowned_customer(client, users, branch_tree):
    # A launch gives a customer without a client manager to a fallback branch's manager.
    orphan = CustomerFactory(branch=branch_tree["a"], client_manager=None, phone="13900000001")
    TaskFactory(customer=orphan, assignee=users["manager_a1"])
    client.force_login(users["manager_a1"])
    assert client.get(reverse("customers:detail", args=[orphan.pk])).status_code == HTTPStatus.OK
    assert reveal(client, orphan, "phone").status_code == HTTPStatus.OK
    client.force_login(users["manager_a"])
    assert client.get(reverse("customers:detail", args=[orphan.pk])).status_code == HTTPStatus.NOT_FOUND


def test_task_page_offers_show_button(client, users, customer):
    task = TaskFactory(customer=customer, assignee=users["manager_a"])
    client.force_login(users["manager_a"])
    body = client.get(reverse("campaigns:task_detail", args=[task.pk])).content.decode()
    assert reverse("customers:reveal", args=[customer.pk, "phone"]) in body
    assert "13812345678" not in body

from http import HTTPStatus

import pytest
from django.urls import reverse

from portal.audit import audit_record
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(users):
    return audit_record(actor=users["platform"], action=AuditEvent.Action.REVEAL, obj=users["manager_a"])


@pytest.fixture
def superuser_client(client, users):
    admin = users["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    return client


def test_audit_list_readable(superuser_client, event):
    response = superuser_client.get(reverse("admin:portal_auditevent_changelist"))
    assert response.status_code == HTTPStatus.OK
    assert "platform" in response.content.decode()


def test_audit_cannot_be_deleted(superuser_client, event):
    response = superuser_client.post(reverse("admin:portal_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_cannot_be_changed(superuser_client, event):
    response = superuser_client.post(
        reverse("admin:portal_auditevent_change", args=[event.pk]), {"action": "reveal", "object_id": "0"}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    event.refresh_from_db()
    assert event.object_id != "0"

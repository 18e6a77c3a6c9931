"""The audit log page at /audit/: administrators only, filters, export, constant query count,
and no request that changes an entry."""

import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from portal.audit import audit_write
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/audit/"


@pytest.fixture
def admin_client(client, users):
    client.force_login(users["admin"])
    return client


def add_events(count, **fields):
    values = {"action": AuditEvent.Action.REVEAL, "object_type": "customers.customer", "object_id": "1"} | fields
    AuditEvent.objects.bulk_create([AuditEvent(**values) for _ in range(count)])


def shown_ids(response):
    return [row.record.pk for row in response.context["table"].page.object_list]


def test_url_name():
    assert reverse("audit_log") == URL


@pytest.mark.parametrize("role_key", ["platform", "supervisor_a", "manager_a"])
def test_other_roles_forbidden(client, users, role_key):
    client.force_login(users[role_key])
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN
    assert client.get(URL, {"_export": "csv"}).status_code == HTTPStatus.FORBIDDEN


def test_anonymous_redirected_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


def test_administrator_reads_log(admin_client, users):
    audit_write(action=AuditEvent.Action.REVEAL, object_type="customers.customer", object_id=42,
                actor=users["platform"], detail={"field": "phone"})
    response = admin_client.get(URL)
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert "platform" in body
    assert "Revealed a full identifier" in body
    assert "field: phone" in body


def test_nav_link_for_administrator_only(client, users):
    client.force_login(users["admin"])
    assert f'href="{URL}"' in client.get(reverse("reminders:status")).content.decode()
    client.force_login(users["platform"])
    assert f'href="{URL}"' not in client.get(reverse("dashboard:index")).content.decode()


def test_time_shown_with_offset(admin_client, users):
    event = audit_write(action=AuditEvent.Action.LOGIN, object_type="portal.user", object_id=users["admin"].pk)
    local = timezone.localtime(event.created_at, timezone.get_fixed_timezone(8 * 60))
    body = admin_client.get(URL, {"action": "login"}).content.decode()
    assert local.strftime("%Y-%m-%d %H:%M:%S") + "+08:00" in body


def test_filters(admin_client, users):
    audit_write(action=AuditEvent.Action.REVEAL, object_type="customers.customer", object_id=7, actor=users["platform"])
    audit_write(action=AuditEvent.Action.EXPORT, object_type="portal.exportlog", object_id=8, actor=users["supervisor_a"])
    audit_write(action=AuditEvent.Action.LOGIN_FAILED, object_type="portal.user", detail={"username": "sup_a"})
    reveal, export, failed = AuditEvent.objects.order_by("id").filter(action__in=["reveal", "export", "login_failed"])
    AuditEvent.objects.filter(pk=failed.pk).update(ip_address="10.20.1.5")
    old = timezone.now() - datetime.timedelta(days=40)
    AuditEvent.objects.filter(pk=reveal.pk).update(created_at=old)

    def ids(**params):
        response = admin_client.get(URL, params)
        assert response.status_code == HTTPStatus.OK
        return set(shown_ids(response)) & {reveal.pk, export.pk, failed.pk}

    assert ids(action="reveal") == {reveal.pk}
    assert ids(object_type="portal.exportlog") == {export.pk}
    assert ids(object_type="customers.customer", object_id="7") == {reveal.pk}
    assert ids(object_id="8") == {export.pk}
    # The username also finds failed sign-ins, which have no actor.
    assert ids(actor="SUP_A") == {export.pk, failed.pk}
    assert ids(ip_address="10.20.") == {failed.pk}
    assert ids(ip_address="10.20.1.5") == {failed.pk}
    today = timezone.localdate().isoformat()
    assert ids(created_at_after=today, created_at_before=today) == {export.pk, failed.pk}
    old_day = timezone.localtime(old).date().isoformat()
    assert ids(created_at_after=old_day, created_at_before=old_day) == {reveal.pk}


def test_invalid_filter_shows_nothing(admin_client, users):
    add_events(3)
    response = admin_client.get(URL, {"action": "no-such-action"})
    assert response.status_code == HTTPStatus.OK
    assert shown_ids(response) == []


def test_newest_first_and_paginated(admin_client, settings):
    settings.PORTAL_PAGE_SIZE = 5
    add_events(12)
    first_page = shown_ids(admin_client.get(URL))
    second_page = shown_ids(admin_client.get(URL, {"page": 2}))
    assert len(first_page) == 5
    assert first_page == sorted(first_page, reverse=True)
    assert max(second_page) < min(first_page)


def test_query_count_constant(admin_client, users, settings):
    settings.PORTAL_PAGE_SIZE = 25

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(URL).status_code == HTTPStatus.OK
        return queries.captured_queries

    add_events(10, actor=users["platform"])
    with_10 = page_queries()
    add_events(190, actor=users["supervisor_a"], action=AuditEvent.Action.EXPORT)
    with_200 = page_queries()
    assert len(with_200) == len(with_10)
    # The lazy paginator never counts the whole table.
    assert not any("COUNT(" in query["sql"].upper() for query in with_200)


def test_export_csv_with_offset(admin_client, users):
    audit_write(action=AuditEvent.Action.REVEAL, object_type="customers.customer", object_id=9,
                actor=users["platform"], detail={"field": "phone"})
    response = admin_client.get(URL, {"_export": "csv", "action": "reveal"})
    assert response.status_code == HTTPStatus.OK
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Time", "User", "Action", "Record type", "Record id", "IP address", "Detail"]
    assert len(rows) == 2
    assert rows[1][0].endswith("+08:00")
    assert rows[1][1:5] == ["platform", "Revealed a full identifier", "customer", "9"]
    assert rows[1][6] == "field: phone"
    # The export is itself on the audit trail.
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=users["admin"]).count() == 1


def test_export_xlsx(admin_client, users):
    add_events(3, actor=users["platform"])
    response = admin_client.get(URL, {"_export": "xlsx", "action": "reveal"})
    assert response.status_code == HTTPStatus.OK
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 4
    assert rows[1][0].endswith("+08:00")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_page_rejects_writes(admin_client, users, method):
    add_events(2)
    before = list(AuditEvent.objects.order_by("id").values())
    response = getattr(admin_client, method)(URL, {"action": "reveal", "object_id": "0"})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    after = list(AuditEvent.objects.order_by("id").values())
    assert after[: len(before)] == before


def test_admin_offers_no_write_path(admin_client, users):
    users["admin"].is_staff = users["admin"].is_superuser = True
    users["admin"].save()
    add_events(1)
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    before = list(AuditEvent.objects.order_by("id").values())
    responses = [
        admin_client.post(reverse("admin:portal_auditevent_add"), {"action": "login", "object_id": "1"}),
        admin_client.post(reverse("admin:portal_auditevent_change", args=[event.pk]), {"object_id": "0"}),
        admin_client.post(reverse("admin:portal_auditevent_delete", args=[event.pk]), {"post": "yes"}),
        admin_client.post(
            reverse("admin:portal_auditevent_changelist"),
            {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
        ),
    ]
    assert [response.status_code for response in responses[:3]] == [HTTPStatus.FORBIDDEN] * 3
    after = list(AuditEvent.objects.order_by("id").values())
    # The refused requests add ACCESS_DENIED entries but change none of the earlier ones.
    assert after[: len(before)] == before
    assert all(row["action"] == AuditEvent.Action.ACCESS_DENIED for row in after[len(before):])


def test_detail_shows_labels_not_codes():
    from campaigns.models import FollowUpTask
    from portal.audit_views import detail_summary

    event = AuditEvent(
        object_type="campaigns.followuptask",
        detail={"changes": {"status": ["returned", "in_progress"], "sampled_for_verification": [None, True]}},
    )
    page_event = AuditEvent(object_type="page", detail={"reason": "permission_denied"})

    summary = detail_summary(event)

    assert f"{FollowUpTask.Status.RETURNED.label} → {FollowUpTask.Status.IN_PROGRESS.label}" in summary
    assert "– → yes" in summary
    assert "returned" not in summary
    assert detail_summary(page_event).endswith("permission denied")

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import availability
from portal.models import Leave

pytestmark = pytest.mark.django_db


def days(offset):
    return timezone.localdate() + datetime.timedelta(days=offset)


def leave_data(manager, first, last, note=""):
    return {"user": manager.pk, "starts_on": days(first).isoformat(), "ends_on": days(last).isoformat(), "note": note}


@pytest.mark.parametrize("actor_key", ["platform", "supervisor_a"])
def test_leave_page_records_leave(client, users, actor_key):
    client.force_login(users[actor_key])

    response = client.post(reverse("campaigns:leave_list"), leave_data(users["manager_a1"], 1, 5, "Annual leave"))

    assert response.status_code == HTTPStatus.FOUND
    leave = Leave.objects.get()
    assert (leave.user, leave.starts_on, leave.ends_on, leave.note) == (users["manager_a1"], days(1), days(5), "Annual leave")


def test_leave_form_offers_active_managers_only(client, users):
    users["manager_a1"].is_active = False
    users["manager_a1"].save()
    client.force_login(users["platform"])

    form = client.get(reverse("campaigns:leave_list")).context["form"]

    offered = set(form.fields["user"].queryset)
    assert users["manager_a"] in offered
    assert users["manager_a1"] not in offered


def test_supervisor_cannot_record_outside_subtree(client, users):
    client.force_login(users["supervisor_a"])

    response = client.post(reverse("campaigns:leave_list"), leave_data(users["manager_b"], 1, 2))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "user" in response.context["form"].errors
    assert not Leave.objects.exists()
    with pytest.raises(availability.LeaveInvalid):
        availability.leave_create(
            actor=users["supervisor_a"], manager=users["manager_b"], starts_on=days(1), ends_on=days(2)
        )


@pytest.mark.parametrize("role_key", ["manager_a", "admin"])
def test_leave_page_forbidden(client, users, role_key):
    client.force_login(users[role_key])
    assert client.get(reverse("campaigns:leave_list")).status_code == HTTPStatus.FORBIDDEN


def test_overlapping_leave_rejected(client, users):
    Leave.objects.create(user=users["manager_a"], starts_on=days(3), ends_on=days(6))
    client.force_login(users["platform"])

    response = client.post(reverse("campaigns:leave_list"), leave_data(users["manager_a"], 6, 8))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    expected = f"cm_a already has leave from {days(3).isoformat()} to {days(6).isoformat()}, which overlaps."
    assert expected in response.content.decode()
    assert Leave.objects.count() == 1
    # Adjacent leave does not overlap.
    assert client.post(reverse("campaigns:leave_list"), leave_data(users["manager_a"], 7, 8)).status_code == HTTPStatus.FOUND


def test_reversed_leave_rejected(client, users):
    client.force_login(users["platform"])
    response = client.post(reverse("campaigns:leave_list"), leave_data(users["manager_a"], 5, 2))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "ends_on" in response.context["form"].errors
    assert not Leave.objects.exists()


def test_leave_list_scope_and_period(client, users):
    past = Leave.objects.create(user=users["manager_a"], starts_on=days(-10), ends_on=days(-5))
    current = Leave.objects.create(user=users["manager_a1"], starts_on=days(-1), ends_on=days(1))
    upcoming = Leave.objects.create(user=users["manager_a"], starts_on=days(3), ends_on=days(4))
    Leave.objects.create(user=users["manager_b"], starts_on=days(0), ends_on=days(2))
    client.force_login(users["supervisor_a"])
    url = reverse("campaigns:leave_list")

    def listed(params=None):
        return [row.record for row in client.get(url, params or {}).context["table"].rows]

    assert listed() == [current, upcoming]
    assert listed({"period": "current"}) == [current]
    assert listed({"period": "past"}) == [past]
    assert listed({"period": "all"}) == [past, current, upcoming]


def test_leave_list_exports(client, users):
    Leave.objects.create(user=users["manager_a"], starts_on=days(1), ends_on=days(2), note="Training")
    client.force_login(users["platform"])

    response = client.get(reverse("campaigns:leave_list"), {"_export": "csv"})

    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Training" in content
    assert "Delete" not in content


def test_leave_delete_scope(client, users):
    leave_b = Leave.objects.create(user=users["manager_b"], starts_on=days(1), ends_on=days(2))
    leave_a = Leave.objects.create(user=users["manager_a"], starts_on=days(1), ends_on=days(2))
    client.force_login(users["supervisor_a"])

    assert client.post(reverse("campaigns:leave_remove", args=[leave_b.pk])).status_code == HTTPStatus.NOT_FOUND
    assert client.post(reverse("campaigns:leave_remove", args=[leave_a.pk])).status_code == HTTPStatus.FOUND
    assert list(Leave.objects.all()) == [leave_b]


def test_admin_edits_capacity_and_leave(client, users):
    users["admin"].is_staff = True
    users["admin"].is_superuser = True
    users["admin"].save()
    client.force_login(users["admin"])

    page = client.get(reverse("admin:portal_user_change", args=[users["manager_a"].pk]))
    assert page.status_code == HTTPStatus.OK
    assert 'name="capacity"' in page.content.decode()
    assert 'name="leaves-TOTAL_FORMS"' in page.content.decode()
    assert client.get(reverse("admin:portal_leave_changelist")).status_code == HTTPStatus.OK
    assert client.get(reverse("admin:portal_leave_add")).status_code == HTTPStatus.OK

"""The main forms, submitted with errors: every input keeps its value and has a label, the error
is next to the field and tied to it with aria-describedby, and the page has one h1."""

import datetime
from html.parser import HTMLParser
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

pytestmark = pytest.mark.django_db

MARKER = "kept-input-§"


class FormPage(HTMLParser):
    """Collects the h1 count, the labels, the form controls and the element ids of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.h1_count = 0
        self.label_targets = set()
        self.controls = []
        self.elements = {}
        self.open_labels = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.elements[attributes["id"]] = (tag, attributes)
        if tag == "h1":
            self.h1_count += 1
        elif tag == "label":
            self.open_labels += 1
            if attributes.get("for"):
                self.label_targets.add(attributes["for"])
        elif tag in {"input", "select", "textarea"} and attributes.get("type") not in {"hidden", "submit", "button"}:
            self.controls.append({"tag": tag, "inside_label": self.open_labels > 0, **attributes})

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1

    def unlabelled_controls(self):
        return [
            control.get("name")
            for control in self.controls
            if control.get("id") not in self.label_targets
            and not control["inside_label"]
            and not control.get("aria-label")
        ]

    def control(self, name):
        matches = [control for control in self.controls if control.get("name") == name]
        assert matches, f"no control named {name!r}"
        return matches[0]


def assert_error_beside(page: FormPage, name: str):
    control = page.control(name)
    error_id = f"{control['id']}_error"
    assert control.get("aria-invalid") == "true", f"{name} is not marked invalid"
    assert error_id in control.get("aria-describedby", "").split(), f"{name} does not point to its error"
    assert "is-invalid" in control.get("class", "").split()
    assert error_id in page.elements, f"{name} has no error element"
    assert "invalid-feedback" in page.elements[error_id][1].get("class", "")


def assert_accessible(page: FormPage):
    assert page.h1_count == 1
    assert page.unlabelled_controls() == []


def test_login_form_with_errors(client):
    response = client.post(reverse("login"), {"username": MARKER, "password": ""})
    page = FormPage(response.content.decode())

    assert response.status_code == HTTPStatus.OK
    assert_accessible(page)
    assert page.control("username")["value"] == MARKER
    assert_error_beside(page, "password")


def test_contact_form_keeps_input(client, users):
    manager = users["manager_a"]
    task = TaskFactory(
        campaign=CampaignFactory(owner=users["platform"]),
        customer=CustomerFactory(branch=manager.branch, client_manager=manager),
        assignee=manager,
    )
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    client.force_login(manager)

    response = client.post(
        reverse("campaigns:task_record_contact", args=[task.pk]),
        {"version": task.version, "channel": "phone", "outcome": "interested", "note": MARKER,
         "next_follow_up_on": yesterday.isoformat()},
    )
    body = response.content.decode()
    page = FormPage(body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert_accessible(page)
    assert_error_beside(page, "next_follow_up_on")
    assert page.control("next_follow_up_on")["value"] == yesterday.isoformat()
    assert MARKER in body
    assert '<option value="interested" selected>' in body


def test_campaign_form_with_errors(client, users):
    client.force_login(users["platform"])

    response = client.post(reverse("campaigns:create"), {"name": MARKER, "holdout_percent": "80"})
    page = FormPage(response.content.decode())

    assert response.status_code in {HTTPStatus.OK, HTTPStatus.BAD_REQUEST}
    assert_accessible(page)
    assert page.control("name")["value"] == MARKER
    assert_error_beside(page, "holdout_percent")
    assert page.control("holdout_percent")["value"] == "80"


def test_segment_form_with_errors(client, users):
    client.force_login(users["platform"])

    response = client.post(reverse("campaigns:segment_create"), {"name": "", "description": MARKER})
    body = response.content.decode()
    page = FormPage(body)

    assert_accessible(page)
    assert_error_beside(page, "name")
    assert MARKER in body


def test_preferences_form_with_errors(client, users):
    client.force_login(users["manager_a"])

    response = client.post(reverse("reminders:preferences"), {"language": "xx", "amount_in_wan": "on"})
    page = FormPage(response.content.decode())

    assert_accessible(page)
    assert_error_beside(page, "language")
    assert "checked" in page.control("amount_in_wan")


def test_import_upload_with_errors(client, users):
    client.force_login(users["platform"])

    response = client.post(reverse("customers:import_upload"), {"kind": "roster"})
    page = FormPage(response.content.decode())

    assert_accessible(page)
    assert_error_beside(page, "file")


def test_leave_form_with_errors(client, users):
    client.force_login(users["supervisor_a"])

    response = client.post(
        reverse("campaigns:leave_list"),
        {"user": users["manager_a"].pk, "starts_on": "2026-05-10", "ends_on": "", "note": MARKER},
    )
    page = FormPage(response.content.decode())

    assert_accessible(page)
    assert_error_beside(page, "ends_on")
    assert page.control("starts_on")["value"] == "2026-05-10"
    assert page.control("note")["value"] == MARKER

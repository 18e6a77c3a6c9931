"""The last escalation level goes to the head of the parent branch (Branch.head), or to the
parent branch's supervisor while no active head is set."""

import logging
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from campaigns.models import Reminder
from campaigns.reminders import reminders_run
from customers.models import Branch
from portal.models import Role
from tests.factories import UserFactory

from .conftest import BUSINESS_DATE

pytestmark = pytest.mark.django_db

ESCALATION = (Reminder.Kind.ESCALATION,)


@pytest.fixture
def chain(users, branch_tree):
    """A client manager and their supervisor in sub-branch B1, below branch B."""
    sub_b1 = Branch.objects.create(code="BB1", name="Sub-branch B1", parent=branch_tree["b"], level=Branch.Level.SUB_BRANCH)
    supervisor = UserFactory(username="sup_chain", role=Role.SUPERVISOR, branch=sub_b1)
    manager = UserFactory(username="cm_chain", branch=sub_b1, supervisor=supervisor)
    return {"manager": manager, "supervisor": supervisor, "parent": branch_tree["b"]}


@pytest.fixture
def branch_head(chain):
    head = UserFactory(username="head_b", role=Role.SUPERVISOR, branch=chain["parent"])
    chain["parent"].head = head
    chain["parent"].save()
    return head


def level_three_recipients():
    return list(
        Reminder.objects.filter(kind=Reminder.Kind.ESCALATION, escalation_level=3).values_list(
            "recipient__username", flat=True
        )
    )


def test_level_three_goes_to_head(chain, branch_head, make_task, caplog):
    # sup_b is also a supervisor of branch B, with a lower id than the head.
    make_task(assignee=chain["manager"], days=-10, customer__name="Head Zhou")

    with caplog.at_level(logging.WARNING, logger="campaigns.reminders.scan"):
        result = reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert result.sent == 3
    assert level_three_recipients() == ["head_b"]
    [to_head] = [message for message in mail.outbox if message.to == ["head_b@bank.example"]]
    assert "in a branch under yours" in to_head.body
    assert "Head Zhou" in to_head.body
    assert [message for message in mail.outbox if message.to == ["sup_b@bank.example"]] == []
    assert caplog.records == []


def test_head_not_a_supervisor_still_used(chain, make_task):
    # The level-3 mail goes to the head the administrator named, whatever that user's role or branch.
    head = UserFactory(username="head_ops", role=Role.PLATFORM, branch=None)
    chain["parent"].head = head
    chain["parent"].save()
    make_task(assignee=chain["manager"], days=-10)

    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert level_three_recipients() == ["head_ops"]


def test_missing_head_falls_back_and_logs(chain, make_task, caplog):
    make_task(assignee=chain["manager"], days=-10)
    make_task(assignee=chain["manager"], days=-11)

    with caplog.at_level(logging.WARNING, logger="campaigns.reminders.scan"):
        reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert level_three_recipients() == ["sup_b", "sup_b"]
    [record] = caplog.records
    message = record.getMessage()
    assert f"branch {chain['parent'].pk} has no head" in message
    assert "2 level-3 escalations go to its supervisor" in message
    assert "Set the branch head in the admin" in message


def test_inactive_head_falls_back_and_logs(chain, branch_head, make_task, caplog):
    branch_head.is_active = False
    branch_head.save()
    make_task(assignee=chain["manager"], days=-10)

    with caplog.at_level(logging.WARNING, logger="campaigns.reminders.scan"):
        reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert level_three_recipients() == ["sup_b"]
    [record] = caplog.records
    assert f"has an inactive head (user {branch_head.pk})" in record.getMessage()


def test_no_head_no_supervisor_logs(chain, users, make_task, caplog):
    users["supervisor_b"].is_active = False
    users["supervisor_b"].save()
    make_task(assignee=chain["manager"], days=-10)

    with caplog.at_level(logging.WARNING, logger="campaigns.reminders.scan"):
        result = reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert result.sent == 2
    assert level_three_recipients() == []
    [record] = caplog.records
    assert "and no active supervisor, so 1 level-3 escalations are not sent" in record.getMessage()


def test_head_not_logged_before_level_three(chain, make_task, caplog):
    # Three working days overdue: levels 1 and 2 are due, level 3 is not.
    make_task(assignee=chain["manager"], days=-4)

    with caplog.at_level(logging.WARNING, logger="campaigns.reminders.scan"):
        reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert level_three_recipients() == []
    assert caplog.records == []


def test_head_same_as_supervisor_once(chain, make_task):
    chain["parent"].head = chain["supervisor"]
    chain["parent"].save()
    make_task(assignee=chain["manager"], days=-10)

    reminders_run(business_date=BUSINESS_DATE, kinds=ESCALATION)

    assert level_three_recipients() == []
    assert len([message for message in mail.outbox if message.to == ["sup_chain@bank.example"]]) == 1


def test_branch_admin_edits_head(admin_client, chain, branch_head):
    parent = chain["parent"]
    changelist = admin_client.get(reverse("admin:customers_branch_changelist"))
    change_url = reverse("admin:customers_branch_change", args=[parent.pk])
    form_page = admin_client.get(change_url)

    assert changelist.status_code == HTTPStatus.OK
    assert "head_b" in changelist.content.decode()
    assert form_page.status_code == HTTPStatus.OK
    assert 'name="head"' in form_page.content.decode()

    new_head = chain["supervisor"]
    response = admin_client.post(
        change_url,
        {"code": parent.code, "name": parent.name, "level": parent.level, "parent": parent.parent_id, "head": new_head.pk},
    )

    assert response.status_code == HTTPStatus.FOUND
    parent.refresh_from_db()
    assert parent.head == new_head

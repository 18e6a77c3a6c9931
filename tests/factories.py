"""factory_boy factories for every model the tests build."""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.models import Campaign, ContactRecord, FollowUpTask, Segment
from customers.models import Branch, Customer
from portal.models import Role, User


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    code = factory.Sequence(lambda n: f"B{n:04d}")
    name = factory.Sequence(lambda n: f"Branch {n}")
    level = Branch.Level.BRANCH


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@bank.example")
    role = Role.CLIENT_MANAGER
    branch = factory.SubFactory(BranchFactory)
    language = "en"
    password = factory.django.Password("portal-test-pass")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_no = factory.Sequence(lambda n: f"C{n:08d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    id_number = "11010519491231002X"
    email = factory.Sequence(lambda n: f"customer{n}@mail.example")
    age = 45
    occupation = "management"
    branch = factory.SubFactory(BranchFactory)
    aum = Decimal("800000.00")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    filters = factory.LazyFunction(dict)
    created_by = factory.SubFactory(UserFactory, role=Role.PLATFORM)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    objective = "Offer the new wealth product"
    owner = factory.SubFactory(UserFactory, role=Role.PLATFORM)
    starts_on = factory.LazyFunction(timezone.localdate)
    due_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=14))
    status = Campaign.Status.ACTIVE


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpTask

    campaign = factory.SubFactory(CampaignFactory)
    customer = factory.SubFactory(CustomerFactory)
    assignee = factory.SubFactory(UserFactory)
    branch = factory.LazyAttribute(lambda task: task.assignee.branch if task.assignee else task.customer.branch)
    due_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=7))


class ContactRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactRecord

    task = factory.SubFactory(TaskFactory)
    customer = factory.LazyAttribute(lambda contact: contact.task.customer)
    recorded_by = factory.LazyAttribute(lambda contact: contact.task.assignee)
    channel = "phone"
    outcome = "reached"
    contacted_at = factory.LazyFunction(timezone.now)

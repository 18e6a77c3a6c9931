"""A Django admin site over customers and follow-up tasks, used only by run_benchmarks to time
the admin's changelist beside the portal's lists. The portal's own admin does not register
these models, and this site is reachable only through portal.benchmarks.urls, which no
setting points to outside the benchmark."""

from django.contrib import admin

from campaigns.models import FollowUpTask
from customers.models import Customer

site = admin.AdminSite(name="bench_admin")


class CustomerAdmin(admin.ModelAdmin):
    """The changelist a team would configure for the roster: the same columns as the portal's
    list, filters by tier and branch, and search by number and name."""

    list_display = ("customer_no", "name", "branch", "client_manager", "tier", "aum")
    list_filter = ("tier", "branch")
    search_fields = ("customer_no", "name")
    list_select_related = ("branch", "client_manager", "tier")


class FollowUpTaskAdmin(admin.ModelAdmin):
    list_display = ("customer", "campaign", "assignee", "branch", "status", "due_on", "outcome")
    list_filter = ("status", "campaign", "branch", "customer__tier")
    list_select_related = ("customer", "campaign", "assignee", "branch")


site.register(Customer, CustomerAdmin)
site.register(FollowUpTask, FollowUpTaskAdmin)

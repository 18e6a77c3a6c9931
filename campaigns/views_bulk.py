"""The bulk change page of the task list: the filtered open tasks, one form, one result page."""

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2 import RequestConfig

from portal.forms import BootstrapFormMixin
from portal.permissions import SUPERVISION, role_required

from . import bulk
from .filters import TaskFilter
from .selectors import task_list_for
from .tables import TaskTable

logger = logging.getLogger(__name__)


class AssigneeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, manager):
        return _("%(manager)s · %(branch)s · %(load)s open of %(capacity)s") % {
            "manager": manager, "branch": manager.branch, "load": manager.open_load, "capacity": manager.capacity,
        }


class BulkTaskForm(BootstrapFormMixin, forms.Form):
    action = forms.ChoiceField(label=gettext_lazy("Action"), choices=())
    assignee = AssigneeChoiceField(
        label=gettext_lazy("New client manager"), queryset=None, required=False,
        help_text=gettext_lazy("Only for reassigning. Lists active client managers who are not on leave today."),
    )
    due_on = forms.DateField(
        label=gettext_lazy("New due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Only for extending. Tasks already due on or after this day are skipped."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Recorded on every changed task."),
    )
    snapshot = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = bulk.bulk_actions_for(user=user)
        self.fields["action"].choices = [choice for choice in bulk.ACTION_CHOICES if choice[0] in allowed]
        self.fields["assignee"].queryset = bulk.bulk_assignee_choices(actor=user, day=timezone.localdate())

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if action == bulk.REASSIGN and not cleaned.get("assignee"):
            self.add_error("assignee", _("Choose the client manager who takes over the tasks."))
        if action == bulk.EXTEND:
            due_on = cleaned.get("due_on")
            if not due_on:
                self.add_error("due_on", _("Choose the new due date."))
            elif due_on < timezone.localdate():
                self.add_error("due_on", _("The new due date %(due)s is in the past.") % {"due": due_on.isoformat()})
        return cleaned


@role_required(*SUPERVISION)
def task_bulk(request):
    """Show the open tasks matching the task list's filter with the bulk form (GET), or apply
    the form to the snapshot of those tasks that the page posted back (POST)."""
    tasks = task_list_for(user=request.user).select_related(
        "campaign", "customer", "customer__tier", "assignee", "branch"
    )
    task_filter = TaskFilter(request.GET, queryset=tasks, user=request.user)
    eligible = bulk.bulk_eligible(task_filter.qs if task_filter.is_valid() else tasks.none())
    count = eligible.count()

    if request.method == "POST":
        form = BulkTaskForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                result = _bulk_run(request.user, form.cleaned_data)
            except bulk.BulkInvalid as error:
                messages.error(request, str(error))
                logger.info("Bulk change by user %s rejected: %s", request.user.pk, error)
            else:
                level = messages.WARNING if result.conflicts or result.skipped else messages.SUCCESS
                messages.add_message(request, level, bulk.bulk_summary(result))
                return render(request, "campaigns/task_bulk_result.html", {"result": result})
        status = 400
    else:
        form = None
        status = 200
    too_many = count > bulk.BULK_MAX_TASKS
    if form is None and not too_many:
        form = BulkTaskForm(initial={"snapshot": bulk.bulk_snapshot_encode(eligible)}, user=request.user)

    table = TaskTable(eligible)
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    context = {
        "filter": task_filter,
        "table": table,
        "count": count,
        "form": None if too_many else form,
        "max_tasks": bulk.BULK_MAX_TASKS,
    }
    return render(request, "campaigns/task_bulk.html", context, status=status)


def _bulk_run(user, data) -> bulk.BulkResult:
    snapshot = bulk.bulk_snapshot_decode(data["snapshot"])
    action = data["action"]
    if action == bulk.REASSIGN:
        return bulk.bulk_reassign(actor=user, snapshot=snapshot, assignee=data["assignee"], reason=data["reason"])
    if action == bulk.EXTEND:
        return bulk.bulk_extend_due(actor=user, snapshot=snapshot, due_on=data["due_on"], reason=data["reason"])
    return bulk.bulk_cancel(actor=user, snapshot=snapshot, reason=data["reason"])

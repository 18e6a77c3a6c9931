"""The platform's handover pages: the pending handovers, and one handover's preview and apply."""

import logging

import django_tables2 as tables
from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2 import RequestConfig

from portal.exports import EXPORT_FORMATS, export_table
from portal.htmx import htmx_table, render_list
from portal.models import Role, User
from portal.permissions import PLATFORM, role_required

from . import handover

logger = logging.getLogger(__name__)


class HandoverTable(tables.Table):
    manager = tables.LinkColumn(
        "campaigns:handover_detail", args=[tables.A("pk")], accessor="username",
        verbose_name=gettext_lazy("Client manager"), text=lambda user: str(user),
    )
    branch = tables.Column(verbose_name=gettext_lazy("Branch"), order_by=("branch__path",))
    customer_count = tables.Column(verbose_name=gettext_lazy("Customers"), attrs={"td": {"class": "text-end"}})
    open_task_count = tables.Column(verbose_name=gettext_lazy("Open tasks"), attrs={"td": {"class": "text-end"}})

    class Meta:
        attrs = {"class": "table table-sm table-hover"}
        empty_text = gettext_lazy("No deactivated client manager has customers or open tasks left.")


class HandoverApplyForm(forms.Form):
    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)


@role_required(*PLATFORM)
def handover_list(request):
    table = HandoverTable(handover.handovers_pending())
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "handovers")
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render_list(
        request, "campaigns/handover_list.html", "campaigns/partials/handover_list_results.html",
        {"table": htmx_table(table)},
    )


@role_required(*PLATFORM)
def handover_detail(request, pk):
    """Preview the handover of one client manager (GET) or apply the previewed plan (POST). A
    rejected apply goes back to the preview, which then shows the current plan."""
    leaver = get_object_or_404(User.objects.select_related("branch"), pk=pk, role=Role.CLIENT_MANAGER)
    if request.method == "POST":
        form = HandoverApplyForm(request.POST)
        if form.is_valid():
            try:
                result = handover.handover_apply(
                    leaver=leaver, actor=request.user, fingerprint=form.cleaned_data["fingerprint"]
                )
            except handover.HandoverRejected as error:
                messages.error(request, str(error))
                logger.info("Handover of user %s by user %s rejected: %s", leaver.pk, request.user.pk, error)
                return redirect("campaigns:handover_detail", pk=leaver.pk)
            else:
                messages.success(
                    request,
                    _("Handover of %(user)s applied: %(customers)s customers, %(tasks)s open tasks and "
                      "%(introductions)s introduction tasks.") % {
                        "user": leaver, "customers": result.plan.customers, "tasks": result.plan.tasks,
                        "introductions": result.plan.introductions,
                    },
                )
                if result.campaign is not None:
                    return redirect("campaigns:detail", pk=result.campaign.pk)
                return redirect("campaigns:handover_list")
        else:
            messages.error(request, _("The form is missing the plan's fingerprint. Reload the page and try again."))
        return redirect("campaigns:handover_detail", pk=leaver.pk)
    plan = handover.handover_preview(leaver=leaver)
    form = HandoverApplyForm(initial={"fingerprint": plan.fingerprint})
    return render(request, "campaigns/handover_detail.html", {"leaver": leaver, "plan": plan, "form": form})

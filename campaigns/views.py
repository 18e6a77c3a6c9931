import logging

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import BooleanField, Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from customers.filters import customer_filter_apply
from customers.models import Customer
from portal.exports import EXPORT_FORMATS, export_table
from customers.privacy import REVEALABLE_FIELDS
from portal.htmx import htmx_table, render_list
from portal.masking import mask_id_number, mask_phone
from portal.models import Role
from portal.pagination import BoundedLazyPaginator, list_total, list_total_requested, list_total_response
from portal.permissions import PLATFORM, STAFF_WITH_CUSTOMERS, SUPERVISION, role_required

from . import launch_background, services
from .uplift import campaign_results
from .versions import launch_filter_rows
from .filters import MyTaskFilter, TaskFilter
from .forms import CampaignForm, ContactForm, ReturnForm, SegmentForm, TaskVersionForm
from .models import Campaign, FollowUpTask, Segment
from .segment_display import segment_filter_rows_now
from .selectors import campaign_get_for, campaign_list_for, task_get_for, task_list_for
from .tables import CampaignTable, SegmentTable, TaskTable

logger = logging.getLogger(__name__)

CLIENT_MANAGERS = (Role.CLIENT_MANAGER,)


def _report_rejection(request, error, entity: str, pk) -> None:
    """Show a rejected action's message to the user and log it with the ids involved."""
    messages.error(request, str(error))
    logger.info("%s %s: %s by user %s rejected: %s", entity, pk, request.resolver_match.url_name, request.user.pk, error)


# Segments


@role_required(*PLATFORM)
def segment_list(request):
    table = SegmentTable(Segment.objects.select_related("created_by"))
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render_list(
        request,
        "campaigns/segment_list.html",
        "campaigns/partials/segment_list_results.html",
        {"table": htmx_table(table)},
    )


@role_required(*PLATFORM)
def segment_create(request):
    """Save the roster filter in the query string (the roster page's "Save as segment" link) as a segment."""
    try:
        filters = services.segment_filters_from(params=request.GET)
    except services.SegmentInvalid as error:
        filters = None
        messages.error(request, str(error))
    customer_count = None
    if filters is not None:
        try:
            customer_count = customer_filter_apply(queryset=Customer.objects.all(), filters=filters).count()
        except ValueError:
            pass
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and filters is not None and form.is_valid():
        try:
            segment = services.segment_create(actor=request.user, filters=filters, **form.cleaned_data)
        except services.CampaignServiceError as error:
            _report_rejection(request, error, "Segment", None)
        else:
            messages.success(request, _("Segment “%(segment)s” saved.") % {"segment": segment})
            return redirect("campaigns:segment_list")
    return render(
        request,
        "campaigns/segment_form.html",
        {
            "form": form,
            "filters": filters,
            "filter_rows": segment_filter_rows_now(filters=filters or {}, user=request.user),
            "customer_count": customer_count,
        },
    )


# Campaigns


@role_required(*STAFF_WITH_CUSTOMERS)
def campaign_list(request):
    visible_task_count = (
        task_list_for(user=request.user)
        .filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(count=Count("id"))
        .values("count")
    )
    campaigns = (
        campaign_list_for(user=request.user)
        .select_related("segment", "owner")
        .annotate(visible_task_count=Coalesce(Subquery(visible_task_count, output_field=IntegerField()), 0))
    )
    table = CampaignTable(campaigns)
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render_list(
        request,
        "campaigns/campaign_list.html",
        "campaigns/partials/campaign_list_results.html",
        {"table": htmx_table(table)},
    )


@role_required(*PLATFORM)
def campaign_create(request):
    # "Start a campaign" buttons (the roster diff lists, the analysis page) pass ?segment=<id>.
    form = CampaignForm(request.POST or None, initial={"segment": request.GET.get("segment")})
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Campaign “%(campaign)s” created as a draft.") % {"campaign": campaign})
        return redirect("campaigns:detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form})


@role_required(*PLATFORM)
def campaign_update(request, pk):
    campaign = campaign_get_for(user=request.user, pk=pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.EDITABLE_FIELDS}
        try:
            services.campaign_update(campaign=campaign, actor=request.user, data=changes)
        except services.CampaignServiceError as error:
            _report_rejection(request, error, "Campaign", campaign.pk)
        else:
            messages.success(request, _("Campaign “%(campaign)s” saved.") % {"campaign": campaign})
            return redirect("campaigns:detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign})


@role_required(*STAFF_WITH_CUSTOMERS)
def campaign_detail(request, pk):
    campaign = campaign_get_for(user=request.user, pk=pk)
    counts = dict(
        task_list_for(user=request.user)
        .filter(campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
    )
    status_counts = [(value, label, counts.get(value, 0)) for value, label in FollowUpTask.Status.choices]
    # The results count every task and held-out customer of the campaign, so only platform
    # operators, who see all of them, get the results section.
    results = None
    if request.user.role == Role.PLATFORM and campaign.launched_at is not None:
        results = campaign_results(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "status_counts": status_counts,
            "task_total": sum(counts.values()),
            "results": results,
            "target_filters": launch_filter_rows(summary=campaign.launch_summary, user=request.user),
            "next_version": campaign.next_versions.first(),
            "launch_progress": _launch_progress_for(request, campaign),
        },
    )


def _launch_progress_for(request, campaign) -> dict | None:
    """Return the progress of a background launch for the platform's pages, else None."""
    if request.user.role != Role.PLATFORM or campaign.status != Campaign.Status.LAUNCHING:
        return None
    return launch_background.launch_progress_get(campaign_id=campaign.pk)


@role_required(*PLATFORM)
def campaign_launch(request, pk):
    """Show what a launch would create (GET) or launch the campaign (POST)."""
    campaign = campaign_get_for(user=request.user, pk=pk)
    if request.method == "POST":
        # Without the preview's fingerprint (an old form) the launch goes ahead unchecked.
        fingerprint = request.POST.get("fingerprint") or None
        try:
            # The launch form sends background=1 when the preview is over the threshold. A POST
            # without the field (a script, a test) launches within the request.
            if request.POST.get("background"):
                launch_background.campaign_launch_queue(
                    campaign=campaign, actor=request.user, expected_fingerprint=fingerprint
                )
                created = None
            else:
                created = services.campaign_launch(
                    campaign=campaign, actor=request.user, expected_fingerprint=fingerprint
                )
        except services.CampaignAlreadyLaunched as error:
            _report_rejection(request, error, "Campaign", campaign.pk)
            return redirect("campaigns:detail", pk=campaign.pk)
        except services.CampaignServiceError as error:
            _report_rejection(request, error, "Campaign", campaign.pk)
        else:
            if created is None:
                messages.success(
                    request,
                    _("The launch is running in the background. You can leave this page and come back later."),
                )
            else:
                message = ngettext(
                    "Campaign “%(campaign)s” launched: %(count)s task created.",
                    "Campaign “%(campaign)s” launched: %(count)s tasks created.",
                    created,
                )
                messages.success(request, message % {"campaign": campaign, "count": created})
            return redirect("campaigns:detail", pk=campaign.pk)
    plan = None
    if campaign.status == Campaign.Status.DRAFT:
        plan = services.campaign_launch_preview(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_launch.html",
        {
            "campaign": campaign,
            "plan": plan,
            "background": plan is not None and launch_background.campaign_launch_in_background(plan=plan),
            "launch_progress": _launch_progress_for(request, campaign),
            "today": timezone.localdate(),
        },
    )


@role_required(*PLATFORM)
def campaign_launch_progress(request, pk):
    """Render the progress bar of a background launch, which htmx polls. Once the campaign has
    left launching, the HX-Refresh header makes the page reload to show the outcome."""
    campaign = campaign_get_for(user=request.user, pk=pk)
    response = render(
        request,
        "campaigns/partials/launch_progress.html",
        {"campaign": campaign, "launch_progress": launch_background.launch_progress_get(campaign_id=campaign.pk)},
    )
    if campaign.status != Campaign.Status.LAUNCHING:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@role_required(*PLATFORM)
def campaign_complete(request, pk):
    campaign = campaign_get_for(user=request.user, pk=pk)
    try:
        services.campaign_complete(campaign=campaign, actor=request.user)
    except services.CampaignServiceError as error:
        _report_rejection(request, error, "Campaign", campaign.pk)
    else:
        messages.success(request, _("Campaign “%(campaign)s” completed.") % {"campaign": campaign})
    return redirect("campaigns:detail", pk=campaign.pk)


# Tasks


@role_required(*SUPERVISION)
def task_list(request):
    tasks = task_list_for(user=request.user).select_related(
        "campaign", "customer", "customer__tier", "assignee", "branch"
    )
    task_filter = TaskFilter(request.GET, queryset=tasks, user=request.user)
    # An invalid filter value shows the form errors and no rows, never the unfiltered list.
    filtered = task_filter.qs if task_filter.is_valid() else tasks.none()
    table = TaskTable(filtered)
    export_format = request.GET.get("_export")
    if export_format in EXPORT_FORMATS:
        RequestConfig(request, paginate=False).configure(table)
        return export_table(table, export_format, "tasks")
    # After the export, so that an export link carrying count=total still exports.
    if list_total_requested(request, task_filter):
        return list_total_response(request, filtered, noun="tasks")
    RequestConfig(
        request, paginate={"paginator_class": BoundedLazyPaginator, "per_page": settings.PORTAL_PAGE_SIZE}
    ).configure(table)
    return render_list(
        request,
        "campaigns/task_list.html",
        "campaigns/partials/task_list_results.html",
        {"filter": task_filter, "table": htmx_table(table), "list_total": list_total(request, filtered, task_filter)},
    )


@role_required(*CLIENT_MANAGERS)
def my_tasks(request):
    """List the client manager's open, in-progress and returned tasks, overdue first, then by due date."""
    today = timezone.localdate()
    tasks = (
        task_list_for(user=request.user)
        .filter(status__in=services.ACTIVE_TASK_STATUSES)
        .select_related("campaign", "customer")
        .annotate(
            is_overdue=Case(When(due_on__lt=today, then=Value(True)), default=Value(False), output_field=BooleanField())
        )
        .order_by("-is_overdue", "due_on", "id")
    )
    # An invalid due_to is left out of cleaned_data, so the list then shows every task.
    task_filter = MyTaskFilter(request.GET, queryset=tasks)
    page = Paginator(task_filter.qs, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
    for task in page:
        task.masked_phone = mask_phone(task.customer.phone)
    due_to = task_filter.form.cleaned_data.get("due_to")
    return render(request, "campaigns/task_mine.html", {"page": page, "due_to": due_to})


@role_required(*STAFF_WITH_CUSTOMERS)
def task_detail(request, pk):
    task = task_get_for(user=request.user, pk=pk)
    return _render_task_detail(request, task)


def _render_task_detail(request, task, *, contact_form=None, return_form=None, status=200, unsaved=None):
    user = request.user
    can_record = user.pk == task.assignee_id and task.status in services.ACTIVE_TASK_STATUSES
    can_verify = user.role == Role.PLATFORM and task.status == FollowUpTask.Status.DONE
    customer = task.customer
    version = {"version": task.version}
    context = {
        "task": task,
        "customer": customer,
        "masked_phone": mask_phone(customer.phone),
        "masked_id_number": mask_id_number(customer.id_number),
        "revealable": REVEALABLE_FIELDS.get(user.role, ()),
        "is_overdue": task.status in services.ACTIVE_TASK_STATUSES and task.due_on < timezone.localdate(),
        "contacts": customer.contacts.select_related("recorded_by", "task__campaign")[:20],
        "events": task.events.select_related("actor"),
        # The agreed follow-up date starts filled in, so recording another contact keeps it
        # unless the client manager changes or clears it.
        "contact_form": (
            contact_form or ContactForm(initial={**version, "next_follow_up_on": task.next_follow_up_on})
        ) if can_record else None,
        "return_form": (return_form or ReturnForm(initial=version)) if can_verify else None,
        "verify_form": TaskVersionForm(initial=version) if can_verify else None,
        "next_url": _next_url(request),
        # The entries of a form that hit a conflict and can no longer be shown as a form.
        "unsaved": unsaved,
    }
    return render(request, "campaigns/task_detail.html", context, status=status)


def _next_url(request) -> str:
    """Return the page to go back to after a task action: a same-site `next` value or ""."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return ""


def _render_task_conflict(request, error, *, form, form_name: str | None):
    """Show the task as it is now with the rejected entries kept: in the form, bound to the
    current version so that a second submit is a deliberate choice, or read-only when the
    form no longer applies to the task."""
    task = task_list_for(user=request.user).select_related("campaign", "customer", "assignee", "branch").filter(
        pk=error.task.pk
    ).first()
    if task is None:
        messages.error(request, _("Someone else changed this task after you opened it, and it is no longer yours. "
                                  "Nothing was saved."))
        return redirect("campaigns:my_tasks" if request.user.role == Role.CLIENT_MANAGER else "campaigns:task_list")
    messages.error(request, str(error))
    logger.info("Task %s: %s by user %s hit a conflict at version %s", task.pk,
                request.resolver_match.url_name, request.user.pk, task.version)
    data = request.POST.copy()
    data["version"] = str(task.version)
    rebound = type(form)(data)
    unsaved = [
        (field.label, _display_value(field, form.cleaned_data.get(name)))
        for name, field in form.fields.items()
        if name != "version" and form.cleaned_data.get(name) not in (None, "", False)
    ]
    forms_kept = {form_name: rebound} if form_name else {}
    return _render_task_detail(request, task, status=409, unsaved=unsaved, **forms_kept)


def _display_value(field, value):
    choices = dict(getattr(field, "choices", ()) or ())
    if value in choices:
        return choices[value]
    if value is True:
        return _("Yes")
    return value


@require_POST
@role_required(*CLIENT_MANAGERS)
def task_record_contact(request, pk):
    task = task_get_for(user=request.user, pk=pk)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _render_task_detail(request, task, contact_form=form, status=400)
    data = dict(form.cleaned_data)
    expected_version = data.pop("version")
    try:
        services.task_record_contact(task=task, actor=request.user, expected_version=expected_version, **data)
    except services.TaskConflict as error:
        return _render_task_conflict(request, error, form=form, form_name="contact_form")
    except services.CampaignServiceError as error:
        _report_rejection(request, error, "Task", task.pk)
        return redirect("campaigns:task_detail", pk=task.pk)
    if form.cleaned_data["complete"]:
        messages.success(request, _("Contact recorded and task marked as done."))
        return redirect("campaigns:my_tasks")
    messages.success(request, _("Contact recorded."))
    return redirect("campaigns:task_detail", pk=task.pk)


def _after_verification(request, task):
    next_url = _next_url(request)
    return redirect(next_url) if next_url else redirect("campaigns:task_detail", pk=task.pk)


@require_POST
@role_required(*PLATFORM)
def task_verify(request, pk):
    task = task_get_for(user=request.user, pk=pk)
    form = TaskVersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The form is missing the task's version. Reload the page and try again."))
        return redirect("campaigns:task_detail", pk=task.pk)
    try:
        services.task_verify(task=task, actor=request.user, expected_version=form.cleaned_data["version"])
    except services.TaskConflict as error:
        return _render_task_conflict(request, error, form=form, form_name=None)
    except services.CampaignServiceError as error:
        _report_rejection(request, error, "Task", task.pk)
        return redirect("campaigns:task_detail", pk=task.pk)
    messages.success(request, _("Task verified."))
    return _after_verification(request, task)


@require_POST
@role_required(*PLATFORM)
def task_return(request, pk):
    task = task_get_for(user=request.user, pk=pk)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        return _render_task_detail(request, task, return_form=form, status=400)
    try:
        services.task_return(
            task=task, actor=request.user, reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except services.TaskConflict as error:
        return _render_task_conflict(request, error, form=form, form_name="return_form")
    except services.CampaignServiceError as error:
        _report_rejection(request, error, "Task", task.pk)
        return redirect("campaigns:task_detail", pk=task.pk)
    messages.success(request, _("Task returned to the client manager."))
    return _after_verification(request, task)

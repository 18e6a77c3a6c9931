from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from customers.models import RosterChange, RosterImport
from customers.selectors import aum_snapshots_for_customer, aum_trend_points, customer_get_for, roster_changes_for_import
from portal.htmx import htmx_table, render_list
from portal.permissions import PLATFORM, STAFF_WITH_CUSTOMERS, role_required

from campaigns.services import SegmentInvalid

from .diff_segments import roster_change_segment_create, roster_change_value
from .error_workbook import errors_workbook

from .forms import ImportMappingForm, ImportUploadForm
from .report import ImportInvalid, stored_error_display
from .services import (
    import_fields,
    import_profile_save,
    roster_import_apply,
    roster_import_create,
    roster_import_errors_all,
    roster_import_in_background,
    roster_import_queue,
    roster_import_map,
    roster_import_reject,
    roster_import_source_label,
    roster_import_table,
)
from .tables import RosterChangeTable, RosterImportTable

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Imports are platform work, so every platform operator may see and finish any upload.
@role_required(*PLATFORM)
def import_list(request):
    table = RosterImportTable(RosterImport.objects.select_related("created_by"))
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render_list(
        request, "customers/import_list.html", "customers/partials/import_list_results.html", {"table": htmx_table(table)}
    )


@role_required(*PLATFORM)
def import_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            roster_import = roster_import_create(
                user=request.user,
                uploaded_file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                options=form.import_options(),
                profile=form.cleaned_data["profile"],
            )
        except ImportInvalid as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, _("File uploaded. Check the column mapping."))
            return redirect("customers:import_mapping", pk=roster_import.pk)
    return render(request, "customers/import_upload.html", {"form": form})


@role_required(*PLATFORM)
def import_mapping(request, pk):
    roster_import = get_object_or_404(RosterImport, pk=pk)
    if roster_import.status not in (RosterImport.Status.UPLOADED, RosterImport.Status.PREVIEWED):
        messages.error(request, _("This import is finished; its mapping can no longer change."))
        return redirect("customers:import_detail", pk=pk)
    try:
        table = roster_import_table(roster_import=roster_import)
    except ImportInvalid as error:
        messages.error(request, str(error))
        return redirect("customers:import_detail", pk=pk)
    form = ImportMappingForm(
        request.POST or None,
        headers=table.headers,
        fields=import_fields(kind=roster_import.kind),
        initial_mapping=roster_import.mapping,
    )
    if request.method == "POST" and form.is_valid():
        try:
            roster_import = roster_import_map(roster_import=roster_import, mapping=form.mapping(), user=request.user)
        except ImportInvalid as error:
            form.add_error(None, str(error))
        else:
            profile_name = form.cleaned_data["profile_name"].strip()
            if profile_name:
                profile = import_profile_save(name=profile_name, roster_import=roster_import, user=request.user)
                messages.success(request, _("Mapping saved as import profile %(name)s.") % {"name": profile.name})
            return redirect("customers:import_detail", pk=pk)
    samples = [row.values for row in table.rows[:3] if not row.field_count_error]
    columns = [
        (form[f"column_{index}"], [sample[index] for sample in samples])
        for index in range(len(table.headers))
    ]
    return render(
        request,
        "customers/import_mapping.html",
        {"roster_import": roster_import, "form": form, "columns": columns},
    )


@role_required(*PLATFORM)
def import_detail(request, pk):
    roster_import = get_object_or_404(RosterImport.objects.select_related("created_by"), pk=pk)
    errors = [stored_error_display(entry) for entry in roster_import.errors]
    return render(
        request,
        "customers/import_detail.html",
        {
            "roster_import": roster_import,
            "uploaded_by": roster_import_source_label(roster_import),
            "background": roster_import_in_background(roster_import=roster_import),
            "errors": errors,
            "changes": changes_display(summary=roster_import.summary, kind=roster_import.kind),
            "diff": diff_display(summary=roster_import.summary),
        },
    )


def changes_display(*, summary: dict, kind: str) -> list[dict]:
    """Return the stored per-field change samples with the fields' labels, in field order."""
    stored = summary.get("changes") or {}
    labels = {import_field.name: import_field.label for import_field in import_fields(kind=kind)}
    labels.update({"tier": _("Tier"), "extra": _("Other columns")})
    return [
        {"field": name, "label": label, "count": stored[name]["count"], "examples": stored[name]["examples"]}
        for name, label in labels.items()
        if name in stored
    ]


def diff_display(*, summary: dict) -> list[dict]:
    stored = summary.get("diff")
    if not stored:
        return []
    return [{"kind": kind, "label": label, "count": stored.get(kind, 0)} for kind, label in RosterChange.Kind.choices]


@role_required(*PLATFORM)
def import_progress(request, pk):
    """Render the progress bar of a background commit, which htmx polls. Once the import has
    left COMMITTING, the HX-Refresh header makes the page reload to show the outcome."""
    roster_import = get_object_or_404(RosterImport.objects.only("pk", "status", "summary"), pk=pk)
    response = render(request, "customers/import_progress.html", {"roster_import": roster_import})
    if roster_import.status != RosterImport.Status.COMMITTING:
        response["HX-Refresh"] = "true"
    return response


@role_required(*PLATFORM)
def import_errors_download(request, pk):
    roster_import = get_object_or_404(RosterImport, pk=pk)
    try:
        entries = roster_import_errors_all(roster_import=roster_import)
    except ImportInvalid as error:
        messages.error(request, str(error))
        return redirect("customers:import_detail", pk=pk)
    content = errors_workbook(entries=entries, file_name=roster_import.original_name)
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="import-{roster_import.pk}-errors.xlsx"'
    return response


@role_required(*PLATFORM)
def import_changes(request, pk, kind):
    roster_import = get_object_or_404(RosterImport, pk=pk)
    if kind not in RosterChange.Kind.values:
        raise Http404(f"Unknown roster change kind {kind!r}")
    table = RosterChangeTable(roster_changes_for_import(roster_import=roster_import, kind=kind))
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    roster_query = urlencode({"roster_change": roster_change_value(roster_import=roster_import, kind=kind)})
    return render_list(
        request,
        "customers/import_changes.html",
        "customers/partials/import_changes_results.html",
        {
            "roster_import": roster_import,
            "kind": kind,
            "kind_label": RosterChange.Kind(kind).label,
            "table": htmx_table(table),
            "roster_url": f"{reverse('customers:list')}?{roster_query}",
        },
    )


@role_required(*PLATFORM)
@require_POST
def import_changes_segment(request, pk, kind):
    """Save one roster diff list as a campaign segment and open the new-campaign form for it."""
    roster_import = get_object_or_404(RosterImport, pk=pk)
    if kind not in RosterChange.Kind.values:
        raise Http404(f"Unknown roster change kind {kind!r}")
    try:
        segment = roster_change_segment_create(roster_import=roster_import, kind=kind, actor=request.user)
    except SegmentInvalid as error:
        messages.error(request, str(error))
        return redirect("customers:import_changes", pk=pk, kind=kind)
    messages.success(
        request,
        _("Segment “%(segment)s” saved. Choose it as the target of a new campaign.") % {"segment": segment.name},
    )
    return redirect(f"{reverse('campaigns:create')}?{urlencode({'segment': segment.pk})}")


@role_required(*STAFF_WITH_CUSTOMERS)
def customer_aum_trend(request, pk):
    customer = customer_get_for(user=request.user, pk=pk)
    snapshots = aum_snapshots_for_customer(customer=customer)
    return render(request, "customers/aum_trend.html", {"customer": customer, "trend": aum_trend_points(snapshots=snapshots)})


@role_required(*PLATFORM)
@require_POST
def import_commit(request, pk):
    roster_import = get_object_or_404(RosterImport, pk=pk)
    # The commit form sends background=1 for large files. A POST without the field (a
    # script, a test) commits within the request.
    if request.POST.get("background") and roster_import_in_background(roster_import=roster_import):
        try:
            roster_import_queue(roster_import=roster_import, user=request.user)
        except ImportInvalid as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, _("The import is running in the background. You can leave this page and come back later.")
            )
        return redirect("customers:import_detail", pk=pk)
    try:
        report = roster_import_apply(roster_import=roster_import, user=request.user)
    except ImportInvalid as error:
        messages.error(request, str(error))
        return redirect("customers:import_detail", pk=pk)
    messages.success(
        request,
        _("Import committed: %(new)s new, %(changed)s changed, %(unchanged)s unchanged, %(invalid)s invalid rows skipped.")
        % {"new": report.new, "changed": report.changed, "unchanged": report.unchanged, "invalid": report.invalid},
    )
    return redirect("customers:import_detail", pk=pk)


@role_required(*PLATFORM)
@require_POST
def import_reject(request, pk):
    roster_import = get_object_or_404(RosterImport, pk=pk)
    try:
        roster_import_reject(roster_import=roster_import, user=request.user)
    except ImportInvalid as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("File rejected; nothing was imported."))
    return redirect("customers:import_detail", pk=pk)

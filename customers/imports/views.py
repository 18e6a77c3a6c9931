from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from customers.models import RosterImport
from portal.permissions import PLATFORM, role_required

from .forms import ImportMappingForm, ImportUploadForm
from .report import ImportInvalid, stored_error_display
from .services import (
    import_fields,
    roster_import_apply,
    roster_import_create,
    roster_import_map,
    roster_import_reject,
    roster_import_table,
)
from .tables import RosterImportTable


# Imports are platform work, so every platform operator may see and finish any upload.
@role_required(*PLATFORM)
def import_list(request):
    table = RosterImportTable(RosterImport.objects.select_related("created_by"))
    RequestConfig(request, paginate={"per_page": settings.PORTAL_PAGE_SIZE}).configure(table)
    return render(request, "customers/import_list.html", {"table": table})


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
            roster_import_map(roster_import=roster_import, mapping=form.mapping(), user=request.user)
        except ImportInvalid as error:
            form.add_error(None, str(error))
        else:
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
    return render(request, "customers/import_detail.html", {"roster_import": roster_import, "errors": errors})


@role_required(*PLATFORM)
@require_POST
def import_commit(request, pk):
    roster_import = get_object_or_404(RosterImport, pk=pk)
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

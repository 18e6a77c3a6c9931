"""Pages of a background export: its progress, then the download of its file. Only the user
who requested the export can open them; for anyone else they return 404."""

from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.export_files import export_file_path
from portal.exports import XLSX_CONTENT_TYPE
from portal.models import ExportLog

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_CONTENT_TYPE}
IN_PROGRESS = (ExportLog.FileStatus.QUEUED, ExportLog.FileStatus.RUNNING)


def _own_background_export(request, pk) -> ExportLog:
    return get_object_or_404(ExportLog.objects.exclude(file_status=""), pk=pk, user=request.user)


@require_safe
def export_file(request, pk):
    entry = _own_background_export(request, pk)
    context = {
        "entry": entry,
        "in_progress": entry.file_status in IN_PROGRESS,
        "retention_hours": settings.EXPORT_FILE_RETENTION_HOURS,
    }
    return render(request, "dashboard/export_file.html", context)


@require_safe
@never_cache
def export_file_progress(request, pk):
    """Render the progress bar, which htmx polls. Once the export has left QUEUED and RUNNING,
    the HX-Refresh header makes the page reload to show the download link or the failure."""
    entry = _own_background_export(request, pk)
    in_progress = entry.file_status in IN_PROGRESS
    response = render(request, "dashboard/partials/export_file_progress.html", {"entry": entry, "in_progress": in_progress})
    if not in_progress:
        response["HX-Refresh"] = "true"
    return response


@require_safe
def export_file_download(request, pk):
    entry = _own_background_export(request, pk)
    path = export_file_path(entry)
    if path is None:
        raise Http404(f"Export {entry.pk} has no file to download.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=entry.download_name or path.name,
        content_type=CONTENT_TYPES.get(entry.export_format),
    )

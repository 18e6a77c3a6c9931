"""Celery tasks of the portal app: background exports and the removal of their files."""

from celery import shared_task

from .export_files import export_file_write, export_files_remove_expired


@shared_task(name="portal.export_file_write", acks_late=True)
def export_file_write_task(*, export_log_id: int) -> None:
    export_file_write(export_log_id=export_log_id)


@shared_task(name="portal.export_files_remove")
def export_files_remove_task() -> int:
    """Delete expired export files; scheduled hourly by django-celery-beat."""
    return export_files_remove_expired()

"""Delete the files of background exports older than EXPORT_FILE_RETENTION_HOURS."""

from django.core.management.base import BaseCommand

from portal.export_files import export_files_remove_expired


class Command(BaseCommand):
    help = (
        "Delete the files of background exports written more than EXPORT_FILE_RETENTION_HOURS "
        "ago and mark those exports expired. The Celery task portal.export_files_remove does "
        "the same every hour."
    )

    def handle(self, *args, **options):
        removed = export_files_remove_expired()
        self.stdout.write(f"{removed} expired export files removed.")

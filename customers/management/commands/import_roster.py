from django.core.management.base import BaseCommand, CommandError

from customers.imports.command import arguments_add, mapping_print, report_print, table_and_mapping
from customers.imports.mapping import ROSTER_FIELDS
from customers.imports.report import ImportInvalid, ImportRejected
from customers.models import Branch
from customers.services import CommitMode, roster_import_commit, roster_import_preview


class Command(BaseCommand):
    help = (
        "Import a roster file (CSV or XLSX), matching customers on customer number. "
        "Exits with status 1 and writes nothing when rows are invalid, unless --commit-valid is given."
    )

    def add_arguments(self, parser):
        arguments_add(parser)
        parser.add_argument(
            "--default-branch", default="", metavar="CODE",
            help="Branch code for new customers without one; required when the file has no branch column.",
        )

    def handle(self, *args, **options):
        table, mapping = table_and_mapping(options, ROSTER_FIELDS)
        mapping_print(self, mapping)
        default_branch = None
        if options["default_branch"]:
            default_branch = Branch.objects.filter(code=options["default_branch"]).first()
            if default_branch is None:
                raise CommandError(f"Branch code {options['default_branch']!r} not found.")

        try:
            if options["dry_run"]:
                report = roster_import_preview(table=table, mapping=mapping, default_branch=default_branch)
            else:
                mode = CommitMode.VALID_ROWS if options["commit_valid"] else CommitMode.REJECT
                report = roster_import_commit(
                    table=table, mapping=mapping, default_branch=default_branch, user=None, mode=mode
                )
        except ImportRejected as rejected:
            report_print(self, rejected.report)
            raise CommandError(str(rejected)) from rejected
        except ImportInvalid as error:
            raise CommandError(str(error)) from error

        report_print(self, report)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            if report.invalid and not options["commit_valid"]:
                raise CommandError(f"{report.invalid} rows are invalid.")
        else:
            self.stdout.write(self.style.SUCCESS("Committed."))

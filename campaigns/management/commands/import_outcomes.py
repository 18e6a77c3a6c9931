import datetime

from django.core.management.base import BaseCommand, CommandError

from campaigns.outcomes import outcomes_import_commit, outcomes_import_preview
from customers.imports.command import arguments_add, mapping_print, report_print, table_and_mapping
from customers.imports.mapping import OUTCOME_FIELDS
from customers.imports.report import ImportInvalid, ImportRejected
from customers.services import CommitMode
from portal.models import Role, User


class Command(BaseCommand):
    help = (
        "Import past contacts as a completed historical campaign: one verified task and one "
        "contact record per row, matched to existing customers on customer number."
    )

    def add_arguments(self, parser):
        arguments_add(parser)
        parser.add_argument("--campaign-name", required=True, help="Name of the historical campaign to create.")
        parser.add_argument(
            "--date", type=datetime.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
            help="Start and due date of the campaign and contact date of rows without one; today when omitted.",
        )
        parser.add_argument(
            "--owner", default="", metavar="USERNAME",
            help="Platform operator who owns the campaign; may be omitted when exactly one is active.",
        )

    def handle(self, *args, **options):
        table, mapping = table_and_mapping(options, OUTCOME_FIELDS)
        mapping_print(self, mapping)
        try:
            if options["dry_run"]:
                report = outcomes_import_preview(table=table, mapping=mapping)
            else:
                mode = CommitMode.VALID_ROWS if options["commit_valid"] else CommitMode.REJECT
                report = outcomes_import_commit(
                    table=table,
                    mapping=mapping,
                    campaign_name=options["campaign_name"],
                    campaign_date=options["date"],
                    user=self.owner_get(options["owner"]),
                    mode=mode,
                )
        except ImportRejected as rejected:
            report_print(self, rejected.report)
            raise CommandError(str(rejected)) from rejected
        except ImportInvalid as error:
            raise CommandError(str(error)) from error

        report_print(self, report)
        outcomes = ", ".join(f"{name}: {count}" for name, count in sorted(report.details.get("outcomes", {}).items()))
        self.stdout.write(f"outcomes: {outcomes or 'none'}")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            if report.invalid and not options["commit_valid"]:
                raise CommandError(f"{report.invalid} rows are invalid.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Committed as campaign {report.details['campaign_id']}."))

    def owner_get(self, username: str) -> User:
        platform = User.objects.filter(role=Role.PLATFORM, is_active=True)
        if username:
            owner = platform.filter(username=username).first()
            if owner is None:
                raise CommandError(f"No active platform operator has the username {username!r}.")
            return owner
        operators = list(platform[:2])
        if len(operators) != 1:
            raise CommandError("Give --owner USERNAME: the campaign needs a platform operator as its owner.")
        return operators[0]

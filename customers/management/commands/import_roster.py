import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from customers.imports.command import arguments_add, mapping_print, report_json, report_print, table_and_mapping
from customers.imports.history import DEFAULT_AUM_DROP_PERCENT
from customers.imports.mapping import ROSTER_FIELDS, mapping_from_pairs, mapping_from_profile
from customers.imports.report import ImportInvalid, ImportRejected
from customers.imports.services import ImportSource, roster_file_commit
from customers.models import Branch, ImportProfile, RosterImport
from customers.services import CommitMode, roster_import_preview
from portal.models import User


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
        parser.add_argument(
            "--profile", default="", metavar="NAME",
            help="Import profile whose saved mapping and reading options to use; --map pairs still override it.",
        )
        parser.add_argument(
            "--report", default="text", choices=["text", "json"],
            help="Output format. 'json' prints only one JSON object on stdout: the counts and every invalid row.",
        )
        parser.add_argument(
            "--user", default="", metavar="USERNAME",
            help="User recorded in the import history as having run the import; 'command line' when omitted.",
        )
        parser.add_argument(
            "--partial", action="store_true",
            help="The file is not the complete roster, so customers missing from it are not flagged.",
        )
        parser.add_argument(
            "--aum-drop-percent", type=Decimal, default=DEFAULT_AUM_DROP_PERCENT, metavar="PERCENT",
            help=f"List customers whose AUM fell by at least this percentage in the roster diff (default {DEFAULT_AUM_DROP_PERCENT}).",
        )

    def handle(self, *args, **options):
        profile = profile_apply(options)
        json_report = options["report"] == "json"
        table, mapping = table_and_mapping(options, ROSTER_FIELDS)
        if profile is not None:
            mapping = mapping_from_profile(profile_mapping=profile.mapping, headers=table.headers, fields=ROSTER_FIELDS)
            try:
                mapping = mapping_from_pairs(pairs=options["map"], headers=table.headers, fields=ROSTER_FIELDS, base=mapping)
            except ImportInvalid as error:
                raise CommandError(str(error)) from error
        if not json_report:
            mapping_print(self, mapping)
        default_branch = None
        if options["default_branch"]:
            default_branch = Branch.objects.filter(code=options["default_branch"]).first()
            if default_branch is None:
                raise CommandError(f"Branch code {options['default_branch']!r} not found.")
        if not 0 <= options["aum_drop_percent"] <= 100:
            raise CommandError(f"Invalid --aum-drop-percent {options['aum_drop_percent']}: use a number from 0 to 100.")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"User {options['user']!r} not found.")
        # JSON reports list every invalid row; the text report prints the first ones.
        error_limit = 10**9 if json_report else 200
        roster_import = None

        try:
            if options["dry_run"]:
                report = roster_import_preview(
                    table=table, mapping=mapping, default_branch=default_branch, error_limit=error_limit
                )
            else:
                mode = CommitMode.VALID_ROWS if options["commit_valid"] else CommitMode.REJECT
                read_options = {key: options[key] for key in ("delimiter", "sheet", "encoding") if options[key]}
                if profile is not None:
                    read_options["profile"] = profile.name
                roster_import, report = roster_file_commit(
                    path=Path(options["file"]),
                    table=table,
                    mapping=mapping,
                    user=user,
                    source=ImportSource.COMMAND_LINE,
                    options=read_options,
                    default_branch=default_branch,
                    mode=mode,
                    error_limit=error_limit,
                    complete_roster=not options["partial"],
                    aum_drop_percent=options["aum_drop_percent"],
                )
        except ImportRejected as rejected:
            self.report_write(rejected.report, json_report=json_report, dry_run=options["dry_run"])
            raise CommandError(str(rejected)) from rejected
        except ImportInvalid as error:
            raise CommandError(str(error)) from error

        self.report_write(report, json_report=json_report, dry_run=options["dry_run"])
        if options["dry_run"]:
            if not json_report:
                self.stdout.write("Dry run: nothing was written.")
            if report.invalid and not options["commit_valid"]:
                raise CommandError(f"{report.invalid} rows are invalid.")
        elif not json_report:
            self.stdout.write(self.style.SUCCESS(f"Committed as import {roster_import.pk}."))

    def report_write(self, report, *, json_report: bool, dry_run: bool) -> None:
        if json_report:
            self.stdout.write(json.dumps(report_json(report, dry_run=dry_run), ensure_ascii=False, indent=2))
        else:
            report_print(self, report)


def profile_apply(options) -> ImportProfile | None:
    """Return the profile named by --profile and copy its reading options into `options`
    where the command line left them empty. Raises CommandError for an unknown profile."""
    name = options["profile"]
    if not name:
        return None
    profile = ImportProfile.objects.filter(name=name, kind=RosterImport.Kind.ROSTER).first()
    if profile is None:
        names = ", ".join(ImportProfile.objects.filter(kind=RosterImport.Kind.ROSTER).values_list("name", flat=True))
        raise CommandError(f"Import profile {name!r} not found. Roster profiles: {names or 'none'}.")
    for key in ("delimiter", "sheet", "encoding", "default_branch"):
        if profile.options.get(key) and not options.get(key):
            options[key] = profile.options[key]
    return profile

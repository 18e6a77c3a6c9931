"""Send the reminder mails of one business date now, without Celery."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Reminder
from campaigns.reminders import DAILY_KINDS, reminders_business_date_today, reminders_run


def parse_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Invalid --date {value!r}: expected YYYY-MM-DD, for example 2026-03-02") from None


class Command(BaseCommand):
    help = (
        "Send the reminders of one business date: digests, due-soon reminders, escalations, returned-task "
        "notices and summaries. Mails the reminder ledger already records as sent are skipped, so a second "
        "run of the same date sends nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            help="Business date as YYYY-MM-DD (default: today in Asia/Shanghai).",
        )
        parser.add_argument(
            "--kind",
            action="append",
            choices=[kind.value for kind in Reminder.Kind],
            help="Send only this kind of reminder; repeat for several kinds (default: all).",
        )

    def handle(self, *args, **options):
        business_date = parse_date(options["date"]) if options["date"] else reminders_business_date_today()
        result = reminders_run(business_date=business_date, kinds=options["kind"] or DAILY_KINDS)
        self.stdout.write(
            f"Reminders of {business_date}: {result.sent} sent, {result.skipped_already_sent} already sent, "
            f"{result.skipped_in_progress} in progress in another run, {result.skipped_no_email} skipped "
            f"without e-mail address, {result.skipped_cancelled} no longer needed, {result.failed} failed."
        )
        if result.failed:
            raise CommandError(f"{result.failed} reminder mails failed. Run the command again to resend them.")

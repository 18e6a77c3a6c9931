"""Time the dashboard, the analysis page and full task list exports on the current database."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve, reverse

from campaigns.selectors import task_list_for
from portal.models import Role, User

PAGES = (
    ("dashboard", "dashboard:index", {}),
    ("analysis for the next campaign", "dashboard:next_campaign_analysis", {}),
    ("task list CSV export", "campaigns:task_list", {"_export": "csv"}),
    ("task list XLSX export", "campaigns:task_list", {"_export": "xlsx"}),
)


class Command(BaseCommand):
    help = (
        "Time the dashboard, the analysis page and the task list exports as one user, on the "
        "current database. Everything runs in a transaction that is rolled back, so the export "
        "log entries these requests write are not kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Username to run as (default: the first platform operator).")
        parser.add_argument("--repeat", type=int, default=3, help="Number of runs per page. The fastest run is reported.")

    def handle(self, *args, user=None, repeat=3, **options):
        if repeat < 1:
            raise CommandError(f"Invalid --repeat {repeat}: give 1 or more.")
        acting_user = self._user(user)
        task_count = task_list_for(user=acting_user).count()
        self.stdout.write(f"User {acting_user.username} ({acting_user.role}), {task_count:,} tasks in scope")
        factory = RequestFactory()
        # Otherwise a large export returns a redirect and is written by a Celery worker.
        with transaction.atomic(), override_settings(EXPORT_BACKGROUND_ROWS=0):
            for title, url_name, params in PAGES:
                timings = []
                for _run in range(repeat):
                    request = factory.get(reverse(url_name), params)
                    request.user = acting_user
                    request.resolver_match = resolve(request.path)
                    with CaptureQueriesContext(connection) as queries:
                        started = time.perf_counter()
                        response = request.resolver_match.func(request, *request.resolver_match.args, **request.resolver_match.kwargs)
                        size = self._consume(response)
                        timings.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise CommandError(f"{title} returned HTTP {response.status_code} for {acting_user.username}")
                self.stdout.write(
                    f"{title}: {min(timings):.2f} s fastest of {repeat}, {len(queries)} queries, {size:,} bytes"
                )
            transaction.set_rollback(True)

    def _user(self, username):
        if username:
            try:
                return User.objects.select_related("branch").get(username=username)
            except User.DoesNotExist as error:
                raise CommandError(f"User {username!r} not found.") from error
        user = User.objects.filter(role=Role.PLATFORM, is_active=True).order_by("pk").first()
        if user is None:
            raise CommandError("No active platform operator found: pass --user USERNAME.")
        return user

    @staticmethod
    def _consume(response) -> int:
        if response.streaming:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

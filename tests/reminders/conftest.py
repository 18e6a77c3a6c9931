"""Fixtures of the reminder tests: fixed settings, a business date, and a task builder."""

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need
from tests.factories import TaskFactory

# A Monday, so "this week" runs to Sunday 8 March.
BUSINESS_DATE = datetime.date(2026, 3, 2)
PORTAL_BASE_URL = "https://portal.bank.example"
PO_FILE = Path(__file__).resolve().parents[2] / "locale" / "parts" / "reminders.po"


@pytest.fixture(autouse=True)
def reminder_settings(settings):
    settings.REMINDER_ESCALATION_DAYS = 3
    settings.REMINDER_DUE_SOON_DAYS = 7
    settings.PORTAL_BASE_URL = PORTAL_BASE_URL
    settings.DEFAULT_FROM_EMAIL = "portal@bank.example"
    return settings


@pytest.fixture
def make_task():
    """Build an open task of `assignee` due `days` days after BUSINESS_DATE (negative: overdue)."""

    def build(*, assignee, days: int, **fields):
        return TaskFactory(assignee=assignee, due_on=BUSINESS_DATE + datetime.timedelta(days=days), **fields)

    return build


@pytest.fixture
def zh_hans_catalog(settings, tmp_path):
    """Compile locale/parts/reminders.po and put it on LOCALE_PATHS, so mails render in Chinese
    before the project's merged zh_Hans catalog contains these strings."""
    msgfmt = shutil.which("msgfmt")
    need(msgfmt is not None, "msgfmt is not installed (apt-get install gettext)")
    messages_dir = tmp_path / "zh_Hans" / "LC_MESSAGES"
    messages_dir.mkdir(parents=True)
    subprocess.run([msgfmt, "--check", "-o", str(messages_dir / "django.mo"), str(PO_FILE)], check=True)
    # Changing LOCALE_PATHS makes Django drop its cached catalogs (setting_changed signal).
    settings.LOCALE_PATHS = [tmp_path, *settings.LOCALE_PATHS]
    return tmp_path

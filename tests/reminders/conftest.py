"""Fixtures of the reminder tests: fixed settings, a business date, and a task builder."""

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need
from campaigns.models import Campaign
from tests.factories import CampaignFactory, TaskFactory

# A Monday, so "this week" runs to Sunday 8 March.
BUSINESS_DATE = datetime.date(2026, 3, 2)
PORTAL_BASE_URL = "https://portal.bank.example"
PO_FILES = [
    Path(__file__).resolve().parents[2] / "locale" / "parts" / "reminders.po",
    Path(__file__).resolve().parents[2] / "locale" / "parts" / "reminders_deep.po",
    Path(__file__).resolve().parents[2] / "locale" / "parts" / "dig.po",
]


@pytest.fixture(autouse=True)
def reminder_settings(settings):
    settings.REMINDER_ESCALATION_DAYS = 3
    settings.REMINDER_DUE_SOON_DAYS = 7
    settings.REMINDER_ESCALATION_WORKING_DAYS = (1, 3, 5)
    settings.PORTAL_BASE_URL = PORTAL_BASE_URL
    settings.DEFAULT_FROM_EMAIL = "portal@bank.example"
    return settings


@pytest.fixture
def reminder_campaign(users):
    """An active campaign owned by the platform user, without due-soon reminders."""
    return CampaignFactory(
        name="Spring wealth review",
        owner=users["platform"],
        status=Campaign.Status.ACTIVE,
        starts_on=BUSINESS_DATE - datetime.timedelta(days=30),
        due_on=BUSINESS_DATE + datetime.timedelta(days=30),
        due_soon_working_days=0,
    )


@pytest.fixture
def make_task(reminder_campaign):
    """Build an open task of `assignee` in reminder_campaign, due `days` days after
    BUSINESS_DATE (negative: overdue)."""

    def build(*, assignee, days: int, **fields):
        fields.setdefault("campaign", reminder_campaign)
        return TaskFactory(assignee=assignee, due_on=BUSINESS_DATE + datetime.timedelta(days=days), **fields)

    return build


@pytest.fixture
def zh_hans_catalog(settings, tmp_path):
    """Compile the reminder PO files and put them on LOCALE_PATHS, so mails render in Chinese
    before the project's merged zh_Hans catalog contains these strings."""
    msgfmt = shutil.which("msgfmt")
    msgcat = shutil.which("msgcat")
    need(msgfmt is not None and msgcat is not None, "msgfmt or msgcat is not installed (apt-get install gettext)")
    messages_dir = tmp_path / "zh_Hans" / "LC_MESSAGES"
    messages_dir.mkdir(parents=True)
    merged = tmp_path / "reminders.po"
    subprocess.run([msgcat, "--use-first", "-o", str(merged), *map(str, PO_FILES)], check=True)
    subprocess.run([msgfmt, "--check", "-o", str(messages_dir / "django.mo"), str(merged)], check=True)
    # Changing LOCALE_PATHS makes Django drop its cached catalogs (setting_changed signal).
    settings.LOCALE_PATHS = [tmp_path, *settings.LOCALE_PATHS]
    return tmp_path

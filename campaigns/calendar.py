"""Working days of mainland China: public holidays and the official make-up working weekends.

The base calendar comes from the chinesecalendar package (pinned in requirements.txt; version
1.11.0 covers 2004 to 2026). Administrators add WorkingDayOverride rows for later years or for
a late official change, and an override always wins. Outside the package's years and without
an override, Monday to Friday count as working days."""

import datetime
import logging

import chinese_calendar

from .models import WorkingDayOverride

logger = logging.getLogger(__name__)

# The maximum run of consecutive non-working days a search walks before it raises. The longest
# official holiday so far (Spring Festival 2026 with its weekends) is 9 days.
MAX_DAYS_SEARCHED = 60


class WorkingCalendar:
    """Working-day arithmetic over a fixed set of overrides, read once from the database."""

    def __init__(self, *, overrides: dict[datetime.date, bool] | None = None):
        if overrides is None:
            overrides = dict(WorkingDayOverride.objects.values_list("date", "is_working_day"))
        self._overrides = overrides
        self._years_reported: set[int] = set()
        self._cache: dict[datetime.date, bool] = {}

    def is_working_day(self, day: datetime.date) -> bool:
        if day not in self._cache:
            self._cache[day] = self._working_day_lookup(day)
        return self._cache[day]

    def _working_day_lookup(self, day: datetime.date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self._years_reported:
                self._years_reported.add(day.year)
                logger.warning(
                    "Working calendar: no official data for %s, so Monday to Friday count as working days. "
                    "Add working-day overrides in the admin",
                    day.year,
                )
            return day.weekday() < 5

    def add_working_days(self, day: datetime.date, count: int) -> datetime.date:
        """Return the working day `count` working days after `day` (before it when negative).
        With count 0, return `day` itself."""
        step = datetime.timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        current = day
        searched = 0
        while remaining:
            current += step
            searched += 1
            if searched > MAX_DAYS_SEARCHED + abs(count) * 7:
                raise ValueError(f"No working day found within {searched} days of {day}: check the overrides")
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Count the working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        current = start
        while current < end:
            current += datetime.timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

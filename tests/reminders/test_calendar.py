"""The mainland China working-day calendar with administrator overrides."""

import datetime

import pytest

from campaigns.calendar import WorkingCalendar
from campaigns.models import WorkingDayOverride

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2026, 2, 13), True),  # Friday before the Spring Festival
        (datetime.date(2026, 2, 14), True),  # make-up working Saturday
        (datetime.date(2026, 2, 16), False),  # Spring Festival holiday, a Monday
        (datetime.date(2026, 2, 28), True),  # make-up working Saturday
        (datetime.date(2026, 3, 1), False),  # ordinary Sunday
        (datetime.date(2026, 10, 1), False),  # National Day
        (datetime.date(2026, 3, 2), True),  # ordinary Monday
    ],
)
def test_official_calendar_2026(day, expected):
    assert WorkingCalendar().is_working_day(day) is expected


def test_override_wins_over_package():
    WorkingDayOverride.objects.create(date=datetime.date(2026, 3, 2), is_working_day=False, note="System migration")
    WorkingDayOverride.objects.create(date=datetime.date(2026, 3, 1), is_working_day=True)

    calendar = WorkingCalendar()

    assert calendar.is_working_day(datetime.date(2026, 3, 2)) is False
    assert calendar.is_working_day(datetime.date(2026, 3, 1)) is True


def test_uncovered_year_uses_weekdays(caplog):
    calendar = WorkingCalendar()

    with caplog.at_level("WARNING", logger="campaigns.calendar"):
        monday = calendar.is_working_day(datetime.date(2031, 1, 6))
        saturday = calendar.is_working_day(datetime.date(2031, 1, 4))
        calendar.is_working_day(datetime.date(2031, 1, 7))

    assert monday is True
    assert saturday is False
    assert caplog.text.count("no official data for 2031") == 1


def test_uncovered_year_override_applies():
    WorkingDayOverride.objects.create(date=datetime.date(2031, 1, 1), is_working_day=False, note="New Year's Day")

    assert WorkingCalendar().is_working_day(datetime.date(2031, 1, 1)) is False


def test_add_working_days_over_holiday():
    calendar = WorkingCalendar()

    # From Friday 13 February, one working day later is the make-up Saturday 14 February,
    # and the next one after it is Tuesday 24 February, after the holiday.
    assert calendar.add_working_days(datetime.date(2026, 2, 13), 1) == datetime.date(2026, 2, 14)
    assert calendar.add_working_days(datetime.date(2026, 2, 13), 2) == datetime.date(2026, 2, 24)
    assert calendar.add_working_days(datetime.date(2026, 2, 24), -1) == datetime.date(2026, 2, 14)
    assert calendar.add_working_days(datetime.date(2026, 3, 1), 0) == datetime.date(2026, 3, 1)


def test_working_days_between_counts_end():
    calendar = WorkingCalendar()

    assert calendar.working_days_between(datetime.date(2026, 2, 26), datetime.date(2026, 3, 2)) == 3
    assert calendar.working_days_between(datetime.date(2026, 2, 14), datetime.date(2026, 2, 23)) == 0
    assert calendar.working_days_between(datetime.date(2026, 3, 2), datetime.date(2026, 3, 2)) == 0
    assert calendar.working_days_between(datetime.date(2026, 3, 3), datetime.date(2026, 3, 2)) == 0


def test_all_holidays_override_raises():
    start = datetime.date(2031, 1, 1)
    overrides = {start + datetime.timedelta(days=offset): False for offset in range(1, 200)}

    with pytest.raises(ValueError, match="No working day found within 68 days of 2031-01-01"):
        WorkingCalendar(overrides=overrides).add_working_days(start, 1)

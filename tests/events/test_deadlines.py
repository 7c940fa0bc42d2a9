"""Working-time deadlines: the official calendar with make-up days, office hours, overrides.

Expected datetimes are worked out by hand in the comments (Asia/Shanghai, 08:30–12:00 and 13:30–17:30).
The 2026 Spring Festival: holidays Sun 15 Feb … Mon 23 Feb; make-up working Saturdays 14 Feb and 28 Feb.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pingan.events import deadlines
from pingan.events.deadlines import add_time, is_workday, working_minutes_between
from pingan.events.models import WorkCalendarDay

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    deadlines.clear_calendar_cache()
    yield
    deadlines.clear_calendar_cache()


pytestmark = pytest.mark.django_db


def test_the_official_calendar_knows_the_2026_spring_festival_and_its_make_up_saturdays() -> None:
    assert is_workday(dt.date(2026, 2, 13))  # Friday
    assert is_workday(dt.date(2026, 2, 14))  # Saturday, made up
    assert not any(is_workday(dt.date(2026, 2, d)) for d in range(15, 24))
    assert is_workday(dt.date(2026, 2, 24))
    assert is_workday(dt.date(2026, 2, 28))  # Saturday, made up
    assert not is_workday(dt.date(2026, 3, 1))  # an ordinary Sunday


def test_a_limit_across_the_spring_festival_counts_the_make_up_saturday() -> None:
    # Fri 13 Feb 16:00 + 960 min: Fri 16:00–17:30 = 90 (870 left); Sat 14 (make-up) 210 + 240 = 450 (420 left);
    # Sun 15 … Mon 23 holidays; Tue 24 morning 210 (210 left); afternoon 13:30 + 210 = 17:00.
    result = add_time(at(2026, 2, 13, 16, 0), 960, "working")
    assert result == at(2026, 2, 24, 17, 0)
    assert result.tzinfo == dt.UTC
    # Fri 13 Feb 16:00 + 480 min: Fri 90 (390 left); Sat 14 morning 210 (180 left); 13:30 + 180 = 16:30 Saturday.
    assert add_time(at(2026, 2, 13, 16, 0), 480, "working") == at(2026, 2, 14, 16, 30)


def test_the_second_make_up_saturday_counts_too() -> None:
    # Fri 27 Feb 17:00 + 60: 30 on Friday, then Sat 28 Feb (make-up) 08:30 + 30 = 09:00.
    assert add_time(at(2026, 2, 27, 17, 0), 60, "working") == at(2026, 2, 28, 9, 0)
    # Sat 28 Feb 17:00 + 60: 30 on Saturday, Sun 1 Mar is a rest day, Mon 2 Mar 08:30 + 30 = 09:00.
    assert add_time(at(2026, 2, 28, 17, 0), 60, "working") == at(2026, 3, 2, 9, 0)


def test_the_lunch_break_does_not_count() -> None:
    # Tue 3 Mar 11:30 + 60: 30 until 12:00, then 13:30 + 30 = 14:00.
    assert add_time(at(2026, 3, 3, 11, 30), 60, "working") == at(2026, 3, 3, 14, 0)
    # A start in the lunch break begins at 13:30.
    assert add_time(at(2026, 3, 3, 12, 45), 15, "working") == at(2026, 3, 3, 13, 45)


def test_a_limit_that_fills_the_morning_ends_at_noon_not_after_lunch() -> None:
    assert add_time(at(2026, 3, 3, 8, 30), 210, "working") == at(2026, 3, 3, 12, 0)


def test_an_evening_start_begins_the_next_working_morning() -> None:
    # Tue 3 Mar 19:00 + 30 → Wed 4 Mar 09:00.
    assert add_time(at(2026, 3, 3, 19, 0), 30, "working") == at(2026, 3, 4, 9, 0)
    # Fri 6 Mar 18:00 + 30 → Mon 9 Mar 09:00 (the weekend does not count).
    assert add_time(at(2026, 3, 6, 18, 0), 30, "working") == at(2026, 3, 9, 9, 0)
    # Zero minutes from the evening is the next working moment.
    assert add_time(at(2026, 3, 3, 19, 0), 0, "working") == at(2026, 3, 4, 8, 30)


def test_a_start_given_in_utc_is_read_in_shanghai_time() -> None:
    # 2026-03-03 01:00 UTC is 09:00 in Shanghai; + 60 = 10:00 Shanghai = 02:00 UTC.
    start = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)
    assert add_time(start, 60, "working") == dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC)


def test_calendar_basis_is_plain_elapsed_time_through_holidays_and_nights() -> None:
    assert add_time(at(2026, 2, 14, 16, 0), 24 * 60, "calendar") == at(2026, 2, 15, 16, 0)
    assert add_time(at(2026, 3, 3, 19, 0), 30, "calendar") == at(2026, 3, 3, 19, 30)


def test_naive_datetimes_negative_limits_and_unknown_bases_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_time(dt.datetime(2026, 3, 3, 9, 0), 10, "working")  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        add_time(at(2026, 3, 3, 9), -1, "working")
    with pytest.raises(ValueError, match="basis"):
        add_time(at(2026, 3, 3, 9), 1, "lunar")


def test_an_override_turns_a_working_day_into_a_holiday() -> None:
    # Without the override: Mon 2 Mar 17:00 + 60 → Tue 3 Mar 09:00.
    assert add_time(at(2026, 3, 2, 17, 0), 60, "working") == at(2026, 3, 3, 9, 0)
    WorkCalendarDay.objects.create(date=dt.date(2026, 3, 3), is_workday=False, note="local holiday")
    # The save clears the cache, so Tuesday is now skipped: Wed 4 Mar 09:00.
    assert not is_workday(dt.date(2026, 3, 3))
    assert add_time(at(2026, 3, 2, 17, 0), 60, "working") == at(2026, 3, 4, 9, 0)


def test_an_override_turns_a_sunday_into_a_working_day_and_deleting_it_restores_the_calendar() -> None:
    day = WorkCalendarDay.objects.create(date=dt.date(2026, 3, 8), is_workday=True)
    # Fri 6 Mar 17:00 + 60: 30 on Friday, Saturday off, Sunday 8 Mar worked: 09:00.
    assert add_time(at(2026, 3, 6, 17, 0), 60, "working") == at(2026, 3, 8, 9, 0)
    day.delete()
    assert add_time(at(2026, 3, 6, 17, 0), 60, "working") == at(2026, 3, 9, 9, 0)


def test_overriding_the_make_up_saturday_moves_the_deadline_a_day() -> None:
    WorkCalendarDay.objects.create(date=dt.date(2026, 2, 14), is_workday=False)
    # Fri 13 Feb 16:00 + 960: Fri 90 (870 left); Tue 24 450 (420 left); Wed 25 morning 210; 13:30 + 210 = 17:00.
    assert add_time(at(2026, 2, 13, 16, 0), 960, "working") == at(2026, 2, 25, 17, 0)


def test_a_year_the_official_calendar_does_not_know_falls_back_to_monday_to_friday_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deadlines._unknown_years_logged.discard(2031)
    with caplog.at_level(logging.WARNING, logger="pingan.events.deadlines"):
        assert is_workday(dt.date(2031, 1, 1))  # a Wednesday; New Year's Day, but 2031 is not known
        assert not is_workday(dt.date(2031, 1, 4))  # Saturday
        assert is_workday(dt.date(2031, 1, 6))
    assert sum("2031" in r.getMessage() for r in caplog.records) == 1
    WorkCalendarDay.objects.create(date=dt.date(2031, 1, 1), is_workday=False, note="New Year")
    assert not is_workday(dt.date(2031, 1, 1))


def test_working_minutes_between_skips_nights_lunch_and_the_festival() -> None:
    # Fri 13 Feb 12:00 → Tue 24 Feb 09:00: Fri afternoon 240 + Sat 14 450 + Tue 24 08:30–09:00 30 = 720.
    assert working_minutes_between(at(2026, 2, 13, 12, 0), at(2026, 2, 24, 9, 0)) == 720
    assert working_minutes_between(at(2026, 3, 3, 11, 0), at(2026, 3, 3, 14, 0)) == 60 + 30
    assert working_minutes_between(at(2026, 3, 3, 19, 0), at(2026, 3, 3, 23, 0)) == 0
    assert working_minutes_between(at(2026, 3, 4, 9, 0), at(2026, 3, 3, 9, 0)) == 0


def test_working_hours_come_from_the_settings_when_set(settings: object) -> None:
    settings.PINGAN_WORK_HOURS = "09:00-17:00"  # type: ignore[attr-defined]
    # Tue 3 Mar 16:30 + 60: 30 until 17:00, then Wed 09:00 + 30 = 09:30.
    assert add_time(at(2026, 3, 3, 16, 30), 60, "working") == at(2026, 3, 4, 9, 30)
    assert deadlines.work_hours() == ((dt.time(9), dt.time(17)),)


@pytest.mark.parametrize("text", ["08:30-12:00,11:00-17:30", "12:00-08:30", "morning", "08:30"])
def test_unreadable_or_overlapping_working_hours_are_a_configuration_error(text: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        deadlines.parse_work_hours(text)


def test_the_working_hours_setting_is_parsed_with_spaces_and_several_intervals() -> None:
    assert deadlines.parse_work_hours(" 08:00-11:30 , 14:00-18:00") == (
        (dt.time(8), dt.time(11, 30)), (dt.time(14), dt.time(18)))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2025, 12, 1), max_value=dt.datetime(2026, 12, 31),  # noqa: DTZ001
                       timezones=st.just(SH)),
    minutes=st.integers(min_value=0, max_value=20000),
)
def test_working_minutes_between_undoes_add_time(start: dt.datetime, minutes: int) -> None:
    result = add_time(start, minutes, "working")
    assert result >= start
    assert working_minutes_between(start, result) == minutes


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31),  # noqa: DTZ001
                       timezones=st.just(SH)),
    minutes=st.integers(min_value=1, max_value=5000),
)
def test_a_working_deadline_always_falls_inside_working_hours_of_a_working_day(start: dt.datetime, minutes: int) -> None:
    local = add_time(start, minutes, "working").astimezone(SH)
    assert is_workday(local.date())
    assert any(s < local.time() <= e for s, e in deadlines.work_hours())

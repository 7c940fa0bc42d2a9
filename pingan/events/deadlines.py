"""Working-time deadlines: China's official working calendar, office hours, and time limits counted in them.

A working day is decided by, in order: an admin's :class:`~pingan.events.models.WorkCalendarDay` override
for that date; the official calendar as published by the State Council (the ``chinesecalendar`` package,
which knows holidays and make-up working days, 调休); Monday to Friday for years that package does not
know yet (logged once per year, so an admin knows to enter the year's overrides).

Working hours are ``WORK_HOURS`` in Asia/Shanghai, or ``settings.PINGAN_WORK_HOURS``
(``"08:30-12:00,13:30-17:30"``). Every function takes aware datetimes and returns aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time as monotonic_time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from pingan.events.models import TimeBasis, WorkCalendarDay

log = logging.getLogger("pingan.events.deadlines")

TZ = ZoneInfo("Asia/Shanghai")
WORK_HOURS: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))

# Another process's change to the working calendar reaches this one within this many seconds;
# a change in this process clears the cache at once (signals below).
CACHE_SECONDS = 300.0

_MINUTE = dt.timedelta(minutes=1)
_unknown_years_logged: set[int] = set()
_cache_born = monotonic_time.monotonic()


def parse_work_hours(text: str) -> tuple[tuple[dt.time, dt.time], ...]:
    """``"08:30-12:00,13:30-17:30"`` → ((08:30, 12:00), (13:30, 17:30)); ordered, not overlapping."""
    intervals: list[tuple[dt.time, dt.time]] = []
    try:
        for part in text.split(","):
            start_text, end_text = part.strip().split("-")
            intervals.append((dt.time.fromisoformat(start_text.strip()), dt.time.fromisoformat(end_text.strip())))
    except ValueError as exc:
        raise ImproperlyConfigured(f"PINGAN_WORK_HOURS: cannot read {text!r} (expected e.g. 08:30-12:00,13:30-17:30)") from exc
    previous_end = dt.time.min
    for index, (start, end) in enumerate(intervals):
        if not start < end or (index and start < previous_end):
            raise ImproperlyConfigured(f"PINGAN_WORK_HOURS: intervals must be ordered and must not overlap: {text!r}")
        previous_end = end
    return tuple(intervals)


@functools.cache
def work_hours() -> tuple[tuple[dt.time, dt.time], ...]:
    """The working intervals of a working day: ``settings.PINGAN_WORK_HOURS`` if set, else ``WORK_HOURS``."""
    text = getattr(settings, "PINGAN_WORK_HOURS", "")
    return parse_work_hours(text) if text else WORK_HOURS


def official_workday(day: dt.date) -> bool:
    """The State Council's calendar (with make-up working days); Monday to Friday for unknown years."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _unknown_years_logged:
            _unknown_years_logged.add(day.year)
            log.warning("the official holiday calendar for %s is not known; counting Monday to Friday as working "
                        "days (enter the year's holidays as working-calendar overrides)", day.year)
        return day.weekday() < 5


@functools.lru_cache(maxsize=4096)
def _is_workday(day: dt.date) -> bool:
    override = WorkCalendarDay.objects.filter(date=day).values_list("is_workday", flat=True).first()
    return official_workday(day) if override is None else bool(override)


def is_workday(day: dt.date) -> bool:
    """WorkCalendarDay override if present, else the official calendar, else Monday to Friday."""
    global _cache_born
    if monotonic_time.monotonic() - _cache_born > CACHE_SECONDS:
        clear_calendar_cache()
    return _is_workday(day)


def clear_calendar_cache() -> None:
    """Forget cached days and the parsed working hours (called when WorkCalendarDay or the settings change)."""
    global _cache_born
    _is_workday.cache_clear()
    work_hours.cache_clear()
    _cache_born = monotonic_time.monotonic()


@receiver(post_save, sender=WorkCalendarDay)
@receiver(post_delete, sender=WorkCalendarDay)
def _calendar_changed(**kwargs: Any) -> None:
    clear_calendar_cache()


@receiver(setting_changed)
def _setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "PINGAN_WORK_HOURS":
        clear_calendar_cache()


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("deadlines need aware datetimes")
    return moment.astimezone(TZ)


def _working_intervals(first_day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Working intervals (local, aware) from ``first_day`` on, in order, without end."""
    day, idle_days = first_day, 0
    while True:
        if is_workday(day):
            idle_days = 0
            for start, end in work_hours():
                yield dt.datetime.combine(day, start, tzinfo=TZ), dt.datetime.combine(day, end, tzinfo=TZ)
        else:
            idle_days += 1
            if idle_days > 366:
                raise ImproperlyConfigured(f"the working calendar has no working day for a year after {first_day}")
        day += dt.timedelta(days=1)


def add_time(start: dt.datetime, minutes: int, basis: str = TimeBasis.WORKING) -> dt.datetime:
    """``start`` plus ``minutes`` of calendar time, or of working time.

    In working time, a start outside working hours counts from the next working moment, and a limit
    that uses up an interval exactly ends at that interval's end (12:00, not 13:30). So
    ``add_time(start, 0, "working")`` is the next working moment at or after ``start``.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    local = _local(start)
    if basis == TimeBasis.CALENDAR:
        return (local + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)
    if basis != TimeBasis.WORKING:
        raise ValueError(f"unknown time basis {basis!r}")
    remaining = dt.timedelta(minutes=minutes)
    for interval_start, interval_end in _working_intervals(local.date()):
        if interval_end <= local:
            continue
        begin = max(local, interval_start)
        available = interval_end - begin
        if remaining <= available:
            return (begin + remaining).astimezone(dt.UTC)
        remaining -= available
    raise AssertionError("unreachable: working intervals never end")  # pragma: no cover


def working_minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole working minutes from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
    local_start, local_end = _local(start), _local(end)
    if local_end <= local_start:
        return 0
    total = dt.timedelta()
    for interval_start, interval_end in _working_intervals(local_start.date()):
        if interval_start >= local_end:
            break
        overlap = min(interval_end, local_end) - max(interval_start, local_start)
        if overlap > dt.timedelta():
            total += overlap
    return total // _MINUTE

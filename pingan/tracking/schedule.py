"""When a zone is active: dates, weekdays and daily windows in Asia/Shanghai (pure Python, no Django).

A schedule is active at a moment when the moment falls in one of the day's *windows*, on a day that
*runs*:

* a day runs when its weekday is in ``weekdays`` (ISO, 1 = Monday … 7 = Sunday; all days when not
  given), it lies in one of the ``dates`` ranges (inclusive; every date when none is given), and in none
  of the ``except_dates`` ranges;
* a window is ``[start, end)`` in local time, minutes of the day (``"HH:MM"`` in :meth:`Schedule.to_dict`,
  ``"24:00"`` allowed as an end). A window whose end is not after its start crosses midnight and belongs
  to the day it starts on: ``22:00–06:00`` on a running Friday is Friday 22:00 to Saturday 06:00, whether
  or not Saturday runs. ``00:00–00:00`` (or no window at all) is the whole day.

Local time is UTC+8: China has kept no daylight saving time since 1991, so for every moment after
1991 this is exactly Asia/Shanghai (the test suite checks it against ``zoneinfo``).

iCalendar RRULE strings are not supported: ``python-dateutil`` is not installed in this project, and
dates + weekdays + windows cover the schedules zones need (school hours, night bans, special periods).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["LOCAL_OFFSET_S", "Schedule", "local_day", "local_seconds"]

LOCAL_OFFSET_S = 8 * 3600
DAY_S = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_CACHE_DAYS = 2048
_SEARCH_DAYS = 8  # beyond the dates given, a weekly pattern repeats within 8 days


def local_day(t: float) -> int:
    """The Asia/Shanghai day of a POSIX moment, as days since 1970-01-01."""
    return math.floor((t + LOCAL_OFFSET_S) / DAY_S)


def local_seconds(t: float) -> float:
    """Seconds since Asia/Shanghai midnight of a POSIX moment."""
    return (t + LOCAL_OFFSET_S) % DAY_S


def _minutes(value: Any, *, end: bool) -> int:
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str):
        hh, sep, mm = value.strip().partition(":")
        if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
            raise ValueError(f"a time must be HH:MM, not {value!r}")
        minutes = int(hh) * 60 + int(mm)
        if int(mm) >= 60:
            raise ValueError(f"a time must be HH:MM, not {value!r}")
    else:
        raise ValueError(f"a time must be HH:MM, not {value!r}")
    if not 0 <= minutes <= (1440 if end else 1439):
        raise ValueError(f"time {value!r} is outside the day")
    return minutes


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError("a date range holds dates, not datetimes")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip())
    raise ValueError(f"a date must be YYYY-MM-DD, not {value!r}")


def _ranges(values: Iterable[Any] | None) -> tuple[tuple[int, int], ...]:
    out = []
    for item in values or ():
        if isinstance(item, dt.date | str):
            first = last = _date(item)
        else:
            pair = list(item)
            if len(pair) != 2:
                raise ValueError("a date range is [first, last]")
            first, last = _date(pair[0]), _date(pair[1])
        if last < first:
            raise ValueError(f"date range {first}–{last} ends before it starts")
        out.append((first.toordinal() - _EPOCH_ORDINAL, last.toordinal() - _EPOCH_ORDINAL))
    return tuple(sorted(out))


def _in(day: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(a <= day <= b for a, b in ranges)


class Schedule:
    """A zone's activity in time (see the module docstring). Immutable; caches one entry per local day."""

    __slots__ = ("_cache", "dates", "except_dates", "weekdays", "windows")

    def __init__(self, *, windows: Iterable[Sequence[Any]] = (), weekdays: Iterable[int] | None = None,
                 dates: Iterable[Any] | None = None, except_dates: Iterable[Any] | None = None) -> None:
        wins = []
        for window in windows:
            pair = list(window)
            if len(pair) != 2:
                raise ValueError("a window is [start, end]")
            wins.append((_minutes(pair[0], end=False), _minutes(pair[1], end=True)))
        self.windows: tuple[tuple[int, int], ...] = tuple(sorted(set(wins)))
        if weekdays is None:
            self.weekdays: frozenset[int] | None = None
        else:
            days = frozenset(int(d) for d in weekdays)
            if not days or not days <= set(range(1, 8)):
                raise ValueError("weekdays are 1 (Monday) … 7 (Sunday), at least one")
            self.weekdays = None if len(days) == 7 else days
        self.dates = _ranges(dates)
        self.except_dates = _ranges(except_dates)
        self._cache: dict[int, tuple[float, ...]] = {}

    # -- construction from / to JSON --------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """From the JSON form :meth:`to_dict` writes (what the Zone model stores)."""
        if not isinstance(data, dict):
            raise ValueError("a schedule is a JSON object")
        if "rrule" in data:
            raise ValueError("RRULE schedules are not supported (python-dateutil is not installed); "
                             "use dates, weekdays and windows")
        unknown = set(data) - {"windows", "weekdays", "dates", "except"}
        if unknown:
            raise ValueError(f"unknown schedule keys: {', '.join(sorted(unknown))}")
        return cls(windows=data.get("windows") or (), weekdays=data.get("weekdays"), dates=data.get("dates"),
                   except_dates=data.get("except"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"windows": [["22:00", "06:00"]], "weekdays": [1, …], "dates": [["2026-05-01",
        "2026-05-05"]], "except": […]}``, keys left out when empty."""
        out: dict[str, Any] = {}
        if self.windows:
            out["windows"] = [[_hhmm(a), _hhmm(b)] for a, b in self.windows]
        if self.weekdays is not None:
            out["weekdays"] = sorted(self.weekdays)
        if self.dates:
            out["dates"] = [[_iso(a), _iso(b)] for a, b in self.dates]
        if self.except_dates:
            out["except"] = [[_iso(a), _iso(b)] for a, b in self.except_dates]
        return out

    def __repr__(self) -> str:
        return f"Schedule({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return self.windows, self.weekdays, self.dates, self.except_dates

    # -- evaluation -------------------------------------------------------------------------------

    def runs(self, day: int) -> bool:
        """Whether local day ``day`` (days since 1970-01-01) runs."""
        if self.weekdays is not None and (day + 3) % 7 + 1 not in self.weekdays:  # 1970-01-01 was a Thursday
            return False
        if self.dates and not _in(day, self.dates):
            return False
        return not (self.except_dates and _in(day, self.except_dates))

    def _day(self, day: int) -> tuple[float, ...]:
        """The active stretches of a local day as flat boundaries [a0, b0, a1, b1, …] (seconds of the day)."""
        hit = self._cache.get(day)
        if hit is not None:
            return hit
        spans: list[tuple[int, int]] = []
        windows = self.windows or ((0, 0),)
        if self.runs(day):
            for a, b in windows:
                spans.append((a * 60, b * 60 if b > a else DAY_S))
        if self.runs(day - 1):
            for a, b in windows:
                if 0 < b <= a:  # yesterday's window crossing midnight
                    spans.append((0, b * 60))
        spans.sort()
        flat: list[float] = []
        for a, b in spans:
            if flat and a <= flat[-1]:
                flat[-1] = max(flat[-1], b)
            else:
                flat += [a, b]
        out = tuple(flat)
        if len(self._cache) >= _CACHE_DAYS:
            self._cache.clear()
        self._cache[day] = out
        return out

    def active(self, t: float) -> bool:
        """Whether the schedule is active at POSIX moment ``t``."""
        local = t + LOCAL_OFFSET_S
        day = math.floor(local / DAY_S)
        flat = self._day(day)
        return bool(flat) and bisect.bisect_right(flat, local - day * DAY_S) % 2 == 1

    def active_many(self, t: np.ndarray) -> np.ndarray:
        """:meth:`active` for an array of moments."""
        t = np.asarray(t, dtype=np.float64)
        local = t + LOCAL_OFFSET_S
        days = np.floor(local / DAY_S)
        out = np.zeros(t.shape, dtype=bool)
        for day in np.unique(days[np.isfinite(days)]):
            sel = days == day
            flat = self._day(int(day))
            if flat:
                out[sel] = np.searchsorted(np.asarray(flat), local[sel] - day * DAY_S, side="right") % 2 == 1
        return out

    def _horizon(self, day: int) -> int:
        last = max([b for _, b in self.dates + self.except_dates], default=day)
        return max(day, last) + _SEARCH_DAYS

    def next_change(self, t: float) -> float | None:
        """The first moment after ``t`` at which :meth:`active` flips, or None when it never does again."""
        local = t + LOCAL_OFFSET_S
        day = math.floor(local / DAY_S)
        state = self.active(t)
        end = self._horizon(day)
        if not state:
            d = day
            while d <= end:
                flat = self._day(d)
                base = d * DAY_S
                for a in flat[0::2]:
                    if base + a > local:
                        return base + a - LOCAL_OFFSET_S
                d += 1
            return None
        # active: find the end of the stretch holding t, following stretches across midnight
        d = day
        sec = local - day * DAY_S
        flat = self._day(d)
        i = bisect.bisect_right(flat, sec)  # odd: inside stretch (i - 1) // 2
        stop = flat[i]
        while stop >= DAY_S:
            d += 1
            if d > end:
                return None
            flat = self._day(d)
            if not flat or flat[0] > 0:
                break
            stop = flat[1]
        return d * DAY_S + stop - LOCAL_OFFSET_S if stop < DAY_S else d * DAY_S - LOCAL_OFFSET_S

    def changes(self, t0: float, t1: float) -> list[tuple[float, bool]]:
        """Every flip in ``(t0, t1]`` as (moment, active from then on), in time order."""
        out: list[tuple[float, bool]] = []
        if not (t1 > t0):
            return out
        state = self.active(t0)
        t = t0
        while True:
            nxt = self.next_change(t)
            if nxt is None or nxt > t1:
                return out
            state = not state
            out.append((nxt, state))
            t = nxt


def _iso(day: int) -> str:
    return dt.date.fromordinal(day + _EPOCH_ORDINAL).isoformat()

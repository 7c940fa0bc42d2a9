"""Tests for pingan.tracking.schedule: windows across midnight, date ranges, weekdays, Asia/Shanghai, flips."""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from pingan.tracking.schedule import LOCAL_OFFSET_S, Schedule, local_day, local_seconds

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    """A POSIX moment from a Shanghai wall-clock time 'YYYY-MM-DD HH:MM[:SS]'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def test_local_time_is_asia_shanghai_without_daylight_saving() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        t = rng.uniform(dt.datetime(1992, 1, 1, tzinfo=dt.UTC).timestamp(),
                        dt.datetime(2060, 1, 1, tzinfo=dt.UTC).timestamp())
        local = dt.datetime.fromtimestamp(t, SHANGHAI)
        assert local.utcoffset() == dt.timedelta(seconds=LOCAL_OFFSET_S)
        assert local_day(t) == (local.date() - dt.date(1970, 1, 1)).days
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        assert local_seconds(t) == pytest.approx((local - midnight).total_seconds(), abs=1e-6)


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    # Friday nights only: Friday 22:00 → Saturday 06:00, even though Saturday does not run
    s = Schedule(windows=[("22:00", "06:00")], weekdays=[5])
    assert not s.active(at("2026-05-01 21:59:59"))           # Friday
    assert s.active(at("2026-05-01 22:00"))
    assert s.active(at("2026-05-02 03:00"))                  # Saturday morning
    assert s.active(at("2026-05-02 05:59:59"))
    assert not s.active(at("2026-05-02 06:00"))
    assert not s.active(at("2026-05-02 23:00"))              # Saturday night: Saturday does not run
    assert not s.active(at("2026-05-01 03:00"))              # Friday morning: Thursday did not run


def test_date_ranges_are_inclusive_shanghai_dates() -> None:
    s = Schedule(dates=[("2026-10-01", "2026-10-07")])
    assert not s.active(at("2026-09-30 23:59:59"))
    assert s.active(at("2026-10-01 00:00"))
    assert s.active(at("2026-10-07 23:59:59"))
    assert not s.active(at("2026-10-08 00:00"))
    # the same range with a night window: the last night runs past the range's end, into the 8th
    night = Schedule(dates=[("2026-10-01", "2026-10-07")], windows=[("20:00", "02:00")])
    assert night.active(at("2026-10-08 01:00"))
    assert not night.active(at("2026-10-08 20:00"))
    assert not night.active(at("2026-10-01 01:00"))


def test_except_dates_and_weekdays_combine() -> None:
    school = Schedule(weekdays=[1, 2, 3, 4, 5], windows=[("07:00", "17:00")], except_dates=["2026-05-01"])
    assert school.active(at("2026-04-30 08:00"))             # Thursday
    assert not school.active(at("2026-05-01 08:00"))         # Friday, but a holiday
    assert not school.active(at("2026-05-02 08:00"))         # Saturday
    assert school.active(at("2026-05-04 16:59"))
    assert not school.active(at("2026-05-04 17:00"))


def test_overlapping_and_whole_day_windows() -> None:
    s = Schedule(windows=[("08:00", "12:00"), ("11:00", "13:00")])
    assert s.active(at("2026-05-04 12:30"))
    assert s.next_change(at("2026-05-04 09:00")) == at("2026-05-04 13:00")
    whole = Schedule(windows=[("00:00", "00:00")])
    assert whole.active(at("2026-05-04 00:00")) and whole.active(at("2026-05-04 23:59:59"))
    assert whole.next_change(at("2026-05-04 12:00")) is None
    assert Schedule().next_change(at("2026-05-04 12:00")) is None
    until_midnight = Schedule(windows=[("18:00", "24:00")])
    assert until_midnight.active(at("2026-05-04 23:59:59"))
    assert not until_midnight.active(at("2026-05-05 00:00"))


def test_next_change_follows_a_stretch_across_midnight() -> None:
    # 20:00–24:00 and 00:00–06:00 touch at midnight: one stretch 20:00 → 06:00
    s = Schedule(windows=[("20:00", "24:00"), ("00:00", "06:00")])
    assert s.next_change(at("2026-05-04 21:00")) == at("2026-05-05 06:00")
    assert s.next_change(at("2026-05-05 07:00")) == at("2026-05-05 20:00")
    assert s.changes(at("2026-05-04 19:00"), at("2026-05-05 21:00")) == [
        (at("2026-05-04 20:00"), True), (at("2026-05-05 06:00"), False), (at("2026-05-05 20:00"), True)]


def test_next_change_for_a_special_period_far_ahead() -> None:
    s = Schedule(dates=[("2027-03-01", "2027-03-15")], windows=[("09:00", "18:00")])
    assert s.next_change(at("2026-05-04 12:00")) == at("2027-03-01 09:00")
    assert s.next_change(at("2027-03-15 12:00")) == at("2027-03-15 18:00")
    assert s.next_change(at("2027-03-15 19:00")) is None


def brute_next_change(s: Schedule, t: float, step: float = 900.0, limit_days: int = 20) -> float | None:
    """Quarter-hour by quarter-hour (the schedules below flip on whole quarter-hours only)."""
    state = s.active(t)
    probe = (t // step + 1) * step
    end = t + limit_days * 86400
    while probe <= end:
        if s.active(probe) != state:
            return probe
        probe += step
    return None


@pytest.mark.parametrize("seed", range(12))
def test_next_change_matches_a_brute_force_scan(seed: int) -> None:
    rng = random.Random(seed)

    def hhmm() -> str:
        return f"{rng.randrange(24):02d}:{rng.randrange(0, 60, 15):02d}"

    windows = [(hhmm(), hhmm()) for _ in range(rng.randint(0, 3))]
    weekdays = rng.sample(range(1, 8), rng.randint(1, 7)) if rng.random() < 0.6 else None
    base = dt.date(2026, 5, 1)
    dates = []
    if rng.random() < 0.5:
        a = base + dt.timedelta(days=rng.randint(0, 6))
        dates = [(a.isoformat(), (a + dt.timedelta(days=rng.randint(0, 4))).isoformat())]
    s = Schedule(windows=windows, weekdays=weekdays, dates=dates)
    t0 = at("2026-05-01 00:00")
    for _ in range(25):
        t = t0 + rng.uniform(0, 10 * 86400)
        assert s.next_change(t) == brute_next_change(s, t), (s, t)


def test_active_many_matches_active() -> None:
    s = Schedule(windows=[("22:00", "06:00"), ("12:00", "13:00")], weekdays=[1, 3, 5, 7])
    rng = np.random.default_rng(1)
    t = at("2026-05-01 00:00") + rng.uniform(0, 20 * 86400, 5000)
    assert (s.active_many(t) == np.array([s.active(v) for v in t.tolist()])).all()


def test_round_trip_through_json() -> None:
    s = Schedule(windows=[("22:00", "06:00"), ("07:30", "08:00")], weekdays=[1, 2, 3, 4, 5],
                 dates=[("2026-05-01", "2026-05-05")], except_dates=[("2026-05-03", "2026-05-03")])
    data = json.loads(json.dumps(s.to_dict()))
    assert data == {"windows": [["07:30", "08:00"], ["22:00", "06:00"]], "weekdays": [1, 2, 3, 4, 5],
                    "dates": [["2026-05-01", "2026-05-05"]], "except": [["2026-05-03", "2026-05-03"]]}
    again = Schedule.from_dict(data)
    assert again == s and hash(again) == hash(s)
    assert Schedule.from_dict({}).to_dict() == {}
    assert Schedule.from_dict({"weekdays": [1, 2, 3, 4, 5, 6, 7]}) == Schedule()


@pytest.mark.parametrize("bad", [
    {"windows": [["25:00", "06:00"]]},
    {"windows": [["22:00"]]},
    {"windows": [["7:5", "08:00"]]},
    {"weekdays": [0]},
    {"weekdays": []},
    {"dates": [["2026-05-05", "2026-05-01"]]},
    {"dates": [["2026-13-01", "2026-13-02"]]},
    {"rrule": "FREQ=WEEKLY;BYDAY=MO"},
    {"when": "always"},
    ["22:00", "06:00"],
])
def test_bad_schedules_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        Schedule.from_dict(bad)  # type: ignore[arg-type]

"""The platform's clock: every "now" goes through here so tests and simulations can move time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone


class Clock:
    def now(self) -> dt.datetime:
        return timezone.now()


class FrozenClock(Clock):
    """A clock that only moves when told to (tests, simulations of weeks in seconds)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.current = start

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current


_clock: Clock = Clock()


def now() -> dt.datetime:
    return _clock.now()


def get_clock() -> Clock:
    return _clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous

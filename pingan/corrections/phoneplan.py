"""When a subject's smart phone checks fall (pure: settings only).

The plan per management level comes from ``PINGAN_CORRECTIONS_PHONE_CHECKS`` (``{"strict": "3/day",
"ordinary": "1/day", "lenient": "1/week"}``; ``N/day`` or ``N/week``, ``0/day`` for none), inside the daily window
``PINGAN_CORRECTIONS_PHONE_CHECK_HOURS`` (``"8-21"``: from 08:00 to before 21:00 Asia/Shanghai; never at night
unless the window is widened, e.g. ``"0-24"``).

The times are random for the subject but reproducible for the server: every draw is
``HMAC-SHA256(key, "pingan-phonecheck-v1|<day or ISO week>|<subject handle>|<what>")`` with a key derived from
``PINGAN_SIGNING_KEY`` (``PINGAN_CORRECTIONS_PHONE_CHECK_KEY`` overrides it), so a restart or a second worker
draws the same times, and nobody without the key can predict them. ``N/day`` checks fall one in each N-th of the
window (spread over the day, the minute within each part random); ``N/week`` checks fall on N distinct days of
the ISO week, each at a random minute of the window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from zoneinfo import ZoneInfo

from django.conf import settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PLAN = {"strict": "3/day", "ordinary": "1/day", "lenient": "1/week"}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(day|week)\s*$")


def rates() -> dict[str, tuple[int, str]]:
    """Level → (count, "day" | "week")."""
    raw = getattr(settings, "PINGAN_CORRECTIONS_PHONE_CHECKS", None) or DEFAULT_PLAN
    if isinstance(raw, str):  # "strict=3/day,ordinary=1/day,lenient=1/week"
        raw = dict(part.split("=", 1) for part in raw.split(",") if "=" in part)
    out: dict[str, tuple[int, str]] = {}
    for level, value in {**DEFAULT_PLAN, **raw}.items():
        match = _RATE.match(str(value))
        if match is None:
            raise ValueError(f"PINGAN_CORRECTIONS_PHONE_CHECKS: {level}={value!r} is not N/day or N/week")
        count, period = int(match.group(1)), match.group(2)
        if count > (24 if period == "day" else 7):
            raise ValueError(f"PINGAN_CORRECTIONS_PHONE_CHECKS: {level}={value!r} is too many")
        out[level.strip()] = (count, period)
    return out


def hours() -> tuple[int, int]:
    """The daily window (start hour, end hour), local time; the end is exclusive."""
    raw = str(getattr(settings, "PINGAN_CORRECTIONS_PHONE_CHECK_HOURS", "8-21") or "8-21")
    match = re.match(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$", raw)
    if match is None or not 0 <= int(match.group(1)) < int(match.group(2)) <= 24:
        raise ValueError(f"PINGAN_CORRECTIONS_PHONE_CHECK_HOURS={raw!r}: give start-end hours, e.g. 8-21")
    return int(match.group(1)), int(match.group(2))


def in_window(moment: dt.datetime) -> bool:
    start, end = hours()
    local = moment.astimezone(SHANGHAI)
    return start <= local.hour + local.minute / 60 + local.second / 3600 < end


def _key() -> bytes:
    explicit = getattr(settings, "PINGAN_CORRECTIONS_PHONE_CHECK_KEY", "")
    if explicit:
        return str(explicit).encode()
    return hashlib.sha256(b"pingan-phonecheck-key-v1|" + str(settings.PINGAN_SIGNING_KEY).encode()).digest()


def _uniform(*parts: object) -> float:
    message = "|".join(["pingan-phonecheck-v1", *(str(p) for p in parts)]).encode()
    digest = hmac.new(_key(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _at(day: dt.date, minute: int) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI) + dt.timedelta(minutes=minute)
    return local.astimezone(dt.UTC)


def times(handle: str, level: str, day: dt.date) -> list[dt.datetime]:
    """The planned checks of one day (Asia/Shanghai) for a subject at this level, in UTC, sorted."""
    count, period = rates().get(level, (0, "day"))
    if count <= 0:
        return []
    start, end = hours()
    first, span = start * 60, (end - start) * 60  # minutes
    if period == "day":
        part = span / count
        return [_at(day, first + int(i * part + _uniform(day.isoformat(), handle, "slot", i) * part))
                for i in range(count)]
    year, week, weekday = day.isocalendar()
    tag = f"{year}-W{week:02d}"
    chosen = sorted(range(1, 8), key=lambda d: _uniform(tag, handle, "day", d))[:count]
    if weekday not in chosen:
        return []
    return [_at(day, first + int(_uniform(tag, handle, "time", weekday) * span))]

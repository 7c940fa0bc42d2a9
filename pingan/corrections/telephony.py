"""The telephony adapter of smart phone checks (智能电话核查): one small interface for a voice / IVR provider, a
registry chosen by ``PINGAN_TELEPHONY``, and the default provider, a simulator.

A provider places one call to ``phone`` and reports what happened: whether it was answered, the provider's
voiceprint verdict (``match`` / ``mismatch`` / ``unknown``), the phone's network position at the time of the
call (cell-based, with its accuracy) and its own reference of the call. A provider that cannot place the call
answers ``error`` (the check is retried, then failed); it never raises for a call that simply went unanswered.
``reference`` is Pingan's reference of the check (``PC<id>``, no personal data), for the provider's records.

The simulator is deterministic: every draw is a hash of ``PINGAN_TELEPHONY_SEED`` and the reference and
attempt, so a test or a demo replays the same calls. It answers most calls (``ANSWER_RATE``), the voice matches
on most of those, and the network position is the subject's latest known position (else home) plus cell-sized
noise. For tests and the demo a phone can be scripted (``script(phone, answer=False)``, ``voice="mismatch"``,
``at=(lon, lat)``, ``accuracy_m=…``, ``errors=n`` — the first n calls fail, ``-1`` all of them): the script lives in
Django's cache (and ``PINGAN_TELEPHONY_SCRIPT`` in settings, a dict phone → the same keys, for a fixed demo).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class CallResult:
    answered: bool
    voice: str = "unknown"  # match | mismatch | unknown
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    provider_ref: str = ""
    error: str = ""  # set when the call could not be placed (then nothing else counts)


class Telephony(Protocol):
    name: str

    def call(self, phone: str, *, reference: str) -> CallResult: ...


_providers: dict[str, Callable[[], Telephony]] = {}


def register(name: str) -> Callable[[Callable[[], Telephony]], Callable[[], Telephony]]:
    """Register a provider factory under ``name`` (selected with ``PINGAN_TELEPHONY=name``)."""

    def decorator(factory: Callable[[], Telephony]) -> Callable[[], Telephony]:
        _providers[name] = factory
        return factory

    return decorator


def provider() -> Telephony:
    name = str(getattr(settings, "PINGAN_TELEPHONY", "simulator") or "simulator")
    if name not in _providers:
        raise LookupError(f"no telephony provider {name!r} (known: {', '.join(sorted(_providers))})")
    return _providers[name]()


# --- the simulator ----------------------------------------------------------------------------------

ANSWER_RATE = 0.95
VOICE_MATCH_RATE = 0.97  # of the answered calls; the rest split between mismatch and unknown
ERROR_RATE = 0.01
SCRIPT_KEYS = {"answer", "voice", "at", "accuracy_m", "errors"}


def _normal(phone: str) -> str:
    from pingan.core import personal

    try:
        return personal.normalize_phone(phone)
    except ValueError:
        return phone


def _script_key(phone: str) -> str:
    return f"pingan:telephony:script:{_normal(phone)}"


def script(phone: str, **behaviour: Any) -> None:
    """Make the simulator behave so for this phone until ``unscript``: ``answer`` (bool), ``voice`` (match /
    mismatch / unknown), ``at`` ((lon, lat) of the network position), ``accuracy_m``, ``errors`` (how many calls
    fail first; -1: all)."""
    unknown = set(behaviour) - SCRIPT_KEYS
    if unknown:
        raise ValueError(f"unknown script keys {sorted(unknown)}")
    cache.set(_script_key(phone), {**cache.get(_script_key(phone), {}), **behaviour}, timeout=None)
    cache.delete(_script_key(phone) + ":calls")


def unscript(phone: str) -> None:
    cache.delete_many([_script_key(phone), _script_key(phone) + ":calls"])


def _scripted(phone: str) -> dict[str, Any]:
    scripts = {_normal(k): v for k, v in (getattr(settings, "PINGAN_TELEPHONY_SCRIPT", None) or {}).items()}
    fixed = dict(scripts.get(_normal(phone), {}))
    return {**fixed, **(cache.get(_script_key(phone)) or {})}


def _uniform(*parts: object) -> float:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _where(reference: str) -> tuple[float, float] | None:
    """The subject's latest known position (any source), else home: where the simulated phone is."""
    from pingan.corrections.models import PhoneCheck
    from pingan.tracking.models import LatestPosition

    check_id = reference[2:] if reference.startswith("PC") else ""
    check = PhoneCheck.objects.select_related("subject").filter(pk=int(check_id)).first() if check_id.isdigit() else None
    if check is None:
        return None
    latest = LatestPosition.objects.filter(target_id=check.subject.target_id).values_list("lon", "lat").first()
    if latest is not None:
        return latest
    if check.subject.home_lon is not None and check.subject.home_lat is not None:
        return check.subject.home_lon, check.subject.home_lat
    return None


class Simulator:
    name = "simulator"

    def __init__(self, seed: str | None = None) -> None:
        self.seed = seed if seed is not None else str(getattr(settings, "PINGAN_TELEPHONY_SEED", "pingan"))

    def call(self, phone: str, *, reference: str) -> CallResult:
        plan = _scripted(phone)
        calls_key = _script_key(phone) + ":calls"
        cache.add(calls_key, 0, timeout=None)
        n = cache.incr(calls_key)
        ref = f"sim-{hashlib.sha256(f'{self.seed}|{reference}|{n}'.encode()).hexdigest()[:12]}"
        errors = int(plan.get("errors", 0))
        if errors < 0 or n <= errors:
            return CallResult(answered=False, provider_ref=ref, error="simulated provider error")
        if "errors" not in plan and _uniform(self.seed, reference, n, "error") < ERROR_RATE:
            return CallResult(answered=False, provider_ref=ref, error="simulated provider error")
        answered = bool(plan["answer"]) if "answer" in plan else _uniform(self.seed, reference, n, "answer") < ANSWER_RATE
        if not answered:
            return CallResult(answered=False, provider_ref=ref)
        if "voice" in plan:
            voice = str(plan["voice"])
        else:
            v = _uniform(self.seed, reference, n, "voice")
            voice = "match" if v < VOICE_MATCH_RATE else ("mismatch" if v < (1 + VOICE_MATCH_RATE) / 2 else "unknown")
        accuracy = float(plan.get("accuracy_m") or 300 + 1200 * _uniform(self.seed, reference, n, "accuracy"))
        if "at" in plan:
            lon, lat = (float(x) for x in plan["at"])
            return CallResult(True, voice, lon, lat, accuracy, ref)
        where = _where(reference)
        if where is None:
            return CallResult(True, voice, None, None, None, ref)
        # cell-sized noise: a random bearing, a distance within the accuracy circle (most within half of it)
        bearing = 2 * math.pi * _uniform(self.seed, reference, n, "bearing")
        distance = accuracy * 0.5 * _uniform(self.seed, reference, n, "distance")
        dlat = distance * math.cos(bearing) / 111_320
        dlon = distance * math.sin(bearing) / (111_320 * max(0.01, math.cos(math.radians(where[1]))))
        return CallResult(True, voice, where[0] + dlon, where[1] + dlat, accuracy, ref)


register("simulator")(Simulator)

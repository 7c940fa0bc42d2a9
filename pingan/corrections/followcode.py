"""The follow code (随行码): a signed, short-lived token on the subject's phone page, and its short code.

Token (what the QR code carries), all in Crockford base32 so a QR code can use its compact alphanumeric mode::

    RY1.<base32( payload(25 bytes) || mac(16 bytes) )>
    payload = version (1 byte, 1) | kid (4) | handle (10) | window (4, big-endian) | nonce (6)
    mac     = HMAC-SHA256(key, "pingan-followcode-v1" || payload)[:16]

- ``handle`` is the subject's opaque handle (random, stored on the subject): no name, ID number or phone.
- ``window`` is ``floor(unix time / PINGAN_FOLLOWCODE_SECONDS)`` (at most 60 s). The phone shows a new code every
  window; a code is accepted during its own window and the next one (so a scan that starts just before the
  rotation still passes) and never after: at most two windows old.
- ``nonce`` makes every issued code distinct, so replays can be told apart from new codes.
- ``kid`` is the first 4 bytes of SHA-256 of the key that signed it. Keys are ``PINGAN_FOLLOWCODE_KEYS``: the
  first signs, every one verifies. Rotating (put the new key first, keep the old one second for at least two
  windows) therefore keeps the codes in flight valid until they expire. By default there is one key, derived
  from ``PINGAN_SIGNING_KEY``.

Short code (for typing when a camera cannot read the QR code): 8 characters of Crockford base32 (no I, L, O, U;
typing i/l as 1 and o as 0 is forgiven), the first 40 bits of
``HMAC-SHA256(key, "pingan-followcode-short-v1" || payload)``. It cannot be verified on its own, so each issued
code's short form is stored (``IssuedCode``) and looked up; typed codes are rate-limited per scanner.

This module is pure apart from reading the settings: no database access.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import struct
from dataclasses import dataclass

from django.conf import settings

PREFIX = "RY1."
VERSION = 1
PAYLOAD = struct.Struct(">B4s10sI6s")
MAC_BYTES = 16
SHORT_LENGTH = 8
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_CROCKFORD = str.maketrans(_STD, CROCKFORD)
_FROM_CROCKFORD = str.maketrans(CROCKFORD, _STD)
_TYPING = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


class CodeError(Exception):
    """A code that does not verify; ``reason`` is the stable code shown to the scanner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Decoded:
    kid: str
    handle: str   # hex
    window: int
    nonce: str    # hex


def period() -> int:
    """Seconds per window: PINGAN_FOLLOWCODE_SECONDS, at most 60 (the code rotates at least every minute)."""
    seconds = int(getattr(settings, "PINGAN_FOLLOWCODE_SECONDS", 60) or 60)
    return max(10, min(60, seconds))


def keys() -> list[bytes]:
    """The follow-code keys, the signing one first."""
    configured = [k for k in (getattr(settings, "PINGAN_FOLLOWCODE_KEYS", None) or []) if k]
    if configured:
        return [k.encode() for k in configured]
    derived = hmac.new(settings.PINGAN_SIGNING_KEY.encode(), b"pingan-followcode-key", hashlib.sha256).hexdigest()
    return [derived.encode()]


def kid(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def key_for(kid_hex: str) -> bytes | None:
    return next((k for k in keys() if hmac.compare_digest(kid(k), kid_hex)), None)


def window_of(t: float) -> int:
    return math.floor(t / period())


def window_start(window: int) -> float:
    return float(window * period())


def expires(window: int) -> float:
    """The first moment the code of ``window`` is no longer accepted: the end of the next window."""
    return float((window + 2) * period())


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").translate(_TO_CROCKFORD)


def _unb32(text: str) -> bytes:
    std = text.upper().translate(_FROM_CROCKFORD)
    return base64.b32decode(std + "=" * (-len(std) % 8))


def _payload(kid_hex: str, handle: str, window: int, nonce: str) -> bytes:
    return PAYLOAD.pack(VERSION, bytes.fromhex(kid_hex), bytes.fromhex(handle), window, bytes.fromhex(nonce))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"pingan-followcode-v1" + payload, hashlib.sha256).digest()[:MAC_BYTES]


def short_of(key: bytes, payload: bytes) -> str:
    digest = hmac.new(key, b"pingan-followcode-short-v1" + payload, hashlib.sha256).digest()
    return _b32(digest[:5])


def encode(key: bytes, *, handle: str, window: int, nonce: str) -> tuple[str, str]:
    """The token and its short code for a subject's handle, a window and a nonce (hex strings)."""
    payload = _payload(kid(key), handle, window, nonce)
    return PREFIX + _b32(payload + _mac(key, payload)), short_of(key, payload)


def looks_like_token(code: str) -> bool:
    return code.strip().upper().startswith(PREFIX)


def decode(token: str) -> Decoded:
    """Check the token's form and signature (with whichever key its kid names); raise CodeError otherwise.
    The time window is not checked here (see :func:`check_window`)."""
    text = token.strip().upper()
    if not text.startswith(PREFIX):
        raise CodeError("malformed")
    try:
        raw = _unb32(text[len(PREFIX):])
    except (ValueError, TypeError):
        raise CodeError("malformed") from None
    if len(raw) != PAYLOAD.size + MAC_BYTES:
        raise CodeError("malformed")
    payload, mac = raw[:PAYLOAD.size], raw[PAYLOAD.size:]
    version, kid_bytes, handle, window, nonce = PAYLOAD.unpack(payload)
    if version != VERSION:
        raise CodeError("malformed")
    key = key_for(kid_bytes.hex())
    if key is None:
        raise CodeError("unknown_key")
    if not hmac.compare_digest(_mac(key, payload), mac):
        raise CodeError("bad_signature")
    return Decoded(kid=kid_bytes.hex(), handle=handle.hex(), window=window, nonce=nonce.hex())


def check_window(window: int, now: float) -> None:
    if now < window_start(window):
        raise CodeError("not_yet_valid")
    if now >= expires(window):
        raise CodeError("expired")


def normalise_short(typed: str) -> str:
    """A typed short code in canonical form (upper case, no separators, I/L → 1, O → 0), or CodeError."""
    text = (typed or "").strip().upper().translate(_TYPING)
    if len(text) != SHORT_LENGTH or any(c not in CROCKFORD for c in text):
        raise CodeError("malformed")
    return text

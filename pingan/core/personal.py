"""Personal data: validation (GB 11643 ID numbers, mobile numbers) and masking for display."""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    return value.strip().upper().replace(" ", "")


def id_number_error(value: str) -> str | None:
    """Why ``value`` is not a valid 18-digit resident ID number, or None when it is."""
    v = normalize_id_number(value)
    if not _ID_RE.match(v):
        return "must be 17 digits followed by a digit or X"
    try:
        dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "birth date is not a real date"
    if id_check_digit(v[:17]) != v[17]:
        return "check digit does not match (GB 11643)"
    return None


def birth_date_from_id(value: str) -> dt.date:
    v = normalize_id_number(value)
    return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def normalize_phone(value: str) -> str:
    """A Chinese phone number in E.164 (+86...), or ValueError with the reason."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    number = phonenumbers.parse(e164, "CN")
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def mask_id_number(value: str) -> str:
    """330503**********12: the division code and the last two characters stay."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def mask_phone(value: str) -> str:
    """138****5678 (national form)."""
    if not value:
        return ""
    digits = value[3:] if value.startswith("+86") else value
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(value: str) -> str:
    """王* / 王** / J*** — the family name stays."""
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_address(value: str) -> str:
    """Keep the first part of an address (down to the town), hide the rest."""
    if not value:
        return ""
    keep = min(len(value), 6)
    return value[:keep] + ("***" if len(value) > keep else "")

"""Domain errors with stable codes. The API maps them to HTTP in one place (pingan.api)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused request. ``code`` is stable (tests and clients use it); the message is for people."""

    status = 400

    def __init__(self, code: str, message: str = "", **details: Any) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.details = details


class ValidationFailed(DomainError):
    status = 422


class PermissionDeniedError(DomainError):
    status = 403

    def __init__(self, code: str = "permission_denied", message: str = "", **details: Any) -> None:
        super().__init__(code, message, **details)


class NotFoundError(DomainError):
    status = 404


class ConflictError(DomainError):
    status = 409


def clean_text(value: str | None, name: str, *, max_length: int, required: bool = True) -> str:
    """``value`` stripped; ``ValidationFailed("required" | "too_long", field=name)`` when empty or too long."""
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed("required", f"{name} is required", field=name)
    if len(text) > max_length:
        raise ValidationFailed("too_long", f"{name} has at most {max_length} characters", field=name)
    return text

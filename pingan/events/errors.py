"""Refusals of the closed loop, as domain errors with stable codes (mapped to HTTP in pingan.api)."""

from __future__ import annotations

from pingan.core.errors import ConflictError, DomainError


class RateLimited(DomainError):
    """Too many public reports from one address or phone in the window (HTTP 429)."""

    status = 429

    def __init__(self, code: str = "rate_limited", message: str = "", **details: object) -> None:
        super().__init__(code, message, **details)


class IllegalTransition(ConflictError):
    """The action does not apply to the event's current state (HTTP 409, code ``illegal_transition``)."""

    def __init__(self, state: str, action: str, message: str = "") -> None:
        super().__init__("illegal_transition", message or f"cannot {action} an event that is {state}",
                         state=state, action=action)


class StaleVersion(ConflictError):
    """Someone else changed the event first (HTTP 409, code ``stale_version``); details hold its current
    state and version."""

    def __init__(self, state: str | None, version: int | None) -> None:
        super().__init__("stale_version", "the event was changed by someone else; reload it", state=state, version=version)

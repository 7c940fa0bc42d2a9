"""Notifications: in-app rows for users, and outbound messages that the sweep delivers with retries.

Actions call :func:`notify` from ``transaction.on_commit`` so that a notification never exists for a
change that rolled back. ``notify`` only writes rows; sending happens in :func:`deliver_due`, which the
sweep job calls every minute. A failing channel therefore never blocks or rolls back a transition: the
message waits 1, 5, 30 and 120 minutes between attempts, then is marked failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, QuerySet

from pingan.core import audit, clock
from pingan.core.errors import PermissionDeniedError
from pingan.events.channels import ChannelError, configured_channels, get_channel
from pingan.events.models import Event, Notification, OutboundMessage

if TYPE_CHECKING:
    from pingan.accounts.models import User

log = logging.getLogger("pingan.notify")

# Waits after the 1st, 2nd, 3rd and 4th failed attempt; a 5th failure is final.
BACKOFF: tuple[dt.timedelta, ...] = tuple(dt.timedelta(minutes=m) for m in (1, 5, 30, 120))
MAX_ATTEMPTS = len(BACKOFF) + 1
BUDGET_SECONDS = 30.0  # a pass of deliver_due starts no send after this long


def _subject(event: Event | None) -> str:
    return " ".join(f"{event.number} {event.title}".split())[:200] if event is not None else ""


def notify(event: Event | None, kind: str, text: str, users: Iterable[Any]) -> list[Notification]:
    """In-app notifications for ``users`` and one outbound message per address on each configured channel.

    Call it from ``transaction.on_commit``. It never raises: a failure is logged, and the transition that
    asked for it stands."""
    return notify_many([(event, kind, text, users)])


def notify_many(batch: Sequence[tuple[Event | None, str, str, Iterable[Any]]]) -> list[Notification]:
    """:func:`notify` for several ``(event, kind, text, users)`` at once (the notifications of one action),
    written in one transaction with one insert per table. It never raises either."""
    try:
        return _notify(batch)
    except Exception:
        log.exception("notifications %s for event %s could not be stored", ", ".join(str(b[1]) for b in batch),
                      ", ".join(str(getattr(b[0], "pk", None)) for b in batch))
        return []


def _notify(batch: Sequence[tuple[Event | None, str, str, Iterable[Any]]]) -> list[Notification]:
    now = clock.now()
    notifications: list[Notification] = []
    messages: list[OutboundMessage] = []
    channels = configured_channels()
    for event, kind, text, users in batch:
        text = str(text)
        seen: set[int] = set()
        recipients = []
        for user in users:
            if user is None or not getattr(user, "is_active", False) or user.pk in seen:
                continue
            seen.add(user.pk)
            recipients.append(user)
        if not recipients:
            continue
        subject = _subject(event)
        notifications += [Notification(user=u, event=event, kind=kind[:40], text=text[:300], created_at=now)
                          for u in recipients]
        for name in channels:
            try:
                addresses = get_channel(name).addresses(recipients)
            except Exception:  # an unknown or broken channel must not cost the in-app notifications
                log.exception("channel %r cannot take notifications; skipped", name)
                continue
            messages += [OutboundMessage(channel=name, recipient=address[:200], subject=subject, body=text,
                                         next_attempt_at=now, created_at=now) for address in dict.fromkeys(addresses)]
    if not notifications:
        return []
    with transaction.atomic():
        rows = Notification.objects.bulk_create(notifications)
        if messages:
            OutboundMessage.objects.bulk_create(messages)
    return rows


def _claim(message_id: int, attempts: int, now: dt.datetime) -> bool:
    """Take one pending message for this attempt; another worker's claim makes this one fail."""
    lease = BACKOFF[min(attempts, len(BACKOFF) - 1)]
    return OutboundMessage.objects.filter(
        id=message_id, status=OutboundMessage.Status.PENDING, attempts=attempts, next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + lease) == 1


def _deliver_one(message: OutboundMessage, now: dt.datetime) -> bool | None:
    """Send one claimed message: True when sent, False when it failed for good, None when it will be retried."""
    attempt = message.attempts + 1
    try:
        get_channel(message.channel).send(message)
    except Exception as exc:  # a channel's bug must not stop the others
        permanent = isinstance(exc, ChannelError) and exc.permanent
        final = permanent or attempt >= MAX_ATTEMPTS
        error = f"attempt {attempt}: {type(exc).__name__}: {exc}"[:2000]
        changes: dict[str, Any] = {"last_error": error}
        if final:
            changes["status"] = OutboundMessage.Status.FAILED
        else:
            changes["next_attempt_at"] = now + BACKOFF[attempt - 1]
        OutboundMessage.objects.filter(id=message.pk, attempts=attempt).update(**changes)
        log.log(logging.ERROR if final else logging.WARNING, "%s message %s to %s %s: %s", message.channel,
                message.pk, message.recipient, "failed for good" if final else "will be retried", error)
        return False if final else None
    OutboundMessage.objects.filter(id=message.pk, attempts=attempt).update(status=OutboundMessage.Status.SENT,
                                                                             last_error="")
    return True


def deliver_due(now: dt.datetime, limit: int = 100) -> int:
    """Send up to ``limit`` pending messages whose time has come; return how many were sent. Never raises.

    A channel that fails for a reason worth retrying (its server is down) is not tried again in this pass,
    and a pass stops starting sends after ``BUDGET_SECONDS``, so a dead gateway cannot hold the sweep for
    ``limit`` × its timeout. Skipped messages stay due, with no attempt counted."""
    sent = 0
    started = time.monotonic()
    resting: set[str] = set()
    try:
        due = list(OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING, next_attempt_at__lte=now)
                   .order_by("next_attempt_at", "id")[:limit])
    except Exception:
        log.exception("outbound messages could not be read")
        return 0
    for message in due:
        if message.attempts >= MAX_ATTEMPTS:  # its last attempt was claimed by a worker that then died
            OutboundMessage.objects.filter(id=message.pk, status=OutboundMessage.Status.PENDING,
                                           attempts=message.attempts).update(status=OutboundMessage.Status.FAILED)
            continue
        if message.channel in resting:
            continue
        if time.monotonic() - started > BUDGET_SECONDS:
            log.warning("outbound messages: time budget of this pass used up; the rest wait for the next")
            break
        try:
            if _claim(message.pk, message.attempts, now):
                outcome = _deliver_one(message, now)
                sent += outcome is True
                if outcome is None:
                    resting.add(message.channel)
        except Exception:
            log.exception("outbound message %s could not be processed", message.pk)
    return sent


def all_for(user: User) -> QuerySet[Notification]:
    """The user's in-app notifications, read and unread, newest first (a user sees only their own)."""
    return Notification.objects.filter(user=user).select_related("event").order_by("-created_at", "-id")


def unread_for(user: User) -> QuerySet[Notification]:
    """The user's unread in-app notifications, newest first (a user sees only their own)."""
    return all_for(user).filter(read_at__isnull=True)


def mark_read(actor: User, notification_ids: Sequence[int] | None = None) -> int:
    """Mark the actor's own notifications read (all unread ones when ``notification_ids`` is None).

    Ids of other users' notifications are ignored. Returns how many were marked."""
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDeniedError()
    rows = Notification.objects.filter(user=actor, read_at__isnull=True)
    if notification_ids is not None:
        rows = rows.filter(id__in=list(notification_ids))
    with transaction.atomic():
        ids = list(rows.values_list("id", flat=True))
        count = Notification.objects.filter(id__in=ids, read_at__isnull=True).update(read_at=clock.now()) if ids else 0
        if count:
            audit.record(actor, "pingan.notification.read", changes={"count": count})
    return count

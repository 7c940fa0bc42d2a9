"""Periodic jobs of the closed loop (registered at start-up).

``events.sweep`` runs every minute with the platform clock's time. Each pass:

(a) warns (yellow) running events whose ``warn_at`` has come;
(b) marks overdue (red) reported or accepted events past ``accept_due`` and dispatched / in-progress /
    returned events past ``resolve_due``;
(c) escalates overdue events whose routing rule says ``escalate_when_overdue``, once per level:
    ``escalate_event`` gives the new level a new limit (and clears the red flag), and the sweep never
    escalates twice within one overdue spell (an escalation after ``overdue_since``, automatic or by
    hand, counts);
(d) unparks parked events whose review date (Asia/Shanghai) has come;
(e) marks supervised events still not closed when their supervision (督办) deadline comes, once per
    supervision, and tells the lead unit, the workstation and the supervisor's organisation;
(f) delivers outbound messages that are due (:func:`pingan.events.notify.deliver_due`).

Every change goes through an action in :mod:`pingan.events.actions`; each event is handled in its own
transaction, in batches by id. A minute with nothing due costs two queries (``anything_due`` and the
outbox). The actions' conditional updates make a pass idempotent and safe when
two workers overlap: the loser gets ``False`` or a ``ConflictError``, which is expected and skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from pingan.core.errors import DomainError
from pingan.core.jobs import periodic
from pingan.events import actions, notify
from pingan.events.deadlines import TZ
from pingan.events.models import Event, Level, State, Transition

log = logging.getLogger("pingan.events.sweep")

BATCH = 200
ACCEPT_STATES = tuple(actions.ACCEPT_PHASE)  # reported, accepted: the clock runs against accept_due
RESOLVE_STATES = tuple(actions.RESOLVE_PHASE)  # dispatched, returned, in progress: against resolve_due
RUNNING_STATES = ACCEPT_STATES + RESOLVE_STATES


def _ids(queryset: QuerySet[Event]) -> Iterator[int]:
    """The ids of ``queryset`` in batches, by id, so a pass over many events holds no long query."""
    last = 0
    while True:
        batch = list(queryset.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:BATCH])
        if not batch:
            return
        yield from batch
        last = batch[-1]


def _each(step: str, queryset: QuerySet[Event], handle: Callable[[int], bool]) -> int:
    """Call ``handle(event_id)`` for every row; count the ``True`` answers; one event's failure stops nothing."""
    done = 0
    for event_id in _ids(queryset):
        try:
            done += bool(handle(event_id))
        except DomainError as exc:  # a concurrent change got there first; the next pass looks again
            log.info("sweep %s: event %s skipped: %s", step, event_id, exc.code)
        except Exception:
            log.exception("sweep %s: event %s failed", step, event_id)
    return done


def _warn_q(now: dt.datetime) -> Q:
    return Q(state__in=RUNNING_STATES, warned=False, overdue=False, warn_at__lte=now)


def _overdue_q(now: dt.datetime) -> Q:
    return Q(overdue=False) & (Q(state__in=ACCEPT_STATES, accept_due__lte=now)
                               | Q(state__in=RESOLVE_STATES, resolve_due__lte=now))


def _escalate_q() -> Q:
    escalated_since_overdue = Transition.objects.filter(
        event=OuterRef("pk"), action="escalate", at__gte=OuterRef("overdue_since"))
    return (Q(state__in=RUNNING_STATES, overdue=True, overdue_since__isnull=False, rule__escalate_when_overdue=True)
            & ~Q(level=Level.DISTRICT) & Q(~Exists(escalated_since_overdue)))


def _unpark_q(now: dt.datetime) -> Q:
    return Q(state=State.PARKED, parked_until__lte=now.astimezone(TZ).date())


def to_warn(now: dt.datetime) -> QuerySet[Event]:
    return Event.objects.filter(_warn_q(now))


def to_mark_overdue(now: dt.datetime) -> QuerySet[Event]:
    return Event.objects.filter(_overdue_q(now))


def to_escalate() -> QuerySet[Event]:
    return Event.objects.filter(_escalate_q())


def to_unpark(now: dt.datetime) -> QuerySet[Event]:
    return Event.objects.filter(_unpark_q(now))


def to_mark_supervision_lapsed(now: dt.datetime) -> QuerySet[Event]:
    return Event.objects.filter(actions.supervision_lapsed_q(now))


def anything_due(now: dt.datetime) -> bool:
    """One query: has any event a step due? (Most minutes nothing is, and the pass ends here.)"""
    return Event.objects.filter(_warn_q(now) | _overdue_q(now) | _escalate_q() | _unpark_q(now)
                                | actions.supervision_lapsed_q(now)).exists()


@periodic("events.sweep", every=dt.timedelta(minutes=1))
def sweep(now: dt.datetime) -> dict[str, int]:
    """One pass of the sweep at ``now``; returns how many events each step changed and messages sent."""

    def escalate(event_id: int) -> bool:
        event = to_escalate().filter(id=event_id).first()  # still due for it, now that we hold it
        if event is None:
            return False
        since = event.overdue_since.astimezone(TZ) if event.overdue_since else now.astimezone(TZ)
        reason = _("Overdue since %(since)s; escalated automatically.") % {"since": since.strftime("%Y-%m-%d %H:%M")}
        actions.escalate_event("system", event, reason=reason, version=event.version)
        return True

    def unpark(event_id: int) -> bool:
        event = to_unpark(now).filter(id=event_id).first()
        if event is None:
            return False
        note = _("Review date %(date)s reached; unparked automatically.") % {"date": event.parked_until}
        actions.unpark_event("system", event, note=note, version=event.version)
        return True

    counts = dict.fromkeys(("warned", "overdue", "escalated", "unparked", "supervision_lapsed"), 0)
    if anything_due(now):
        counts = {
            "warned": _each("warn", to_warn(now), lambda event_id: actions.mark_warned(event_id, now)),
            "overdue": _each("overdue", to_mark_overdue(now), lambda event_id: actions.mark_overdue(event_id, now)),
            "escalated": _each("escalate", to_escalate(), escalate),
            "unparked": _each("unpark", to_unpark(now), unpark),
            "supervision_lapsed": _each("supervision", to_mark_supervision_lapsed(now),
                                        lambda event_id: actions.mark_supervision_lapsed(event_id, now)),
        }
    counts["sent"] = notify.deliver_due(now)
    if any(counts.values()):
        log.info("sweep at %s: %s", now.isoformat(timespec="minutes"),
                 ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return counts


@periodic("events.idempotency_expiry", every=dt.timedelta(hours=1))
def idempotency_expiry(now: dt.datetime) -> dict[str, int]:
    """Drop Idempotency-Keys past ``PINGAN_IDEMPOTENCY_DAYS``."""
    return {"dropped": actions.expire_idempotency_keys(now)}

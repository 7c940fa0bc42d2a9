"""Read paths of the closed loop, always through the access policy."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q, QuerySet

from pingan.accounts import policy
from pingan.core.errors import ValidationFailed
from pingan.events import permissions as perms
from pingan.events.models import OPEN_STATES, Event, State, Task, TaskState, Transition

SHANGHAI = ZoneInfo("Asia/Shanghai")

BOXES = ("to_accept", "to_handle", "to_verify", "returned", "overdue", "supervised", "parked", "mine")
FILTERS = ("state", "type", "area", "date_from", "date_to", "overdue", "unit")
_ALIASES = {"from": "date_from", "to": "date_to", "event_type": "type"}


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


def _as_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed("invalid_filter", f"{name}: not a date", field=name) from exc


def apply_filters(qs: QuerySet[Event], **filters: Any) -> QuerySet[Event]:
    """Narrow events by state (one, a list, or comma-separated), type code (a first-level type includes its
    subtypes), area code (its subtree), reporting date from/to (Asia/Shanghai days, both inclusive), overdue,
    and handling unit (an organisation id or code: lead unit or any task)."""
    for alias, name in _ALIASES.items():
        if alias in filters:
            filters.setdefault(name, filters.pop(alias))
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError(f"unknown event filters: {', '.join(sorted(unknown))}")
    state = filters.get("state")
    if state:
        states = [s.strip() for s in state.split(",")] if isinstance(state, str) else list(state)
        states = [s for s in states if s]
        bad = [s for s in states if s not in State.values]
        if bad:
            raise ValidationFailed("invalid_filter", f"unknown state {bad[0]!r}", field="state")
        qs = qs.filter(state__in=states)
    type_code = filters.get("type")
    if type_code:
        qs = qs.filter(Q(event_type__code=type_code) | Q(event_type__parent__code=type_code))
    area = filters.get("area")
    if area:
        qs = qs.filter(area__code__startswith=str(area))
    if filters.get("date_from"):
        qs = qs.filter(created_at__gte=_start_of(_as_date(filters["date_from"], "from")))
    if filters.get("date_to"):
        qs = qs.filter(created_at__lt=_start_of(_as_date(filters["date_to"], "to") + dt.timedelta(days=1)))
    overdue = filters.get("overdue")
    if overdue is not None and overdue != "":
        qs = qs.filter(overdue=bool(overdue))
    unit = filters.get("unit")
    if unit not in (None, ""):
        unit_q = Q(unit_id=int(unit)) if isinstance(unit, int) or str(unit).isdigit() else Q(unit__code=str(unit))
        qs = qs.filter(Exists(Task.objects.filter(unit_q, event=OuterRef("pk"))))
    return qs


def visible_events(user: Any, **filters: Any) -> QuerySet[Event]:
    """The events the user may see, narrowed by ``filters`` (see :func:`apply_filters`), newest first."""
    qs = policy.restrict(user, perms.VIEW_EVENT.code, Event.objects.all())
    return apply_filters(qs, **filters).order_by("-created_at", "-id")


def _user_org(user: Any) -> int | None:
    return getattr(user, "organisation_id", None)


def inbox(user: Any, box: str) -> QuerySet[Event]:
    """One role inbox, ordered by what is due first.

    to_accept — reported events the user may triage; to_handle — dispatched or in-progress events with an open
    task for the user's organisation; to_verify — resolved events the user may verify; returned — sent back to
    the dispatcher; overdue, supervised, parked — in the user's sight; mine — reported by the user.
    """
    base = Event.objects.all()
    if box == "to_accept":
        qs = policy.restrict(user, perms.TRIAGE_EVENT.code, base.filter(state=State.REPORTED))
        return qs.order_by("accept_due", "created_at")
    if box == "to_handle":
        org = _user_org(user)
        if org is None:
            return base.none()
        open_task = Task.objects.filter(event=OuterRef("pk"), unit_id=org,
                                        state__in=[TaskState.PENDING, TaskState.IN_PROGRESS])
        qs = base.filter(Exists(open_task), state__in=[State.DISPATCHED, State.IN_PROGRESS])
        return policy.restrict(user, perms.HANDLE_EVENT.code, qs).order_by("resolve_due", "created_at")
    if box == "to_verify":
        qs = base.filter(state=State.RESOLVED)
        return policy.restrict(user, perms.VERIFY_EVENT.code, qs).order_by("resolved_at", "created_at")
    if box == "returned":
        qs = base.filter(state=State.RETURNED)
        return policy.restrict(user, perms.TRIAGE_EVENT.code, qs).order_by("updated_at", "created_at")
    if box == "overdue":
        qs = base.filter(overdue=True, state__in=OPEN_STATES)
        return policy.restrict(user, perms.VIEW_EVENT.code, qs).order_by("overdue_since", "created_at")
    if box == "supervised":
        qs = base.filter(supervised=True, state__in=[*OPEN_STATES, State.PARKED])
        return policy.restrict(user, perms.VIEW_EVENT.code, qs).order_by("supervise_due", "created_at")
    if box == "parked":
        qs = base.filter(state=State.PARKED)
        return policy.restrict(user, perms.VIEW_EVENT.code, qs).order_by("parked_until", "created_at")
    if box == "mine":
        # What one reported is one's own to follow: anyone who may report sees their own reports.
        if not (policy.has_perm(user, perms.REPORT_EVENT.code) or policy.has_perm(user, perms.VIEW_EVENT.code)):
            return base.none()
        if not getattr(user, "is_authenticated", False):
            return base.none()
        return base.filter(reporter=user).order_by("-created_at", "-id")
    raise ValidationFailed("unknown_box", f"unknown inbox {box!r}", field="box")


def inbox_counts(user: Any) -> dict[str, int]:
    """How many events wait in each inbox."""
    return {box: inbox(user, box).count() for box in BOXES}


def filtered(user: Any, *, box: str = "", **filters: Any) -> QuerySet[Event]:
    """An inbox (when ``box`` is given) or all visible events, narrowed by the list filters."""
    if box:
        return apply_filters(inbox(user, box), **filters)
    return visible_events(user, **filters)


def timeline(event: Event) -> QuerySet[Transition]:
    """The event's timeline, oldest first (the caller has checked that the event is visible)."""
    return Transition.objects.filter(event=event).select_related("actor").order_by("at", "id")

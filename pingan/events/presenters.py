"""What the API and the pages show of an event: plain dicts (masked persons), and the transitions the
viewer may do now. Shared by ``api.py`` and ``views.py``; reads only, and asks the policy for access."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from pingan.accounts import policy
from pingan.accounts import queries as account_queries
from pingan.core import personal
from pingan.events import permissions as ep
from pingan.events.models import OPEN_STATES, Event, Extension, Level, State, Task, TaskState

NOT_FINAL = (*OPEN_STATES, State.PARKED)
PARKABLE = (State.ACCEPTED, State.DISPATCHED, State.RETURNED, State.IN_PROGRESS)

# action (the path name in /api/v1/events/{id}/{action}) → (permission, states it applies to)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accept": (ep.TRIAGE_EVENT.code, (State.REPORTED,)),
    "reject": (ep.TRIAGE_EVENT.code, (State.REPORTED,)),
    "merge": (ep.TRIAGE_EVENT.code, (State.REPORTED, State.ACCEPTED)),
    "dispatch": (ep.TRIAGE_EVENT.code, (State.ACCEPTED, State.RETURNED)),
    "return": (ep.HANDLE_EVENT.code, (State.DISPATCHED,)),
    "start": (ep.HANDLE_EVENT.code, (State.DISPATCHED,)),
    "progress": (ep.HANDLE_EVENT.code, (State.IN_PROGRESS,)),
    "complete-task": (ep.HANDLE_EVENT.code, (State.DISPATCHED, State.IN_PROGRESS)),
    "resolve": (ep.HANDLE_EVENT.code, (State.IN_PROGRESS,)),
    "verify": (ep.VERIFY_EVENT.code, (State.RESOLVED,)),
    "rework": (ep.VERIFY_EVENT.code, (State.RESOLVED,)),
    "close": (ep.VERIFY_EVENT.code, (State.VERIFIED,)),
    "escalate": (ep.ESCALATE_EVENT.code, tuple(OPEN_STATES)),
    "supervise": (ep.SUPERVISE_EVENT.code, NOT_FINAL),
    "reopen": (ep.TRIAGE_EVENT.code, (State.CLOSED,)),
    "park": (ep.PARK_EVENT.code, PARKABLE),
    "unpark": (ep.PARK_EVENT.code, (State.PARKED,)),
    "extension-request": (ep.HANDLE_EVENT.code, (State.DISPATCHED, State.IN_PROGRESS)),
    "extension-decide": (ep.TRIAGE_EVENT.code, NOT_FINAL),
}
ACTION_LABELS: dict[str, Any] = {
    "report": _("Reported"), "accept": _("Accepted"), "reject": _("Rejected"), "merge": _("Merged"),
    "dispatch": _("Dispatched"), "return": _("Sent back"), "start": _("Handling started"), "progress": _("Progress"),
    "complete_task": _("Task completed"), "resolve": _("Resolved"), "verify": _("Verified"), "rework": _("Returned for rework"),
    "close": _("Closed"), "escalate": _("Escalated"), "supervise": _("Supervised"), "reopen": _("Reopened"),
    "park": _("Parked"), "unpark": _("Unparked"), "request_extension": _("More time asked for"),
    "decide_extension": _("Extension decided"), "attach": _("Attachment added"), "warn": _("Deadline near"),
    "overdue": _("Overdue"), "supervision_lapsed": _("Supervision deadline passed"),
}
# Lead-unit work: only a member of the event's lead unit (district admins may step in).
LEAD_ONLY = {"return", "start", "resolve", "extension-request"}
VERIFIER = {"verify", "rework", "close"}


def user_org_id(user: Any) -> int | None:
    return getattr(user, "organisation_id", None)


def is_district_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or "district_admin" in policy.role_codes(user)


def own_open_task(user: Any, event: Event) -> Task | None:
    """The caller's unit's unfinished assisting task on the event (for complete-task)."""
    org = user_org_id(user)
    if org is None:
        return None
    return (event.tasks.filter(unit_id=org, is_lead=False, state__in=[TaskState.PENDING, TaskState.IN_PROGRESS])
            .first())


def has_task(user: Any, event: Event) -> bool:
    org = user_org_id(user)
    return org is not None and event.tasks.filter(unit_id=org).exclude(state=TaskState.RETURNED).exists()


def pending_extension(event: Event) -> Extension | None:
    return event.extensions.filter(decision=Extension.Decision.PENDING).order_by("-created_at").first()


def allowed_actions(user: Any, event: Event, *, no_extensions: bool = False) -> list[str]:
    """The transitions the viewer may do on the event now: permission and scope from the policy, the
    state, and the unit checks (lead unit, assisting task, reporter as verifier) as ``actions`` makes
    them. The action functions check all of it again; this only decides which forms to offer.
    ``no_extensions``: the caller knows the event has no extension request (it was just reported)."""
    if not getattr(user, "is_authenticated", False):
        return []
    out: list[str] = []
    perm_ok: dict[str, bool] = {}
    admin = is_district_admin(user)
    is_reporter = event.reporter_id is not None and event.reporter_id == user.pk
    for action, (perm, states) in ACTIONS.items():
        if event.state not in states:
            continue
        if not policy.has_perm(user, perm):
            continue
        if perm not in perm_ok:
            perm_ok[perm] = policy.can(user, perm, event)
        if not perm_ok[perm] and not (action in VERIFIER and is_reporter):
            continue
        if action in LEAD_ONLY and not admin and (event.lead_unit_id is None or user_org_id(user) != event.lead_unit_id):
            continue
        if action == "progress" and not admin and not has_task(user, event):
            continue
        if action == "complete-task" and own_open_task(user, event) is None:
            continue
        if action == "escalate" and event.level == Level.DISTRICT:
            continue
        if action in ("extension-decide", "extension-request") and (
                no_extensions or pending_extension(event) is None) == (action == "extension-decide"):
            continue
        out.append(action)
    return out


# -- dicts ------------------------------------------------------------------------------------------


def event_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk, "number": event.number, "title": event.title,
        "event_type": event.event_type.code, "type_name": str(event.event_type),
        "source": event.source, "priority": event.priority, "state": event.state, "level": event.level,
        "state_label": event.get_state_display(), "priority_label": event.get_priority_display(),
        "level_label": event.get_level_display(),
        "area_code": event.area.code, "lon": event.lon, "lat": event.lat,
        "lead_unit": event.lead_unit.code if event.lead_unit_id and event.lead_unit else None,
        "created_at": event.created_at, "accept_due": event.accept_due, "resolve_due": event.resolve_due,
        "warned": event.warned, "overdue": event.overdue, "supervised": event.supervised,
        "supervise_lapsed": event.supervise_lapsed, "version": event.version,
    }


def reporter_label(event: Event) -> tuple[str, str]:
    """(name, phone) of the reporter, masked."""
    if event.reporter_id and event.reporter is not None:
        name = str(event.reporter)
        phone = personal.mask_phone(getattr(event.reporter, "phone", "") or "")
    else:
        name = personal.mask_name(event.reporter_name) if event.reporter_name else ""
        phone = personal.mask_phone(event.reporter_phone)
    return name, phone


def persons(event: Event) -> list[dict[str, Any]]:
    out = []
    for ep_ in event.persons.select_related("person", "person__area").order_by("id"):
        masked = account_queries.masked_person(ep_.person)
        out.append({"id": ep_.person_id, "role": ep_.role, "name": masked["name"], "id_number": masked["id_number"],
                    "phone": masked["phone"], "masked": True})
    return out


def tasks(event: Event) -> list[dict[str, Any]]:
    return [
        {"id": t.pk, "unit": t.unit.code, "unit_name": t.unit.name, "is_lead": t.is_lead, "state": t.state,
         "state_label": t.get_state_display(), "due": t.due, "notes": t.notes, "done_at": t.done_at}
        for t in event.tasks.select_related("unit").order_by("-is_lead", "id")
    ]


def attachments(event: Event) -> list[dict[str, Any]]:
    return [
        {"id": a.pk, "name": a.name, "content_type": a.content_type, "size": a.size, "is_image": a.is_image,
         "stage": a.stage, "url": f"/api/v1/events/attachments/{a.pk}", "created_at": a.created_at}
        for a in event.attachments.order_by("created_at", "id")
    ]


def extensions(event: Event) -> list[dict[str, Any]]:
    return [
        {"id": x.pk, "reason": x.reason, "new_due": x.new_due, "decision": x.decision, "created_at": x.created_at}
        for x in event.extensions.order_by("created_at", "id")
    ]


def event_detail(event: Event, user: Any, *, just_reported: bool = False, with_persons: bool = True) -> dict[str, Any]:
    """``just_reported``: the event was reported in this request (``actions.report_event`` returned it), so
    it has no attachments or extension requests yet, and tasks only if it was dispatched at once;
    ``with_persons=False``: the caller knows it has no persons. Each saves a query."""
    name, phone = reporter_label(event)
    fresh_and_bare = just_reported and event.state == State.REPORTED
    return {
        **event_row(event),
        "description": event.description, "address": event.address, "tags": list(event.tags or []),
        "reporter": name, "reporter_phone": phone,
        "village_code": event.village.code if event.village_id and event.village else None,
        "town_code": event.town.code if event.town_id and event.town else None,
        "workstation": event.workstation.code if event.workstation_id and event.workstation else None,
        "supervise_note": event.supervise_note, "parked_reason": event.parked_reason,
        "merged_into": event.merged_into_id, "result": event.result, "measures": event.measures,
        "resolution_method": event.resolution_method, "satisfaction": event.satisfaction,
        "reject_reason": event.reject_reason, "on_time": event.on_time,
        "deadlines": {"accept_due": event.accept_due, "resolve_due": event.resolve_due, "warn_at": event.warn_at,
                      "overdue_since": event.overdue_since, "supervise_due": event.supervise_due,
                      "parked_until": event.parked_until},
        "flags": {"warned": event.warned, "overdue": event.overdue, "supervised": event.supervised,
                  "supervise_lapsed": event.supervise_lapsed, "parked": event.state == State.PARKED, "repeat_count": event.repeat_count,
                  "reopened_count": event.reopened_count},
        "persons": persons(event) if with_persons else [], "tasks": [] if fresh_and_bare else tasks(event),
        "attachments": [] if just_reported else attachments(event),
        "extensions": [] if just_reported else extensions(event),
        "actions": allowed_actions(user, event, no_extensions=just_reported),
    }


def timeline_rows(entries: Any) -> list[dict[str, Any]]:
    out = []
    for t in entries:
        actor = str(t.actor) if t.actor_id and getattr(t, "actor", None) is not None else t.actor_name
        out.append({"at": t.at, "actor": actor or "", "action": t.action, "from_state": t.from_state,
                    "to_state": t.to_state, "note": t.note, "data": t.data or {},
                    "action_label": ACTION_LABELS.get(t.action, t.action),
                    "to_state_label": State(t.to_state).label if t.to_state in State.values else t.to_state})
    return out

"""Access-table rows for every route of the closed loop (pages and API), written by hand.

Objects: an event inside GRID_A (inside for every area persona) and one in TOWN_B (outside, except for
the district-wide roles), each put into the state the route's action needs by the system channel.
The personas hold no organisation, so the lead-unit work (start, resolve, return …) falls to the district
admin, who may step in; the unit paths themselves are tested in tests/events/test_api.py.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

from tests.web.access import DISTRICT_WIDE, ROLES, A, D, F, H, L, U, row

# -- who may do what (by hand, from the issue and the role table; not read from the policy) ----------

# Roles that see events in their area (public: only their own reports, so none of these).
SEE = ("district_admin", "department_staff", "workstation_staff", "grid_worker", "grid_worker_parttime", "liaison_cadre",
       "correction_officer", "police_officer", "procurator", "judge", "mediator", "deputy")
LIST = (*SEE, "public")
# department staff report too (fieldwork 0002: an inspection that finds a hazard opens an event)
REPORT = ("district_admin", "department_staff", "workstation_staff", "grid_worker", "grid_worker_parttime", "liaison_cadre", "block_leader",
          "correction_officer", "police_officer", "judge", "enterprise_safety_officer", "public")
EXPORT = ("district_admin", "department_staff", "workstation_staff")
TRIAGE = ("district_admin", "workstation_staff")
VERIFY = ("district_admin", "workstation_staff", "grid_worker", "grid_worker_parttime", "liaison_cadre")
ESCALATE = ("district_admin", "department_staff", "workstation_staff", "grid_worker")
SUPERVISE = ("district_admin",)
PARK = ("district_admin", "workstation_staff")
STEP_IN = ("district_admin",)  # lead-unit work by someone outside the unit


def only(roles: tuple[str, ...], ok: int = A) -> dict[str, object]:
    """An unscoped route: ``ok`` for these roles, 403 for the others."""
    return {role: (ok if role in roles else F) for role in ROLES[1:]}


def on_event(roles: tuple[str, ...], ok: int = A, denied: int = F) -> dict[str, object]:
    """A route on one event: roles that cannot see it get 404 (inside and outside); those who see it get
    ``ok`` when they may act and ``denied`` otherwise; outside their area, 404 unless district-wide."""
    cells: dict[str, object] = {}
    for role in ROLES[1:]:
        if role not in SEE:
            cells[role] = (H, H)
        else:
            value = ok if role in roles else denied
            cells[role] = (value, value if role in DISTRICT_WIDE else H)
    return cells


def api_action(kind: str, roles: tuple[str, ...]) -> dict[str, object]:
    return {"method": "POST", "kind": kind, "cells": row(default=H, anonymous=U, **on_event(roles))}


ROWS: dict[str, dict[str, object]] = {
    # -- pages ------------------------------------------------------------------------------------
    "events:inbox": {"method": "GET", "cells": row(default=F, anonymous=L, **only(LIST))},
    "events:report": {"method": "GET", "cells": row(default=F, anonymous=L, **only(REPORT))},
    "events:map": {"method": "GET", "cells": row(default=F, anonymous=L, **only(LIST))},
    "events:export": {"method": "GET", "cells": row(default=F, anonymous=L, **only(EXPORT))},
    "events:notifications": {"method": "GET", "cells": row(default=A, anonymous=L)},  # one's own only
    "events:detail": {"method": "GET", "kind": "event", "cells": row(default=H, anonymous=L, **on_event(SEE))},
    # the page's action form: accepting a reported event redirects back to the event page
    "events:act": {"method": "POST", "kind": "page:accept", "cells": row(default=H, anonymous=L, **on_event(TRIAGE, ok=D))},
    # -- API --------------------------------------------------------------------------------------
    "api:list_events": {"method": "GET", "cells": row(default=F, anonymous=U, **only(LIST))},
    "api:create_event": {"method": "POST", "kind": "new_event", "cells": row(default=F, anonymous=U, **only(REPORT, ok=201))},
    "api:list_event_types": {"method": "GET", "cells": row(default=A, anonymous=U)},
    "api:list_event_notifications": {"method": "GET", "cells": row(default=A, anonymous=U)},
    "api:read_event_notifications": {"method": "POST", "kind": "mark_read", "cells": row(default=A, anonymous=U)},
    "api:event_clusters": {"method": "GET", "cells": row(default=F, anonymous=U, **only(LIST))},
    "api:get_event_attachment": {"method": "GET", "kind": "attachment", "cells": row(default=H, anonymous=U, **on_event(SEE))},
    "api:get_event": {"method": "GET", "kind": "event", "cells": row(default=H, anonymous=U, **on_event(SEE))},
    "api:event_timeline": {"method": "GET", "kind": "event", "cells": row(default=H, anonymous=U, **on_event(SEE))},
    "api:event_duplicates": {"method": "GET", "kind": "event", "cells": row(default=H, anonymous=U, **on_event(SEE))},
    # the table sends JSON, so a caller who reaches the event gets 422 "file_required" (the check comes after access)
    "api:upload_event_attachment": {"method": "POST", "kind": "event",
                                    "cells": row(default=H, anonymous=U, **on_event(SEE, ok=422))},
    "api:event_accept": api_action("act:accept", TRIAGE),
    "api:event_reject": api_action("act:reject", TRIAGE),
    "api:event_merge": api_action("act:merge", TRIAGE),
    "api:event_dispatch": api_action("act:dispatch", TRIAGE),
    "api:event_send_back": api_action("act:return", STEP_IN),
    "api:event_start": api_action("act:start", STEP_IN),
    "api:event_progress": api_action("act:progress", STEP_IN),
    "api:event_complete_task": api_action("act:complete-task", STEP_IN),
    "api:event_resolve": api_action("act:resolve", STEP_IN),
    "api:event_verify": api_action("act:verify", VERIFY),
    "api:event_rework": api_action("act:rework", VERIFY),
    "api:event_close": api_action("act:close", VERIFY),
    "api:event_escalate": api_action("act:escalate", ESCALATE),
    "api:event_supervise": api_action("act:supervise", SUPERVISE),
    "api:event_reopen": api_action("act:reopen", TRIAGE),
    "api:event_park": api_action("act:park", PARK),
    "api:event_unpark": api_action("act:unpark", PARK),
    "api:event_extension_request": api_action("act:extension-request", STEP_IN),
    "api:event_extension_decide": api_action("act:extension-decide", TRIAGE),
}

INSIDE = (120.32, 30.85)   # GRID_A
OUTSIDE = (120.45, 30.85)  # GRID_B, in TOWN_B


@dataclass
class Target:
    event: Any
    body: dict[str, Any] = field(default_factory=dict)
    action: str = ""


def _ensure_defaults() -> None:
    """The event types and the roles' events permissions (migration events 0002), again: a transactional
    test earlier in the session may have flushed them."""
    from django.apps import apps

    defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
    defaults.install_types(apps)
    defaults.grant(apps)
    fieldwork = importlib.import_module("pingan.fieldwork.migrations.0002_default_role_permissions")
    fieldwork.grant(apps, None)


def _units() -> tuple[Any, Any]:
    from pingan.accounts.models import Organisation, OrgKind

    lead, _ = Organisation.objects.get_or_create(code="acc-lead", defaults={"name": "牵头局", "kind": OrgKind.DEPARTMENT})
    helper, _ = Organisation.objects.get_or_create(code="acc-help", defaults={"name": "协办局", "kind": OrgKind.DEPARTMENT})
    return lead, helper


def _event(lonlat: tuple[float, float], state: str, *, assisting: bool = False, title: str = "占道经营") -> Any:
    """A new event at ``lonlat`` driven by the system channel along the happy path to ``state``."""
    from pingan.events import actions

    lead, helper = _units()
    event = actions.report_event("system", actions.ReportInput(
        event_type="dispute-neighbour", title=title, description="access table", lon=lonlat[0], lat=lonlat[1]))
    path = ["accepted", "dispatched", "in_progress", "resolved", "verified", "closed"]
    steps = {
        "accepted": lambda e: actions.accept_event("system", e),
        "dispatched": lambda e: actions.dispatch_event("system", e, lead_unit=lead,
                                                       assisting_units=[helper] if assisting else []),
        "in_progress": lambda e: actions.start_event("system", e),
        "resolved": lambda e: actions.resolve_event("system", e, result="已处理", measures="", method="other"),
        "verified": lambda e: actions.verify_event("system", e),
        "closed": lambda e: actions.close_event("system", e, satisfaction=5),
    }
    if state in path:
        for step in path[: path.index(state) + 1]:
            event = steps[step](event)
    return event


def _target(action: str, lonlat: tuple[float, float]) -> Target:
    from pingan.core import clock
    from pingan.events import actions
    from pingan.events.models import Extension, Task

    later = (clock.now() + dt.timedelta(days=60)).isoformat()
    review = (clock.now() + dt.timedelta(days=10)).date().isoformat()
    if action in ("accept", "reject", "escalate", "supervise"):
        event = _event(lonlat, "reported")
    elif action in ("merge", "dispatch", "park"):
        event = _event(lonlat, "accepted")
    elif action in ("return", "start", "extension-request"):
        event = _event(lonlat, "dispatched")
    elif action in ("progress", "resolve"):
        event = _event(lonlat, "in_progress")
    elif action == "complete-task":
        event = _event(lonlat, "dispatched", assisting=True)
    elif action in ("verify", "rework"):
        event = _event(lonlat, "resolved")
    elif action == "close":
        event = _event(lonlat, "verified")
    elif action == "reopen":
        event = _event(lonlat, "closed")
    elif action == "unpark":
        event = actions.park_event("system", _event(lonlat, "accepted"), reason="等待政策",
                                   review_on=dt.date.fromisoformat(review))
    elif action == "extension-decide":
        event = _event(lonlat, "dispatched")
        from pingan.accounts.models import User

        asker = User.objects.filter(username="acc-asker").first() or User.objects.create(username="acc-asker")
        Extension.objects.create(event=event, requested_by=asker, reason="需要协调",
                                 new_due=clock.now() + dt.timedelta(days=60), created_at=clock.now())
    else:
        raise LookupError(action)
    bodies: dict[str, dict[str, Any]] = {
        "accept": {}, "reject": {"reason": "不属实"}, "dispatch": {"lead_unit": "acc-lead"},
        "return": {"reason": "非本单位职责"}, "start": {}, "progress": {"note": "进展"},
        "resolve": {"result": "已处理", "measures": "", "method": "other"}, "verify": {}, "rework": {"reason": "未到位"},
        "close": {"satisfaction": 5}, "escalate": {"reason": "需要上级"}, "supervise": {"note": "限期办理"},
        "reopen": {"reason": "再次反映"}, "park": {"reason": "等待政策", "review_on": review}, "unpark": {},
        "extension-request": {"reason": "需要协调", "new_due": later}, "extension-decide": {"approve": True},
    }
    body = dict(bodies.get(action, {}))
    if action == "merge":
        body = {"into": _event(lonlat, "reported", title="同一件事").pk}
    if action == "complete-task":
        body = {"task": Task.objects.get(event=event, is_lead=False).pk, "note": "配合完成"}
    return Target(event=event, body=body, action=action)


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:
    _ensure_defaults()
    if kind == "new_event":
        return INSIDE, OUTSIDE
    if kind == "mark_read":
        return "mine", "mine"
    if kind == "event":
        return _event(INSIDE, "reported"), _event(OUTSIDE, "reported")
    if kind == "attachment":
        from django.core.files.uploadedfile import SimpleUploadedFile

        from pingan.events import actions

        pdf = b"%PDF-1.4\n%%EOF\n"
        return tuple(  # type: ignore[return-value]
            actions.add_attachment("system", _event(where, "reported"), upload=SimpleUploadedFile("a.pdf", pdf))
            for where in (INSIDE, OUTSIDE)
        )
    if kind is not None and kind.startswith(("act:", "page:")):
        action = kind.split(":", 1)[1]
        return _target(action, INSIDE), _target(action, OUTSIDE)
    return None


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind == "new_event":
        lon, lat = obj  # type: ignore[misc]
        return {}, {"event_type": "dispute-neighbour", "title": "占道经营", "description": "早市摊位", "lon": lon, "lat": lat,
                    "reporter_name": "张三", "reporter_phone": "13857212345"}
    if kind == "mark_read":
        return {}, {"ids": []}
    if kind == "event":
        return {"event_id": obj.pk}, {}  # type: ignore[attr-defined]
    if kind == "attachment":
        return {"attachment_id": obj.pk}, {}  # type: ignore[attr-defined]
    if kind is not None and kind.startswith("act:"):
        assert isinstance(obj, Target)
        return {"event_id": obj.event.pk}, obj.body
    if kind is not None and kind.startswith("page:"):
        assert isinstance(obj, Target)
        return {"event_id": obj.event.pk, "action": obj.action}, obj.body
    return None


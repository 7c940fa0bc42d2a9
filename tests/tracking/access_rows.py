"""Access-table rows for every route of tracking (pages and API), written by hand from the role grants in
pingan/tracking/permissions.py (not read from the policy):

- district_admin: everything, the whole district;
- correction_officer: see targets, see and handle alerts, play back tracks — in its area (TOWN_A here);
- police_officer: see targets, see and handle alerts — in its area (TOWN_A);
- procurator: see targets and alerts — the whole district (its persona reaches 330503);
- every other role: nothing.

Objects: a monitored person whose home area is GRID_A (inside for every area persona) and one in TOWN_B
(outside, except for the district-wide roles), each with an exclusion zone around its place and, for the
alert routes, an alert opened by the pipeline from a synthetic engine effect and put into the state the
route needs by the system channel. Fixes are never sent here: ``POST /api/v1/tracking/fixes`` takes a
device key or a gateway token and refuses a browser session (which is all the table sends) with 403, for
every role — the district admin, who holds ``tracking.ingest_fixes``, included.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import GRID_A, TOWN_B
from tests.web.access import DISTRICT_WIDE, ROLES, A, D, F, H, L, U, row

SEE = ("district_admin", "correction_officer", "police_officer", "procurator")  # view_target and view_alert
HANDLE = ("district_admin", "correction_officer", "police_officer")            # handle_alert
TRACK = ("district_admin", "correction_officer")                               # view_track
MANAGE = ("district_admin",)                                                   # manage_target, manage_zone

INSIDE = (120.32, 30.85)   # GRID_A
OUTSIDE = (120.45, 30.85)  # GRID_B, in TOWN_B
TRACK_QUERY = "?from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z"


def only(roles: tuple[str, ...], ok: int = A) -> dict[str, object]:
    """A route without an object: ``ok`` for these roles, 403 for the others."""
    return {role: (ok if role in roles else F) for role in ROLES[1:]}


def on_object(roles: tuple[str, ...], ok: int = A, denied: int = F) -> dict[str, object]:
    """A route on one target, zone or alert: roles that cannot see it get 404 (inside and outside); those who
    see it get ``ok`` when they may act and ``denied`` otherwise; outside their area, 404 unless district-wide."""
    cells: dict[str, object] = {}
    for role in ROLES[1:]:
        if role not in SEE:
            cells[role] = (H, H)
        else:
            value = ok if role in roles else denied
            cells[role] = (value, value if role in DISTRICT_WIDE else H)
    return cells


def api_action(kind: str) -> dict[str, object]:
    return {"method": "POST", "kind": kind, "cells": row(default=H, anonymous=U, **on_object(HANDLE))}


ROWS: dict[str, dict[str, object]] = {
    # -- pages ------------------------------------------------------------------------------------
    "tracking:alerts": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "tracking:map": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "tracking:alert": {"method": "GET", "kind": "tr_alert", "cells": row(default=H, anonymous=L, **on_object(SEE))},
    "tracking:target": {"method": "GET", "kind": "tr_target", "cells": row(default=H, anonymous=L, **on_object(SEE))},
    # the page's action form: acknowledging an open alert redirects back to the alert page
    "tracking:alert-act": {"method": "POST", "kind": "tr_page:acknowledge",
                           "cells": row(default=H, anonymous=L, **on_object(HANDLE, ok=D))},
    # -- API: the HTTP door -------------------------------------------------------------------------
    "api:post_fixes": {"method": "POST", "kind": "tr_fixes", "cells": row(default=F, anonymous=F)},
    # -- API: targets, devices, tracks --------------------------------------------------------------
    "api:list_targets": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:create_target": {"method": "POST", "kind": "tr_new_target", "cells": row(default=F, anonymous=U, **only(MANAGE, ok=201))},
    "api:get_target": {"method": "GET", "kind": "tr_target", "cells": row(default=H, anonymous=U, **on_object(SEE))},
    # A viewer who may not manage the target is refused (403); who may not see it gets 404.
    "api:set_monitoring": {"method": "POST", "kind": "tr_monitoring",
                           "cells": row(default=H, anonymous=U, **on_object(MANAGE))},
    "api:register_device": {"method": "POST", "kind": "tr_new_device",
                            "cells": row(default=H, anonymous=U, **on_object(MANAGE, ok=201))},
    "api:get_track": {"method": "GET", "kind": "tr_target", "query": TRACK_QUERY,
                      "cells": row(default=H, anonymous=U, **on_object(TRACK))},
    "api:positions": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    # -- API: zones -------------------------------------------------------------------------------
    "api:list_zones": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:create_zone": {"method": "POST", "kind": "tr_new_zone", "cells": row(default=F, anonymous=U, **only(MANAGE, ok=201))},
    "api:get_zone": {"method": "GET", "kind": "tr_zone", "cells": row(default=H, anonymous=U, **on_object(SEE))},
    # -- API: alerts ------------------------------------------------------------------------------
    "api:list_alerts": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:get_alert": {"method": "GET", "kind": "tr_alert", "cells": row(default=H, anonymous=U, **on_object(SEE))},
    "api:acknowledge": api_action("tr_act:acknowledge"),
    "api:dismiss": api_action("tr_act:dismiss"),
    "api:escalate": api_action("tr_act:escalate"),
    "api:close": api_action("tr_act:close"),
    "api:note": api_action("tr_act:note"),
}


@dataclass
class Case:
    """An alert put into the state an action needs, and the body to send."""

    alert: Any
    body: dict[str, Any] = field(default_factory=dict)
    action: str = ""


def _ensure_defaults() -> None:
    """The event types (escalating an alert opens an event) and the roles' events permissions, again: a
    transactional test earlier in the session may have flushed the migrations' rows."""
    from django.apps import apps

    defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
    defaults.install_types(apps)
    defaults.grant(apps)


def _area(code: str) -> Any:
    from pingan.geo.models import Area

    return Area.objects.get(code=code)


def _target(lonlat: tuple[float, float]) -> Any:
    from pingan.tracking import actions

    code = GRID_A if lonlat == INSIDE else TOWN_B
    return actions.create_target("test", kind="person", label=f"访问表{code[-3:]}", area=_area(code), monitored=True,
                                 interval_s=600)


def _zone(lonlat: tuple[float, float], target: Any = None) -> Any:
    from pingan.tracking import actions

    code = GRID_A if lonlat == INSIDE else TOWN_B
    return actions.create_zone("test", name=f"禁入区{code[-3:]}", kind="exclusion", shape="circle", coords=list(lonlat),
                               radius_m=200, area=_area(code), targets=[target] if target is not None else [])


def _alert(lonlat: tuple[float, float], state: str = "open") -> Any:
    """An open alert from a synthetic ``raise`` effect through the pipeline, then moved on by the system."""
    from pingan.core import clock
    from pingan.tracking import actions, pipeline
    from pingan.tracking.engine import Effect
    from pingan.tracking.models import Alert

    target = _target(lonlat)
    zone = _zone(lonlat, target)
    now = clock.now()
    effect = Effect(kind="raise", target=target.pk, rule="zone_exclusion", zone=zone.pk, t=now.timestamp(), refs=(),
                    severity="alarm", detail={"lon": lonlat[0], "lat": lonlat[1]})
    (alert_id,) = pipeline.apply_effects([effect], now)
    alert = Alert.objects.get(pk=alert_id)
    if state in ("acknowledged", "escalated"):
        alert = actions.acknowledge_alert("test", alert)
    if state == "escalated":
        alert = actions.escalate_alert("test", alert, note="需要现场处置")
    return alert


BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {"note": "正在电话核实"}, "dismiss": {"reason": "authorised", "note": "已报备请假"},
    "escalate": {"note": "未接电话"}, "close": {"note": "已移交"}, "note": {"note": "已联系家属"},
}


def _case(action: str, lonlat: tuple[float, float]) -> Case:
    return Case(alert=_alert(lonlat, "escalated" if action == "close" else "open"), body=dict(BODIES[action]),
                action=action)


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:
    if kind is None:
        return None
    if kind == "tr_fixes":
        return "fixes", "fixes"
    if kind in ("tr_new_target", "tr_new_zone"):
        return INSIDE, OUTSIDE
    if kind in ("tr_target", "tr_monitoring", "tr_new_device"):
        return _target(INSIDE), _target(OUTSIDE)
    if kind == "tr_zone":
        return _zone(INSIDE), _zone(OUTSIDE)
    if kind == "tr_alert":
        return _alert(INSIDE), _alert(OUTSIDE)
    if kind.startswith(("tr_act:", "tr_page:")) and kind.split(":", 1)[1] in BODIES:
        _ensure_defaults()
        action = kind.split(":", 1)[1]
        return _case(action, INSIDE), _case(action, OUTSIDE)
    return None


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind == "tr_fixes":
        return {}, {"t": "2026-11-30T02:00:00Z", "lon": INSIDE[0], "lat": INSIDE[1], "device": "phone-001"}
    if kind == "tr_new_target":
        code = GRID_A if obj == INSIDE else TOWN_B
        return {}, {"kind": "person", "label": "新登记对象", "area": code, "interval_s": 600}
    if kind == "tr_new_zone":
        lon, lat = obj  # type: ignore[misc]
        code = GRID_A if obj == INSIDE else TOWN_B
        return {}, {"name": "新禁入区", "kind": "exclusion", "shape": "circle", "coords": [lon, lat], "radius_m": 150,
                    "area": code}
    if kind == "tr_target":
        return {"target_id": obj.pk}, {}  # type: ignore[attr-defined]
    if kind == "tr_monitoring":
        return {"target_id": obj.pk}, {"on": False, "reason": "访问表"}  # type: ignore[attr-defined]
    if kind == "tr_new_device":
        return {"target_id": obj.pk}, {"uid": f"acc-{obj.pk}", "name": "手环"}  # type: ignore[attr-defined]
    if kind == "tr_zone":
        return {"zone_id": obj.pk}, {}  # type: ignore[attr-defined]
    if kind == "tr_alert":
        return {"alert_id": obj.pk}, {}  # type: ignore[attr-defined]
    if kind is not None and kind.startswith("tr_act:") and isinstance(obj, Case):
        return {"alert_id": obj.alert.pk}, obj.body
    if kind is not None and kind.startswith("tr_page:") and isinstance(obj, Case):
        return {"alert_id": obj.alert.pk, "action": obj.action}, obj.body
    return None

"""Access expectations for every field-work route, written by hand (not read from the policy).

Objects: "inside" sits in GRID_A / village A1 / town A (workstation ws-a sits in village A1), "outside"
in town B. Kinds:

* ``patrol``: someone else's patrol (inside: in GRID_A; outside: in GRID_B);
* ``own_patrol``: inside is an open patrol of the persona itself in GRID_A, outside another worker's in GRID_B;
* ``visit``: a visit at ws-a / ws-b; ``place``: a place in GRID_A / town B;
* ``visit_at``, ``enforce_at``: a new visit / joint action at ws-a / ws-b; ``new_place``: a place at a point
  in GRID_A / town B; ``inspect_place``: a new inspection of the inside / outside place.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import GRID_A, GRID_B, X0, Y0
from tests.web.access import A, D, F, H, L, U, allow, row

VIEW = ("district_admin", "department_staff", "workstation_staff", "grid_worker", "grid_worker_parttime",
        "police_officer", "procurator", "deputy")
PATROL = ("district_admin", "workstation_staff", "grid_worker", "grid_worker_parttime")
RECORD_VISIT = ("district_admin", "workstation_staff")
INSPECT = ("district_admin", "workstation_staff", "department_staff")
ENFORCE = ("district_admin", "workstation_staff", "department_staff", "police_officer")
GRID_WORKERS = ("grid_worker", "grid_worker_parttime")

IN_A = (X0 + 0.02, Y0 + 0.05)
IN_B = (X0 + 0.15, Y0 + 0.05)
REPORT = {"event_type": "dispute-neighbour", "title": "噪音", "description": "夜间施工", "priority": "normal",
          "lon": IN_A[0], "lat": IN_A[1], "crs": "wgs84"}


def _own_patrol(ok: int) -> dict[str, object]:
    """Change one's own open patrol: patrol roles may (``ok``); a role without the permission is refused
    (403). Someone else's patrol is 403 for whoever may see it (district-wide), else hidden."""
    return row(default=(F, H), anonymous=L if ok == D else U, **{
        **{r: (ok, H) for r in PATROL}, "district_admin": (ok, F), "procurator": (F, F)})


def _visit_event(ok: int, anonymous: int) -> dict[str, object]:
    """Open an event from a visit: recorders in scope; viewers who may not record get 403; hidden otherwise.
    Grid workers do not see a workstation's visits."""
    return row(default=H, anonymous=anonymous, district_admin=(ok, ok), workstation_staff=(ok, H),
               procurator=(F, F), department_staff=(F, H), police_officer=(F, H), deputy=(F, H))


def _visit_view(anonymous: int) -> dict[str, object]:
    return row(default=H, anonymous=anonymous, **(allow(VIEW, scoped=True, denied=H) | {r: H for r in GRID_WORKERS}))


def _create_at(roles: tuple[str, ...], ok: int = 201) -> dict[str, object]:
    """Create at a workstation / point: district-wide roles anywhere; area roles only inside (403 outside)."""
    return row(default=F, anonymous=U, **allow(roles, ok=ok, scoped=True, hidden=F))


ROWS: dict[str, dict[str, object]] = {
    # -- pages -----------------------------------------------------------------------------------
    "fieldwork:patrol": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(PATROL))},
    "fieldwork:patrol-start": {"method": "POST", "kind": "start_patrol",
                               "cells": row(default=F, anonymous=L, **allow(PATROL, ok=D))},
    "fieldwork:patrol-point": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(D)},
    "fieldwork:patrol-end": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(D)},
    "fieldwork:patrol-report": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(D)},
    "fieldwork:patrols": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW))},
    "fieldwork:visits": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW))},
    "fieldwork:visit": {"method": "GET", "kind": "visit", "cells": _visit_view(L)},
    "fieldwork:visit-event": {"method": "POST", "kind": "visit", "cells": _visit_event(D, L)},
    "fieldwork:places": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW))},
    "fieldwork:place": {"method": "GET", "kind": "place",
                        "cells": row(default=H, anonymous=L, **allow(VIEW, scoped=True, denied=H))},
    "fieldwork:inspections": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW))},
    "fieldwork:enforcement": {"method": "GET", "cells": row(default=F, anonymous=L, **allow(VIEW))},
    # -- API -------------------------------------------------------------------------------------
    "api:list_patrols": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW))},
    "api:start_patrol": {"method": "POST", "kind": "start_patrol",
                         "cells": row(default=F, anonymous=U, **allow(PATROL, ok=201))},
    "api:get_patrol": {"method": "GET", "kind": "patrol",
                       "cells": row(default=H, anonymous=U, **allow(VIEW, scoped=True, denied=H))},
    "api:add_patrol_point": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(A)},
    "api:end_patrol": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(A)},
    "api:report_on_patrol": {"method": "POST", "kind": "own_patrol", "cells": _own_patrol(201)},
    "api:list_visits": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW))},
    "api:create_visit": {"method": "POST", "kind": "visit_at", "cells": _create_at(RECORD_VISIT)},
    "api:get_visit": {"method": "GET", "kind": "visit", "cells": _visit_view(U)},
    "api:open_visit_event": {"method": "POST", "kind": "visit", "cells": _visit_event(201, U)},
    "api:list_places": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW))},
    "api:create_place": {"method": "POST", "kind": "new_place", "cells": _create_at(INSPECT)},
    "api:get_place": {"method": "GET", "kind": "place",
                      "cells": row(default=H, anonymous=U, **allow(VIEW, scoped=True, denied=H))},
    "api:list_inspections": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW))},
    "api:create_inspection": {"method": "POST", "kind": "inspect_place", "cells": row(default=H, anonymous=U, **{
        **{r: (F, H) for r in VIEW}, "procurator": (F, F),
        "district_admin": (201, 201), "workstation_staff": (201, H), "department_staff": (201, H)})},
    "api:list_joint_enforcements": {"method": "GET", "cells": row(default=F, anonymous=U, **allow(VIEW))},
    "api:create_joint_enforcement": {"method": "POST", "kind": "enforce_at", "cells": _create_at(ENFORCE)},
}

KINDS = ("patrol", "own_patrol", "visit", "place", "visit_at", "enforce_at", "new_place", "inspect_place",
         "start_patrol")


def _workstations() -> tuple[Any, Any]:
    from pingan.accounts.models import Organisation
    from pingan.geo.models import Area

    out = []
    for code, village in (("ws-access-a", "330503100201"), ("ws-access-b", "330503101201")):
        area = Area.objects.get(code=village)
        org, created = Organisation.objects.get_or_create(code=code, defaults={"name": code, "kind": "workstation",
                                                                               "area": area})
        if created:
            org.areas.add(area)
        out.append(org)
    return out[0], out[1]


def _worker(username: str, grid: str) -> Any:
    from pingan.accounts import actions
    from pingan.accounts.models import Role, User
    from pingan.geo.models import Area

    user = User.objects.filter(username=username).first()
    if user is None:
        user = actions.create_user("test", username=username, password=None)
        actions.assign_role("test", user, Role.objects.get(code="grid_worker"), area=Area.objects.get(code=grid))
    return user


def _patrol(user: Any, grid: str) -> Any:
    from pingan.core import clock
    from pingan.fieldwork.models import Patrol
    from pingan.geo.models import Area

    return Patrol.objects.create(worker=user, grid=Area.objects.get(code=grid), started_at=clock.now())


def _place(name: str, point: tuple[float, float]) -> Any:
    from pingan.fieldwork import actions

    return actions.register_place("test", name=name, kind="shop", lon=point[0], lat=point[1])


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:
    if kind not in KINDS:
        return None
    if kind == "patrol":
        return _patrol(_worker("patroller_a", GRID_A), GRID_A), _patrol(_worker("patroller_b", GRID_B), GRID_B)
    if kind == "own_patrol":
        return "mine", "other"
    if kind == "start_patrol":
        return None, None
    ws_a, ws_b = _workstations()
    if kind == "visit":
        from pingan.accounts.actions import PersonInput
        from pingan.fieldwork import actions

        return (actions.register_visit("test", ws_a, PersonInput(name="来访甲"), "欠薪"),
                actions.register_visit("test", ws_b, PersonInput(name="来访乙"), "欠薪"))
    if kind in ("visit_at", "enforce_at"):
        return ws_a, ws_b
    if kind == "new_place":
        return IN_A, IN_B
    return _place("甲店", IN_A), _place("乙店", IN_B)  # place, inspect_place


def request(kind: str | None, obj: Any, user: Any) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind not in KINDS:
        return None
    if kind == "start_patrol":
        if user is not None:  # the route is asked twice (inside, outside): close the first patrol between
            from pingan.core import clock
            from pingan.fieldwork.models import Patrol

            Patrol.objects.filter(worker=user, ended_at__isnull=True).update(ended_at=clock.now())
        return {}, {"grid": GRID_A, "grid_code": GRID_A}
    if kind == "patrol":
        return {"patrol_id": obj.pk}, {}
    if kind == "own_patrol":
        patrol = _patrol(user, GRID_A) if obj == "mine" and user is not None else _patrol(_worker("patroller_b", GRID_B),
                                                                                           GRID_B)
        return {"patrol_id": patrol.pk}, {**REPORT, "notes": "ok"}
    if kind == "visit":
        return {"visit_id": obj.pk}, dict(REPORT)
    if kind == "place":
        return {"place_id": obj.pk}, {}
    if kind == "visit_at":
        return {}, {"workstation_id": obj.pk, "person": {"name": "新来访"}, "matter": "咨询"}
    if kind == "enforce_at":
        from pingan.accounts.models import Organisation

        gaj = Organisation.objects.get(code="gaj")
        return {}, {"workstation_id": obj.pk, "departments": [gaj.pk], "findings": "夜查", "address": "某地"}
    if kind == "new_place":
        return {}, {"name": "新店", "kind": "shop", "lon": obj[0], "lat": obj[1]}
    return {}, {"place_id": obj.pk, "findings": "无异常"}  # inspect_place

"""Access-table rows for every route of 如燕, written by hand from the issue (not read from the policy).

Objects: a subject residing in GRID_A under a judicial office of town A (inside for the correction officer of
town A) and one in GRID_B under town B's office (outside; the procurator, district-wide, sees both), each put
into the state the route's action needs by the system channel. Who may do what:

- correction officers manage the subjects of their town; procurators read them (检察监督) and change nothing;
  no other role sees a subject at all (grid worker, judge, district admin, enterprise user …: 403 on lists, 404
  on a subject);
- only correction officers, police officers and checkpoint staff scan follow codes (any subject: a checkpoint
  checks whoever passes), and a scan answers without the identity;
- only a correction subject's own login gets its code and checks in (404 for a subject login linked to no one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import GRID_A, GRID_B, TOWN_A, TOWN_B
from tests.web.access import DISTRICT_WIDE, ROLES, A, D, F, H, L, U, row

OFFICER = ("correction_officer",)
SEE = ("correction_officer", "procurator")
SCAN = ("correction_officer", "police_officer", "checkpoint_staff")
INSIDE = (120.32, 30.85)
_NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TRACK_PERIOD = f"?from={(_NOW - dt.timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}&to={(_NOW + dt.timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def only(roles: tuple[str, ...], ok: int = A, both: tuple[int, int] | None = None) -> dict[str, object]:
    """An unscoped route: ``ok`` for these roles, 403 for the others."""
    return {role: (both if both and role in roles else (ok if role in roles else F)) for role in ROLES[1:]}


def on_subject(roles: tuple[str, ...], ok: int = A) -> dict[str, object]:
    """A route on one subject: those who cannot see subjects get 404; those who see it get ``ok`` when they may
    act and 403 otherwise; outside their town, 404 unless district-wide."""
    cells: dict[str, object] = {}
    for role in ROLES[1:]:
        if role not in SEE:
            cells[role] = (H, H)
        else:
            value = ok if role in roles else F
            cells[role] = (value, value if role in DISTRICT_WIDE else H)
    return cells


def act(kind: str, ok: int = A) -> dict[str, object]:
    return {"method": "POST", "kind": kind, "cells": row(default=H, anonymous=U, **on_subject(OFFICER, ok=ok))}


def read(kind: str = "subject") -> dict[str, object]:
    return {"method": "GET", "kind": kind, "cells": row(default=H, anonymous=U, **on_subject(SEE))}


ROWS: dict[str, dict[str, object]] = {
    "api:list_correction_subjects": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    # the officer registers inside their town (201); outside it, the subject is out of scope (403)
    "api:register_correction_subject": {"method": "POST", "kind": "new_subject",
                                        "cells": row(default=F, anonymous=U, correction_officer=(201, F))},
    "api:get_correction_subject": read(),
    "api:reveal_correction_subject": act("subject"),
    "api:correction_intake": act("subj:intake"),
    "api:correction_level": act("subj:level"),
    "api:correction_transfer": act("subj:transfer"),
    "api:list_correction_records": read(),
    "api:add_correction_record": act("subj:record", ok=201),
    "api:close_correction_record": act("record"),
    "api:add_correction_prohibition": act("subj:prohibition", ok=201),
    "api:add_correction_curfew": act("subj:curfew", ok=201),
    "api:register_correction_device": act("subj:device", ok=201),
    "api:link_correction_user": act("subj:user"),
    "api:correction_release": act("subj:release"),
    "api:correction_terminate": act("subj:terminate"),
    "api:list_correction_scans": read(),
    "api:list_correction_authorisations": read(),
    "api:grant_correction_authorisation": act("subj:grant", ok=201),
    "api:renew_correction_authorisation": act("authorisation:renew"),
    "api:end_correction_authorisation": act("authorisation:end"),
    "api:my_follow_code": {"method": "GET", "kind": "own_code",
                           "cells": row(default=F, anonymous=U, correction_subject=(A, H))},
    "api:my_check_in": {"method": "POST", "kind": "own_checkin",
                        "cells": row(default=F, anonymous=U, correction_subject=(A, H))},
    "api:scan_follow_code": {"method": "POST", "kind": "scan", "cells": row(default=F, anonymous=U, **only(SCAN))},
    # -- leave and boundary: officers ask and cancel, nobody among the personas approves (the heads of the
    # judicial office and of the bureau are tested in test_leave_api.py); procurators read only
    "api:list_correction_leaves": read(),
    "api:request_correction_leave": act("subj:leave", ok=201),
    "api:list_correction_leave": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:approve_correction_leave": {"method": "POST", "kind": "leave:approve",
                                     "cells": row(default=H, anonymous=U, **on_subject(()))},
    "api:refuse_correction_leave": {"method": "POST", "kind": "leave:refuse",
                                    "cells": row(default=H, anonymous=U, **on_subject(()))},
    "api:cancel_correction_leave": act("leave:cancel"),
    "api:return_correction_leave": act("leave:return"),
    # -- carrier feed: a gateway's token only (no persona holds corrections.ingest_carrier; a session never counts)
    "api:post_carrier_positions": {"method": "POST", "cells": row(default=F, anonymous=F)},
    # -- pages
    "corrections:leave": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "corrections:subject-leave": {"method": "GET", "kind": "subject",
                                  "cells": row(default=H, anonymous=L, **on_subject(SEE))},
    "corrections:leave-act": {"method": "POST", "kind": "leave_page:cancel",
                              "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=302))},
    "corrections:my-leave": {"method": "GET", "kind": "own_leave",
                             "cells": row(default=F, anonymous=L, correction_subject=(A, H))},
    # Phone checks: the justice roles that see the subject read; officers start one; procurators only read
    "api:list_phone_checks": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:get_phone_check": read("phonecheck"),
    "api:list_subject_phone_checks": read(),
    "api:start_subject_phone_check": act("subj:phonecheck", ok=201),
    "corrections:phone-checks": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "corrections:phone-check-start": {"method": "POST", "kind": "page_phonecheck",
                                      "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))},
    # the subject's track: roles that play back tracks and see the subject (the procurator reads the file, not the track)
    "api:get_correction_track": {"method": "GET", "kind": "subject", "query": TRACK_PERIOD,
                                 "cells": row(default=H, anonymous=U, **on_subject(OFFICER))},
    # -- pages (Dashboard, file, scanner, phone page); anonymous visitors are sent to the login page ----------
    "corrections:dashboard": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "corrections:subjects": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    "corrections:subject": {"method": "GET", "kind": "subject", "cells": row(default=H, anonymous=L, **on_subject(SEE))},
    "corrections:subject-reveal": {"method": "POST", "kind": "subject",
                                   "cells": row(default=H, anonymous=L, **on_subject(OFFICER))},
    # the officer's forms answer with a redirect back to the file
    "corrections:subject-intake": {"method": "POST", "kind": "subj:intake",
                                   "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))},
    "corrections:subject-level": {"method": "POST", "kind": "subj:level",
                                  "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))},
    "corrections:subject-record": {"method": "POST", "kind": "subj:record",
                                   "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))},
    "corrections:scan": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SCAN))},
    "corrections:me": {"method": "GET", "kind": "own_code", "cells": row(default=F, anonymous=L, correction_subject=(A, H))},
    "corrections:me-code": {"method": "GET", "kind": "own_code",
                            "cells": row(default=F, anonymous=L, correction_subject=(A, H))},
    "corrections:me-check-in": {"method": "POST", "kind": "own_checkin",
                                "cells": row(default=F, anonymous=L, correction_subject=(D, H))},
}


@dataclass
class Obj:
    subject: Any
    body: dict[str, Any] = field(default_factory=dict)
    record: Any = None
    authorisation: Any = None
    leave: Any = None
    check: Any = None  # a phone check


def _setup() -> dict[str, Any]:
    """The offices, their officers, the head of the bureau and a subject login (idempotent)."""
    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Organisation, OrgKind, Role, User
    from pingan.corrections.setup import ensure_roles
    from pingan.geo.models import Area

    ensure_roles()
    out: dict[str, Any] = {}
    for side, town in (("a", TOWN_A), ("b", TOWN_B)):
        out[f"office_{side}"], _ = Organisation.objects.get_or_create(
            code=f"acc-sfs-{side}", defaults={"name": f"司法所{side}", "kind": OrgKind.JUDICIAL_OFFICE,
                                              "area": Area.objects.get(code=town)})
    for name, role, area in (("acc-officer-a", "correction_officer", TOWN_A), ("acc-officer-b", "correction_officer", TOWN_B),
                             ("acc-head", "justice_bureau_head", "330503"), ("acc-login", "correction_subject", None)):
        user = User.objects.filter(username=name).first()
        if user is None:
            user = account_actions.create_user("test", username=name, password=None)
            account_actions.assign_role("test", user, Role.objects.get(code=role),
                                        area=Area.objects.get(code=area) if area else None)
        out[name] = user
    return out


_serial = {"n": 0}


def _subject(side: str, *, state: str = "in_correction", **overrides: Any) -> Any:
    from pingan.accounts.actions import PersonInput
    from pingan.core import clock
    from pingan.core.personal import id_check_digit
    from pingan.corrections import actions
    from pingan.geo.models import Area

    people = _setup()
    _serial["n"] += 1
    stem = f"33050319900101{_serial['n'] % 1000:03d}"
    today = clock.now().date()
    values: dict[str, Any] = {
        "person_input": PersonInput(name="周某某", id_number=stem + id_check_digit(stem),
                                    area_code=GRID_A if side == "a" else GRID_B),
        "correction_type": "probation", "decision_body": "南浔区人民法院", "decision_number": f"acc-{_serial['n']}",
        "decision_effective_on": today - dt.timedelta(days=3), "supervision_start": today - dt.timedelta(days=3),
        "supervision_end": today + dt.timedelta(days=365), "judicial_office": people[f"office_{side}"],
        "officer": people[f"acc-officer-{side}"], "area": Area.objects.get(code=GRID_A if side == "a" else GRID_B),
        "phone": "13857212345", "home_lon": INSIDE[0] if side == "a" else 120.45, "home_lat": INSIDE[1],
    }
    values.update(overrides)
    subject = actions.register_subject("test", actions.SubjectInput(**values))
    if state == "in_correction":
        subject = actions.record_intake("test", subject)
    return subject


def _obj(action: str, side: str) -> Obj:
    from pingan.core import clock
    from pingan.corrections import actions

    people = _setup()
    later = (clock.now() + dt.timedelta(days=30)).isoformat()
    if action == "intake":
        return Obj(_subject(side, state="pending"))
    if action == "release":
        today = clock.now().date()
        return Obj(_subject(side, supervision_end=today), {"note": "期满解矫"})
    subject = _subject(side)
    bodies: dict[str, dict[str, Any]] = {
        "level": {"level": "strict", "reason": "多次违规"},
        "transfer": {"to_office": "acc-sfs-b" if side == "a" else "acc-sfs-a",
                     "to_officer": "acc-officer-b" if side == "a" else "acc-officer-a",
                     "area": GRID_B if side == "a" else GRID_A, "reason": "变更执行地"},
        "record": {"kind": "community_service", "text": "社区清扫", "hours": 2},
        "prohibition": {"text": "禁止进入娱乐场所", "zones": [{"name": "酒吧街", "shape": "circle",
                                                       "coords": [INSIDE[0] + 0.01, INSIDE[1]], "radius_m": 150}]},
        "curfew": {"start": "22:00", "end": "06:00"},
        "device": {"uid": f"acc-device-{side}"},
        "user": {"username": "acc-login"},
        "terminate": {"reason": "revoked", "note": "法院裁定撤销缓刑"},
        "grant": {"ground": "left_area", "facts": "未经批准离开县域", "approver": "acc-head", "ends_at": later},
        "leave": {"destination": "杭州市西湖区", "reason": "探亲", "starts_at": (clock.now() + dt.timedelta(days=1)).isoformat(),
                  "ends_at": (clock.now() + dt.timedelta(days=3)).isoformat()},
        "phonecheck": {},
    }
    if action in bodies:
        return Obj(subject, bodies[action])
    if action == "record-open":
        record = actions.add_record("test", subject, kind="warning", text="未按时报告")
        return Obj(subject, {"outcome": "rectified", "note": "已改正"}, record=record)
    if action in ("renew", "end"):
        authorisation = actions.grant_authorisation("test", subject, ground="prohibition_order", facts="进入禁止区域",
                                                    approver=people["acc-head"], ends_at=clock.now() + dt.timedelta(days=20))
        body = ({"assessment": "风险仍在", "approver": "acc-head",
                 "ends_at": (authorisation.ends_at + dt.timedelta(days=30)).isoformat()} if action == "renew"
                else {"reason": "依据消失"})
        return Obj(subject, body, authorisation=authorisation)
    raise LookupError(action)


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:
    if kind == "new_subject":
        _setup()
        return "a", "b"
    if kind == "subject":
        return Obj(_subject("a"), {"purpose": "access table"}), Obj(_subject("b"), {"purpose": "access table"})
    if kind == "record":
        return _obj("record-open", "a"), _obj("record-open", "b")
    if kind is not None and kind.startswith(("subj:", "authorisation:")):
        action = kind.split(":", 1)[1]
        return _obj(action, "a"), _obj(action, "b")
    if kind in ("own_code", "own_checkin", "own_leave"):
        return Obj(_subject("a")), None
    if kind is not None and kind.startswith(("leave:", "leave_page:")):
        action = kind.split(":", 1)[1]
        return _leave_obj(action, "a"), _leave_obj(action, "b")
    if kind in ("phonecheck", "page_phonecheck"):
        from pingan.corrections import actions

        pair = []
        for side in ("a", "b"):
            subject = _subject(side)
            pair.append(Obj(subject, check=actions.start_phone_check("test", subject) if kind == "phonecheck" else None))
        return pair[0], pair[1]
    if kind == "scan":
        from pingan.accounts import actions as account_actions
        from pingan.accounts.models import Role
        from pingan.corrections import actions

        tokens = []
        for side in ("a", "b"):
            subject = _subject(side)
            login = account_actions.create_user("test", username=f"acc-scan-login-{side}", password=None)
            account_actions.assign_role("test", login, Role.objects.get(code="correction_subject"))
            actions.link_user("test", subject, login)
            tokens.append(Obj(subject, {"code": actions.issue_code(login).token, "lon": INSIDE[0], "lat": INSIDE[1]}))
        return tokens[0], tokens[1]
    return None


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind == "new_subject":
        from pingan.core import clock
        from pingan.core.personal import id_check_digit

        today = clock.now().date()
        stem = "33050319850101" + f"{abs(hash((str(obj), str(user)))) % 900 + 100}"
        side_a = obj == "a"
        return {}, {
            "person": {"name": "吴某", "id_number": stem + id_check_digit(stem)},
            "correction_type": "parole", "decision_body": "湖州市中级人民法院", "decision_number": f"new-{obj}-{user}",
            "decision_effective_on": (today - dt.timedelta(days=1)).isoformat(),
            "supervision_start": (today - dt.timedelta(days=1)).isoformat(),
            "supervision_end": (today + dt.timedelta(days=200)).isoformat(),
            "judicial_office": "acc-sfs-a" if side_a else "acc-sfs-b",
            "officer": getattr(user, "username", "acc-officer-a") if side_a else "acc-officer-b",
            "area": GRID_A if side_a else GRID_B, "phone": "13857212345",
        }
    if kind is not None and kind.startswith("leave:"):
        assert isinstance(obj, Obj)
        return {"leave_id": obj.leave.pk}, obj.body
    if kind is not None and kind.startswith("leave_page:"):
        assert isinstance(obj, Obj)
        return {"leave_id": obj.leave.pk, "action": kind.split(":", 1)[1]}, obj.body
    if kind in ("own_code", "own_checkin", "own_leave"):
        if isinstance(obj, Obj) and user is not None:
            from pingan.accounts import policy
            from pingan.corrections import actions
            from pingan.corrections import permissions as perms

            if policy.has_perm(user, perms.OWN_FOLLOW_CODE.code):
                actions.link_user("test", obj.subject, user)  # type: ignore[arg-type]
        return {}, ({"lon": INSIDE[0], "lat": INSIDE[1]} if kind == "own_checkin" else {})
    if kind == "record":
        assert isinstance(obj, Obj)
        return {"record_id": obj.record.pk}, obj.body
    if kind == "phonecheck":
        assert isinstance(obj, Obj)
        return {"check_id": obj.check.pk}, {}
    if kind == "page_phonecheck":
        assert isinstance(obj, Obj)
        return {}, {"subject": obj.subject.pk}
    if kind is not None and kind.startswith("authorisation:"):
        assert isinstance(obj, Obj)
        return {"authorisation_id": obj.authorisation.pk}, obj.body
    if kind == "scan":
        assert isinstance(obj, Obj)
        return {}, obj.body
    if kind == "subject" or (kind is not None and kind.startswith("subj:")):
        assert isinstance(obj, Obj)
        return {"subject_id": obj.subject.pk}, obj.body
    return None


def _leave_obj(action: str, side: str) -> Obj:
    """A leave of a subject of town ``side``: pending (to approve, refuse or cancel) or on leave (to report back)."""
    from pingan.core import clock
    from pingan.corrections import actions

    subject = _subject(side)
    start = clock.now() + (dt.timedelta(0) if action == "return" else dt.timedelta(days=1))
    leave = actions.request_leave("test", subject, actions.LeaveInput(
        destination="杭州市西湖区", starts_at=start, ends_at=start + dt.timedelta(days=2), reason="探亲"))
    if action == "return":
        actions.approve_leave("test", leave)
    body = {"note": "不同意：理由不充分"} if action == "refuse" else {}
    return Obj(subject, body, leave=leave)
# Core areas and reverse warnings ----------------------------------------------------------------------
#
# Core areas are managed by the head of the justice bureau (not a persona of the table) and the district admin;
# a core-area warning is seen like its subject (officers of the subject's town manage it, procurators read it,
# nobody else finds it: 404 on a warning, 403 on the lists), whatever tracking's own permissions say.

from tests.web.access import D, L  # noqa: E402

CORE = ("district_admin",)


def warning_act(action: str) -> dict[str, object]:
    return {"method": "POST", "kind": f"warning:{action}", "cells": row(default=H, anonymous=U, **on_subject(OFFICER))}


ROWS.update({
    "corrections:warnings": {"method": "GET", "cells": row(default=F, anonymous=L, **only(SEE))},
    # a warning's page (the panel without JavaScript) is seen like its subject; its forms redirect back (PRG)
    "corrections:warning": {"method": "GET", "kind": "warning:get", "cells": row(default=H, anonymous=L, **on_subject(SEE))},
    "corrections:warning-act": {"method": "POST", "kind": "warning_page:dismiss",
                                "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))},
    "corrections:core_areas": {"method": "GET", "cells": row(default=F, anonymous=L, **only(CORE))},
    "corrections:core_area_edit": {"method": "POST", "kind": "core_area:edit",
                                   "cells": row(default=F, anonymous=L, **only(CORE, ok=D))},
    "api:list_core_areas": {"method": "GET", "cells": row(default=F, anonymous=U, **only(CORE))},
    "api:create_core_area": {"method": "POST", "kind": "core_area:new", "cells": row(default=F, anonymous=U, **only(CORE, ok=201))},
    "api:get_core_area": {"method": "GET", "kind": "core_area:get", "cells": row(default=F, anonymous=U, **only(CORE))},
    "api:update_core_area": {"method": "POST", "kind": "core_area:update", "cells": row(default=F, anonymous=U, **only(CORE))},
    "api:deactivate_core_area": {"method": "POST", "kind": "core_area:deactivate",
                                 "cells": row(default=F, anonymous=U, **only(CORE))},
    "api:list_core_area_warnings": {"method": "GET", "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:core_area_warning_figures": {"method": "GET", "query": "?start=2026-01-01T00:00:00Z&end=2027-01-01T00:00:00Z",
                                      "cells": row(default=F, anonymous=U, **only(SEE))},
    "api:get_core_area_warning": {"method": "GET", "kind": "warning:get",
                                  "cells": row(default=H, anonymous=U, **on_subject(SEE))},
    "api:verify_core_area_warning": warning_act("verify"),
    "api:record_core_area_finding": warning_act("found"),
    "api:dismiss_core_area_warning": warning_act("dismiss"),
    "api:escalate_core_area_warning": warning_act("escalate"),
})

_SQUARE_AT = {"a": (120.33, 30.86), "b": (120.46, 30.86)}
_WARNING_BODIES: dict[str, dict[str, Any]] = {
    "get": {}, "verify": {"note": "开始核查"}, "found": {"method": "phoned_subject", "text": "本人称在附近就医"},
    "dismiss": {"reason": "position_error", "note": "基站定位偏差"}, "escalate": {"note": "无法联系"},
}


def _square(side: str) -> list[list[list[float]]]:
    x, y = _SQUARE_AT[side]
    return [[[x - 0.005, y - 0.005], [x + 0.005, y - 0.005], [x + 0.005, y + 0.005], [x - 0.005, y + 0.005],
             [x - 0.005, y - 0.005]]]


def _core_area(side: str) -> Any:
    from pingan.corrections import actions
    from pingan.geo.models import Area

    _setup()
    return actions.create_core_area("test", actions.CoreAreaInput(
        name=f"acc-core-{side}-{_serial['n']}", coords=_square(side), area=Area.objects.get(code=TOWN_A if side == "a" else TOWN_B)))


def _warning(side: str) -> Obj:
    import importlib

    from django.apps import apps

    from pingan.corrections import positions
    from pingan.tracking.models import Alert, Target

    import_defaults = importlib.import_module("pingan.events.migrations.0002_defaults")
    import_defaults.install_types(apps)
    import_defaults.grant(apps)
    _core_area(side)
    subject = _subject(side)
    lon, lat = _SQUARE_AT[side]
    positions.record(Target.objects.get(pk=subject.target_id), source="carrier", lon=lon, lat=lat, accuracy_m=100,
                     fix_type="cell")
    alert = Alert.objects.filter(target_id=subject.target_id, rule="corearea_possible").get()
    return Obj(subject, authorisation=alert)


def core_objects(kind: str | None) -> tuple[object, object] | None:
    if kind is None:
        return None
    if kind.startswith(("warning:", "warning_page:")):
        action = kind.split(":", 1)[1]
        first, second = _warning("a"), _warning("b")
        first.body, second.body = dict(_WARNING_BODIES[action]), dict(_WARNING_BODIES[action])
        return first, second
    if kind == "core_area:new":
        return "a", "b"
    if kind.startswith("core_area:"):
        return _core_area("a"), _core_area("b")
    return None


def core_request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind is None:
        return None
    if kind.startswith("warning:"):
        assert isinstance(obj, Obj)
        return {"alert_id": obj.authorisation.pk}, obj.body
    if kind.startswith("warning_page:"):
        assert isinstance(obj, Obj)
        return {"alert_id": obj.authorisation.pk, "step": kind.split(":", 1)[1]}, obj.body
    if kind == "core_area:new":
        return {}, {"name": f"acc-new-{obj}", "area": TOWN_A if obj == "a" else TOWN_B, "coords": _square(str(obj))}
    if kind.startswith("core_area:"):
        body = {"update": {"verify_minutes": 10}, "deactivate": {"version": None}, "edit": {"verify_minutes": "10", "applies_to": "all"},
                "get": {}}[kind.split(":", 1)[1]]
        return {"core_id": obj.pk}, body  # type: ignore[attr-defined]
    return None


_objects_before, _request_before = objects, request


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:  # type: ignore[no-redef]
    return core_objects(kind) or _objects_before(kind, world, make_user)


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:  # type: ignore[no-redef]
    return core_request(kind, obj, user) or _request_before(kind, obj, user)


# The file's lifecycle forms (pages) ------------------------------------------------------------------------------
#
# Each answers with a redirect (back to the file, or to the list when the subject has left the user's sight) for
# the officers of the subject's town; procurators read the file and are refused (403); nobody else finds the
# subject (404). The bodies are valid forms, so the officer's row runs the action for real (rolled back after).

PAGE_FORMS = {
    "corrections:subject-grant": "grant", "corrections:subject-renew": "renew",
    "corrections:subject-end-authorisation": "end", "corrections:subject-transfer": "transfer",
    "corrections:subject-release": "release", "corrections:subject-terminate": "terminate",
    "corrections:subject-prohibition": "prohibition", "corrections:subject-curfew": "curfew",
    "corrections:subject-device": "device", "corrections:subject-close-record": "record-open",
}
ROWS.update({name: {"method": "POST", "kind": f"file_form:{form}", "cells": row(default=H, anonymous=L, **on_subject(OFFICER, ok=D))}
             for name, form in PAGE_FORMS.items()})


def _local(moment: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def _page_body(action: str, side: str, obj: Obj) -> dict[str, Any]:
    from pingan.core import clock

    if action == "grant":
        return {"ground": "left_area", "facts": "未经批准离开县域", "approver": "acc-head",
                "ends_at": _local(clock.now() + dt.timedelta(days=30))}
    if action == "renew":
        return {"assessment": "风险仍在", "approver": "acc-head",
                "ends_at": _local(obj.authorisation.ends_at + dt.timedelta(days=30))}
    if action == "transfer":
        return {"to_office": "acc-sfs-b" if side == "a" else "acc-sfs-a",
                "to_officer": "acc-officer-b" if side == "a" else "acc-officer-a",
                "area": GRID_B if side == "a" else GRID_A, "reason": "变更执行地"}
    return {
        "end": {"reason": "依据消失"}, "release": {"note": "期满解矫", "confirm": "on"},
        "terminate": {"reason": "revoked", "note": "法院裁定撤销缓刑", "confirm": "on"},
        "prohibition": {"text": "禁止进入娱乐场所", "zone_name": "酒吧街", "lon": str(INSIDE[0] + 0.01), "lat": str(INSIDE[1]),
                        "radius_m": "150"},
        "curfew": {"start": "22:00", "end": "06:00", "weekdays": ["1", "2", "3", "4", "5"]},
        "device": {"uid": f"acc-page-device-{side}", "crs": "wgs84"},
        "record-open": {"outcome": "rectified", "note": "已改正"},
    }[action]


def page_objects(kind: str | None) -> tuple[object, object] | None:
    if kind is None or not kind.startswith("file_form:"):
        return None
    action = kind.split(":", 1)[1]
    pair = []
    for side in ("a", "b"):
        obj = _obj(action, side)
        obj.body = _page_body(action, side, obj)
        pair.append(obj)
    return pair[0], pair[1]


def page_request(kind: str | None, obj: object) -> tuple[dict[str, object], dict[str, object]] | None:
    if kind is None or not kind.startswith("file_form:"):
        return None
    assert isinstance(obj, Obj)
    kwargs: dict[str, object] = {"subject_id": obj.subject.pk}
    if obj.authorisation is not None:
        kwargs["authorisation_id"] = obj.authorisation.pk
    if obj.record is not None:
        kwargs["record_id"] = obj.record.pk
    return kwargs, obj.body


_objects_core, _request_core = objects, request


def objects(kind: str | None, world: Any, make_user: Any) -> tuple[object, object] | None:  # type: ignore[no-redef]
    return page_objects(kind) or _objects_core(kind, world, make_user)


def request(kind: str | None, obj: object, user: object) -> tuple[dict[str, object], dict[str, object]] | None:  # type: ignore[no-redef]
    return page_request(kind, obj) or _request_core(kind, obj, user)

"""Permissions of the event closed loop. Default roles get them in migration events 0002."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from pingan.accounts.permissions import grant_by_default, register

VIEW_EVENT = register("events.view_event", _("See events"))
REPORT_EVENT = register("events.report_event", _("Report events"))
TRIAGE_EVENT = register("events.triage_event", _("Accept, reject, merge and dispatch events"))
HANDLE_EVENT = register("events.handle_event", _("Handle events dispatched to the own unit"))
VERIFY_EVENT = register("events.verify_event", _("Verify resolved events"))
ESCALATE_EVENT = register("events.escalate_event", _("Escalate events one level up"))
SUPERVISE_EVENT = register("events.supervise_event", _("Supervise (督办) events"))
PARK_EVENT = register("events.park_event", _("Park and unpark events"))
CHANGE_ROUTING = register("events.change_routing", _("Edit routing rules and the working calendar"), scoped=False)
VIEW_DASHBOARD = register("events.view_dashboard", _("See the dashboard figures"))
EXPORT_EVENTS = register("events.export_events", _("Export events to Excel"))

_ALL = [p.code for p in (VIEW_EVENT, REPORT_EVENT, TRIAGE_EVENT, HANDLE_EVENT, VERIFY_EVENT, ESCALATE_EVENT,
                         SUPERVISE_EVENT, PARK_EVENT, CHANGE_ROUTING, VIEW_DASHBOARD, EXPORT_EVENTS)]
V, R, T, H, VF, E = (VIEW_EVENT.code, REPORT_EVENT.code, TRIAGE_EVENT.code, HANDLE_EVENT.code, VERIFY_EVENT.code,
                     ESCALATE_EVENT.code)
P, D, X = PARK_EVENT.code, VIEW_DASHBOARD.code, EXPORT_EVENTS.code

# Which default roles hold these (migration 0002 applies the same to existing databases).
GRANTS: dict[str, list[str]] = {
    "district_admin": _ALL,
    "department_staff": [V, H, E, D, X],
    "workstation_staff": [V, R, T, H, VF, E, P, D, X],
    "grid_worker": [V, R, VF, E],
    "grid_worker_parttime": [V, R, VF],
    "liaison_cadre": [V, R, VF],
    "block_leader": [R],
    "correction_officer": [V, R, H],
    "police_officer": [V, R, H],
    "procurator": [V, D],
    "judge": [V, R],
    "mediator": [V, H],
    "deputy": [V, D],
    "enterprise_safety_officer": [R],
    "public": [R, V],
    "auditor": [],
}
grant_by_default(GRANTS)

"""Permissions of grid and workstation work. Default roles get them in migration fieldwork 0002."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from pingan.accounts.permissions import grant_by_default, register

PATROL = register("fieldwork.patrol", _("Patrol the own grid and report on the way"))
VIEW_FIELDWORK = register("fieldwork.view_fieldwork", _("See patrols, visits, places, inspections and joint enforcement"))
RECORD_VISIT = register("fieldwork.record_visit", _("Register visitors at a workstation"))
INSPECT = register("fieldwork.inspect", _("Register places and record inspections"))
ENFORCE = register("fieldwork.enforce", _("Record joint enforcement actions"))

ALL = [PATROL.code, VIEW_FIELDWORK.code, RECORD_VISIT.code, INSPECT.code, ENFORCE.code]
# Which default roles hold these (migration 0002 applies the same to existing databases). Department
# staff also report events: an inspection that finds a hazard opens an event in the inspector's name.
GRANTS: dict[str, list[str]] = {
    "grid_worker": [PATROL.code, VIEW_FIELDWORK.code],
    "grid_worker_parttime": [PATROL.code, VIEW_FIELDWORK.code],
    "workstation_staff": ALL,
    "department_staff": [VIEW_FIELDWORK.code, INSPECT.code, ENFORCE.code, "events.report_event"],
    "district_admin": ALL,
    "police_officer": [VIEW_FIELDWORK.code, ENFORCE.code],
    "procurator": [VIEW_FIELDWORK.code],
    "deputy": [VIEW_FIELDWORK.code],
}
grant_by_default(GRANTS)

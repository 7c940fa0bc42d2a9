"""Permissions of the tracking engine. Default roles get them in migration tracking 0003."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from pingan.accounts.permissions import grant_by_default, register

VIEW_TARGET = register("tracking.view_target", _("See tracked targets and their latest positions"))
MANAGE_TARGET = register("tracking.manage_target", _("Register targets and devices, switch monitoring"))
MANAGE_ZONE = register("tracking.manage_zone", _("Define zones and their schedules"))
VIEW_ALERT = register("tracking.view_alert", _("See tracking alerts"))
HANDLE_ALERT = register("tracking.handle_alert", _("Acknowledge, dismiss, escalate and close tracking alerts"))
VIEW_TRACK = register("tracking.view_track", _("Play back a target's track (audited)"))
INGEST_FIXES = register("tracking.ingest_fixes", _("Send fixes for any device (a gateway)"), scoped=False)

ALL = [p.code for p in (VIEW_TARGET, MANAGE_TARGET, MANAGE_ZONE, VIEW_ALERT, HANDLE_ALERT, VIEW_TRACK, INGEST_FIXES)]
VT, MT, MZ, VA, HA, TR, IG = ALL

# Which default roles hold these. 如燕 and 途安在线 narrow this further for their own targets.
GRANTS: dict[str, list[str]] = {
    "district_admin": ALL,
    "correction_officer": [VT, VA, HA, TR],
    "police_officer": [VT, VA, HA],
    "procurator": [VT, VA],
}
grant_by_default(GRANTS)

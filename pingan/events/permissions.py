"""Permissions of the event closed loop. Default roles get them in migration events 0002."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from pingan.accounts.permissions import register

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

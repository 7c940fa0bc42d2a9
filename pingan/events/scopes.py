"""How the access policy reaches events: by the event's area (subtree), by the handling unit
(organisation scope: a department sees what is dispatched to it), and by the reporter (own)."""

from __future__ import annotations

from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.events import permissions  # noqa: F401  (registers the permission codes)
from pingan.events.models import Event

register_scope(Event, ScopeSpec(area_path="area", org_path="tasks__unit", owner_path="reporter"))

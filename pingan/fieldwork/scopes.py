"""How the access policy reaches grid and workstation work.

* Patrol: by its grid (area subtree) and by the worker (own).
* Visit and joint enforcement: by the workstation, the way the policy reaches the workstation
  itself: its home area subtree, or the assigned organisation.
* Place: by its area, or by its enterprise. Inspection: by its place, or by the inspector (own).
"""

from __future__ import annotations

from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.fieldwork import permissions  # noqa: F401  (registers the permission codes)
from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, PatrolEvent, Place, Visit

register_scope(Patrol, ScopeSpec(area_path="grid", owner_path="worker"))
register_scope(PatrolEvent, ScopeSpec(area_path="patrol__grid", owner_path="patrol__worker"))
register_scope(Visit, ScopeSpec(area_path="workstation__area", org_path="workstation", owner_path="received_by"))
register_scope(Place, ScopeSpec(area_path="area", org_path="enterprise"))
register_scope(Inspection, ScopeSpec(area_path="place__area", org_path="place__enterprise", owner_path="inspector"))
register_scope(JointEnforcement, ScopeSpec(area_path="workstation__area", org_path="workstation"))

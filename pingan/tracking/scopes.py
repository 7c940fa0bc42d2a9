"""How the access policy reaches tracking data: by the target's home area and responsible organisation;
alerts and fixes follow their target, zones their own area."""

from __future__ import annotations

from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.tracking import permissions  # noqa: F401  (registers the permission codes)
from pingan.tracking.models import Alert, Device, Fix, LatestPosition, Target, Zone

register_scope(Target, ScopeSpec(area_path="area", org_path="organisation", sealed_field="sealed"))
register_scope(Device, ScopeSpec(area_path="target__area", org_path="target__organisation", sealed_field="target__sealed"))
register_scope(LatestPosition, ScopeSpec(area_path="target__area", org_path="target__organisation",
                                         sealed_field="target__sealed"))
register_scope(Fix, ScopeSpec(area_path="target__area", org_path="target__organisation", sealed_field="target__sealed"))
register_scope(Alert, ScopeSpec(area_path="target__area", org_path="target__organisation", sealed_field="target__sealed"))
register_scope(Zone, ScopeSpec(area_path="area", org_path="organisation"))

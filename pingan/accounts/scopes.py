"""How each model is reached by the access policy (registered once, used everywhere)."""

from __future__ import annotations

from pingan.accounts.models import Organisation, Person, User
from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.core.models import AuditEntry
from pingan.geo.models import Area

register_scope(Area, ScopeSpec(area_path=""))
register_scope(Person, ScopeSpec(area_path="area", sealed_field="sealed"))
register_scope(Organisation, ScopeSpec(area_path="area", org_path=""))
register_scope(User, ScopeSpec(area_path="assignments__area", org_path="organisation"))
register_scope(AuditEntry, ScopeSpec(area_path=None))

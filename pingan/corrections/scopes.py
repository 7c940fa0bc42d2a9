"""How the access policy reaches corrections data: a subject by its residence area (subtree), its judicial
office (organisation scope) and its own login (own scope: the subject's phone page); the supervising
officer holds object grants on the subject. Everything else follows its subject. Sealed subjects (a
minor's file after release) are hidden from everyone without ``accounts.view_sealed``."""

from __future__ import annotations

from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.corrections import permissions  # noqa: F401  (registers the permission codes)
from pingan.corrections.models import CheckIn, MonitoringAuthorisation, Record, Scan, Subject

register_scope(Subject, ScopeSpec(area_path="area", org_path="judicial_office", owner_path="user", sealed_field="sealed"))
_FOLLOW = ScopeSpec(area_path="subject__area", org_path="subject__judicial_office", sealed_field="subject__sealed")
for _model in (MonitoringAuthorisation, Record, Scan, CheckIn):
    register_scope(_model, _FOLLOW)

# Leave and boundary: a leave request follows its subject (and the subject's own login sees its own)
from pingan.corrections.models import LeaveRequest  # noqa: E402

register_scope(LeaveRequest, ScopeSpec(area_path="subject__area", org_path="subject__judicial_office",
                                       owner_path="subject__user", sealed_field="subject__sealed"))
# Phone checks ---------------------------------------------------------------------------------------
from pingan.corrections.models import PhoneCheck  # noqa: E402

register_scope(PhoneCheck, _FOLLOW)

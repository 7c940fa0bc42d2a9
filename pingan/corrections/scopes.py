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


# Core areas and reverse warnings ----------------------------------------------------------------------
#
# Core areas are reached by their area. Tracking's own rows of correction subjects (targets, devices, fixes,
# latest positions, alerts) are narrowed through the policy's restriction hook: a row whose target is owned by
# corrections is visible only to who may see the subject (corrections.view_subject on the Subject whose target
# it is); an alert also, once escalated or closed, to the police: officers of the core area's police post or with
# area scope over the alert's place (read only: handling stays with the judicial office).

from django.db.models import Exists, OuterRef, Q  # noqa: E402

from pingan.accounts import policy  # noqa: E402
from pingan.corrections.models import CoreArea  # noqa: E402
from pingan.tracking import permissions as tracking_perms  # noqa: E402
from pingan.tracking.models import Alert, Device, Fix, LatestPosition, Target  # noqa: E402

register_scope(CoreArea, ScopeSpec(area_path="area"))

POLICE_ROLE = "police_officer"


def _narrow(user: object, target_path: str) -> Q:
    """Rows of targets not owned by corrections, or whose subject the user may see: a correlated EXISTS on the
    subject's unique target (one index probe per row, not the list of every visible subject)."""
    owner = f"{target_path}owner" if target_path else "owner"
    outer = f"{target_path}id" if target_path else "pk"
    visible = policy.restrict(user, permissions.VIEW_SUBJECT.code, Subject.objects.filter(target_id=OuterRef(outer)))
    return ~Q(**{owner: "corrections"}) | Q(Exists(visible.order_by().values("pk")))


def _target_restriction(user: object, perm: str) -> Q:
    return _narrow(user, "")


def _follow_restriction(user: object, perm: str) -> Q:
    return _narrow(user, "target__")


def _alert_restriction(user: object, perm: str) -> Q:
    q = _narrow(user, "target__")
    if perm != tracking_perms.VIEW_ALERT.code:
        return q
    police = [r for r in policy.reaches(user) if r.role == POLICE_ROLE and perm in r.permissions]
    if not police:
        return q
    reach = Q(pk__in=[])
    for r in police:
        if r.organisation_id is not None:
            reach |= Q(zone__core_area__police_post_id=r.organisation_id)
        if r.scope == "district":
            reach |= Q(place__isnull=False)
        elif r.area_code is not None:
            reach |= Q(place__code__startswith=r.area_code)
    return q | (Q(state__in=["escalated", "closed"]) & reach)


policy.register_restriction(Target, _target_restriction)
for _tracked in (Device, Fix, LatestPosition):
    policy.register_restriction(_tracked, _follow_restriction)
policy.register_restriction(Alert, _alert_restriction)

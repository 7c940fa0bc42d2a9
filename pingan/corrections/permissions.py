"""Permissions of 如燕 community corrections. Default roles get them in migration corrections 0002, which also
creates the role that approves electronic monitoring (the head of the county justice bureau)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from pingan.accounts import permissions as accounts_permissions
from pingan.accounts.permissions import grant_by_default, register

VIEW_SUBJECT = register("corrections.view_subject", _("See correction subjects and their files (masked)"))
VIEW_IDENTITY = register("corrections.view_subject_identity", _("See a correction subject's identity (audited)"))
MANAGE_SUBJECT = register("corrections.manage_subject",
                          _("Register, take in, supervise, transfer and release correction subjects"))
APPROVE_MONITORING = register("corrections.approve_monitoring",
                              _("Approve electronic monitoring of correction subjects (head of the justice bureau)"))
SCAN_FOLLOW_CODE = register("corrections.scan_follow_code", _("Scan follow codes at a checkpoint"), scoped=False)
OWN_FOLLOW_CODE = register("corrections.own_follow_code", _("Show one's own follow code and check in"))

ALL = [p.code for p in (VIEW_SUBJECT, VIEW_IDENTITY, MANAGE_SUBJECT, APPROVE_MONITORING, SCAN_FOLLOW_CODE,
                        OWN_FOLLOW_CODE)]
VS, VI, MS, AM, SC, OC = ALL

#: the role migration 0002 creates for the head of the county justice bureau (社区矫正法 art. 29 approver)
HEAD_ROLE = ("justice_bureau_head", "司法局负责人", "Head of the justice bureau", "district",
             [accounts_permissions.VIEW_AREA.code, accounts_permissions.VIEW_ORGANISATION.code,
              accounts_permissions.VIEW_STAFF.code, VS, AM],
             "Approves electronic monitoring of correction subjects")

# Which default roles hold these (migration 0002 applies the same to existing databases); nobody else sees
# subjects. (A correction officer registers a subject's person through register_subject only, not in general.)
GRANTS: dict[str, list[str]] = {
    "correction_officer": [VS, VI, MS, SC],
    "procurator": [VS],
    "checkpoint_staff": [SC],
    "police_officer": [SC],
    "correction_subject": [OC],
    HEAD_ROLE[0]: list(HEAD_ROLE[4]),
}
grant_by_default(GRANTS)


# Leave and boundary ------------------------------------------------------------------------------
# 社区矫正法实施办法 art. 26: leave of up to seven days may be approved by the judicial office (司法所) when the
# county bureau delegates it, longer leave by the county justice bureau; at most one month at a time.

REQUEST_LEAVE = register("corrections.request_leave",
                         _("Request leave for a correction subject (the officer, or the subject from their own login)"))
APPROVE_LEAVE = register("corrections.approve_leave",
                         _("Approve or refuse a correction subject's leave of up to seven days (judicial office)"))
APPROVE_LONG_LEAVE = register("corrections.approve_long_leave",
                              _("Approve or refuse a correction subject's leave of more than seven days (justice bureau)"))

# Carrier feed ------------------------------------------------------------------------------------

INGEST_CARRIER = register("corrections.ingest_carrier", _("Send carrier-network positions of correction subjects"),
                          scoped=False)

LEAVE_ALL = [p.code for p in (REQUEST_LEAVE, APPROVE_LEAVE, APPROVE_LONG_LEAVE, INGEST_CARRIER)]
RL, AL, ALL_LONG, IC = LEAVE_ALL

#: roles migration 0004 creates: the head of a judicial office (approves leave of up to seven days for the
#: subjects of their office) and a carrier's gateway account (sends cell positions, nothing else)
LEAVE_ROLES = [
    ("judicial_office_head", "司法所所长", "Head of a judicial office", "organisation",
     [accounts_permissions.VIEW_AREA.code, accounts_permissions.VIEW_ORGANISATION.code,
      accounts_permissions.VIEW_STAFF.code, VS, AL],
     "Approves leave of up to seven days for the subjects of their judicial office"),
    ("carrier_gateway", "运营商网关", "Carrier gateway", "district", [IC],
     "A carrier's gateway: sends cell positions of correction subjects, sees nothing"),
]

LEAVE_GRANTS: dict[str, list[str]] = {
    "correction_officer": [RL],
    "correction_subject": [RL],
    HEAD_ROLE[0]: [AL, ALL_LONG],
    **{role[0]: list(role[4]) for role in LEAVE_ROLES},
}
grant_by_default(LEAVE_GRANTS)


# Core areas and reverse warnings ----------------------------------------------------------------------

MANAGE_CORE_AREA = register("corrections.manage_core_area",
                            _("Define core areas, their schedules and whom they apply to (reverse warnings)"))
CORE_AREA_GRANTS: dict[str, list[str]] = {
    HEAD_ROLE[0]: [MANAGE_CORE_AREA.code],
    "district_admin": [MANAGE_CORE_AREA.code],
}
grant_by_default(CORE_AREA_GRANTS)

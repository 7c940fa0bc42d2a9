"""The default roles and organisations every installation starts with (loaded by ``pingan demo``
and by ``ensure_default_roles``); admins change them as data afterwards."""

from __future__ import annotations

from pingan.accounts import permissions as p

_STAFF = [p.VIEW_AREA.code, p.VIEW_ORGANISATION.code, p.VIEW_STAFF.code, p.VIEW_PERSON.code]

# code, name, English name, scope, permissions, description
ROLES: list[tuple[str, str, str, str, list[str], str]] = [
    ("district_admin", "区级管理员", "District admin", "district",
     [*_STAFF, p.ADD_PERSON.code, p.CHANGE_AREA.code], "区委政法委: the whole district"),
    ("department_staff", "部门工作人员", "Department staff", "area",
     [*_STAFF, p.ADD_PERSON.code], "A department's work, district-wide or in a set of towns"),
    ("workstation_staff", "工作站工作人员", "Workstation staff", "area",
     [*_STAFF, p.ADD_PERSON.code, p.VIEW_PERSON_IDENTITY.code], "A linkage workstation's villages"),
    ("grid_worker", "专职网格员", "Full-time grid worker", "area",
     [*_STAFF, p.ADD_PERSON.code], "Their grids"),
    ("grid_worker_parttime", "兼职网格员", "Part-time grid worker", "area", list(_STAFF), "Their grids"),
    ("liaison_cadre", "包联干部", "Liaison cadre", "area", list(_STAFF), "The villages they are paired with"),
    ("block_leader", "三长", "Block leader", "area", [p.VIEW_AREA.code], "May report only"),
    ("correction_officer", "矫正工作人员", "Correction officer", "area",
     [*_STAFF, p.VIEW_PERSON_IDENTITY.code], "Their 司法所's town"),
    ("police_officer", "民警", "Police officer", "area",
     [*_STAFF, p.VIEW_PERSON_IDENTITY.code], "Their police station's area"),
    ("checkpoint_staff", "卡口人员", "Checkpoint staff", "area", [], "May scan follow codes only"),
    ("procurator", "检察官", "Procurator", "district", list(_STAFF), "Read-only supervision"),
    ("judge", "法官", "Judge", "district", [*_STAFF, p.VIEW_PERSON_IDENTITY.code], "Court cases"),
    ("mediator", "调解员", "Mediator", "area", list(_STAFF), "Disputes in their area"),
    ("deputy", "人大代表", "People's congress deputy", "area",
     [p.VIEW_AREA.code, p.VIEW_ORGANISATION.code], "Read-only supervision"),
    ("enterprise_safety_officer", "企业安全员", "Enterprise safety officer", "organisation",
     [p.VIEW_ORGANISATION.code], "Their own enterprise"),
    ("correction_subject", "社区矫正对象", "Correction subject", "own", [], "Their own phone page only"),
    ("public", "群众", "Member of the public", "own", [], "Report and follow their own reports"),
    ("auditor", "审计员", "Auditor", "district", [p.VIEW_AUDIT.code], "The audit log only"),
]

# code, name, English name, kind, parent code
DEPARTMENTS: list[tuple[str, str, str, str, str | None]] = [
    ("zfw", "区委政法委", "Political-Legal Committee", "committee", None),
    ("gaj", "公安分局", "Public Security Bureau", "department", None),
    ("zhzf", "综合行政执法局", "Comprehensive Administrative Law Enforcement Bureau", "department", None),
    ("scjg", "市场监管局", "Market Supervision Bureau", "department", None),
    ("sfj", "司法局", "Justice Bureau", "department", None),
    ("rsj", "人力社保局", "Human Resources and Social Security Bureau", "department", None),
    ("fy", "法院", "People's Court", "department", None),
    ("jcy", "检察院", "People's Procuratorate", "department", None),
    ("yjj", "应急管理局", "Emergency Management Bureau", "department", None),
    ("yzj", "邮政管理局", "Postal Administration", "department", None),
    ("jtj", "交通运输局", "Transport Bureau", "department", None),
    ("jyj", "教育局", "Education Bureau", "department", None),
    ("mzj", "民政局", "Civil Affairs Bureau", "department", None),
    ("fl", "妇联", "Women's Federation", "department", None),
    ("tqw", "团区委", "Communist Youth League District Committee", "department", None),
]

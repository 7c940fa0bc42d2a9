"""The demo district: 南浔区 with its towns, 624 grids, 5,421 micro-grids, 38 linkage workstations,
28 shared-court stations, the default departments and one user per role. Deterministic and
idempotent: running it again reuses what exists."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as DjangoPermission
from django.db import transaction

from pingan.accounts import actions as account_actions
from pingan.accounts.district import load_geography, load_organisations
from pingan.accounts.models import Organisation, OrgKind, Person, User
from pingan.accounts.setup import ensure_default_roles
from pingan.core import audit, personal
from pingan.corrections import demo as corrections_demo
from pingan.geo.models import Area
from pingan.tracking import demo as tracking_demo


@dataclass
class DemoLogin:
    username: str
    role: str
    scope: str
    display_name: str


# name, type code, priority, lead unit code (None: the workstation triages), assisting codes,
# auto-dispatch, accept minutes, resolve minutes, basis
ROUTING_RULES: list[tuple[str, str | None, str, str | None, list[str], bool, int, int, str]] = [
    ("紧急事件 1 小时内受理", None, "urgent", None, [], False, 60, 8 * 60, "calendar"),
    ("矛盾纠纷 工作站分流调处", "dispute", "", None, [], False, 240, 5 * 8 * 60, "working"),
    ("劳动欠薪 人力社保局牵头", "dispute-wages", "", "rsj", ["sfj"], True, 240, 10 * 8 * 60, "working"),
    ("工伤赔偿 人力社保局牵头", "dispute-work-injury", "", "rsj", ["sfj"], True, 240, 10 * 8 * 60, "working"),
    ("消费纠纷 市场监管局", "dispute-consumer", "", "scjg", [], True, 240, 5 * 8 * 60, "working"),
    ("消防隐患 应急管理局 + 综合执法", "hazard-fire", "", "yjj", ["zhzf"], True, 120, 3 * 8 * 60, "working"),
    ("生产安全 应急管理局", "hazard-production", "", "yjj", [], True, 120, 3 * 8 * 60, "working"),
    ("道路交通 交通运输局 + 公安", "hazard-traffic", "", "jtj", ["gaj"], True, 120, 3 * 8 * 60, "working"),
    ("寄递安全 邮政管理局 + 检察院联络点", "hazard-delivery", "", "yzj", ["jcy"], True, 240, 5 * 8 * 60, "working"),
    ("治安 公安分局", "public-order", "", "gaj", [], True, 60, 2 * 8 * 60, "working"),
    ("生态环境 综合行政执法局", "environment", "", "zhzf", [], True, 240, 5 * 8 * 60, "working"),
    ("市场监管 市场监管局", "market", "", "scjg", [], True, 240, 5 * 8 * 60, "working"),
    ("民生诉求 工作站分流", "livelihood", "", None, [], False, 240, 5 * 8 * 60, "working"),
]


def load_routing_rules() -> int:
    """The demo's routing rules: who leads what, how fast (editable by admins afterwards)."""
    from pingan.events.models import EventType, RoutingRule

    if RoutingRule.objects.exists():
        return 0
    org = {o.code: o for o in Organisation.objects.all()}
    types = {t.code: t for t in EventType.objects.all()}
    with transaction.atomic():
        for order, (name, type_code, priority, lead, assisting, auto, accept, resolve, basis) in enumerate(ROUTING_RULES):
            rule = RoutingRule.objects.create(
                name=name, event_type=types.get(type_code) if type_code else None, priority=priority,
                lead_unit=org.get(lead) if lead else None, auto_dispatch=auto, accept_minutes=accept,
                resolve_minutes=resolve, time_basis=basis, order=order * 10,
            )
            rule.assisting_units.set([org[c] for c in assisting if c in org])
            audit.record("demo", "pingan.routing_rule.created", rule)
    return len(ROUTING_RULES)


DEMO_HISTORY_EVENTS = 6000


def load_event_history() -> int:
    """A year of past events so the dashboard has figures. Bulk-written history (no timeline or
    audit, like an import from the old system); every new event goes through the actions."""
    from pingan.core import clock
    from pingan.dashboard.rollup import refresh
    from pingan.events.bulk import load_history
    from pingan.events.models import Event

    if Event.objects.exists():
        return 0
    load_history(DEMO_HISTORY_EVENTS, now=clock.now(), days=365)
    refresh(full=True)
    return DEMO_HISTORY_EVENTS


def _admin_group() -> Group:
    group, _ = Group.objects.get_or_create(name="平台管理员 Platform administrators")
    perms = DjangoPermission.objects.filter(
        content_type__app_label__in=["accounts", "geo", "core", "events"],
        content_type__model__in=["organisation", "role", "user", "roleassignment", "objectgrant", "area", "joblease",
                                 "eventtype", "routingrule", "workcalendarday"],
    )
    group.permissions.set(list(perms) + list(DjangoPermission.objects.filter(content_type__app_label="core", codename="view_auditentry")))
    return group


def demo_password() -> tuple[str, bool]:
    given = os.environ.get("PINGAN_DEMO_PASSWORD", "")
    if given:
        return given, False
    saved = Path(settings.VAR_DIR) / "demo-logins.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        if data.get("password"):
            return str(data["password"]), False
    return "pingan-" + secrets.token_urlsafe(9), True


def _pick(level: str, under: str = "", index: int = 0) -> Area:
    qs = Area.objects.filter(level=level, code__startswith=under).order_by("code")
    return qs[min(index, qs.count() - 1)]


def load_users(password: str) -> list[DemoLogin]:
    roles = ensure_default_roles()
    district = Area.objects.get(level="district")
    nanxun, shuanglin, lianshi, linghu = (Area.objects.get(code=c) for c in ("330503100", "330503101", "330503102", "330503105"))
    kaifaqu = Area.objects.filter(level="town", local_code=True).first() or nanxun
    xunbei = Area.objects.filter(level="village", name="浔北村").first() or _pick("village", kaifaqu.code)
    ws = Organisation.objects.filter(kind=OrgKind.WORKSTATION, areas=xunbei).first() or Organisation.objects.filter(kind=OrgKind.WORKSTATION).first()
    org = {o.code: o for o in Organisation.objects.all()}
    grid = _pick("grid", xunbei.code)
    other_grid = _pick("grid", xunbei.code, 1) if Area.objects.filter(level="grid", code__startswith=xunbei.code).count() > 1 else _pick("grid", kaifaqu.code, 3)
    town_index = {t.code: i for i, t in enumerate(Area.objects.filter(level="town").order_by("code"), start=1)}

    # username, display name, role, [areas], organisation
    plan: list[tuple[str, str, str, list[Area], Organisation | None]] = [
        ("admin", "区委政法委 管理员", "district_admin", [district], org["zfw"]),
        ("dept_scjg", "市场监管局 张科员", "department_staff", [shuanglin, lianshi], org["scjg"]),
        ("ws_staff", f"{ws.name if ws else ''} 李站员", "workstation_staff", list(ws.areas.all()) if ws else [xunbei], ws),
        ("grid_worker", f"{grid.name} 王网格员", "grid_worker", [grid], None),
        ("grid_parttime", f"{other_grid.name} 赵兼职网格员", "grid_worker_parttime", [other_grid], None),
        ("liaison", f"{xunbei.name} 包联干部 陈", "liaison_cadre", [xunbei], None),
        ("block_leader", f"{grid.name} 楼道长 孙", "block_leader", [grid], None),
        ("corr_officer", "双林司法所 周矫正员", "correction_officer", [shuanglin], org.get(f"sfs{town_index[shuanglin.code]:02d}")),
        ("police", "南浔派出所 吴警官", "police_officer", [nanxun], org.get(f"pcs{town_index[nanxun.code]:02d}")),
        ("checkpoint", "南浔卡口 郑", "checkpoint_staff", [nanxun], None),
        ("procurator", "区检察院 冯检察官", "procurator", [district], org["jcy"]),
        ("judge", "区法院 褚法官", "judge", [district], org["fy"]),
        ("mediator", "菱湖调委会 卫调解员", "mediator", [linghu], org.get(f"tjw{town_index[linghu.code]:02d}")),
        ("deputy", "菱湖人大代表 蒋", "deputy", [linghu], None),
        ("safety_officer", "浔安客运 沈安全员", "enterprise_safety_officer", [], org.get("ent01")),
        ("subject", "社区矫正对象 王某", "correction_subject", [], None),
        ("citizen", "群众 杨某", "public", [], None),
        ("auditor", "审计员 朱", "auditor", [district], None),
    ]
    logins = []
    for username, display, role_code, areas, organisation in plan:
        role = roles[role_code]
        user = User.objects.filter(username=username).first()
        if user is None:
            user = account_actions.create_user("demo", username=username, password=password, display_name=display,
                                               organisation=organisation)
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if role.scope in ("district", "area"):
            for area in areas:
                account_actions.assign_role("demo", user, role, area=area, organisation=organisation)
        else:
            account_actions.assign_role("demo", user, role, organisation=organisation)
        if username == "admin" and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(_admin_group())
        scope = ", ".join(f"{a.name} {a.code}" for a in areas) or (organisation.name if organisation else "own records")
        logins.append(DemoLogin(username, role_code, scope, display))
    return logins


def _id_number(area_code: str, birth: str, seq: int) -> str:
    first17 = f"{area_code[:6]}{birth}{seq:03d}"
    return first17 + personal.id_check_digit(first17)


def load_persons() -> int:
    if Person.objects.exists():
        return 0
    family = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    given = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
    grids = list(Area.objects.filter(level="grid").order_by("code").values_list("code", flat=True))
    n = 0
    for i in range(200):
        area_code = grids[(i * 37) % len(grids)]
        birth = f"{1950 + (i * 7) % 55}{1 + i % 12:02d}{1 + (i * 3) % 28:02d}"
        account_actions.register_person(
            "demo",
            account_actions.PersonInput(
                name=family[i % len(family)] + given[(i * 7) % len(given)],
                id_number=_id_number("330503", birth, i % 1000),
                phone=f"13{(i * 7919) % 10}{(i * 104729) % 100000000:08d}",
                address=f"浙江省湖州市南浔区{i % 90 + 1}号",
                area_code=area_code,
            ),
        )
        n += 1
    return n


def write_logins(logins: list[DemoLogin], password: str) -> Path:
    path = Path(settings.VAR_DIR) / "demo-logins.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"password": password, "url": "http://127.0.0.1:8000/",
            "users": [{"username": x.username, "role": x.role, "scope": x.scope, "name": x.display_name} for x in logins]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
    return path


def load_demo(stdout: Any = None) -> tuple[list[DemoLogin], str, bool]:
    ensure_default_roles()
    load_geography(stdout)
    load_organisations()
    load_routing_rules()
    password, generated = demo_password()
    logins = load_users(password)
    load_persons()
    load_event_history()
    tracking_demo.load()
    logins += [DemoLogin(*row) for row in corrections_demo.load_users(password)]
    corrections_demo.load()
    write_logins(logins, password)
    return logins, password, generated

"""The demo district's 如燕: four correction subjects under 双林司法所 (supervised by the demo's correction officer
``corr_officer``), so that every corrections page shows something —

- 王某, 缓刑, 普管, in correction, with a live monitoring authorisation (ground: a prohibition order; approved by
  the head of the justice bureau ``justice_head``), a demo locating device (``demo-band-01``, which the tracking
  demo's feed moves like its other devices), a prohibition order, a curfew, an education and a community-service
  record, one check-in; the demo's subject login ``subject`` is his, for the phone page (follow code, check-in);
- 李某, 假释, 严管, in correction, with an open warning (yellow at a checkpoint);
- 张某, 管制, pending intake past the tenth day (the dashboard's "intake overdue");
- 陈某, 暂予监外执行, 宽管, in correction.

The checkpoint login ``checkpoint`` scans their codes at /corrections/scan/. Idempotent and quick: when the
demo subjects exist already, nothing is done beyond the logins.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pingan.accounts import actions as account_actions
from pingan.accounts.models import Organisation, OrgKind, Role, User
from pingan.core import clock, personal
from pingan.corrections import actions
from pingan.corrections.models import Subject
from pingan.corrections.setup import ensure_roles
from pingan.geo.models import Area
from pingan.tracking import pipeline

DECISION = "（演示）"            # the demo's decision numbers start with this
SHUANGLIN = "330503101"
HEAD = ("justice_head", "南浔区司法局 钱局长", "justice_bureau_head")
DEVICE = "demo-band-01"

# name, birth date, correction type, level, days since the decision took effect, intake, phone
SUBJECTS: list[tuple[str, str, str, str, int, bool, str]] = [
    ("王某", "19850312", "probation", "ordinary", 40, True, "13857210001"),
    ("李某", "19790605", "parole", "strict", 90, True, "13857210002"),
    ("张某", "19920918", "control", "ordinary", 14, False, "13857210003"),
    ("陈某", "19680122", "outside_prison", "lenient", 120, True, "13857210004"),
]


def _id_number(birth: str, seq: int) -> str:
    first17 = f"330503{birth}{800 + seq:03d}"
    return first17 + personal.id_check_digit(first17)


def load_users(password: str) -> list[tuple[str, str, str, str]]:
    """The head of the justice bureau (approves monitoring): (username, role, scope, display name)."""
    ensure_roles()
    district = Area.objects.get(level="district")
    username, display, role_code = HEAD
    user = User.objects.filter(username=username).first()
    if user is None:
        user = account_actions.create_user("demo", username=username, password=password, display_name=display)
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    account_actions.assign_role("demo", user, Role.objects.get(code=role_code), area=district)
    return [(username, role_code, f"{district.name} {district.code}", display)]


def load() -> int:
    """The demo subjects (nothing when they exist). Returns how many were made."""
    if Subject.objects.filter(decision_number__startswith=DECISION).exists():
        return 0
    officer = User.objects.filter(username="corr_officer").first()
    head = User.objects.filter(username=HEAD[0]).first()
    town = Area.objects.filter(code=SHUANGLIN).first()
    if officer is None or head is None or town is None:
        return 0
    office = Organisation.objects.filter(kind=OrgKind.JUDICIAL_OFFICE, areas=town).first() \
        or Organisation.objects.filter(kind=OrgKind.JUDICIAL_OFFICE, area=town).first()
    grids = list(Area.objects.filter(level="grid", code__startswith=SHUANGLIN).order_by("code")[:8])
    if office is None or not grids:
        return 0
    today = actions.local_today()
    made: dict[str, Subject] = {}
    for i, (name, birth, kind, level, ago, intake, phone) in enumerate(SUBJECTS):
        grid = grids[i % len(grids)]
        lon, lat = float(grid.centroid_lon), float(grid.centroid_lat)
        effective = today - dt.timedelta(days=ago)
        subject = actions.register_subject("demo", actions.SubjectInput(
            person_input=account_actions.PersonInput(name=name, id_number=_id_number(birth, i), phone=phone,
                                                     address=f"浙江省湖州市南浔区双林镇{grid.name}{i + 3}号",
                                                     area_code=grid.code),
            correction_type=kind, decision_body="湖州市南浔区人民法院" if kind != "outside_prison" else "浙江省监狱管理局",
            decision_number=f"{DECISION}(2026)浙0503刑初{101 + i}号", decision_effective_on=effective,
            supervision_start=effective, supervision_end=effective + dt.timedelta(days=365 + 30 * i),
            judicial_office=office, officer=officer, area=grid, phone=phone, level=level,
            home_lon=lon, home_lat=lat))
        if intake:
            subject = actions.record_intake("demo", subject, at=clock.now() - dt.timedelta(days=ago - 3), note="按时报到")
        made[name] = subject
    _wang(made["王某"], head)
    li = made["李某"]
    actions.add_record("demo", li, kind="warning", text="未按规定时间报告活动情况",
                       occurred_on=today - dt.timedelta(days=6))
    actions.add_record("demo", made["陈某"], kind="education", text="法治教育学习 2 小时", hours=2,
                       occurred_on=today - dt.timedelta(days=10))
    return len(made)


def _wang(wang: Subject, head: User) -> None:
    """王某: the subject of the article's scene — monitored, with a device, restrictions, records and a login."""
    today = actions.local_today()
    home = (wang.home_lon or 0.0, wang.home_lat or 0.0)
    actions.add_prohibition_order("demo", wang, text="禁止进入酒吧、夜总会等娱乐场所", starts_on=wang.decision_effective_on,
                                  zones=[actions.ZoneInput(name="双林镇 酒吧街", shape="circle",
                                                           coords=[home[0] + 0.01, home[1] + 0.004], radius_m=150)])
    actions.add_curfew("demo", wang, start=dt.time(22, 0), end=dt.time(6, 0))
    actions.add_record("demo", wang, kind="education", text="集中教育学习：社区矫正法", hours=2,
                       occurred_on=today - dt.timedelta(days=12))
    actions.add_record("demo", wang, kind="community_service", text="社区环境清扫", hours=4,
                       occurred_on=today - dt.timedelta(days=5))
    actions.grant_authorisation("demo", wang, ground="prohibition_order", facts="两次进入禁止令限定的娱乐场所",
                                approver=head, ends_at=clock.now() + dt.timedelta(days=80))
    device, _key = actions.register_subject_device("demo", wang, uid=DEVICE, name="王某的定位手环")
    now = clock.now()
    rows: list[dict[str, Any]] = [{"t": (now - dt.timedelta(minutes=10 * (5 - k))).timestamp(),
                                   "lon": round(home[0] + 0.0006 * k, 6), "lat": round(home[1] + 0.0003 * k, 6),
                                   "accuracy": 8} for k in range(6)]
    pipeline.submit(rows, source="demo", device=device)
    login = User.objects.filter(username="subject").first()
    if login is not None and not Subject.objects.filter(user=login).exists():
        actions.link_user("demo", wang, login)
        actions.check_in(login, lon=home[0], lat=home[1], accuracy_m=15)

"""The demo district's geography and organisations: 南浔区 with its towns, 624 grids, 5,421
micro-grids, 38 linkage workstations, 28 deputy liaison stations with shared courts, and the
organisations of each town. Deterministic and idempotent. Used by ``pingan demo`` and the benchmarks."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from pingan.accounts.models import Organisation, OrgKind
from pingan.accounts.setup import ensure_departments
from pingan.core import audit
from pingan.geo import actions as geo_actions
from pingan.geo.importer import ParsedArea, ParseResult
from pingan.geo.models import Area

SEED = 330503
WORKSTATIONS = 38
COURT_STATIONS = 28


def load_geography(stdout: Any = None) -> int:
    if Area.objects.filter(level="district").exists():
        return 0
    from pingan.geo.synth import build_district

    district = build_district(SEED)
    parsed = ParseResult(
        areas=[
            ParsedArea(i, a.code, a.name_zh, a.name_en, a.level, a.parent_code, a.geometry, a.local_code)
            for i, a in enumerate(district.areas)
        ]
    )
    geo_actions.import_areas("demo", parsed)
    return len(parsed.areas)


def _org(code: str, name: str, name_en: str, kind: str, **extra: Any) -> Organisation:
    areas = extra.pop("areas", None)
    org, created = Organisation.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en, "kind": kind, **extra})
    if created:
        if areas:
            org.areas.set(areas)
        audit.record("demo", "pingan.organisation.created", org)
    return org


def load_organisations() -> None:
    from pingan.geo.synth import build_district, station_points, village_groups

    depts = ensure_departments()
    towns = list(Area.objects.filter(level="town").order_by("code"))
    with transaction.atomic():
        for i, town in enumerate(towns, start=1):
            short = town.name.replace("镇", "").replace("南浔经济开发区(东迁街道)", "东迁")
            _org(f"pcs{i:02d}", f"{short}派出所", f"{town.name_en} Police Station", OrgKind.POLICE_STATION,
                 parent=depts["gaj"], area=town, areas=[town])
            _org(f"sfs{i:02d}", f"{short}司法所", f"{town.name_en} Judicial Office", OrgKind.JUDICIAL_OFFICE,
                 parent=depts["sfj"], area=town, areas=[town])
            _org(f"tjw{i:02d}", f"{short}人民调解委员会", f"{town.name_en} People's Mediation Committee",
                 OrgKind.MEDIATION_COMMITTEE, area=town, areas=[town])
            _org(f"zf{i:02d}", f"{town.name}人民政府", f"{town.name_en} Government", OrgKind.TOWN_GOVERNMENT, area=town, areas=[town])
    if Organisation.objects.filter(kind=OrgKind.WORKSTATION).count() < WORKSTATIONS:
        district = build_district(SEED)
        with transaction.atomic():
            for n, group in enumerate(village_groups(district, WORKSTATIONS), start=1):
                villages = list(Area.objects.filter(code__in=group).order_by("code"))
                head = villages[0]
                _org(f"ws{n:02d}", f"{head.name}片区社会治理联动工作站", f"{head.name_en} Area Linkage Workstation",
                     OrgKind.WORKSTATION, area=head.parent, areas=villages, lon=head.centroid_lon, lat=head.centroid_lat)
            for n, (village_code, lon, lat) in enumerate(station_points(district, COURT_STATIONS, SEED), start=1):
                village = Area.objects.get(code=village_code)
                deputy = _org(f"rd{n:02d}", f"{village.name}人大代表联络站", f"{village.name_en} Deputy Liaison Station",
                              OrgKind.DEPUTY_STATION, area=village, areas=[village], lon=lon, lat=lat)
                _org(f"gxft{n:02d}", f"{village.name}共享法庭", f"{village.name_en} Shared Court", OrgKind.COURT_STATION,
                     parent=deputy, area=village, areas=[village], lon=lon, lat=lat)
        for n, (name, name_en) in enumerate(
            [("南浔浔安客运有限公司", "Nanxun Xun'an Coach Co."), ("湖州南浔危险品运输有限公司", "Nanxun Hazardous Goods Transport Co."),
             ("双林快递集中处理中心", "Shuanglin Express Sorting Centre")], start=1):
            _org(f"ent{n:02d}", name, name_en, OrgKind.ENTERPRISE, area=towns[min(n, len(towns) - 1)])



from __future__ import annotations

import json
from typing import Any

import pytest

from pingan.fieldwork.models import Patrol, PatrolEvent, Visit
from pingan.geo.coords import wgs84_to_gcj02
from tests.conftest import GRID_A
from tests.fieldwork.conftest import IN_A, IN_B

API = "/api/v1/fieldwork"


def post(client, path: str, body: dict[str, Any], **headers: str):  # type: ignore[no-untyped-def]
    return client.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


REPORT = {"event_type": "dispute-neighbour", "title": "噪音", "description": "夜间施工", "lon": IN_A[0], "lat": IN_A[1]}


def test_a_patrol_round_trip_start_points_report_end(client, worker) -> None:
    client.force_login(worker)
    r = post(client, "/patrols", {"grid_code": GRID_A})
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    gx, gy = wgs84_to_gcj02(*IN_A)
    r = post(client, f"/patrols/{pid}/points", {"lon": gx, "lat": gy, "crs": "gcj02"})
    assert r.status_code == 200 and r.json()["points"] == 1
    r = post(client, f"/patrols/{pid}/events", REPORT, **{"Idempotency-Key": "abc"})
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    assert post(client, f"/patrols/{pid}/events", REPORT, **{"Idempotency-Key": "abc"}).json()["number"] == number
    r = post(client, f"/patrols/{pid}/end", {"notes": "ok", "places_checked": 2})
    assert r.status_code == 200
    body = client.get(f"{API}/patrols/{pid}").json()
    assert body["ended_at"] and body["places_checked"] == 2 and body["events_reported"] == 1
    assert abs(body["track"][0][0] - IN_A[0]) < 1e-6
    assert body["events"][0]["event"]["number"] == number
    assert PatrolEvent.objects.filter(patrol_id=pid).count() == 1
    listed = client.get(f"{API}/patrols?mine=true").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == pid
    r = post(client, f"/patrols/{pid}/points", {"lon": IN_A[0], "lat": IN_A[1]})
    assert r.status_code == 409 and r.json()["code"] == "patrol_ended"


def test_the_patrol_api_refuses_with_stable_codes(client, worker, make_user) -> None:
    client.force_login(worker)
    assert post(client, "/patrols", {"grid_code": "330503101201001"}).json()["code"] == "area_out_of_scope"
    pid = post(client, "/patrols", {"grid_code": GRID_A}).json()["id"]
    r = post(client, f"/patrols/{pid}/points", {"lon": 500, "lat": 1})
    assert r.status_code == 422 and r.json()["code"] == "invalid_point"
    client.force_login(make_user("grid_worker", area="330503101201001"))
    assert post(client, f"/patrols/{pid}/points", {"lon": IN_A[0], "lat": IN_A[1]}).status_code == 404
    assert client.get(f"{API}/patrols/{pid}").status_code == 404
    assert Patrol.objects.get(pk=pid).track == []


def test_a_visit_round_trip_with_repeat_count_and_an_event(client, staff, workstations, departments) -> None:
    client.force_login(staff)
    body = {"workstation_id": workstations[0].pk, "person": {"name": "张三", "phone": "13800138000"},
            "matter": "欠薪", "category": "dispute", "departments": [departments["rsj"].pk]}
    r = post(client, "/visits", body)
    assert r.status_code == 201, r.content
    first = r.json()
    assert first["visitor"] != "张三"  # masked
    assert first["departments"] == ["rsj"] and first["visits_by_person"] == 1
    r = post(client, "/visits", {"workstation_id": workstations[0].pk, "person_id": first["visitor_id"], "matter": "又来"})
    assert r.status_code == 201 and r.json()["visits_by_person"] == 2
    listed = client.get(f"{API}/visits?person_id={first['visitor_id']}").json()
    assert listed["count"] == 2 and {v["visits_by_person"] for v in listed["items"]} == {2}
    r = post(client, f"/visits/{first['id']}/event", REPORT)
    assert r.status_code == 201, r.content
    assert Visit.objects.get(pk=first["id"]).event.number == r.json()["number"]
    assert client.get(f"{API}/visits/{first['id']}").json()["outcome"] == "event_opened"
    assert post(client, f"/visits/{first['id']}/event", REPORT).status_code == 409
    r = post(client, "/visits", {"workstation_id": workstations[0].pk, "matter": "x"})
    assert r.status_code == 422 and r.json()["code"] == "person_required"


def test_places_and_inspections_round_trip_with_a_hazard_event(client, staff) -> None:
    client.force_login(staff)
    r = post(client, "/places", {"name": "网点", "kind": "delivery_outlet", "lon": IN_A[0], "lat": IN_A[1]})
    assert r.status_code == 201, r.content
    place = r.json()
    assert place["area_code"].startswith(GRID_A)
    r = post(client, "/inspections", {"place_id": place["id"], "findings": "违规充电", "hazard": True})
    assert r.status_code == 201, r.content
    from pingan.events.models import Event

    assert Event.objects.get(number=r.json()["event"]["number"]).source == "inspection"
    assert r.json()["hazard_level"] == "general"
    assert client.get(f"{API}/inspections?hazard=true").json()["count"] == 1
    assert client.get(f"{API}/places").json()["items"][0]["inspections"] == 1
    r = post(client, "/places", {"name": "乙", "kind": "shop", "lon": IN_B[0], "lat": IN_B[1]})
    assert r.status_code == 403


def test_joint_enforcement_round_trip(client, staff, workstations, departments) -> None:
    client.force_login(staff)
    r = post(client, "/joint-enforcements", {"workstation_id": workstations[0].pk,
                                             "departments": [departments["scjg"].pk, departments["gaj"].pk],
                                             "findings": "查处无证经营", "address": "甲镇3号"})
    assert r.status_code == 201, r.content
    assert r.json()["departments"] == ["gaj", "scjg"]
    assert client.get(f"{API}/joint-enforcements").json()["count"] == 1
    r = post(client, "/joint-enforcements", {"workstation_id": workstations[1].pk, "departments": [departments["gaj"].pk],
                                             "findings": "x", "address": "乙"})
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/patrols", "/visits", "/places", "/inspections", "/joint-enforcements"])
def test_lists_refuse_roles_without_the_view_permission(client, make_user, path) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("judge"))
    assert client.get(f"{API}{path}").status_code == 403

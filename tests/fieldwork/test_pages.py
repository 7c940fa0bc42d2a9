from __future__ import annotations

import pytest

from pingan.fieldwork.models import Inspection, JointEnforcement, Patrol, Place, Visit
from tests.conftest import GRID_A
from tests.fieldwork.conftest import IN_A


def test_a_grid_worker_patrols_from_the_page(client, worker) -> None:
    client.force_login(worker)
    page = client.get("/work/patrol/")
    assert page.status_code == 200 and GRID_A in page.content.decode()
    assert client.post("/work/patrol/start/", {"grid": GRID_A}).status_code == 302
    patrol = Patrol.objects.get(worker=worker)
    r = client.post(f"/work/patrol/{patrol.pk}/point/", {"lon": IN_A[0], "lat": IN_A[1], "crs": "wgs84"},
                    headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["points"] == 1
    r = client.post(f"/work/patrol/{patrol.pk}/report/", {
        "event_type": "dispute-neighbour", "title": "噪音", "description": "夜间施工", "priority": "normal",
        "lon": IN_A[0], "lat": IN_A[1], "crs": "wgs84"})
    assert r.status_code == 302
    assert patrol.patrol_events.count() == 1
    page = client.get("/work/patrol/").content.decode()
    assert 'id="add-position"' in page and patrol.patrol_events.get().event.number in page
    assert client.post(f"/work/patrol/{patrol.pk}/end/", {"notes": "ok", "places_checked": "2"}).status_code == 302
    patrol.refresh_from_db()
    assert patrol.ended_at is not None and patrol.places_checked == 2


def test_a_workstation_registers_a_repeat_visitor_and_opens_an_event_from_the_page(client, staff, workstations,
                                                                                  departments) -> None:
    client.force_login(staff)
    form = {"workstation": workstations[0].pk, "name": "张三", "id_number": "", "phone": "", "address": "",
            "matter": "欠薪", "category": "dispute", "departments": [departments["rsj"].pk], "outcome": "pending"}
    assert client.post("/work/visits/", form).status_code == 302
    visit = Visit.objects.get()
    again = form | {"person_id": visit.visitor_id, "name": ""}
    assert client.post("/work/visits/", again).status_code == 302
    listing = client.get("/work/visits/").content.decode()
    assert 'class="tag repeat"' in listing
    detail = client.get(f"/work/visits/{visit.pk}/")
    assert detail.status_code == 200
    assert f"/work/visits/{visit.pk}/event/" in detail.content.decode()  # the open-event form
    r = client.post(f"/work/visits/{visit.pk}/event/", {
        "event_type": "dispute-wages", "title": "欠薪", "description": "三个月", "priority": "normal",
        "lon": IN_A[0], "lat": IN_A[1], "crs": "wgs84"})
    assert r.status_code == 302
    visit.refresh_from_db()
    assert visit.event is not None and visit.event.source == "workstation_visit"


def test_places_inspections_and_joint_enforcement_from_the_pages(client, staff, workstations, departments) -> None:
    client.force_login(staff)
    r = client.post("/work/places/", {"name": "小店", "kind": "shop", "lon": IN_A[0], "lat": IN_A[1], "crs": "wgs84",
                                      "address": "", "enterprise": ""})
    assert r.status_code == 302
    place = Place.objects.get()
    r = client.post(f"/work/places/{place.pk}/", {"findings": "灭火器过期", "hazard": "on", "hazard_level": "general"})
    assert r.status_code == 302
    assert Inspection.objects.get().event is not None
    assert "灭火器过期" in client.get("/work/inspections/?hazard=1").content.decode()
    r = client.post("/work/enforcement/", {"workstation": workstations[0].pk, "departments": [departments["gaj"].pk],
                                           "address": "甲镇", "findings": "夜查", "event_numbers": ""})
    assert r.status_code == 302
    assert JointEnforcement.objects.count() == 1
    r = client.post("/work/enforcement/", {"workstation": workstations[0].pk, "departments": [departments["gaj"].pk],
                                           "address": "甲镇", "findings": "夜查", "event_numbers": "NX-0-0"})
    assert r.status_code == 200 and JointEnforcement.objects.count() == 1


@pytest.mark.parametrize("path", ["/work/patrols/", "/work/visits/", "/work/places/", "/work/inspections/",
                                  "/work/enforcement/"])
def test_supervisors_see_the_lists_without_forms(client, make_user, path) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("procurator"))
    page = client.get(path)
    assert page.status_code == 200
    assert 'method="post" class="fw-form"' not in page.content.decode()

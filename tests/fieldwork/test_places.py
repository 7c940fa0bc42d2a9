from __future__ import annotations

import pytest

from pingan.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.fieldwork import actions, queries
from pingan.fieldwork.models import Inspection, Place
from pingan.geo.coords import wgs84_to_bd09
from tests.conftest import GRID_A, TOWN_A
from tests.fieldwork.conftest import IN_A, IN_B


@pytest.fixture
def inspector(make_user):  # type: ignore[no-untyped-def]
    return make_user("department_staff", area=TOWN_A)


def test_a_place_is_located_to_its_micro_grid_from_any_coordinate_system(inspector) -> None:
    bx, by = wgs84_to_bd09(*IN_A)
    place = actions.register_place(inspector, name="好运来小超市", kind="shop", lon=bx, lat=by, crs="bd09", address="甲镇1号")
    assert place.area.code == GRID_A + "001"
    assert abs(place.lon - IN_A[0]) < 1e-6 and abs(place.lat - IN_A[1]) < 1e-6


def test_a_place_outside_the_inspectors_scope_or_the_district_is_refused(inspector) -> None:
    with pytest.raises(PermissionDeniedError) as exc:
        actions.register_place(inspector, name="乙镇工地", kind="construction_site", lon=IN_B[0], lat=IN_B[1])
    assert exc.value.code == "area_out_of_scope"
    with pytest.raises(ValidationFailed) as exc:
        actions.register_place(inspector, name="远方", kind="shop", lon=100.0, lat=30.0)
    assert exc.value.code == "outside_district"
    with pytest.raises(ValidationFailed) as exc:
        actions.register_place(inspector, name="x", kind="casino", lon=IN_A[0], lat=IN_A[1])
    assert exc.value.code == "invalid_kind"
    assert not Place.objects.exists()


def test_grid_workers_do_not_register_places(worker) -> None:
    with pytest.raises(PermissionDeniedError):
        actions.register_place(worker, name="x", kind="shop", lon=IN_A[0], lat=IN_A[1])


def test_an_inspection_without_a_hazard_opens_no_event(inspector) -> None:
    from pingan.events.models import Event

    place = actions.register_place(inspector, name="小店", kind="shop", lon=IN_A[0], lat=IN_A[1])
    inspection = actions.record_inspection(inspector, place, findings="消防器材齐全", hazard_level="major")
    assert inspection.event is None and inspection.hazard_level == ""
    assert not Event.objects.exists()


def test_a_hazard_finding_opens_a_safety_hazard_event_at_the_place(inspector) -> None:
    place = actions.register_place(inspector, name="快递网点", kind="delivery_outlet", lon=IN_A[0], lat=IN_A[1],
                                   address="甲镇2号")
    inspection = actions.record_inspection(inspector, place, findings="电动车室内充电", hazard=True, hazard_level="major")
    event = inspection.event
    assert event is not None
    assert event.source == "inspection"
    assert event.event_type.code == "hazard-delivery" and event.event_type.parent.code == "hazard"
    assert event.priority == "high"
    assert (event.lon, event.lat, event.address) == (place.lon, place.lat, "甲镇2号")
    assert event.area.code == place.area.code


def test_the_hazard_type_falls_back_to_the_safety_family_when_the_preferred_type_is_off(inspector) -> None:
    from pingan.events.models import EventType

    EventType.objects.filter(code__in=["hazard-delivery", "hazard-fire"]).update(is_active=False)
    assert actions.hazard_event_type("delivery_outlet") == "hazard-production"
    EventType.objects.filter(parent__code="hazard").update(is_active=False)
    assert actions.hazard_event_type("shop") == "hazard"


def test_an_inspection_needs_findings_and_a_known_hazard_level(inspector) -> None:
    place = actions.register_place(inspector, name="小店", kind="shop", lon=IN_A[0], lat=IN_A[1])
    with pytest.raises(ValidationFailed):
        actions.record_inspection(inspector, place, findings=" ")
    with pytest.raises(ValidationFailed) as exc:
        actions.record_inspection(inspector, place, findings="x", hazard=True, hazard_level="apocalyptic")
    assert exc.value.code == "invalid_hazard_level"
    assert not Inspection.objects.exists()


def test_places_outside_scope_are_neither_listed_nor_inspected(inspector, make_user) -> None:
    admin = make_user("district_admin")
    far = actions.register_place(admin, name="乙镇工厂", kind="enterprise", lon=IN_B[0], lat=IN_B[1])
    near = actions.register_place(admin, name="甲镇饭店", kind="restaurant", lon=IN_A[0], lat=IN_A[1])
    assert list(queries.places(inspector)) == [near]
    with pytest.raises(NotFoundError):
        actions.record_inspection(inspector, far, findings="x")
    deputy = make_user("deputy", area=TOWN_A)  # sees, does not inspect
    with pytest.raises(PermissionDeniedError):
        actions.record_inspection(deputy, near, findings="x")


def test_an_inspection_on_the_workers_patrol_counts_as_a_place_checked(make_user) -> None:
    staff = make_user("workstation_staff", area=GRID_A)  # patrols and inspects
    place = actions.register_place(staff, name="出租房", kind="rental_housing", lon=IN_A[0], lat=IN_A[1])
    patrol = actions.start_patrol(staff, GRID_A)
    inspection = actions.record_inspection(staff, place, findings="无异常", patrol=patrol)
    patrol.refresh_from_db()
    assert inspection.patrol == patrol and patrol.places_checked == 1
    ended = actions.end_patrol(staff, patrol, places_checked=0)  # a lower count never undoes recorded checks
    assert ended.places_checked == 1

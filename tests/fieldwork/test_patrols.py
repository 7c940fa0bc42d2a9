from __future__ import annotations

import datetime as dt

import pytest

from pingan.core import clock
from pingan.core.clock import FrozenClock
from pingan.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from pingan.core.models import AuditEntry
from pingan.fieldwork import actions
from pingan.fieldwork.models import Patrol, PatrolEvent
from pingan.geo.coords import wgs84_to_gcj02
from tests.conftest import GRID_A, GRID_B
from tests.fieldwork.conftest import IN_A, IN_A2, report

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with clock.use_clock(FrozenClock(START)) as c:
        yield c


def test_a_grid_worker_starts_a_patrol_of_their_own_grid(worker) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    assert patrol.grid.code == GRID_A and patrol.is_open
    assert AuditEntry.objects.filter(action="pingan.patrol.started", object_id=str(patrol.pk)).exists()


def test_a_micro_grid_code_starts_a_patrol_of_its_grid(worker) -> None:
    assert actions.start_patrol(worker, GRID_A + "002").grid.code == GRID_A


def test_a_patrol_of_a_grid_outside_the_workers_scope_is_refused(worker) -> None:
    with pytest.raises(PermissionDeniedError) as exc:
        actions.start_patrol(worker, GRID_B)
    assert exc.value.code == "area_out_of_scope"
    assert not Patrol.objects.exists()


def test_a_role_without_the_patrol_permission_cannot_patrol(make_user) -> None:
    police = make_user("police_officer", area=GRID_A)
    with pytest.raises(PermissionDeniedError):
        actions.start_patrol(police, GRID_A)


def test_a_patrol_needs_a_grid_not_a_village_or_an_unknown_code(worker, make_user) -> None:
    admin = make_user("district_admin")
    with pytest.raises(ValidationFailed) as exc:
        actions.start_patrol(admin, "330503100201")
    assert exc.value.code == "not_a_grid"
    with pytest.raises(ValidationFailed) as exc:
        actions.start_patrol(worker, "999")
    assert exc.value.code == "unknown_area"


def test_a_worker_has_one_open_patrol_at_a_time(worker) -> None:
    first = actions.start_patrol(worker, GRID_A)
    with pytest.raises(ConflictError) as exc:
        actions.start_patrol(worker, GRID_A)
    assert exc.value.details["patrol_id"] == first.pk
    actions.end_patrol(worker, first)
    assert actions.start_patrol(worker, GRID_A).pk != first.pk


def test_points_are_stored_in_wgs84_with_the_distance_walked(worker, frozen) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    actions.add_patrol_point(worker, patrol, *IN_A)
    frozen.advance(minutes=2)
    gx, gy = wgs84_to_gcj02(*IN_A2)
    patrol = actions.add_patrol_point(worker, patrol, gx, gy, crs="gcj02")
    assert len(patrol.track) == 2
    lon, lat, stamp = patrol.track[1]
    assert abs(lon - IN_A2[0]) < 1e-6 and abs(lat - IN_A2[1]) < 1e-6
    assert stamp == "2026-03-02T01:02:00Z"
    # 0.001° of longitude at 30.85°N is about 95.5 m
    assert 94 < patrol.distance_m < 97


@pytest.mark.parametrize(("lon", "lat", "crs", "code"), [
    (200.0, 30.0, "wgs84", "invalid_point"),
    (float("nan"), 30.0, "wgs84", "invalid_point"),
    (120.3, 30.8, "mercator", "invalid_crs"),
])
def test_bad_points_are_refused_and_change_nothing(worker, lon, lat, crs, code) -> None:  # type: ignore[no-untyped-def]
    patrol = actions.start_patrol(worker, GRID_A)
    with pytest.raises(ValidationFailed) as exc:
        actions.add_patrol_point(worker, patrol, lon, lat, crs)
    assert exc.value.code == code
    patrol.refresh_from_db()
    assert patrol.track == []


def test_a_point_older_than_the_last_one_is_refused(worker, frozen) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    frozen.advance(minutes=10)
    actions.add_patrol_point(worker, patrol, *IN_A)
    with pytest.raises(ValidationFailed) as exc:
        actions.add_patrol_point(worker, patrol, *IN_A2, at=START + dt.timedelta(minutes=5))
    assert exc.value.code == "point_out_of_order"


def test_only_the_worker_on_the_patrol_may_add_to_it(worker, make_user) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    colleague = make_user("grid_worker", area=GRID_A)
    stranger = make_user("grid_worker", area=GRID_B)
    with pytest.raises(PermissionDeniedError) as exc:
        actions.add_patrol_point(colleague, patrol, *IN_A)
    assert exc.value.code == "not_your_patrol"
    with pytest.raises(NotFoundError):
        actions.add_patrol_point(stranger, patrol, *IN_A)


def test_an_ended_patrol_takes_no_more_points_and_cannot_end_twice(worker) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    ended = actions.end_patrol(worker, patrol, "all quiet", places_checked=4)
    assert ended.ended_at is not None and ended.notes == "all quiet" and ended.places_checked == 4
    with pytest.raises(ConflictError) as exc:
        actions.add_patrol_point(worker, patrol, *IN_A)
    assert exc.value.code == "patrol_ended"
    with pytest.raises(ConflictError):
        actions.end_patrol(worker, patrol)


def test_a_problem_found_on_patrol_is_reported_as_a_grid_patrol_event_with_the_time_found(worker, frozen) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    actions.add_patrol_point(worker, patrol, *IN_A)  # 01:00, where the problem is
    frozen.advance(minutes=3)
    actions.add_patrol_point(worker, patrol, IN_A[0] + 0.01, IN_A[1])  # 01:03, 950 m further on
    frozen.advance(minutes=4)
    event = actions.report_on_patrol(worker, patrol, report(source="public"))
    assert event.source == "grid_patrol"
    assert event.reporter == worker
    link = PatrolEvent.objects.get(event=event)
    assert link.patrol == patrol
    assert link.found_at == START  # the point nearest the problem, not the last one
    assert (event.created_at - link.found_at) == dt.timedelta(minutes=7)


def test_reporting_on_a_patrol_with_the_same_idempotency_key_links_one_event(worker) -> None:
    patrol = actions.start_patrol(worker, GRID_A)
    first = actions.report_on_patrol(worker, patrol, report(), idempotency_key="k1")
    again = actions.report_on_patrol(worker, patrol, report(), idempotency_key="k1")
    assert first.pk == again.pk
    assert PatrolEvent.objects.filter(patrol=patrol).count() == 1


def test_nobody_reports_on_someone_elses_or_an_ended_patrol(worker, make_user) -> None:
    from pingan.events.models import Event

    patrol = actions.start_patrol(worker, GRID_A)
    colleague = make_user("grid_worker", area=GRID_A)
    with pytest.raises(PermissionDeniedError):
        actions.report_on_patrol(colleague, patrol, report())
    actions.end_patrol(worker, patrol)
    with pytest.raises(ConflictError):
        actions.report_on_patrol(worker, patrol, report())
    assert not Event.objects.exists()

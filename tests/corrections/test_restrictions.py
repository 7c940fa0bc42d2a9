"""Individual restrictions become tracking zones owned by corrections and applying to the subject alone: a
prohibition order's forbidden zones, curfew hours at home, and the permitted area (the district by default).
They raise alerts only while monitoring is authorised."""

from __future__ import annotations

import datetime as dt

import pytest

from pingan.core.errors import ValidationFailed
from pingan.corrections import actions
from pingan.tracking import pipeline
from pingan.tracking.models import Alert, Device, Zone
from tests.corrections.conftest import IN_GRID_A, OUTSIDE_DISTRICT

BAR = (120.36, 30.86)  # town A, about 4 km from home


def fixes(device, points, start: dt.datetime, step_s: int = 60):  # type: ignore[no-untyped-def]
    device = Device.objects.select_related("target").get(pk=device.pk)
    rows = [{"t": (start + dt.timedelta(seconds=i * step_s)).isoformat(), "lon": lon, "lat": lat, "accuracy": 5}
            for i, (lon, lat) in enumerate(points)]
    return pipeline.submit(rows, source="test", device=device, now=start + dt.timedelta(seconds=len(rows) * step_s))


def test_a_prohibition_order_creates_forbidden_zones_for_this_subject_only(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    other = corr.taken_in(name="钱二")
    order = actions.add_prohibition_order(corr.officer_a, subject, text="禁止进入酒吧、夜总会等娱乐场所", zones=[
        actions.ZoneInput(name="酒吧街", shape="circle", coords=list(BAR), radius_m=200)])
    zone = order.zones.get()
    assert (zone.kind, zone.owner, zone.applies_to_all) == ("exclusion", "corrections", False)
    assert list(zone.targets.values_list("pk", flat=True)) == [subject.target_id]
    assert other.target_id not in zone.targets.values_list("pk", flat=True)
    assert zone.schedule == {"dates": [[subject.supervision_start.isoformat(), subject.supervision_end.isoformat()]]}


def test_a_forbidden_zone_alerts_only_while_monitoring_is_authorised(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    actions.add_prohibition_order(corr.officer_a, subject, text="禁止进入酒吧", zones=[
        actions.ZoneInput(name="酒吧街", shape="circle", coords=list(BAR), radius_m=300)])
    device, _key = actions.register_subject_device(corr.officer_a, subject, uid="phone-rx-1")
    pipeline.reset_engine()
    refused = fixes(device, [BAR] * 4, corr.clock.now())
    assert refused.accepted == 0 and not Alert.objects.exists()
    corr.authorise(subject)
    result = fixes(device, [BAR] * 4, corr.clock.now() + dt.timedelta(minutes=1))
    assert result.accepted == 4
    alert = Alert.objects.get(target_id=subject.target_id)
    assert alert.rule == "zone_exclusion"
    assert actions.status(subject) == ("yellow", ["active_alert"])


def test_leaving_the_permitted_area_alerts_while_monitored(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    device, _key = actions.register_subject_device(corr.officer_a, subject, uid="phone-rx-2")
    corr.authorise(subject, ground="left_area")
    pipeline.reset_engine()
    fixes(device, [OUTSIDE_DISTRICT] * 4, corr.clock.now())
    assert Alert.objects.get(target_id=subject.target_id).rule == "zone_inclusion"


def test_the_permitted_area_zone_is_shared_and_a_release_leaves_it(corr) -> None:  # type: ignore[no-untyped-def]
    first = corr.taken_in(supervision_end=corr.clock.now().date())
    second = corr.taken_in(name="孙三")
    zone = Zone.objects.get(owner="corrections", kind="inclusion", name="permitted 330503")
    assert set(zone.targets.values_list("pk", flat=True)) == {first.target_id, second.target_id}
    actions.release_subject(corr.officer_a, first)
    assert set(zone.targets.values_list("pk", flat=True)) == {second.target_id}
    zone.refresh_from_db()
    assert zone.is_active


def test_a_curfew_is_an_inclusion_circle_around_home_on_its_hours(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    curfew = actions.add_curfew(corr.officer_a, subject, start=dt.time(22), end=dt.time(6), weekdays=[1, 2, 3, 4, 5])
    zone = curfew.zone
    assert (zone.kind, zone.shape, zone.coords, zone.radius_m) == ("inclusion", "circle", list(IN_GRID_A), 200)
    assert zone.schedule["windows"] == [["22:00", "06:00"]] and zone.schedule["weekdays"] == [1, 2, 3, 4, 5]
    assert list(zone.targets.values_list("pk", flat=True)) == [subject.target_id]


def test_a_curfew_needs_the_home_point_and_sane_hours(corr) -> None:  # type: ignore[no-untyped-def]
    homeless = corr.taken_in(home_lon=None, home_lat=None)
    with pytest.raises(ValidationFailed) as error:
        actions.add_curfew(corr.officer_a, homeless, start=dt.time(22), end=dt.time(6))
    assert error.value.code == "no_home"
    subject = corr.taken_in(name="周五")
    for kwargs, code in (({"weekdays": [8]}, "invalid_weekdays"), ({"radius_m": 10}, "out_of_range"),
                         ({"end": dt.time(22)}, "bad_range")):
        with pytest.raises(ValidationFailed) as error:
            actions.add_curfew(corr.officer_a, subject, **{"start": dt.time(22), "end": dt.time(6), **kwargs})
        assert error.value.code == code


def test_a_forbidden_zone_with_a_broken_shape_is_refused(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    with pytest.raises(ValidationFailed) as error:
        actions.add_prohibition_order(corr.officer_a, subject, text="禁止令", zones=[
            actions.ZoneInput(name="坏", shape="circle", coords=list(BAR), radius_m=0)])
    assert error.value.code == "required"
    assert not subject.prohibitions.exists()


def test_a_release_deactivates_the_subjects_own_zones(corr) -> None:  # type: ignore[no-untyped-def]
    subject = corr.taken_in(supervision_end=corr.clock.now().date())
    order = actions.add_prohibition_order(corr.officer_a, subject, text="禁止进入酒吧", zones=[
        actions.ZoneInput(name="酒吧街", shape="circle", coords=list(BAR), radius_m=200)])
    curfew = actions.add_curfew(corr.officer_a, subject, start=dt.time(22), end=dt.time(6))
    actions.release_subject(corr.officer_a, subject)
    assert not Zone.objects.filter(pk__in=[order.zones.get().pk, curfew.zone_id], is_active=True).exists()

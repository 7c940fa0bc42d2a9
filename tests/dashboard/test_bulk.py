"""The bulk loader of historical events (pingan bench events)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from pingan.events import actions
from pingan.events.bulk import load_history
from pingan.events.models import OPEN_STATES, Event, EventSequence, Task
from tests.dashboard.conftest import IN_TOWN_A, NOW, SHANGHAI


def test_history_has_about_three_percent_open_spread_over_the_district(setup, clock) -> None:  # type: ignore[no-untyped-def]
    loaded = load_history(4000, now=NOW, days=730, seed=1)
    assert Event.objects.count() == 4000
    states = Counter(Event.objects.values_list("state", flat=True))
    open_share = sum(states[s] for s in OPEN_STATES) / 4000
    assert 0.02 <= open_share <= 0.04
    assert states["closed"] > 3000
    assert Event.objects.values("town").distinct().count() == 2
    assert not Event.objects.filter(created_at__gt=NOW).exists()
    assert not Event.objects.filter(closed_at__gt=NOW).exists()
    oldest = Event.objects.order_by("created_at").first()
    assert oldest is not None and oldest.created_at < NOW - dt.timedelta(days=600)
    # every dispatched event has its lead unit's task
    dispatched = Event.objects.filter(dispatched_at__isnull=False).count()
    assert Task.objects.filter(is_lead=True).count() == dispatched == loaded.tasks - Task.objects.filter(is_lead=False).count()


def test_a_report_after_the_load_gets_a_new_number(setup, clock) -> None:  # type: ignore[no-untyped-def]
    load_history(500, now=NOW, days=3, seed=2)
    today = NOW.astimezone(SHANGHAI).date()
    loaded_today = Event.objects.filter(number__startswith=f"NX-{today:%Y%m%d}-").count()
    assert loaded_today > 0
    assert EventSequence.objects.get(day=today).last == loaded_today
    event = actions.report_event("system", actions.ReportInput(
        event_type="dispute-neighbour", title="t", description="d", lon=IN_TOWN_A[0], lat=IN_TOWN_A[1]))
    assert event.number == f"NX-{today:%Y%m%d}-{loaded_today + 1:06d}"
    assert Event.objects.values("number").distinct().count() == 501

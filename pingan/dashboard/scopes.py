"""How the access policy reaches the rollup rows: by their area — the village of a DailyFigures row,
the town of a DailyTotals row — the same area-subtree scope as the events they count. The figures
use a table only for scopes it answers exactly (see figures.py); organisation and own scopes reach no
rollup rows, and those users' events are counted live."""

from __future__ import annotations

from pingan.accounts.policy import ScopeSpec, register_scope
from pingan.dashboard.models import DailyFigures, DailyTotals
from pingan.events import permissions  # noqa: F401  (registers events.view_dashboard)

register_scope(DailyFigures, ScopeSpec(area_path="area"))
register_scope(DailyTotals, ScopeSpec(area_path="town"))

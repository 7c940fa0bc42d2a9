import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from pingan.accounts import policy
from pingan.dashboard import figures as f

router = Router(tags=["dashboard"])


class ErrorOut(Schema):
    code: str
    message: str
    details: dict[str, Any] | None = None


class FiguresQuery(Schema):
    period: Literal["day", "week", "month", "year"] = Field(default="month", description="Bucket of the trend.")
    town: str = Field(default="", description="Town code (e.g. 330503101).")
    workstation: str = Field(default="", description="Workstation code (e.g. ws07).")
    date_from: dt.date | None = Field(default=None, alias="from", description="First day (Asia/Shanghai); "
                                      "default: the period's usual window (30 days, 12 weeks, 12 months, 3 years).")
    date_to: dt.date | None = Field(default=None, alias="to", description="Last day, inclusive; default today.")


class Summary(Schema):
    reported: int
    events_resolved: int
    resolved_on_time: int
    disputes_mediated: int
    closed: int
    rated: int
    satisfied: int
    repeat_reports: int
    on_time_rate: float | None = Field(description="按期办结率: resolved on time / resolved (0–1).")
    satisfaction_rate: float | None = Field(description="Closed with a rating of 4 or 5 / closed with a rating (0–1).")


class Totals(Summary):
    visits: int
    places_inspected: int
    joint_actions: int
    open: int = Field(description="Open now (whatever the period).")
    overdue: int = Field(description="Open and overdue now.")
    parked: int = Field(description="Parked (挂账) now.")


class PlaceRow(Summary):
    code: str
    name: str
    open: int
    overdue: int
    parked: int


class TrendRow(Summary):
    period: str
    start: dt.date


class StateRow(Schema):
    state: str
    label: str
    count: int


class FiguresOut(Schema):
    period: str
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    town: str | None
    workstation: str | None
    source: str = Field(description="rollup: finished days from the rollup, plus today live; live: all live.")
    as_of: dt.datetime
    totals: Totals
    by_town: list[PlaceRow]
    by_workstation: list[PlaceRow]
    trend: list[TrendRow]
    states: list[StateRow]


def figures_out(board: f.Dashboard) -> dict[str, Any]:
    flt = board.filters
    return {
        "period": flt.period, "from": flt.first, "to": flt.last,
        "town": flt.town.code if flt.town else None,
        "workstation": flt.workstation.code if flt.workstation else None,
        "source": board.source, "as_of": board.as_of, "totals": board.totals, "by_town": board.by_town,
        "by_workstation": board.by_workstation, "trend": board.trend, "states": board.states,
    }


@router.get("/figures", response={200: FiguresOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}, by_alias=True)
def dashboard_figures(request: HttpRequest, q: Query[FiguresQuery]) -> Any:
    """The dashboard's figures in the caller's scope: the article's figures, the rates, by town,
    workstation and period, and the events by state now."""
    policy.require(request.user, f.PERM)
    filters = f.parse_filters(period=q.period, town=q.town, workstation=q.workstation, start=q.date_from, end=q.date_to)
    return figures_out(f.figures(request.user, filters))

"""The dashboard page and its Excel export: parse the filters, ask figures.py, render."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from pingan.accounts import policy
from pingan.accounts.models import Organisation, OrgKind
from pingan.core.errors import DomainError
from pingan.dashboard import figures as f
from pingan.events.exports import XLSX_CONTENT_TYPE, neutralise
from pingan.geo.models import Area

ECHARTS = "dashboard/vendor/echarts.min.js"
FILTER_KEYS = ("period", "town", "workstation", "from", "to")
CARD_LABELS: list[tuple[str, Any]] = [
    ("visits", _("Visits received")), ("places_inspected", _("Places inspected")),
    ("joint_actions", _("Joint enforcement actions")), ("events_resolved", _("Events resolved")),
    ("disputes_mediated", _("Disputes mediated")), ("on_time_rate", _("On-time closure rate")),
    ("satisfaction_rate", _("Satisfaction rate")), ("repeat_reports", _("Repeat reports")),
    ("reported", _("Events reported")), ("open", _("Open now")), ("overdue", _("Overdue now")),
    ("parked", _("Parked now")),
]
TABLE_COLUMNS: list[tuple[str, Any]] = [
    ("reported", _("Reported")), ("events_resolved", _("Resolved")), ("resolved_on_time", _("Resolved on time")),
    ("on_time_rate", _("On-time rate")), ("disputes_mediated", _("Disputes mediated")), ("closed", _("Closed")),
    ("satisfaction_rate", _("Satisfaction rate")), ("repeat_reports", _("Repeat reports")), ("open", _("Open now")),
    ("overdue", _("Overdue now")), ("parked", _("Parked now")),
]


def _require(request: HttpRequest) -> None:
    if not policy.has_perm(request.user, f.PERM):
        raise PermissionDenied


def _filters(request: HttpRequest) -> f.Filters:
    get = request.GET
    try:
        return f.parse_filters(period=get.get("period") or None, town=get.get("town") or None,
                               workstation=get.get("workstation") or None, start=get.get("from") or None,
                               end=get.get("to") or None)
    except DomainError as exc:
        messages.error(request, str(_("The filters were not understood ({code}); showing the defaults.")).format(code=exc.code))
        return f.parse_filters()


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _require(request)
    board = f.figures(request.user, _filters(request))
    workstations = Organisation.objects.filter(kind=OrgKind.WORKSTATION, is_active=True).order_by("code")
    if board.filters.town is not None:
        workstations = workstations.filter(area=board.filters.town)
    charts = {
        "towns": [{"name": r["name"], "reported": r["reported"], "resolved": r["events_resolved"],
                   "mediated": r["disputes_mediated"]} for r in board.by_town],
        "trend": [{"period": r["period"], "reported": r["reported"], "resolved": r["events_resolved"],
                   "mediated": r["disputes_mediated"]} for r in board.trend],
        "states": [{"name": s["label"], "value": s["count"]} for s in board.states],
        "labels": {"reported": _("Reported"), "resolved": _("Resolved"), "mediated": _("Disputes mediated")},
    }
    return render(request, "dashboard/index.html", {
        "board": board,
        "filters": {k: request.GET.get(k, "") for k in FILTER_KEYS} | {"period": board.filters.period},
        "periods": [(p, f.PERIOD_LABELS[p]) for p in f.PERIODS],
        "towns": Area.objects.filter(level="town").order_by("code").only("code", "name"),
        "workstations": workstations.only("code", "name"),
        "charts": charts,
        "cards": CARD_LABELS,
        "columns": TABLE_COLUMNS,
        "trend_columns": TABLE_COLUMNS[:8],
        "tables": [(_("By town"), board.by_town, "table-towns"),
                   (_("By workstation"), board.by_workstation, "table-workstations")],
        "echarts": ECHARTS if finders.find(ECHARTS) else None,
        "query": request.GET.urlencode(),
    })


def workbook(board: f.Dashboard) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = str(_("Figures"))
    flt = board.filters
    sheet.append([str(_("From")), flt.first.isoformat(), str(_("To")), flt.last.isoformat(), str(_("Period")), flt.period])
    sheet.append([str(_("Town")), neutralise(flt.town.name if flt.town else ""),
                  str(_("Workstation")), neutralise(flt.workstation.name if flt.workstation else "")])
    sheet.append([])
    for key, label in CARD_LABELS:
        sheet.append([str(label), board.totals.get(key)])
    columns = [("code", _("Code")), ("name", _("Name")), *TABLE_COLUMNS]
    for title, rows in ((_("By town"), board.by_town), (_("By workstation"), board.by_workstation)):
        table = book.create_sheet(str(title))
        table.append([str(label) for _key, label in columns])
        for row in rows:
            table.append([neutralise(row.get(key)) for key, _label in columns])
    trend = book.create_sheet(str(_("Trend")))
    trend_columns = [("period", _("Period")), *TABLE_COLUMNS[:8]]
    trend.append([str(label) for _key, label in trend_columns])
    for row in board.trend:
        trend.append([row.get(key) for key, _label in trend_columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    _require(request)
    board = f.figures(request.user, _filters(request))
    response = HttpResponse(workbook(board), content_type=XLSX_CONTENT_TYPE)
    name = f"dashboard-{board.filters.first:%Y%m%d}-{board.filters.last:%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

"""Excel export of a (filtered, already access-restricted) list of events.

Spreadsheet programs run a cell that begins with ``= + - @`` (or a tab / carriage return before one)
as a formula — "CSV/formula injection". Every text cell is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from pingan.events.models import Event

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: Any) -> Any:
    """A text that a spreadsheet would read as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def _local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    # Excel has no time zones: write the local (Asia/Shanghai) wall time, naive.
    return value.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None)


def columns() -> list[tuple[str, int]]:
    return [
        (_("Number"), 22), (_("Title"), 30), (_("Type"), 18), (_("Source"), 14), (_("Priority"), 9),
        (_("State"), 11), (_("Handling level"), 10), (_("Area"), 18), (_("Address"), 28), (_("Lead unit"), 18),
        (_("Reported at"), 18), (_("Resolve by"), 18), (_("Warned"), 7), (_("Overdue"), 7), (_("Supervised"), 7),
        (_("Result"), 30), (_("Satisfaction"), 8), (_("Description"), 40),
    ]


def row(event: Event) -> list[Any]:
    yes, no = _("yes"), _("no")
    return [
        event.number, event.title, str(event.event_type), event.get_source_display(), event.get_priority_display(),
        event.get_state_display(), event.get_level_display(), event.area.name if event.area_id else "", event.address,
        event.lead_unit.name if event.lead_unit_id and event.lead_unit else "",
        _local(event.created_at), _local(event.resolve_due), yes if event.warned else no, yes if event.overdue else no,
        yes if event.supervised else no, event.result, event.satisfaction, event.description,
    ]


def export_events(events: Iterable[Event]) -> bytes:
    """The events as an .xlsx file (bytes)."""
    wb = Workbook(write_only=False)
    ws = wb.active
    assert ws is not None
    ws.title = _("Events")[:31]
    header = columns()
    ws.append([neutralise(str(name)) for name, _width in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8F0FB")
    for i, (_name, width) in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    for event in events:
        ws.append([neutralise(v) for v in row(event)])
    for cells in ws.iter_rows(min_row=2, min_col=11, max_col=12):
        for cell in cells:
            cell.number_format = "yyyy-mm-dd hh:mm"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

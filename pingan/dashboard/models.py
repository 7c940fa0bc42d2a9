"""The dashboard's rollup: event figures summed per local day, at two grains.

``DailyFigures``: per day, village and workstation — for users whose scope is a village or a town.
``DailyTotals``: per day, town and workstation — the same sums, coarser, for the district and towns
(a year of it is a few ten thousand rows, whatever the number of events).

Derived data only. ``pingan.dashboard.rollup.refresh`` rewrites both from the events (the periodic
job ``dashboard.rollup``); nothing else writes them, and dropping every row loses nothing.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyFigures(models.Model):
    """Event figures of one local day (Asia/Shanghai) for one area and workstation.

    ``area`` is the event's village, or the event's own area when it has none, so the access
    policy's area scope (a code prefix) applies to these rows exactly down to village level.
    Each figure counts on the day of its own moment: ``reported`` and ``repeats`` on the day the
    event was reported, the ``resolved_*`` figures on the day it was resolved, the closing figures
    on the day it was closed.
    """

    day = models.DateField(_("day"))
    area = models.ForeignKey("geo.Area", on_delete=models.CASCADE, related_name="+", verbose_name=_("area"))
    town = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workstation = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    reported = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    resolved_on_time = models.PositiveIntegerField(default=0)
    mediated = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        indexes = [models.Index(fields=["day"]), models.Index(fields=["town", "day"]),
                   models.Index(fields=["workstation", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.area_id}/{self.workstation_id}"


class DailyTotals(models.Model):
    """The sums of :class:`DailyFigures` per local day, town and workstation."""

    day = models.DateField(_("day"))
    town = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workstation = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    reported = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    resolved_on_time = models.PositiveIntegerField(default=0)
    mediated = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily totals")
        verbose_name_plural = _("daily totals")
        indexes = [models.Index(fields=["day"]), models.Index(fields=["town", "day"]),
                   models.Index(fields=["workstation", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.town_id}/{self.workstation_id}"


class RollupState(models.Model):
    """How far the rollup goes: ``complete_through`` is the last local day whose rows were written
    after the day ended; later days are counted live from the events."""

    name = models.CharField(max_length=40, primary_key=True)
    complete_through = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    full_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.complete_through}"

"""Grid and workstation work: patrols (巡查), visits (来访接待), places and inspections (检查场所),
joint enforcement (联合执法).

Data and invariants only; every change of state is a function in ``actions.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Patrol(models.Model):
    """A grid worker's patrol of their grid: the track walked, places checked, events reported."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patrols",
                               verbose_name=_("grid worker"))
    grid = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    started_at = models.DateTimeField(_("started"), db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    track = models.JSONField(_("track"), default=list, blank=True,
                             help_text=_("Points [longitude, latitude, time] in WGS-84, in the order received."))
    distance_m = models.FloatField(_("distance (m)"), default=0)
    places_checked = models.PositiveIntegerField(_("places checked"), default=0)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["worker", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.worker} · {self.grid.code if self.grid_id else ''} · {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class PatrolEvent(models.Model):
    """An event reported on a patrol. ``found_at`` is when the worker was at the spot (the track point
    nearest the event), so ``event.created_at - found_at`` is "found at once, reported at once"."""

    patrol = models.ForeignKey(Patrol, on_delete=models.CASCADE, related_name="patrol_events")
    event = models.OneToOneField("events.Event", on_delete=models.CASCADE, related_name="patrol_link")
    found_at = models.DateTimeField(_("found at"))

    class Meta:
        verbose_name = _("event reported on a patrol")
        verbose_name_plural = _("events reported on patrols")

    def __str__(self) -> str:
        return f"{self.patrol_id}:{self.event_id}"


class VisitCategory(models.TextChoices):
    CONSULTATION = "consultation", _("consultation")
    COMPLAINT = "complaint", _("complaint")
    DISPUTE = "dispute", _("dispute")
    PETITION = "petition", _("petition")
    LEGAL_AID = "legal_aid", _("legal aid")
    OTHER = "other", _("other")


class VisitOutcome(models.TextChoices):
    PENDING = "pending", _("pending")
    ANSWERED = "answered", _("answered on the spot")
    REFERRED = "referred", _("referred to a department")
    EVENT_OPENED = "event_opened", _("event opened")


class Visit(models.Model):
    """One visitor received at a linkage workstation (来访接待)."""

    workstation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="visits",
                                    verbose_name=_("workstation"))
    visitor = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="visits",
                                verbose_name=_("visitor"))
    at = models.DateTimeField(_("time"), db_index=True)
    matter = models.TextField(_("matter"))
    category = models.CharField(_("category"), max_length=16, choices=VisitCategory.choices,
                                default=VisitCategory.CONSULTATION)
    departments = models.ManyToManyField("accounts.Organisation", blank=True, related_name="+",
                                         verbose_name=_("departments involved"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=VisitOutcome.choices, default=VisitOutcome.PENDING)
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("event"))
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+",
                                    verbose_name=_("received by"))

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workstation", "at"]), models.Index(fields=["visitor", "at"])]

    def __str__(self) -> str:
        return f"{self.workstation_id} · {self.at:%Y-%m-%d %H:%M}"


class PlaceKind(models.TextChoices):
    SHOP = "shop", _("shop")
    RENTAL_HOUSING = "rental_housing", _("rental housing")
    ENTERPRISE = "enterprise", _("enterprise")
    CONSTRUCTION_SITE = "construction_site", _("construction site")
    DELIVERY_OUTLET = "delivery_outlet", _("delivery outlet")
    RESTAURANT = "restaurant", _("restaurant")
    SCHOOL = "school", _("school")
    OTHER = "other", _("other")


class Place(models.Model):
    """A place that is inspected (检查场所); located to the finest area holding its point."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=PlaceKind.choices, db_index=True)
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    enterprise = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="places", verbose_name=_("enterprise"))
    created_at = models.DateTimeField(_("registered"))

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class HazardLevel(models.TextChoices):
    GENERAL = "general", _("general hazard")
    MAJOR = "major", _("major hazard")


class Inspection(models.Model):
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="inspections", verbose_name=_("place"))
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+",
                                  verbose_name=_("inspector"))
    at = models.DateTimeField(_("time"), db_index=True)
    findings = models.TextField(_("findings"))
    hazard = models.BooleanField(_("hazard found"), default=False)
    hazard_level = models.CharField(_("hazard level"), max_length=10, choices=HazardLevel.choices, blank=True)
    patrol = models.ForeignKey(Patrol, null=True, blank=True, on_delete=models.SET_NULL, related_name="inspections",
                               verbose_name=_("patrol"))
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("hazard event"))

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.place} · {self.at:%Y-%m-%d}"


class JointEnforcement(models.Model):
    """A joint enforcement action (联合执法) run from a workstation with several departments."""

    workstation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="joint_enforcements",
                                    verbose_name=_("workstation"))
    at = models.DateTimeField(_("time"), db_index=True)
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("place"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    departments = models.ManyToManyField("accounts.Organisation", related_name="+",
                                         verbose_name=_("participating departments"))
    findings = models.TextField(_("findings"))
    events = models.ManyToManyField("events.Event", blank=True, related_name="+", verbose_name=_("linked events"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+",
                                    verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("joint enforcement")
        verbose_name_plural = _("joint enforcements")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.workstation_id} · {self.at:%Y-%m-%d}"

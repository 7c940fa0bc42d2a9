"""Forms of the field-work pages: they parse and check types; the actions validate the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from pingan.fieldwork import permissions as fp
from pingan.fieldwork import queries
from pingan.fieldwork.models import HazardLevel, PlaceKind, VisitCategory, VisitOutcome

CRS_CHOICES = [("wgs84", "WGS-84 / GPS"), ("cgcs2000", "CGCS2000"), ("gcj02", _("GCJ-02 (AMap, Tencent)")),
               ("bd09", _("BD-09 (Baidu)"))]
PRIORITY_CHOICES = [("normal", _("normal")), ("high", _("high")), ("urgent", _("urgent")), ("low", _("low"))]


class PatrolStartForm(forms.Form):
    grid = forms.ChoiceField(label=_("Grid"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grids = [(a.code, f"{a.name} ({a.code})") for a in queries.patrol_grids(user)]
        self.fields["grid"].choices = grids  # type: ignore[attr-defined]


class PointForm(forms.Form):
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    crs = forms.ChoiceField(label=_("Coordinate system"), choices=CRS_CHOICES, initial="wgs84", required=False)


class PatrolEndForm(forms.Form):
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)
    places_checked = forms.IntegerField(label=_("Places checked"), min_value=0, max_value=10000, required=False)


class ReportForm(forms.Form):
    event_type = forms.ChoiceField(label=_("Type"))
    title = forms.CharField(label=_("Title"), max_length=120)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    priority = forms.ChoiceField(label=_("Priority"), choices=PRIORITY_CHOICES, initial="normal")
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    crs = forms.ChoiceField(label=_("Coordinate system"), choices=CRS_CHOICES, initial="wgs84", required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = queries.report_types()  # type: ignore[attr-defined]

    def report_input(self, source: str, person_ids: list[int] | None = None) -> Any:
        from pingan.events.actions import ReportInput

        d = self.cleaned_data
        return ReportInput(event_type=d["event_type"], title=d["title"], description=d["description"], lon=d["lon"],
                           lat=d["lat"], crs=d.get("crs") or "wgs84", address=d.get("address", ""), source=source,
                           priority=d["priority"], person_ids=person_ids or [])


class VisitForm(forms.Form):
    workstation = forms.ModelChoiceField(label=_("Workstation"), queryset=queries.departments().none())
    person_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Visitor's name"), max_length=60, required=False)
    id_number = forms.CharField(label=_("ID number"), max_length=18, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    matter = forms.CharField(label=_("Matter"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    category = forms.ChoiceField(label=_("Category"), choices=VisitCategory.choices, initial=VisitCategory.CONSULTATION)
    departments = forms.ModelMultipleChoiceField(label=_("Departments involved"), queryset=queries.departments(),
                                                 required=False, widget=forms.SelectMultiple(attrs={"size": 5}))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=[c for c in VisitOutcome.choices
                                                             if c[0] != VisitOutcome.EVENT_OPENED])

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["workstation"]
        field.queryset = queries.workstations(user, fp.RECORD_VISIT.code)  # type: ignore[attr-defined]
        if len(field.queryset) == 1:  # type: ignore[attr-defined]
            field.initial = field.queryset[0]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("person_id") and not (data.get("name") or "").strip():
            self.add_error("name", _("Enter the visitor's name."))
        return data


class PlaceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=PlaceKind.choices)
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    crs = forms.ChoiceField(label=_("Coordinate system"), choices=CRS_CHOICES, initial="wgs84", required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    enterprise = forms.ModelChoiceField(label=_("Enterprise"), queryset=queries.enterprises(None), required=False)


class InspectionForm(forms.Form):
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    hazard = forms.BooleanField(label=_("A hazard was found (opens a hazard event)"), required=False)
    hazard_level = forms.ChoiceField(label=_("Hazard level"), choices=[("", "—"), *HazardLevel.choices], required=False)


class JointEnforcementForm(forms.Form):
    workstation = forms.ModelChoiceField(label=_("Workstation"), queryset=queries.departments().none())
    departments = forms.ModelMultipleChoiceField(label=_("Participating departments"), queryset=queries.departments(),
                                                 widget=forms.SelectMultiple(attrs={"size": 6}))
    address = forms.CharField(label=_("Place or address"), max_length=200)
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    event_numbers = forms.CharField(label=_("Linked events (numbers, comma-separated)"), max_length=500, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["workstation"]
        field.queryset = queries.workstations(user, fp.ENFORCE.code)  # type: ignore[attr-defined]
        if len(field.queryset) == 1:  # type: ignore[attr-defined]
            field.initial = field.queryset[0]  # type: ignore[attr-defined]

    def numbers(self) -> list[str]:
        raw = self.cleaned_data.get("event_numbers") or ""
        return [n.strip() for n in raw.replace("，", ",").split(",") if n.strip()]

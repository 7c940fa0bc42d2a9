from __future__ import annotations

from django.urls import path

from pingan.fieldwork import views

app_name = "fieldwork"

urlpatterns = [
    path("patrol/", views.patrol, name="patrol"),
    path("patrol/start/", views.patrol_start, name="patrol-start"),
    path("patrol/<int:patrol_id>/point/", views.patrol_point, name="patrol-point"),
    path("patrol/<int:patrol_id>/end/", views.patrol_end, name="patrol-end"),
    path("patrol/<int:patrol_id>/report/", views.patrol_report, name="patrol-report"),
    path("patrols/", views.patrols, name="patrols"),
    path("visits/", views.visits, name="visits"),
    path("visits/<int:visit_id>/", views.visit_detail, name="visit"),
    path("visits/<int:visit_id>/event/", views.visit_event, name="visit-event"),
    path("places/", views.places, name="places"),
    path("places/<int:place_id>/", views.place_detail, name="place"),
    path("inspections/", views.inspections, name="inspections"),
    path("enforcement/", views.enforcement, name="enforcement"),
]

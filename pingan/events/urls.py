from __future__ import annotations

from django.urls import path

from pingan.events import views

app_name = "events"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("report/", views.report, name="report"),
    path("map/", views.events_map, name="map"),
    path("export.xlsx", views.export, name="export"),
    path("notifications/", views.notifications, name="notifications"),
    path("<int:event_id>/", views.detail, name="detail"),
    path("<int:event_id>/act/<slug:action>/", views.act, name="act"),
]

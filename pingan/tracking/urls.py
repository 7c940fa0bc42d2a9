from __future__ import annotations

from django.urls import path

from pingan.tracking import views

app_name = "tracking"

urlpatterns = [
    path("alerts/", views.alert_queue, name="alerts"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/act/<slug:action>/", views.alert_act, name="alert-act"),
    path("map/", views.live_map, name="map"),
    path("targets/<int:target_id>/", views.target_detail, name="target"),
]

from __future__ import annotations

from django.urls import path

from pingan.corrections import views

app_name = "corrections"

urlpatterns = [
    # Core areas and reverse warnings
    path("warnings/", views.warning_queue, name="warnings"),
    path("core-areas/", views.core_area_list, name="core_areas"),
    path("core-areas/<int:core_id>/", views.core_area_edit, name="core_area_edit"),
]

from __future__ import annotations

from django.urls import path

from pingan.corrections import views

app_name = "corrections"

urlpatterns = [
    # Phone checks
    path("phone-checks/", views.phone_checks, name="phone-checks"),
    path("phone-checks/start/", views.start_phone_check, name="phone-check-start"),
]

from __future__ import annotations

from django.urls import path

from pingan.corrections import views

app_name = "corrections"

urlpatterns = [
    # Leave and boundary
    path("leave/", views.leave_queue, name="leave"),
    path("leave/<int:leave_id>/<slug:action>/", views.leave_act, name="leave-act"),
    path("subjects/<int:subject_id>/leave/", views.subject_leave, name="subject-leave"),
    path("me/leave/", views.my_leave, name="my-leave"),
    # Phone checks
    path("phone-checks/", views.phone_checks, name="phone-checks"),
    path("phone-checks/start/", views.start_phone_check, name="phone-check-start"),
]

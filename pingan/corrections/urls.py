from __future__ import annotations

from django.urls import path

from pingan.corrections import views

app_name = "corrections"

urlpatterns = [
    # Dashboard, file, scanner, phone page
    path("", views.dashboard, name="dashboard"),
    path("subjects/", views.subject_list, name="subjects"),
    path("subjects/<int:subject_id>/", views.subject_file, name="subject"),
    path("subjects/<int:subject_id>/reveal/", views.subject_reveal, name="subject-reveal"),
    path("subjects/<int:subject_id>/intake/", views.subject_intake, name="subject-intake"),
    path("subjects/<int:subject_id>/level/", views.subject_level, name="subject-level"),
    path("subjects/<int:subject_id>/records/", views.subject_record, name="subject-record"),
    path("subjects/<int:subject_id>/records/<int:record_id>/close/", views.subject_close_record,
         name="subject-close-record"),
    path("subjects/<int:subject_id>/authorisations/", views.subject_grant, name="subject-grant"),
    path("subjects/<int:subject_id>/authorisations/<int:authorisation_id>/renew/", views.subject_renew,
         name="subject-renew"),
    path("subjects/<int:subject_id>/authorisations/<int:authorisation_id>/end/", views.subject_end_authorisation,
         name="subject-end-authorisation"),
    path("subjects/<int:subject_id>/transfer/", views.subject_transfer, name="subject-transfer"),
    path("subjects/<int:subject_id>/release/", views.subject_release, name="subject-release"),
    path("subjects/<int:subject_id>/terminate/", views.subject_terminate, name="subject-terminate"),
    path("subjects/<int:subject_id>/prohibitions/", views.subject_prohibition, name="subject-prohibition"),
    path("subjects/<int:subject_id>/curfews/", views.subject_curfew, name="subject-curfew"),
    path("subjects/<int:subject_id>/devices/", views.subject_device, name="subject-device"),
    path("scan/", views.scanner, name="scan"),
    path("me/", views.my_page, name="me"),
    path("me/code/", views.my_code, name="me-code"),
    path("me/check-in/", views.my_check_in, name="me-check-in"),
    # Leave and boundary
    path("leave/", views.leave_queue, name="leave"),
    path("leave/<int:leave_id>/<slug:action>/", views.leave_act, name="leave-act"),
    path("subjects/<int:subject_id>/leave/", views.subject_leave, name="subject-leave"),
    path("me/leave/", views.my_leave, name="my-leave"),
    # Phone checks
    path("phone-checks/", views.phone_checks, name="phone-checks"),
    path("phone-checks/start/", views.start_phone_check, name="phone-check-start"),
    # Core areas and reverse warnings
    path("warnings/", views.warning_queue, name="warnings"),
    path("warnings/<int:alert_id>/", views.warning_page, name="warning"),
    path("warnings/<int:alert_id>/<slug:step>/", views.warning_act, name="warning-act"),
    path("core-areas/", views.core_area_list, name="core_areas"),
    path("core-areas/<int:core_id>/", views.core_area_edit, name="core_area_edit"),
]

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from pingan.web import views

app_name = "web"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("areas/", views.areas, name="areas"),
    path("areas/<str:code>/", views.area_detail, name="area"),
    path("persons/", views.persons, name="persons"),
    path("persons/<int:person_id>/", views.person_detail, name="person"),
    path("persons/<int:person_id>/reveal/", views.person_reveal, name="person-reveal"),
    path("organisations/", views.organisations, name="organisations"),
    path("audit/", views.audit, name="audit"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]

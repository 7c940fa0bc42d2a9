from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from pingan.api import api

admin.site.site_header = "平安 Pingan"
admin.site.site_title = "平安 Pingan"

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("events/", include("pingan.events.urls")),
    path("work/", include("pingan.fieldwork.urls")),
    path("dashboard/", include("pingan.dashboard.urls")),
    path("tracking/", include("pingan.tracking.urls")),
    path("corrections/", include("pingan.corrections.urls")),
    path("", include("pingan.web.urls")),
]

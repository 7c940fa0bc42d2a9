from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "pingan.tracking"
    label = "tracking"
    verbose_name = _("Tracking")

    def ready(self) -> None:
        from pingan.tracking import benchmarks, jobs, scopes  # noqa: F401  (register bench, jobs, scopes, permissions)

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "pingan.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        from pingan.events import benchmarks, jobs, scopes  # noqa: F401  (register bench, jobs, scopes, permissions)

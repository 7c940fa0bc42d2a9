from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorrectionsConfig(AppConfig):
    name = "pingan.corrections"
    label = "corrections"
    verbose_name = _("Community corrections")

    def ready(self) -> None:
        from pingan.corrections import benchmarks, jobs, scopes  # noqa: F401  (register bench, jobs, scopes, permissions)

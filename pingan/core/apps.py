from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "pingan.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from pingan.core import tasks  # noqa: F401  (registers periodic jobs)

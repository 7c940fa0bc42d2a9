from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "pingan.geo"
    label = "geo"
    verbose_name = _("Geography")

    def ready(self) -> None:
        from pingan.geo import benchmarks  # noqa: F401  (registers `pingan bench locate`)

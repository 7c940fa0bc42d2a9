from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FieldworkConfig(AppConfig):
    """Grid and workstation work: patrols, visits, places and inspections, joint enforcement."""

    name = "pingan.fieldwork"
    label = "fieldwork"
    verbose_name = _("Grid and workstation work")

    def ready(self) -> None:
        from pingan.fieldwork import scopes  # noqa: F401  (register scopes and permissions)

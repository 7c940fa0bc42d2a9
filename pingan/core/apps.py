from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "pingan.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        from pingan.core import tasks  # noqa: F401  (registers periodic jobs)
        from pingan.core.signals import mirror_admin_entry

        post_save.connect(mirror_admin_entry, sender=LogEntry, dispatch_uid="pingan.audit.admin")

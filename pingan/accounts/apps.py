from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "pingan.accounts"
    label = "accounts"
    verbose_name = _("People, organisations and access")

    def ready(self) -> None:
        from pingan.accounts import jobs, scopes  # noqa: F401  (register jobs and scope specs)

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorrectionsConfig(AppConfig):
    name = "pingan.corrections"
    label = "corrections"
    verbose_name = _("Community corrections")

    def ready(self) -> None:
        from pingan.corrections import (  # noqa: F401  (register jobs, scopes, permissions)
            boundary,  # noqa: F401  (leave and boundary: the screening check, rule labels)
            jobs,
            scopes,
        )

        # Phone checks, lost contact, faked positions: the words of their alert rules
        from pingan.tracking.actions import label_rule

        label_rule("phone_check_missed", _("did not answer a phone check"))
        label_rule("phone_check_voice", _("phone check: someone else answered"))
        label_rule("phone_check_position", _("phone check: the phone is outside the permitted area"))
        label_rule("phone_check_failed", _("phone check could not be made"))
        label_rule("corrections_lost_contact", _("lost contact"))
        label_rule("fake_position", _("possibly faked position"))

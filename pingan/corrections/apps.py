from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorrectionsConfig(AppConfig):
    name = "pingan.corrections"
    label = "corrections"
    verbose_name = _("Community corrections")

    def ready(self) -> None:
        # jobs, scopes and permissions register themselves; coreareas registers the core-area screening check
        # and the tracking hook that sets a core-area warning's deadline and tells the police post.
        from pingan.corrections import coreareas, jobs, scopes  # noqa: F401
        from pingan.tracking.actions import label_rule

        label_rule(coreareas.RULE, _("may have entered a core area"))

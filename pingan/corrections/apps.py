from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CorrectionsConfig(AppConfig):
    name = "pingan.corrections"
    label = "corrections"
    verbose_name = _("Community corrections")

    def ready(self) -> None:
        # benchmarks, jobs, scopes and permissions register themselves; boundary registers the leave-and-boundary screening
        # check; coreareas the core-area screening check and the tracking hook that sets a core-area warning's
        # deadline and tells the police post.
        from pingan.corrections import benchmarks, boundary, coreareas, jobs, scopes  # noqa: F401

        # Phone checks, lost contact, faked positions: the words of their alert rules
        from pingan.tracking.actions import label_rule

        label_rule("phone_check_missed", _("did not answer a phone check"))
        label_rule("phone_check_voice", _("phone check: someone else answered"))
        label_rule("phone_check_position", _("phone check: the phone is outside the permitted area"))
        label_rule("phone_check_failed", _("phone check could not be made"))
        label_rule("corrections_lost_contact", _("lost contact"))
        label_rule("fake_position", _("possibly faked position"))
        label_rule(coreareas.RULE, _("may have entered a core area"))

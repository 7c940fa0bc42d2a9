"""Navigation by role: each entry names the permission that shows it (same policy as the pages)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pingan.accounts import permissions as p
from pingan.accounts import policy

NAV: list[tuple[str, Any, str | None]] = [
    ("web:home", _("Map"), None),
    ("events:inbox", _("Events"), "events.view_event"),
    ("events:report", _("Report"), "events.report_event"),
    ("events:map", _("Events map"), "events.view_event"),
    ("fieldwork:patrol", _("Patrol"), "fieldwork.patrol"),
    ("fieldwork:visits", _("Visits"), "fieldwork.view_fieldwork"),
    ("fieldwork:places", _("Places"), "fieldwork.view_fieldwork"),
    ("fieldwork:enforcement", _("Joint enforcement"), "fieldwork.view_fieldwork"),
    ("tracking:alerts", _("Alerts"), "tracking.view_alert"),
    ("tracking:map", _("Live map"), "tracking.view_target"),
    ("corrections:dashboard", _("Corrections"), "corrections.view_subject"),
    ("corrections:leave", _("Leave approvals"), "corrections.view_subject"),
    ("corrections:phone-checks", _("Phone checks"), "corrections.view_subject"),
    ("corrections:scan", _("Scan follow code"), "corrections.scan_follow_code"),
    ("corrections:me", _("My follow code"), "corrections.own_follow_code"),
    ("corrections:warnings", _("Core-area warnings"), "corrections.view_subject"),
    ("corrections:core_areas", _("Core areas"), "corrections.manage_core_area"),
    ("dashboard:index", _("Dashboard"), "events.view_dashboard"),
    ("web:areas", _("Areas"), p.VIEW_AREA.code),
    ("web:persons", _("Persons"), p.VIEW_PERSON.code),
    ("web:organisations", _("Organisations"), p.VIEW_ORGANISATION.code),
    ("web:audit", _("Audit log"), p.VIEW_AUDIT.code),
    ("web:tokens", _("API tokens"), None),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    items = [
        {"url": reverse(name), "label": label, "active": request.path == reverse(name)}
        for name, label, perm in NAV
        if perm is None or policy.has_perm(user, perm)
    ]
    roles = ", ".join(sorted(policy.role_codes(user))) or ("superuser" if user.is_superuser else "")
    from pingan.events.notify import unread_for  # the pages' shell reads the closed loop's inbox count

    return {"nav": items, "user_roles": roles, "unread_notifications": unread_for(user).count(),
            "notifications_url": reverse("events:notifications")}

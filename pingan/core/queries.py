from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.core.models import AuditEntry


def search_audit(
    user: Any,
    *,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: str = "",
    request_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Audit entries the user may search (auditors), newest first, filtered."""
    qs = policy.restrict(user, p.VIEW_AUDIT.code, AuditEntry.objects.all())
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_username=actor)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if request_id:
        qs = qs.filter(request_id=request_id)
    if since:
        qs = qs.filter(at__gte=since)
    if until:
        qs = qs.filter(at__lt=until)
    return qs.order_by("-id")

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from pingan.accounts import permissions as p
from pingan.accounts import policy
from pingan.core import queries

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    actor_username: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any]
    ip: str | None
    request_id: str
    channel: str
    hash: str


@router.get("", response=list[AuditEntryOut])
@paginate
def search_audit(
    request: HttpRequest,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: str = "",
    request_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Any:
    """Search the audit log (auditors only). Read-only: no endpoint changes it."""
    policy.require(request.user, p.VIEW_AUDIT.code)
    return queries.search_audit(
        request.user, action=action, actor=actor, object_type=object_type, object_id=object_id,
        request_id=request_id, since=since, until=until,
    )

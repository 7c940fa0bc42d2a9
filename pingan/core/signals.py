"""Changes made in Django admin are mirrored into the audit log (admin writes models directly)."""

from __future__ import annotations

from typing import Any

from pingan.core import audit

_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}


def mirror_admin_entry(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    ct = instance.content_type
    audit.record(
        instance.user,
        f"pingan.admin.{_ACTIONS.get(instance.action_flag, 'other')}",
        object_type=f"{ct.app_label}.{ct.model}" if ct else "",
        object_id=instance.object_id or "",
        object_repr=instance.object_repr[:200],
        changes={"message": str(instance.get_change_message())[:1000]},
    )

from __future__ import annotations

from pingan.accounts.models import Organisation
from pingan.core.models import AuditEntry


def test_a_change_made_in_django_admin_is_in_the_audit_chain(tree, make_user, client) -> None:  # type: ignore[no-untyped-def]
    admin = make_user("district_admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    org = Organisation.objects.get(code="zfw")
    response = client.post(f"/admin/accounts/organisation/{org.pk}/change/", {
        "code": "zfw", "name": "区委政法委（改）", "name_en": org.name_en, "kind": org.kind, "address": "", "phone": "",
        "is_active": "on",
    })
    assert response.status_code == 302, response.content[:500]
    entry = AuditEntry.objects.filter(action="pingan.admin.changed").get()
    assert entry.actor_username == admin.username
    assert entry.object_type == "accounts.organisation" and entry.object_id == str(org.pk)
    assert "name" in entry.changes["message"].lower() or "名称" in entry.changes["message"]

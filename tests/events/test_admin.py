"""The closed loop's configuration in Django admin (event types, routing rules, the working calendar): reached
only by staff users whose role carries ``events.change_routing`` (the access policy, not Django's model
permissions), and every save and delete is in the audit log (as every admin change is)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from pingan.core.models import AuditEntry
from pingan.events.models import RoutingRule, WorkCalendarDay


def staff_client(user: Any) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    c = Client()
    c.force_login(user)
    return c


def test_routing_rules_are_edited_only_with_change_routing_and_every_change_is_audited(make_user) -> None:  # type: ignore[no-untyped-def]
    admin = staff_client(make_user("district_admin"))
    workstation = staff_client(make_user("workstation_staff", area="330503100201"))
    for path in ("/admin/events/routingrule/", "/admin/events/workcalendarday/", "/admin/events/eventtype/"):
        assert admin.get(path).status_code == 200
        assert workstation.get(path).status_code == 403
    assert "/admin/events/routingrule/" not in workstation.get("/admin/").content.decode()

    body = {"name": "噪音 4 小时", "priority": "", "accept_minutes": "240", "resolve_minutes": "960", "time_basis": "working",
            "warn_percent": "75", "escalate_when_overdue": "on", "order": "10", "is_active": "on"}
    assert workstation.post("/admin/events/routingrule/add/", body).status_code == 403
    assert not RoutingRule.objects.filter(name="噪音 4 小时").exists()
    assert admin.post("/admin/events/routingrule/add/", body).status_code == 302
    rule = RoutingRule.objects.get(name="噪音 4 小时")
    admin.post(f"/admin/events/routingrule/{rule.pk}/change/", {**body, "resolve_minutes": "480"})
    assert RoutingRule.objects.get(pk=rule.pk).resolve_minutes == 480
    admin.post(f"/admin/events/routingrule/{rule.pk}/delete/", {"post": "yes"})
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    trail = list(AuditEntry.objects.filter(object_type="events.routingrule", object_id=str(rule.pk))
                 .order_by("id").values_list("action", "changes"))
    assert [a for a, _ in trail] == ["pingan.admin.added", "pingan.admin.changed", "pingan.admin.deleted"]
    assert "resolve" in str(trail[1][1]).lower()

    admin.post("/admin/events/workcalendarday/add/", {"date": "2031-02-01", "is_workday": "on", "note": "调休"})
    assert WorkCalendarDay.objects.filter(is_workday=True).count() == 1
    assert AuditEntry.objects.filter(action="pingan.admin.added", object_type="events.workcalendarday").count() == 1

"""What the API and the pages show of targets and alerts, and which alert actions to offer a user."""

from __future__ import annotations

from typing import Any

from pingan.accounts import policy
from pingan.core import clock
from pingan.tracking import permissions as perms
from pingan.tracking.actions import RULE_LABELS
from pingan.tracking.models import Alert, AlertState, AlertStep, LatestPosition, Target

NEXT: dict[str, list[str]] = {
    AlertState.OPEN: ["acknowledge", "dismiss", "escalate", "note"],
    AlertState.ACKNOWLEDGED: ["dismiss", "escalate", "note"],
    AlertState.ESCALATED: ["close", "note"],
}


def alert_row(alert: Alert) -> dict[str, Any]:
    left = int((alert.verify_by - clock.now()).total_seconds())
    return {
        "id": alert.pk, "number": alert.number, "rule": alert.rule, "rule_label": str(RULE_LABELS.get(alert.rule, alert.rule)),
        "severity": alert.severity, "state": alert.state, "target_id": alert.target_id, "target_label": alert.target.label,
        "zone_id": alert.zone_id, "zone_name": alert.zone.name if alert.zone else None, "first_at": alert.first_at,
        "last_at": alert.last_at, "raised_at": alert.raised_at, "verify_by": alert.verify_by,
        "seconds_left": left if alert.state == AlertState.OPEN else 0, "late": alert.late, "rearmed": alert.rearmed,
        "lon": alert.lon, "lat": alert.lat, "place": alert.place.name if alert.place else None,
        "evidence_count": alert.evidence_count, "event_id": alert.event_id,
        "event_number": alert.event.number if alert.event else None, "dismiss_reason": alert.dismiss_reason,
        "version": alert.version,
    }


def step_row(step: AlertStep) -> dict[str, Any]:
    return {"action": step.action, "from_state": step.from_state, "to_state": step.to_state,
            "actor": step.actor_name, "at": step.at, "note": step.note}


def alert_actions(alert: Alert, user: Any) -> list[str]:
    if not policy.can(user, perms.HANDLE_ALERT.code, alert):
        return []
    return list(NEXT.get(alert.state, []))


def alert_detail(alert: Alert, user: Any) -> dict[str, Any]:
    return {**alert_row(alert), "steps": [step_row(s) for s in alert.steps.order_by("at", "id")],
            "evidence": list(alert.evidence), "actions": alert_actions(alert, user)}


def target_row(target: Target) -> dict[str, Any]:
    latest = LatestPosition.objects.filter(target=target).first()
    return {
        "id": target.pk, "kind": target.kind, "label": target.label, "area": target.area.code,
        "organisation": target.organisation.code if target.organisation else None, "owner": target.owner,
        "monitored": target.monitored, "interval_s": target.interval_s,
        "devices": [d.uid for d in target.devices.filter(is_active=True)],
        "latest": ({"t": latest.device_time, "lon": latest.lon, "lat": latest.lat, "accuracy_m": latest.accuracy_m}
                   if latest else None),
    }

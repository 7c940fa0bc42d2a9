"""Periodic jobs of 如燕 (registered at start-up).

- ``corrections.intake_sweep`` (every 10 minutes): a subject still pending intake after the tenth day from the
  decision taking effect (社区矫正法 art. 21) — the officer is told, once (``intake_alerted_at``).
- ``corrections.authorisations`` (every minute): approved authorisations whose start has come switch monitoring
  on; live ones whose period is over expire and switch it off (the tracking pipeline then refuses the subject's
  device fixes with ``not_monitored``); the officer is reminded 7 days and 1 day before the end of the current
  period, once each per period (a renewal is a new period with its own reminders).
- ``corrections.followcodes`` (hourly): issued follow codes a day past their expiry are deleted.

Each item is handled in its own transaction by an action whose conditional update makes it happen once, so a
pass is idempotent and two workers may overlap.
"""

from __future__ import annotations

import datetime as dt
import logging

from pingan.core.jobs import periodic
from pingan.corrections import actions
from pingan.corrections.models import (
    LIVE_AUTHORISATION_STATES,
    AuthorisationPeriod,
    AuthorisationState,
    MonitoringAuthorisation,
)

log = logging.getLogger("pingan.corrections")

BATCH = 500


@periodic("corrections.intake_sweep", every=dt.timedelta(minutes=10))
def intake_sweep(now: dt.datetime) -> int:
    done = 0
    for subject_id in actions.subjects_due_for_intake_alert(now):
        try:
            done += actions.alert_intake_overdue(subject_id, now)
        except Exception:  # one subject's failure stops nothing
            log.exception("intake alert for subject %s failed", subject_id)
    return done


@periodic("corrections.authorisations", every=dt.timedelta(minutes=1))
def authorisations(now: dt.datetime) -> dict[str, int]:
    counts = {"started": 0, "expired": 0, "reminded": 0}
    due_to_start = MonitoringAuthorisation.objects.filter(state=AuthorisationState.APPROVED, starts_at__lte=now,
                                                          ends_at__gt=now).values_list("id", flat=True)[:BATCH]
    for authorisation_id in list(due_to_start):
        counts["started"] += _safely(actions.start_authorisation, authorisation_id, now)
    due_to_end = MonitoringAuthorisation.objects.filter(state__in=LIVE_AUTHORISATION_STATES,
                                                        ends_at__lte=now).values_list("id", flat=True)[:BATCH]
    for authorisation_id in list(due_to_end):
        counts["expired"] += _safely(actions.expire_authorisation, authorisation_id, now)
    for name, ahead in sorted(actions.REMINDERS, key=lambda r: r[1]):  # the nearest first: it covers the others
        periods = AuthorisationPeriod.objects.filter(
            authorisation__state=AuthorisationState.ACTIVE, ends_at__gt=now, ends_at__lte=now + ahead,
            **{f"{name}__isnull": True}).values_list("id", flat=True)[:BATCH]
        for period_id in list(periods):
            counts["reminded"] += _safely(actions.remind_expiry, period_id, name, now)
    return counts


@periodic("corrections.followcodes", every=dt.timedelta(hours=1))
def followcodes(now: dt.datetime) -> int:
    return actions.purge_codes(now)


def _safely(step, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(step(*args))
    except Exception:
        log.exception("%s%r failed", step.__name__, args)
        return False


# Leave and boundary ------------------------------------------------------------------------------

from django.conf import settings  # noqa: E402

from pingan.corrections.models import LeaveRequest, LeaveState  # noqa: E402


@periodic("corrections.leave", every=dt.timedelta(minutes=1))
def leave(now: dt.datetime) -> dict[str, int]:
    """Approved leaves whose start has come: the boundary rule is suspended for the subject (and the destination
    allowed); leaves whose end has come: it applies again; leaves past the end plus the grace hours without the
    subject reporting back: overdue, and a ``leave_late_return`` alert, once."""
    counts = {"started": 0, "ended": 0, "overdue": 0}
    for leave_id in list(LeaveRequest.objects.filter(state=LeaveState.APPROVED, starts_at__lte=now)
                         .values_list("id", flat=True)[:BATCH]):
        counts["started"] += _safely(actions.start_leave, leave_id, now)
    for leave_id in list(LeaveRequest.objects.filter(suspended=True, ends_at__lte=now).values_list("id", flat=True)[:BATCH]):
        counts["ended"] += _safely(actions.end_leave_window, leave_id, now)
    grace = dt.timedelta(hours=float(settings.PINGAN_CORRECTIONS_LEAVE_GRACE_HOURS))
    for leave_id in list(LeaveRequest.objects.filter(state=LeaveState.ON_LEAVE, overdue_at__isnull=True,
                                                     ends_at__lte=now - grace, subject__state="in_correction")
                         .values_list("id", flat=True)[:BATCH]):
        counts["overdue"] += _safely(actions.mark_leave_overdue, leave_id, now)
    return counts


# Phone checks ---------------------------------------------------------------------------------------


@periodic("corrections.phone_checks", every=dt.timedelta(minutes=1))
def phone_checks(now: dt.datetime) -> dict[str, int]:
    """Draw today's and tomorrow's checks of the subjects not planned yet (at their level), put interrupted
    calls back, and call the checks that are due (``actions.run_phone_check``, once each by its conditional
    update)."""
    counts = {"planned": 0, "interrupted": 0, "called": 0}
    today = now.astimezone(actions.SHANGHAI).date()
    for day in (today, today + dt.timedelta(days=1)):
        for subject_id in actions.subjects_to_plan(day, limit=BATCH):
            counts["planned"] += int(_safely(actions.plan_phone_checks, subject_id, day, now))
    counts["interrupted"] = actions.interrupted_phone_checks(now)
    for check_id in actions.due_phone_checks(now):
        counts["called"] += _safely(actions.run_phone_check, check_id, now)
    return counts


# Lost contact -----------------------------------------------------------------------------------------


@periodic("corrections.lost_contact", every=dt.timedelta(minutes=5))
def lost_contact(now: dt.datetime) -> dict[str, int]:
    """Open a lost-contact spell for subjects silent for PINGAN_CORRECTIONS_LOST_CONTACT_HOURS; end the spells
    of subjects heard from since (device fixes through tracking, which corrections' screening does not see)."""
    from pingan.corrections.models import Subject

    counts = {"lost": 0, "regained": 0}
    for subject_id in actions.subjects_out_of_contact(now, limit=BATCH):
        counts["lost"] += _safely(actions.detect_lost_contact, subject_id, now)
    for subject in Subject.objects.filter(pk__in=actions.open_spells_regained(now, limit=BATCH)):
        counts["regained"] += _safely(actions.regain_contact, subject, now, "tracking")
    return counts


# Core areas and reverse warnings ----------------------------------------------------------------------


@periodic("corrections.warnings", every=dt.timedelta(minutes=1))
def warnings(now: dt.datetime) -> int:
    """Core-area warnings still open or being verified past their deadline escalate by themselves, once."""
    done = 0
    for alert_id in actions.warnings_due(now):
        done += _safely(actions.auto_escalate, alert_id, now)
    return done

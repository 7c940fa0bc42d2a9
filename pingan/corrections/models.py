"""如燕 community-correction supervision (社区矫正): subjects, their restrictions, monitoring authorisations
(社区矫正法 art. 29), records, level changes, transfers, follow codes, scans and check-ins.

Data and invariants only; every change of state is a function in ``actions.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pingan.core import personal


class CorrectionType(models.TextChoices):
    CONTROL = "control", _("control")
    PROBATION = "probation", _("probation")
    PAROLE = "parole", _("parole")
    OUTSIDE_PRISON = "outside_prison", _("temporary service outside prison")


#: the types a proposal to revoke applies to (缓刑、假释: revoke; 暂予监外执行: commit to prison); 管制 has none
REVOCABLE_TYPES = (CorrectionType.PROBATION, CorrectionType.PAROLE, CorrectionType.OUTSIDE_PRISON)


class Level(models.TextChoices):
    STRICT = "strict", _("strict")
    ORDINARY = "ordinary", _("ordinary")
    LENIENT = "lenient", _("lenient")


class SubjectState(models.TextChoices):
    PENDING = "pending", _("pending intake")
    IN_CORRECTION = "in_correction", _("in correction")
    RELEASED = "released", _("released")
    TERMINATED = "terminated", _("terminated")


OPEN_SUBJECT_STATES = (SubjectState.PENDING, SubjectState.IN_CORRECTION)
FINAL_SUBJECT_STATES = (SubjectState.RELEASED, SubjectState.TERMINATED)


class EndReason(models.TextChoices):
    TERM_COMPLETED = "term_completed", _("term completed")
    REVOKED = "revoked", _("probation or parole revoked")
    COMMITTED = "committed", _("committed to prison")
    NEW_SENTENCE = "new_sentence", _("sentenced for another offence")
    DEATH = "death", _("death")


TERMINATION_REASONS = (EndReason.REVOKED, EndReason.COMMITTED, EndReason.NEW_SENTENCE, EndReason.DEATH)


class SubjectSequence(models.Model):
    """The last file number handed out per year, for JZ-YYYY-NNNNNN."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Subject(models.Model):
    """A community-correction subject (社区矫正对象): a person under a court's or a prison authority's decision,
    supervised by a judicial office (司法所) and one supervising officer. The identity lives on ``person`` and
    is shown masked; a full view goes through ``accounts.actions.reveal_person`` (audited)."""

    number = models.CharField(_("file number"), max_length=20, unique=True)
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("person"))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="correction_subject", verbose_name=_("subject's login"))
    correction_type = models.CharField(_("correction type"), max_length=16, choices=CorrectionType.choices)
    decision_body = models.CharField(_("decision body"), max_length=120)
    decision_number = models.CharField(_("decision document number"), max_length=60)
    decision_effective_on = models.DateField(_("decision effective on"))
    offence_on = models.DateField(_("offence committed on"), null=True, blank=True)
    supervision_start = models.DateField(_("supervision starts"))
    supervision_end = models.DateField(_("supervision ends"))
    level = models.CharField(_("management level"), max_length=10, choices=Level.choices, default=Level.ORDINARY)
    judicial_office = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("judicial office"))
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("supervising officer"))
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("residence area"))
    permitted_area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("permitted area"),
                                       help_text=_("Where the subject may move without approval (default: the district)"))
    home_lon = models.FloatField(_("home longitude"), null=True, blank=True)
    home_lat = models.FloatField(_("home latitude"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20)
    is_minor = models.BooleanField(_("minor"), default=False, help_text=_("Under 18 when the offence was committed"))
    sealed = models.BooleanField(_("sealed"), default=False)
    state = models.CharField(_("state"), max_length=16, choices=SubjectState.choices, default=SubjectState.PENDING,
                             db_index=True)
    intake_due = models.DateField(_("report by"))
    intake_at = models.DateTimeField(_("reported in at"), null=True, blank=True)
    intake_late = models.BooleanField(_("reported in late"), default=False)
    intake_alerted_at = models.DateTimeField(null=True, blank=True, help_text="when the officer was told the intake is overdue")
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=16, choices=EndReason.choices, blank=True)
    end_note = models.TextField(_("end note"), blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    target = models.OneToOneField("tracking.Target", on_delete=models.PROTECT, related_name="+", verbose_name=_("target"))
    handle = models.CharField(max_length=24, unique=True, help_text="opaque id carried by follow codes")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("correction subject")
        verbose_name_plural = _("correction subjects")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "decision_number"], name="corrections_one_subject_per_decision"),
            models.UniqueConstraint(fields=["person"], condition=Q(state__in=["pending", "in_correction"]),
                                    name="corrections_one_open_subject_per_person"),
        ]

    def __str__(self) -> str:
        return self.number

    def audit_repr(self) -> str:
        return f"{self.number} {personal.mask_name(self.person.name)}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_SUBJECT_STATES


class ProhibitionOrder(models.Model):
    """A court prohibition order (禁止令): its text and the forbidden zones it names (tracking exclusion zones,
    owned by corrections, applying to this subject's target)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="prohibitions")
    text = models.TextField(_("order text"))
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    zones = models.ManyToManyField("tracking.Zone", blank=True, related_name="+", verbose_name=_("forbidden zones"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("prohibition order")
        verbose_name_plural = _("prohibition orders")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.subject_id}: {self.text[:40]}"


class CurfewWindow(models.Model):
    """Hours the subject must be at home: a tracking inclusion circle around the home point, active on the
    window's schedule (Asia/Shanghai)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="curfews")
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True, help_text="ISO weekdays 1–7; empty: every day")
    radius_m = models.FloatField(_("radius (m)"), default=200)
    zone = models.ForeignKey("tracking.Zone", on_delete=models.PROTECT, related_name="+", verbose_name=_("zone"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("curfew window")
        verbose_name_plural = _("curfew windows")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.subject_id}: {self.start:%H:%M}–{self.end:%H:%M}"


class Ground(models.TextChoices):
    """社区矫正法 art. 29: the only grounds on which electronic monitoring may be used."""

    PROHIBITION_ORDER = "prohibition_order", _("violated a court prohibition order")
    LEFT_AREA = "left_area", _("left the city or county without approval")
    REFUSED_REPORT = "refused_report", _("refused to report after a warning")
    ADMINISTRATIVE_PENALTY = "administrative_penalty", _("administrative penalty for violating supervision rules")
    REVOCATION_PENDING = "revocation_pending", _("a proposal to revoke is pending")


class AuthorisationState(models.TextChoices):
    APPROVED = "approved", _("approved, not started")
    ACTIVE = "active", _("in force")
    ENDED = "ended", _("ended early")
    EXPIRED = "expired", _("expired")


LIVE_AUTHORISATION_STATES = (AuthorisationState.APPROVED, AuthorisationState.ACTIVE)


class MonitoringAuthorisation(models.Model):
    """The approval to monitor a subject electronically (使用电子定位装置), on one of the five grounds, approved
    by the head of the county justice bureau, for periods of at most three months each."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="authorisations")
    ground = models.CharField(_("ground"), max_length=24, choices=Ground.choices)
    facts = models.TextField(_("facts"))
    state = models.CharField(_("state"), max_length=10, choices=AuthorisationState.choices,
                             default=AuthorisationState.APPROVED, db_index=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), db_index=True, help_text=_("The end of the current period"))
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("approver"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("requested by"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("monitoring authorisation")
        verbose_name_plural = _("monitoring authorisations")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subject"], condition=Q(state__in=["approved", "active"]),
                                    name="corrections_one_live_authorisation"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.ground} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"


class AuthorisationPeriod(models.Model):
    """One period of an authorisation: the first, and each renewal after an assessment."""

    authorisation = models.ForeignKey(MonitoringAuthorisation, on_delete=models.CASCADE, related_name="periods")
    number = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assessment = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    reminded_7d_at = models.DateTimeField(null=True, blank=True)
    reminded_1d_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["authorisation", "number"]
        constraints = [models.UniqueConstraint(fields=["authorisation", "number"], name="corrections_period_once")]

    def __str__(self) -> str:
        return f"{self.authorisation_id}#{self.number}"


class RecordKind(models.TextChoices):
    EDUCATION = "education", _("education")
    COMMUNITY_SERVICE = "community_service", _("community service")
    COMMENDATION = "commendation", _("commendation")
    WARNING = "warning", pgettext_lazy("correction record", "warning")
    REVOKE_PROPOSAL = "revoke_proposal", _("proposal to revoke")
    LOST_CONTACT = "lost_contact", _("lost contact")


#: kinds that stay open until closed with an outcome
OPEN_KINDS = (RecordKind.WARNING, RecordKind.REVOKE_PROPOSAL, RecordKind.LOST_CONTACT)


class RecordOutcome(models.TextChoices):
    RECTIFIED = "rectified", _("rectified")
    CONTACT_RESTORED = "contact_restored", _("contact restored")
    REVOKED = "revoked", _("decided: revoked")
    REJECTED = "rejected", _("decided: not revoked")


OUTCOMES: dict[str, tuple[str, ...]] = {
    RecordKind.WARNING: (RecordOutcome.RECTIFIED,),
    RecordKind.LOST_CONTACT: (RecordOutcome.CONTACT_RESTORED,),
    RecordKind.REVOKE_PROPOSAL: (RecordOutcome.REVOKED, RecordOutcome.REJECTED),
}


class Record(models.Model):
    """One entry of the subject's file: education, community service (with hours), a commendation, a warning,
    a proposal to revoke, or lost contact. Warnings, proposals and lost contact stay open until closed."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(_("kind"), max_length=20, choices=RecordKind.choices)
    occurred_on = models.DateField(_("date"))
    text = models.TextField(_("description"))
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1, null=True, blank=True)
    serious = models.BooleanField(_("serious violation"), default=False)
    is_open = models.BooleanField(_("still open"), default=False)
    outcome = models.CharField(_("outcome"), max_length=20, choices=RecordOutcome.choices, blank=True)
    outcome_note = models.TextField(_("outcome note"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("correction record")
        verbose_name_plural = _("correction records")
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["subject", "kind", "is_open"], name="corrections_record_open")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.kind} {self.occurred_on}"


class LevelChange(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="level_changes")
    from_level = models.CharField(max_length=10, choices=Level.choices)
    to_level = models.CharField(max_length=10, choices=Level.choices)
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.from_level}→{self.to_level}"


class Transfer(models.Model):
    """A change of judicial office (变更执行地 or a reassignment): the officer and the target's organisation follow."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="transfers")
    from_office = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    to_office = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    from_officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    to_officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+")
    to_area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.from_office_id}→{self.to_office_id}"


class IssuedCode(models.Model):
    """A follow code shown on the subject's phone: one per subject per time window. The token itself is not
    stored (it is verified by its signature); the short code is, so that a typed code can be found."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    window = models.BigIntegerField()
    nonce = models.CharField(max_length=16)
    short = models.CharField(max_length=8, db_index=True)
    kid = models.CharField(max_length=8)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "window"], name="corrections_code_once_per_window")]

    def __str__(self) -> str:
        return f"{self.subject_id}@{self.window}"


class ScanResult(models.TextChoices):
    ACCEPTED = "accepted", _("code accepted")
    REJECTED = "rejected", _("code rejected")


class Colour(models.TextChoices):
    GREEN = "green", _("green: normal")
    YELLOW = "yellow", _("yellow: attention")
    RED = "red", _("red: stop and report")


class Scan(models.Model):
    """One follow-code scan at a checkpoint (or by an officer), accepted or rejected, with the scanner's
    position; an accepted scan is also a fix of the subject's target (source ``scan``)."""

    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="scans")
    scanner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_index=True)
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField(default=10)
    typed = models.BooleanField(default=False)
    nonce = models.CharField(max_length=16, blank=True, db_index=True)
    result = models.CharField(max_length=10, choices=ScanResult.choices)
    reason = models.CharField(max_length=24, blank=True)
    colour = models.CharField(max_length=8, choices=Colour.choices, blank=True)
    repeat = models.BooleanField(default=False)
    fix_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("follow-code scan")
        verbose_name_plural = _("follow-code scans")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.result} {self.at:%Y-%m-%d %H:%M:%S}"


class CheckIn(models.Model):
    """The subject's own daily check-in from the phone page: a report (报告) and a fix (source ``checkin``)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="check_ins")
    at = models.DateTimeField()
    day = models.DateField(help_text="Asia/Shanghai")
    lon = models.FloatField()
    lat = models.FloatField()
    accuracy_m = models.FloatField(default=10)
    fix_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["subject", "day"], name="corrections_checkin_day")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.at:%Y-%m-%d %H:%M}"


# Leave and boundary ------------------------------------------------------------------------------


class LeaveState(models.TextChoices):
    PENDING = "pending", _("awaiting approval")
    APPROVED = "approved", _("approved")
    REFUSED = "refused", _("refused")
    CANCELLED = "cancelled", _("cancelled")
    ON_LEAVE = "on_leave", _("on leave")
    RETURNED = "returned", _("returned")
    OVERDUE = "overdue", _("not back in time")
    CLOSED = "closed", _("ended with the correction")


#: leave states that hold a window of the subject's calendar (no other leave may overlap them)
LIVE_LEAVE_STATES = (LeaveState.PENDING, LeaveState.APPROVED, LeaveState.ON_LEAVE, LeaveState.OVERDUE)
#: states in which an approved leave is in force between its start and its end
IN_FORCE_LEAVE_STATES = (LeaveState.APPROVED, LeaveState.ON_LEAVE)


class LeaveLevel(models.TextChoices):
    """Who approves (社区矫正法实施办法 art. 26): up to seven days the judicial office, when the county bureau
    delegates it; longer the county justice bureau."""

    OFFICE = "office", _("judicial office")
    BUREAU = "bureau", _("county justice bureau")


class LeaveRequest(models.Model):
    """A request to leave the permitted area (请假外出): destination, dates, reason; approved by the level the
    rule asks for. While an approved leave is in force the boundary rule is suspended for the subject and the
    destination is allowed; the subject reports back (销假) at the end, or is overdue."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="leaves")
    destination = models.CharField(_("destination"), max_length=200)
    dest_lon = models.FloatField(_("destination longitude"), null=True, blank=True)
    dest_lat = models.FloatField(_("destination latitude"), null=True, blank=True)
    radius_km = models.FloatField(_("radius (km)"), default=10)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), db_index=True)
    reason = models.TextField(_("reason"))
    state = models.CharField(_("state"), max_length=10, choices=LeaveState.choices, default=LeaveState.PENDING,
                             db_index=True)
    level = models.CharField(_("approval level"), max_length=8, choices=LeaveLevel.choices)
    stage = models.CharField(_("awaiting"), max_length=8, choices=LeaveLevel.choices, blank=True,
                             help_text="who decides next while pending")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("requested by"))
    requested_by_name = models.CharField(max_length=150, blank=True)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("approved or refused by"))
    decided_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    suspended = models.BooleanField(default=False, help_text="the boundary rule is suspended for this leave now")
    zone = models.ForeignKey("tracking.Zone", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="the inclusion zone allowed during the leave (permitted area and destination)")
    returned_at = models.DateTimeField(_("reported back at"), null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("leave request")
        verbose_name_plural = _("leave requests")
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["subject", "state"], name="corrections_leave_state")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.destination[:30]} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"

    @property
    def days(self) -> int:
        """Days the leave asks for: the duration rounded up to whole days."""
        seconds = (self.ends_at - self.starts_at).total_seconds()
        return max(1, -int(-seconds // 86400))


class LeaveStep(models.Model):
    """One step of a leave: requested, forwarded (the judicial office to the bureau), approved, refused,
    cancelled, started, ended (the window is over), returned, overdue, transferred (the subject moved to another
    judicial office), closed (the correction ended while the leave was in force)."""

    leave = models.ForeignKey(LeaveRequest, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=12)
    level = models.CharField(max_length=8, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.leave_id} {self.action}"


# Phone checks ---------------------------------------------------------------------------------------
# 智能电话核查: random calls by level, through a telephony adapter (``telephony.py``); see
# docs/modules/corrections.md, "Phone checks".


class PhoneCheckState(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    CALLING = "calling", _("calling")
    ANSWERED = "answered", _("answered")
    MISSED = "missed", _("missed")
    FAILED = "failed", _("failed")


FINAL_PHONE_CHECK_STATES = (PhoneCheckState.ANSWERED, PhoneCheckState.MISSED, PhoneCheckState.FAILED)


class VoiceVerdict(models.TextChoices):
    MATCH = "match", _("voice matches")
    MISMATCH = "mismatch", _("voice does not match")
    UNKNOWN = "unknown", _("voice not verified")


class PhoneCheckVerdict(models.TextChoices):
    OK = "ok", _("ok")
    POSITION_MISMATCH = "position_mismatch", _("not where the subject should be")
    VOICE_MISMATCH = "voice_mismatch", _("someone else answered")
    MISSED = "missed", _("not answered")
    FAILED = "failed", _("call failed")


class PhoneCheckPlan(models.Model):
    """That a subject's planned checks of one day (Asia/Shanghai) have been drawn, at which level: the job draws
    a day once per level (a level change redraws the checks still to come)."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    level = models.CharField(max_length=10, choices=Level.choices)
    planned_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "day"], name="corrections_phone_plan_once")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.day} {self.level}"


class PhoneCheck(models.Model):
    """One smart phone check (智能电话核查) of a subject: planned at a random time by level, or started by an
    officer; the call's outcome, the provider's voiceprint verdict, the phone's network position and how it
    compares with where the subject should be, and the alert it raised."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="phone_checks")
    scheduled_at = models.DateTimeField(_("scheduled at"))
    day = models.DateField(help_text="Asia/Shanghai day of scheduled_at")
    planned = models.BooleanField(_("planned"), default=True, help_text=_("Drawn by the plan (not started by an officer)"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("started by"))
    state = models.CharField(_("state"), max_length=10, choices=PhoneCheckState.choices,
                             default=PhoneCheckState.SCHEDULED)
    due_at = models.DateTimeField(help_text="when the next attempt is due (scheduled_at, then the retries)")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    answered = models.BooleanField(_("answered"), null=True, blank=True)
    voice = models.CharField(_("voice"), max_length=10, choices=VoiceVerdict.choices, blank=True)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    fix_id = models.BigIntegerField(null=True, blank=True)
    expected_area = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("where the subject should be"))
    leave = models.ForeignKey(LeaveRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("leave in force"),
                              help_text="the approved leave in force at the call: its destination counted as allowed")
    outside_m = models.FloatField(_("distance outside the permitted area (m)"), null=True, blank=True,
                                  help_text="outside the permitted area and, during a leave, the leave's area")
    home_m = models.FloatField(_("distance from home (m)"), null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=20, choices=PhoneCheckVerdict.choices, blank=True)
    alert = models.ForeignKey("tracking.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("alert"))
    provider = models.CharField(max_length=20, blank=True)
    provider_ref = models.CharField(max_length=80, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("phone check")
        verbose_name_plural = _("phone checks")
        ordering = ["-scheduled_at", "-id"]
        indexes = [
            models.Index(fields=["state", "due_at"], name="corrections_phonecheck_due"),
            models.Index(fields=["subject", "day"], name="corrections_phonecheck_day"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["subject", "scheduled_at"], condition=Q(planned=True),
                                    name="corrections_phonecheck_planned_once"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.scheduled_at:%Y-%m-%d %H:%M} {self.state}"

    @property
    def reference(self) -> str:
        """What the provider is given to correlate the call (no personal data)."""
        return f"PC{self.pk}"


# Lost contact -----------------------------------------------------------------------------------------
# 失联: no position from any source and no answered phone check for PINGAN_CORRECTIONS_LOST_CONTACT_HOURS.


class LostContact(models.Model):
    """One spell of lost contact: detected once (the alert and the open ``lost_contact`` record), until contact
    is regained (a new position or an answered check); the record is then closed by the officer."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lost_contacts")
    last_contact_at = models.DateTimeField(_("last contact at"))
    detected_at = models.DateTimeField(_("detected at"))
    record = models.ForeignKey(Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    alert = models.ForeignKey("tracking.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    regained_at = models.DateTimeField(_("contact regained at"), null=True, blank=True)
    regained_by = models.CharField(max_length=20, blank=True, help_text="the source that restored contact")

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subject"], condition=Q(regained_at__isnull=True),
                                    name="corrections_one_open_lost_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} since {self.last_contact_at:%Y-%m-%d %H:%M}"


# Core areas and reverse warnings ----------------------------------------------------------------------


class AppliesTo(models.TextChoices):
    ALL = "all", _("all subjects")
    LEVELS = "levels", _("some management levels")
    GROUPS = "groups", _("some target groups")


class VerifyMethod(models.TextChoices):
    PHONED_SUBJECT = "phoned_subject", _("phoned the subject")
    PHONED_OFFICER = "phoned_officer", _("phoned the supervising officer")
    ON_SITE = "on_site", _("checked on site")
    OTHER = "other", _("other")


class CoreArea(models.Model):
    """A core area (核心区): a place subjects must not enter while its schedule runs (a major event's dates, daily
    windows), for all subjects, some management levels or some target groups. It drives one tracking exclusion
    zone (owner ``corrections``, fast: alert without dwell); entering it raises a reverse warning to the
    supervising officer and a notice without identity to the police post."""

    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    zone = models.OneToOneField("tracking.Zone", on_delete=models.PROTECT, related_name="core_area",
                                verbose_name=_("zone"))
    schedule = models.JSONField(_("schedule"), null=True, blank=True, help_text=_("Empty: always"))
    applies_to = models.CharField(_("applies to"), max_length=8, choices=AppliesTo.choices, default=AppliesTo.ALL)
    levels = models.JSONField(_("management levels"), default=list, blank=True)
    groups = models.ManyToManyField("tracking.TargetGroup", blank=True, related_name="+", verbose_name=_("groups"))
    police_post = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("police post"))
    verify_minutes = models.PositiveIntegerField(_("minutes to verify"))
    buffer_m = models.FloatField(_("border tolerance (m)"), default=50)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("core area")
        verbose_name_plural = _("core areas")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

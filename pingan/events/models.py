"""The event closed loop (事件闭环): an event is reported, located, routed, handled, verified, closed.

Data and invariants only; every change of state is a function in ``actions.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class State(models.TextChoices):
    REPORTED = "reported", _("reported")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")
    MERGED = "merged", _("merged")
    DISPATCHED = "dispatched", _("dispatched")
    RETURNED = "returned", _("sent back")
    IN_PROGRESS = "in_progress", _("in progress")
    RESOLVED = "resolved", _("resolved")
    VERIFIED = "verified", _("verified")
    CLOSED = "closed", _("closed")
    PARKED = "parked", _("parked")


OPEN_STATES = (State.REPORTED, State.ACCEPTED, State.DISPATCHED, State.RETURNED, State.IN_PROGRESS, State.RESOLVED,
               State.VERIFIED)
FINAL_STATES = (State.CLOSED, State.REJECTED, State.MERGED)


class Source(models.TextChoices):
    GRID_PATROL = "grid_patrol", _("grid patrol")
    WORKSTATION_VISIT = "workstation_visit", _("workstation visit")
    HOTLINE_12345 = "hotline_12345", _("12345 hotline")
    PUBLIC = "public", _("public report")
    INSPECTION = "inspection", _("place inspection")
    TRACKING_ALERT = "tracking_alert", _("tracking alert")
    COURT_REFERRAL = "court_referral", _("court referral")
    PROCURATORATE_REFERRAL = "procuratorate_referral", _("procuratorate referral")


class Priority(models.TextChoices):
    LOW = "low", _("low")
    NORMAL = "normal", _("normal")
    HIGH = "high", _("high")
    URGENT = "urgent", _("urgent")


class Level(models.TextChoices):
    """Who holds the event: escalation moves it up one level (grid → workstation → town → district)."""

    GRID = "grid", pgettext_lazy("handling level", "grid")
    WORKSTATION = "workstation", pgettext_lazy("handling level", "workstation")
    TOWN = "town", pgettext_lazy("handling level", "town")
    DISTRICT = "district", pgettext_lazy("handling level", "district")


class ResolutionMethod(models.TextChoices):
    MEDIATED = "mediated", _("mediated")
    ENFORCED = "enforced", _("enforced")
    ADVISED = "advised", _("advised")
    REFERRED = "referred", _("referred")
    REPAIRED = "repaired", _("repaired")
    OTHER = "other", _("other")


class TimeBasis(models.TextChoices):
    WORKING = "working", _("working time")
    CALENDAR = "calendar", _("calendar time")


class EventType(models.Model):
    """Two-level taxonomy: 矛盾纠纷 → 邻里 / 婚姻家庭 / 劳动欠薪 …"""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    is_dispute = models.BooleanField(_("dispute"), default=False, help_text=_("Counts as a dispute (矛盾纠纷) in the figures."))
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("event type")
        verbose_name_plural = _("event types")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name


class RoutingRule(models.Model):
    """(type, area, priority) → lead unit, assisting units, time limits, auto-dispatch.

    The most specific matching rule wins (type before area before priority; then ``order``)."""

    name = models.CharField(_("name"), max_length=100)
    event_type = models.ForeignKey(EventType, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("event type"),
                                   help_text=_("A first-level type also matches its subtypes. Empty: any type."))
    area = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("area"),
                             help_text=_("Matches events inside this area. Empty: anywhere."))
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)
    lead_unit = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("lead unit"),
                                  help_text=_("Empty: the workstation covering the event's village."))
    assisting_units = models.ManyToManyField("accounts.Organisation", blank=True, related_name="+",
                                             verbose_name=_("assisting units"))
    auto_dispatch = models.BooleanField(_("dispatch automatically"), default=False)
    accept_minutes = models.PositiveIntegerField(_("time to accept (minutes)"), default=240)
    resolve_minutes = models.PositiveIntegerField(_("time to resolve (minutes)"), default=5 * 8 * 60)
    time_basis = models.CharField(_("time basis"), max_length=10, choices=TimeBasis.choices, default=TimeBasis.WORKING)
    warn_percent = models.PositiveSmallIntegerField(_("warn at (percentage of the limit)"), default=75)
    escalate_when_overdue = models.BooleanField(_("escalate when overdue"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    number = models.CharField(_("number"), max_length=24)
    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, verbose_name=_("type"), db_index=False)
    source = models.CharField(_("source"), max_length=24, choices=Source.choices)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.REPORTED)
    level = models.CharField(_("handling level"), max_length=12, choices=Level.choices, default=Level.WORKSTATION)
    title = models.CharField(_("title"), max_length=120)
    description = models.TextField(_("description"))
    tags = models.JSONField(_("tags"), default=list, blank=True)

    # who reported
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reported_events", verbose_name=_("reporter"))
    reporter_name = models.CharField(_("reporter name"), max_length=60, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=20, blank=True)

    # where: WGS-84 point, the input system kept, and the areas it falls in
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    input_crs = models.CharField(_("input coordinate system"), max_length=10, default="wgs84")
    address = models.CharField(_("address"), max_length=200, blank=True)
    microgrid = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    village = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    town = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("area"),
                             help_text=_("The finest area holding the event; the access policy scopes by it."))
    workstation = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="workstation_events", verbose_name=_("workstation"),
                                    db_index=False)

    # routing and handling
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lead_unit = models.ForeignKey("accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="lead_events", verbose_name=_("lead unit"))
    time_basis = models.CharField(max_length=10, choices=TimeBasis.choices, default=TimeBasis.WORKING)
    accept_due = models.DateTimeField(_("accept by"), null=True, blank=True)
    resolve_due = models.DateTimeField(_("resolve by"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    warned = models.BooleanField(_("warned (yellow)"), default=False)
    overdue = models.BooleanField(_("overdue (red)"), default=False)
    overdue_since = models.DateTimeField(null=True, blank=True)

    # supervision, parking, merging, repeats
    supervised = models.BooleanField(_("supervised"), default=False)
    supervise_note = models.CharField(_("supervision note"), max_length=200, blank=True)
    supervise_due = models.DateTimeField(_("supervision deadline"), null=True, blank=True)
    supervise_lapsed = models.BooleanField(_("supervision deadline passed"), default=False,
                                           help_text=_("Set by the sweep when the supervision deadline passes with the event still open."))
    parked_reason = models.CharField(_("reason parked"), max_length=200, blank=True)
    parked_until = models.DateField(_("review date"), null=True, blank=True)
    parked_from_state = models.CharField(max_length=12, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates",
                                    db_index=False)
    repeat_count = models.PositiveIntegerField(_("repeat reports"), default=0)
    reopened_count = models.PositiveIntegerField(_("times reopened"), default=0)

    # outcome
    result = models.TextField(_("result"), blank=True)
    measures = models.TextField(_("measures"), blank=True)
    resolution_method = models.CharField(_("how it was resolved"), max_length=12, choices=ResolutionMethod.choices, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    reject_reason = models.CharField(_("reason rejected"), max_length=200, blank=True)

    created_at = models.DateTimeField(_("reported at"), db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))
    on_time = models.BooleanField(null=True, blank=True, help_text=_("Resolved by the deadline (set when resolved)."))
    version = models.PositiveIntegerField(default=1, help_text=_("Bumped by every change; a stale writer gets 409."))

    #: not a column: True on the instance ``actions.report_event`` has just created (not on a replay by
    #: Idempotency-Key, nor on one read back), which then has its relations loaded, no attachments or
    #: extension requests, and tasks only if it was dispatched at once
    reported_now = False

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-created_at"]
        # Every report writes each index, so none repeats another's leading column (state, town, workstation
        # and event type are served by the composites); the few overdue, supervised and merged events have
        # partial indexes that a new report does not touch.
        indexes = [
            models.Index(fields=["state", "lead_unit"]),
            models.Index(fields=["state", "workstation"]),
            models.Index(fields=["state", "grid"]),
            models.Index(fields=["town", "created_at"]),
            models.Index(fields=["workstation", "created_at"]),
            models.Index(fields=["state"], condition=Q(overdue=True), name="events_event_overdue"),
            models.Index(fields=["state"], condition=Q(supervised=True), name="events_event_supervised"),
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False), name="events_event_merged"),
            models.Index(fields=["resolved_at"]),
            models.Index(fields=["closed_at"]),
            models.Index(fields=["event_type", "created_at"]),
        ]
        # a constraint, not unique=True: that would add a second (LIKE-pattern) index on PostgreSQL
        constraints = [models.UniqueConstraint(fields=["number"], name="unique_event_number")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class EventPerson(models.Model):
    class Role(models.TextChoices):
        PARTY = "party", _("party")
        REPORTER = "reporter", _("reporter")
        WITNESS = "witness", _("witness")
        OTHER = "other", _("other")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="persons")
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="events")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.PARTY)

    class Meta:
        verbose_name = _("person involved")
        verbose_name_plural = _("persons involved")
        constraints = [models.UniqueConstraint(fields=["event", "person", "role"], name="unique_event_person_role")]

    def __str__(self) -> str:
        return f"{self.event_id}:{self.person_id}"


class Attachment(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="events/%Y/%m/")
    name = models.CharField(_("name"), max_length=120)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    is_image = models.BooleanField(default=False)
    stage = models.CharField(max_length=12, default="report")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class TaskState(models.TextChoices):
    PENDING = "pending", _("pending")
    IN_PROGRESS = "in_progress", _("in progress")
    DONE = "done", _("done")
    RETURNED = "returned", _("sent back")


class Task(models.Model):
    """One unit's share of an event: the lead unit's task and each assisting unit's task."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="tasks", db_index=False)  # unique (event, unit)
    unit = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="event_tasks")
    is_lead = models.BooleanField(default=False)
    state = models.CharField(max_length=12, choices=TaskState.choices, default=TaskState.PENDING)
    due = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [models.UniqueConstraint(fields=["event", "unit"], name="unique_event_task_unit")]

    def __str__(self) -> str:
        return f"{self.event_id}:{self.unit_id}"


class Transition(models.Model):
    """The event's timeline: every transition and note, with who, when and why."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.action}"


class Extension(models.Model):
    """延期申请: the handling unit asks for more time; the dispatcher approves or refuses."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    new_due = models.DateTimeField()
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")

    def __str__(self) -> str:
        return f"{self.event_id} → {self.new_due}"


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_index=False)  # unique (user, key)
    key = models.CharField(max_length=80)
    body_hash = models.CharField(max_length=64)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return self.key


class WorkCalendarDay(models.Model):
    """An admin's override of the official calendar for one date (years chinese-calendar does not know)."""

    date = models.DateField(_("date"), primary_key=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("working calendar")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'holiday'}"


class EventSequence(models.Model):
    """Per-day counter for readable numbers (NX-20261129-000123); numbers are never reused."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Notification(models.Model):
    """In-app notification for one user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             db_index=False)  # index (user, read_at)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.text


class OutboundMessage(models.Model):
    """A message for an outbound channel (email, webhook, SMS); sent after commit, retried on failure."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed permanently")

    channel = models.CharField(max_length=20)
    recipient = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")

    def __str__(self) -> str:
        return f"{self.channel}:{self.recipient}"

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One append-only line of the audit log.

    The database refuses UPDATE and DELETE on this table (triggers installed by migration 0002), and
    each entry carries the hash of the one before, so ``pingan audit verify`` detects an altered or
    removed entry. Personal data inside ``changes`` and ``object_repr`` is stored masked.
    """

    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    actor_username = models.CharField(_("actor username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=100)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-id"]
        default_permissions = ("view",)
        # Every action appends here, so each index serves a search (``core.queries.search_audit``) and none
        # doubles another: on PostgreSQL ``unique=True`` or ``db_index`` on a text column adds a second,
        # LIKE-pattern index; the action's one index takes both equality and prefix searches.
        indexes = [
            models.Index(fields=["action"], opclasses=["varchar_pattern_ops"], name="core_audit_action"),
            models.Index(fields=["actor_username"], name="core_audit_actor"),
            models.Index(fields=["object_id", "object_type"], name="core_audit_object"),
            models.Index(fields=["request_id"], condition=~Q(request_id=""), name="core_audit_request"),
        ]
        constraints = [models.UniqueConstraint(fields=["hash"], name="unique_audit_hash")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type}:{self.object_id}"


class JobLease(models.Model):
    """When a periodic job runs next, and which worker holds it now (claimed by conditional UPDATE)."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self) -> str:
        return self.name

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from pingan.core import personal


class OrgKind(models.TextChoices):
    COMMITTEE = "committee", _("committee")
    DEPARTMENT = "department", _("department")
    POLICE_STATION = "police_station", _("police station")
    JUDICIAL_OFFICE = "judicial_office", _("judicial office")
    WORKSTATION = "workstation", _("linkage workstation")
    MEDIATION_COMMITTEE = "mediation_committee", _("people's mediation committee")
    COURT_STATION = "court_station", _("shared court station")
    DEPUTY_STATION = "deputy_station", _("deputy liaison station")
    ENTERPRISE = "enterprise", _("enterprise")
    TOWN_GOVERNMENT = "town_government", _("town government")


class Organisation(models.Model):
    """A department, police station, 司法所, linkage workstation, mediation committee, shared-court
    station, enterprise … ``areas`` is what it covers (a workstation's villages); ``area`` is its
    home area (a 司法所's town)."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=24, choices=OrgKind.choices, db_index=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    area = models.ForeignKey(
        "geo.Area", verbose_name=_("home area"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    areas = models.ManyToManyField("geo.Area", verbose_name=_("areas covered"), blank=True, related_name="organisations")
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


class Scope(models.TextChoices):
    DISTRICT = "district", _("whole district")
    AREA = "area", _("the assigned area")
    ORGANISATION = "organisation", _("the assigned organisation")
    OWN = "own", _("own records only")


class Role(models.Model):
    """A named set of permissions plus how far they reach (scope). Roles are data; the defaults
    come from ``pingan.accounts.defaults`` and admins may add more."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    person = models.OneToOneField(
        "accounts.Person", verbose_name=_("person"), null=True, blank=True, on_delete=models.SET_NULL, related_name="user"
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class RoleAssignment(models.Model):
    """A user holds a role over an area (subtree) and/or within an organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    area = models.ForeignKey("geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "area", "organisation"], name="unique_role_assignment")
        ]

    def __str__(self) -> str:
        where = self.area or self.organisation or ""
        return f"{self.user} · {self.role} · {where}"


class Gender(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")
    UNKNOWN = "", _("unknown")


class Person(models.Model):
    """A natural person, one record across every module (parties, visitors, subjects, drivers)."""

    name = models.CharField(_("name"), max_length=60)
    id_number = models.CharField(_("ID number"), max_length=18, null=True, blank=True, unique=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    photo = models.ImageField(_("photo"), upload_to="persons/", blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    area = models.ForeignKey(
        "geo.Area", verbose_name=_("residence area"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sealed = models.BooleanField(
        _("sealed"), default=False, help_text=_("Sealed records (e.g. minors) are hidden from everyone without a grant.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        ordering = ["id"]

    def __str__(self) -> str:
        return personal.mask_name(self.name)

    def audit_repr(self) -> str:
        return f"{personal.mask_name(self.name)} {personal.mask_id_number(self.id_number or '')}"


class ObjectGrant(models.Model):
    """A permission on one object for one user (e.g. the officer supervising a subject)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    permission = models.CharField(max_length=80)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    reason = models.CharField(max_length=200, blank=True)
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("object grant")
        verbose_name_plural = _("object grants")
        indexes = [models.Index(fields=["user", "permission", "content_type"])]

    def __str__(self) -> str:
        return f"{self.user} {self.permission} {self.content_type.model}:{self.object_id}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored (the token is high-entropy, so a slow
    password hash buys nothing); the plain token is shown once when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=60)
    prefix = models.CharField(_("prefix"), max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field


class TokenRequest(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=200)
    name: str = Field(default="api", max_length=60)
    scopes: list[str] = Field(default_factory=lambda: ["read"])
    days: int | None = Field(default=None, ge=1, le=366)


class TokenCreated(Schema):
    token: str
    id: int
    name: str
    scopes: list[str]
    expires_at: dt.datetime


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class RoleOut(Schema):
    code: str
    name: str
    name_en: str
    scope: str
    permissions: list[str]


class AssignmentOut(Schema):
    role: str
    area_code: str | None
    organisation_code: str | None


class MeOut(Schema):
    username: str
    display_name: str
    assignments: list[AssignmentOut]
    permissions: list[str]


class OrganisationOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    kind: str
    parent_code: str | None
    area_code: str | None
    address: str
    phone: str
    lon: float | None
    lat: float | None


class PersonOut(Schema):
    """A person as lists and the API show them: masked."""

    id: int
    name: str
    id_number: str
    phone: str
    address: str
    gender: str
    area_code: str | None
    masked: bool = True


class PersonIn(Schema):
    name: str = Field(max_length=60)
    id_number: str | None = Field(default=None, max_length=18)
    phone: str = Field(default="", max_length=20)
    address: str = Field(default="", max_length=200)
    area_code: str | None = Field(default=None, max_length=32)


class RevealIn(Schema):
    purpose: str = Field(default="", max_length=200)


class ErrorOut(Schema):
    code: str
    message: str

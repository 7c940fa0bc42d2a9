"""The audit log: record writes and sensitive reads; verify the hash chain.

Every action calls :func:`record` inside its transaction. Entries are chained: each holds the
SHA-256 of its own content and the previous entry's hash, so an altered or removed entry breaks the
chain at that point. The database refuses UPDATE and DELETE on the table (see migration 0002).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction

from pingan.core import clock, context
from pingan.core.models import AuditEntry

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x50494E47  # "PING": serialises appends so the chain stays linear


def _canonical(entry: AuditEntry) -> bytes:
    payload = [
        entry.prev_hash,
        entry.at.isoformat(timespec="microseconds"),
        entry.actor_id,
        entry.actor_username,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.object_repr,
        entry.changes,
        entry.ip,
        entry.request_id,
        entry.channel,
    ]
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def object_label(obj: models.Model | None) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    meta = obj._meta
    audit_repr = getattr(obj, "audit_repr", None)
    text = audit_repr() if callable(audit_repr) else str(obj)
    return f"{meta.app_label}.{meta.model_name}", str(obj.pk), text[:200]


def record(
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry. ``changes`` must already be masked where it holds personal data."""
    return record_many([Pending(actor, action, obj, changes, object_type, object_id, object_repr)])[0]


@dataclass
class Pending:
    """One entry to append with :func:`record_many` (the arguments of :func:`record`)."""

    actor: Any
    action: str
    obj: models.Model | None = None
    changes: Mapping[str, Any] | None = None
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""


def _head() -> str | None:
    """The newest entry's hash (one fixed statement: every audited write asks it)."""
    table, column, key = (connection.ops.quote_name(n) for n in (AuditEntry._meta.db_table, "hash", "id"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM {table} ORDER BY {key} DESC LIMIT 1")  # noqa: S608 (names from the model)
        row = cur.fetchone()
    return str(row[0]) if row else None


def record_many(pending: Sequence[Pending]) -> list[AuditEntry]:
    """Append several entries in order, chained as if :func:`record` had been called for each, with one
    read of the chain's head and one insert (what an action that records two steps at once uses)."""
    if not pending:
        return []
    ctx = context.current()
    # Inside a transaction (every action) the entries join it; alone they get one of their own. No
    # savepoint: a failure here fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        last = _head() or GENESIS
        entries = []
        for item in pending:
            otype, oid, orepr = object_label(item.obj)
            actor = item.actor
            user = actor if getattr(actor, "is_authenticated", False) else None
            moment = clock.now().astimezone(dt.UTC)
            entry = AuditEntry(
                # Millisecond precision: what every database and Django's JSON serialiser keep alike,
                # so a restored backup hashes the same.
                at=moment.replace(microsecond=moment.microsecond // 1000 * 1000),
                actor=user,
                actor_username=getattr(user, "username", "") if user else (actor if isinstance(actor, str) else ""),
                action=item.action,
                object_type=item.object_type or otype,
                object_id=item.object_id or oid,
                object_repr=item.object_repr or orepr,
                # Round-trip the JSON so the hash is computed over what the database will give back.
                changes=json.loads(json.dumps(dict(item.changes or {}), ensure_ascii=False, default=str)),
                ip=ctx.ip,
                request_id=ctx.request_id,
                channel=ctx.channel,
                prev_hash=last,
            )
            entry.hash = compute_hash(entry)
            last = entry.hash
            entries.append(entry)
        if len(entries) == 1:
            entries[0].save(force_insert=True)
        else:
            AuditEntry.objects.bulk_create(entries)
    return entries


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields that changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head: str
    broken_id: int | None = None
    reason: str = ""


def verify(entries: Iterable[AuditEntry] | None = None) -> VerifyResult:
    """Walk the chain in order; report the first entry whose hash or link does not hold."""
    rows = entries if entries is not None else AuditEntry.objects.order_by("id").iterator(chunk_size=2000)
    prev = GENESIS
    checked = 0
    for entry in rows:
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, prev, entry.id, "link to the previous entry is broken")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(False, checked, prev, entry.id, "content does not match its hash")
        prev = entry.hash
        checked += 1
    return VerifyResult(True, checked, prev)

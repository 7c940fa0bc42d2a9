from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from pingan.core import audit
from pingan.core.context import request_context
from pingan.core.models import AuditEntry


def _tamper(sql: str, params: list[object]) -> None:
    """Change a row behind the database's back (an attacker with DBA rights)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER core_auditentry_no_update")
            cur.execute(sql, params)
        else:
            cur.execute("ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_no_change")
            cur.execute(sql, params)
            cur.execute("ALTER TABLE core_auditentry ENABLE TRIGGER core_auditentry_no_change")


@pytest.mark.django_db
def test_entries_form_a_chain_that_verifies() -> None:
    earlier = AuditEntry.objects.count()  # set-up (default roles) is audited too
    head = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() or audit.GENESIS
    with request_context(ip="10.1.2.3", channel="web", request_id="abc123"):
        first = audit.record("cli", "pingan.test.one", changes={"a": 1})
        second = audit.record("cli", "pingan.test.two", changes={"b": "二"})
    assert first.prev_hash == head
    assert second.prev_hash == first.hash
    assert second.ip == "10.1.2.3" and second.request_id == "abc123" and second.channel == "web"
    result = audit.verify()
    assert result.ok and result.checked == earlier + 2 and result.head == second.hash


@pytest.mark.django_db
def test_several_entries_appended_at_once_chain_as_one_by_one(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    head = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() or audit.GENESIS
    with request_context(ip="10.1.2.3", channel="api", request_id="r1"), transaction.atomic():
        with django_assert_max_num_queries(3):  # (PostgreSQL: the chain's lock) the head, one insert
            first, second = audit.record_many([audit.Pending("cli", "pingan.test.one", changes={"a": 1}),
                                               audit.Pending("cli", "pingan.test.two", changes={"b": "二"})])
        third = audit.record("cli", "pingan.test.three")
    assert (first.prev_hash, second.prev_hash, third.prev_hash) == (head, first.hash, second.hash)
    stored = list(AuditEntry.objects.filter(action__startswith="pingan.test.").order_by("id"))
    assert [e.hash for e in stored] == [first.hash, second.hash, third.hash]
    assert stored[1].changes == {"b": "二"} and stored[1].request_id == "r1"
    assert audit.verify().ok
    assert audit.record_many([]) == []


@pytest.mark.django_db(transaction=True)
def test_database_refuses_update_and_delete_of_audit_entries() -> None:
    entry = audit.record("cli", "pingan.test.one")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="pingan.test.forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "pingan.test.one"


@pytest.mark.django_db
def test_verify_detects_an_altered_entry() -> None:
    first = audit.record("cli", "pingan.test.one", changes={"x": 1})
    middle = audit.record("cli", "pingan.test.two", changes={"x": 2})
    audit.record("cli", "pingan.test.three", changes={"x": 3})
    _tamper("UPDATE core_auditentry SET object_repr = %s WHERE id = %s", ["forged", middle.pk])
    result = audit.verify()
    assert not result.ok
    assert result.broken_id == middle.pk
    assert result.checked == AuditEntry.objects.filter(id__lte=first.pk).count()
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit", "verify")


@pytest.mark.django_db
def test_verify_detects_a_removed_entry() -> None:
    audit.record("cli", "pingan.test.one")
    middle = audit.record("cli", "pingan.test.two")
    last = audit.record("cli", "pingan.test.three")
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER core_auditentry_no_delete")
        else:
            cur.execute("ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_no_change")
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [middle.pk])
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE core_auditentry ENABLE TRIGGER core_auditentry_no_change")
    result = audit.verify()
    assert not result.ok and result.broken_id == last.pk


@pytest.mark.django_db
def test_audit_command_prints_head_when_chain_holds(capsys: pytest.CaptureFixture[str]) -> None:
    entry = audit.record("cli", "pingan.test.one")
    call_command("audit", "verify")
    assert entry.hash in capsys.readouterr().out

"""The SQLite backend (pingan.core.sqlite): the write transactions of one process take turns on a lock, so
many threads writing at once all succeed, and one that cannot get its turn in time fails as SQLite would."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection

from pingan.core.sqlite.base import DatabaseWrapper
from tests.threads import run_together


@pytest.fixture(autouse=True)
def _scratch_files_allowed(django_db_blocker):  # type: ignore[no-untyped-def]
    """These tests open SQLite files of their own, not the test database."""
    with django_db_blocker.unblock():
        yield


def wrapper(path: Path, timeout: float = 10) -> DatabaseWrapper:
    settings = {**connection.settings_dict, "ENGINE": "pingan.core.sqlite", "NAME": str(path), "TEST": {},
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;",
                            "transaction_mode": "IMMEDIATE", "timeout": timeout}}
    return DatabaseWrapper(settings, alias="scratch")


def begin(db: DatabaseWrapper) -> None:
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)  # what atomic() does


def end(db: DatabaseWrapper, commit: bool = True) -> None:
    db.commit() if commit else db.rollback()
    db.set_autocommit(True)


def test_threads_writing_at_once_all_succeed_taking_turns(tmp_path: Path) -> None:
    setup = wrapper(tmp_path / "w.sqlite3")
    with setup.cursor() as cur:
        cur.execute("CREATE TABLE counter (n INTEGER)")
        cur.execute("INSERT INTO counter VALUES (0)")
    setup.close()
    errors: list[BaseException] = []
    inside = {"now": 0, "most": 0}
    guard = threading.Lock()

    def work() -> None:
        db = wrapper(tmp_path / "w.sqlite3")
        try:
            for _ in range(10):
                begin(db)
                with guard:
                    inside["now"] += 1
                    inside["most"] = max(inside["most"], inside["now"])
                with db.cursor() as cur:
                    cur.execute("SELECT n FROM counter")
                    n = cur.fetchone()[0]
                    time.sleep(0.002)  # a request's Python work inside its transaction
                    cur.execute("UPDATE counter SET n = %s", [n + 1])
                with guard:
                    inside["now"] -= 1
                end(db)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            db.close()

    run_together(work, 8)
    check = wrapper(tmp_path / "w.sqlite3")
    with check.cursor() as cur:
        cur.execute("SELECT n FROM counter")
        assert cur.fetchone()[0] == 80
    check.close()
    assert not errors
    assert inside["most"] == 1  # one transaction at a time


def test_a_writer_that_gets_no_turn_in_time_fails_as_database_is_locked(tmp_path: Path) -> None:
    holder = wrapper(tmp_path / "l.sqlite3")
    begin(holder)
    outcome: dict[str, Any] = {}

    def wait() -> None:
        waiter = wrapper(tmp_path / "l.sqlite3", timeout=0.2)
        try:
            begin(waiter)
        except OperationalError as exc:
            outcome["error"] = str(exc)
        finally:
            waiter.close()

    t = threading.Thread(target=wait)
    t.start()
    t.join()
    assert "database is locked" in outcome["error"]
    end(holder, commit=False)  # a rollback gives the turn back too
    again = wrapper(tmp_path / "l.sqlite3", timeout=0.2)
    begin(again)
    end(again)
    again.close()
    holder.close()


def test_in_memory_databases_take_no_turns() -> None:
    db = wrapper(Path(":memory:"))
    assert db._writer_lock() is None

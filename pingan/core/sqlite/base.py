"""Django's SQLite backend, with the write transactions of one process taking turns on a lock.

SQLite has one writer at a time. With ``transaction_mode = IMMEDIATE`` every transaction takes the write lock
at ``BEGIN``; a second one waits in SQLite's busy handler, which polls with growing sleeps (1, 2, 5, 10 …
100 ms) until ``busy_timeout``. Served over ASGI, each request runs in a thread of its own, so under load many
threads of one process poll at once: the lock sits free while they sleep, throughput falls, and an unlucky
one waits past the timeout and fails with "database is locked".

Here the threads of one process queue on a ``threading.Lock`` before ``BEGIN`` instead, and the next one
starts the moment the previous one commits or rolls back. Waiting longer than the busy timeout fails with the
same ``OperationalError`` SQLite would raise. Other processes (``pingan worker``, commands) still meet SQLite's
own lock. In-memory databases (tests) are left as Django has them.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

#: how long a transaction waits for its turn, unless OPTIONS["timeout"] says otherwise (seconds)
DEFAULT_WAIT = 10.0


def _lock_for(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn: threading.Lock | None = None

    def _writer_lock(self) -> threading.Lock | None:
        if self.is_in_memory_db():
            return None
        return _lock_for(str(self.settings_dict["NAME"]))

    def _start_transaction_under_autocommit(self) -> None:
        lock = self._writer_lock()
        if lock is None or self._turn is not None:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in the stubs
            return
        wait = float(self.settings_dict.get("OPTIONS", {}).get("timeout", DEFAULT_WAIT))
        if not lock.acquire(timeout=wait):
            raise OperationalError(f"database is locked (no turn to write within {wait:g} s)")
        self._turn = lock
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in the stubs
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    def _commit(self) -> Any:
        result = super()._commit()  # type: ignore[misc]
        self._release()  # a failed commit keeps the turn until its rollback
        return result

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release()

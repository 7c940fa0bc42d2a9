"""Registry of ``pingan bench NAME`` benchmarks. A module registers ``func(quick) -> (figures, table)``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

BenchFunc = Callable[..., tuple[dict[str, Any], str]]  # (quick, **options) -> (figures, table)
_registry: dict[str, BenchFunc] = {}


def benchmark(name: str) -> Callable[[BenchFunc], BenchFunc]:
    def decorator(func: BenchFunc) -> BenchFunc:
        _registry[name] = func
        return func

    return decorator


def registered() -> dict[str, BenchFunc]:
    return dict(_registry)


# --- scratch databases, for benchmarks that measure on SQLite and PostgreSQL ------------------------

#: where a benchmark creates and drops its scratch PostgreSQL databases
PG_ADMIN_URL = os.environ.get("PINGAN_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return parts.geturl()


@contextlib.contextmanager
def scratch_sqlite(prefix: str) -> Iterator[tuple[str | None, str]]:
    """``(url, "")`` of a SQLite file in a temporary folder, removed afterwards."""
    folder = tempfile.mkdtemp(prefix=f"{prefix}-")
    try:
        yield f"sqlite:///{folder}/bench.sqlite3", ""
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def scratch_postgres(prefix: str) -> Iterator[tuple[str | None, str]]:
    """``(url, "")`` of a fresh PostgreSQL database on ``PG_ADMIN_URL``'s server, dropped afterwards; or
    ``(None, reason)`` when PostgreSQL can't be reached."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        yield None, "psycopg is not installed"
        return
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        yield None, f"{redact(PG_ADMIN_URL)} is not reachable ({str(exc).strip().splitlines()[0]})"
        return
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}").geturl(), ""
    finally:
        with contextlib.suppress(psycopg.Error):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()

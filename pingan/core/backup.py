"""Backup and restore of all Pingan data, portable between SQLite and PostgreSQL.

A backup is Django's JSON serialisation, gzipped, of every table except those that migrations
recreate (content types, permissions) and transient ones (sessions, login attempts). Restore loads it
into an empty migrated database and then verifies the audit chain.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.apps import apps
from django.core.management import call_command
from django.db import transaction

from pingan.core import audit

EXCLUDE = ["contenttypes", "auth.permission", "sessions", "admin.logentry", "axes"]


# Rows that `pingan migrate` creates by itself (data migrations); the backup brings its own.
# Models with a ``parent`` are emptied children first.
SETUP_TABLES = ("accounts.role", "accounts.organisation", "events.eventtype")


class RestoreError(Exception):
    pass


def _remove_setup_rows() -> None:
    for label in SETUP_TABLES:
        model = apps.get_model(label)
        if any(f.name == "parent" for f in model._meta.get_fields()):
            while model._default_manager.exists():  # children before parents (PROTECT)
                model._default_manager.filter(children__isnull=True).delete()
        else:
            model._default_manager.all().delete()


def _counted_models() -> list[str]:
    labels = []
    for model in apps.get_models():
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        if model._meta.app_label in EXCLUDE or label in EXCLUDE or not model._meta.managed:
            continue
        labels.append(label)
    return labels


def counts() -> dict[str, int]:
    return {label: apps.get_model(label)._default_manager.count() for label in _counted_models()}


def dump(path: Path) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pingan.json.gz"
        args = ["dumpdata", "--natural-foreign", "--indent", "0", "-o", str(out)]
        for item in EXCLUDE:
            args += ["--exclude", item]
        call_command(*args, verbosity=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, path)
    return counts()


def restore(path: Path) -> dict[str, int]:
    if not path.exists():
        raise RestoreError(f"no such file: {path}")
    not_empty = [label for label, n in counts().items() if n and label not in SETUP_TABLES]
    if not_empty:
        raise RestoreError("the database is not empty (" + ", ".join(not_empty[:5]) + "); restore needs an empty, migrated database")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pingan.json.gz"
        shutil.copyfile(path, src)
        with transaction.atomic():
            _remove_setup_rows()
            call_command("loaddata", str(src), verbosity=0)
            result = audit.verify()
            if not result.ok:
                raise RestoreError(f"the backup's audit chain is broken at entry {result.broken_id}: {result.reason}")
    return counts()

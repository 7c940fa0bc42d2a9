from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pingan.core import backup


class Command(BaseCommand):
    help = "Load a backup made by `pingan backup` into an empty, migrated database."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = backup.restore(Path(options["file"]))
        except backup.RestoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {sum(counts.values())} rows in {len(counts)} tables; audit chain verified")

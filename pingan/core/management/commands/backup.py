from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from pingan.core import backup


class Command(BaseCommand):
    help = "Write all Pingan data to FILE (a gzipped JSON dump that `pingan restore` reads)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = backup.dump(Path(options["file"]))
        self.stdout.write(f"backup written to {options['file']}: {sum(counts.values())} rows in {len(counts)} tables")

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pingan.core import audit


class Command(BaseCommand):
    help = "Audit log tools. `pingan audit verify` checks the hash chain end to end."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("what", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        if not result.ok:
            raise CommandError(
                f"audit chain BROKEN at entry {result.broken_id}: {result.reason} ({result.checked} entries good before it)"
            )
        self.stdout.write(f"audit chain OK: {result.checked} entries; head {result.head}")
        self.stdout.write("Record the head hash outside this system to detect removal of the newest entries.")

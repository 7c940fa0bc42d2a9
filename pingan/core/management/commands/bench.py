from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pingan.core import benchmarks


class Command(BaseCommand):
    help = "Run a benchmark: a human table, or one JSON object of its figures with --json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="one of: " + ", ".join(sorted(benchmarks.registered())))
        parser.add_argument("--json", action="store_true", help="print one JSON object of the figures")
        parser.add_argument("--quick", action="store_true", help="run small, in under a minute")
        parser.add_argument("--events", type=int, default=None, help="events bench: how many historical events")
        parser.add_argument("--scale", choices=["small", "province"], default=None,
                            help="tracking bench: province (default) or small (1/20 of it)")
        parser.add_argument("--subjects", type=int, default=None, help="corrections bench: how many subjects")
        parser.add_argument("--days", type=int, default=None, help="corrections bench: how many campaign days")
        parser.add_argument("--workers", type=int, default=None, help="corrections bench: replay processes")
        parser.add_argument("--seed", type=int, default=None, help="corrections bench: the load's seed")
        parser.add_argument("--database", choices=["sqlite", "postgresql"], default=None,
                            help="corrections bench: where alerts are stored (default sqlite)")

    def handle(self, *args: Any, **options: Any) -> None:
        func = benchmarks.registered().get(options["name"])
        if func is None:
            raise CommandError(f"no benchmark {options['name']!r}; known: {', '.join(sorted(benchmarks.registered()))}")
        extra = {k: options[k] for k in ("events", "scale", "subjects", "days", "workers", "seed", "database")
                 if options.get(k) is not None}
        figures, table = func(options["quick"], **extra)
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False, default=str))
        else:
            self.stdout.write(table)

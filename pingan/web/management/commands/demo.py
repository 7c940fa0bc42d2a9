from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from pingan.web.demo import load_demo


class Command(BaseCommand):
    help = "Migrate, load the demo district (南浔区) and its users, print the logins, and serve."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-serve", action="store_true", help="load only; do not start the server")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        logins, password, generated = load_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo district ready in {time.monotonic() - started:.1f} s."))
        self.stdout.write("")
        self.stdout.write(f"{'username':<16} {'role':<28} scope")
        for x in logins:
            self.stdout.write(f"{x.username:<16} {x.role:<28} {x.scope}")
        self.stdout.write("")
        source = "generated for this demo" if generated else "from PINGAN_DEMO_PASSWORD or the previous run"
        self.stdout.write(f"Password for every demo user ({source}): {password}")
        self.stdout.write("Logins written to var/demo-logins.json")
        if not options["no_serve"]:
            call_command("serve", host=options["host"], port=options["port"])

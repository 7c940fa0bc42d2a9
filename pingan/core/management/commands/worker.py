from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from pingan.core import jobs


class Command(BaseCommand):
    help = "Run the periodic jobs and the enabled consumers (MQTT, stream) until SIGTERM or Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run what is due once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            ran = jobs.run_due()
            self.stdout.write("ran: " + (", ".join(ran) or "nothing due"))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        jobs.run_forever(stop, tick=settings.PINGAN_WORKER_TICK_SECONDS)

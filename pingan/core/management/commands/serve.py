from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Pingan with uvicorn (ASGI); also runs the periodic jobs and consumers unless --no-worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="production: run `pingan worker` apart")

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        from pingan.core import jobs

        stop = threading.Event()
        worker = None
        if not options["no_worker"]:
            worker = threading.Thread(
                target=jobs.run_forever, args=(stop,), kwargs={"tick": settings.PINGAN_WORKER_TICK_SECONDS},
                name="pingan-worker", daemon=True,
            )
            worker.start()
        self.stdout.write(f"Pingan on http://{options['host']}:{options['port']}/")
        config = uvicorn.Config(
            "pingan.asgi:application", host=options["host"], port=options["port"], lifespan="off",
            proxy_headers=True, forwarded_allow_ips=settings.PINGAN_FORWARDED_ALLOW_IPS, log_level="info",
        )
        server = uvicorn.Server(config)
        previous = signal.getsignal(signal.SIGTERM)
        try:
            server.run()
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)
            signal.signal(signal.SIGTERM, previous)

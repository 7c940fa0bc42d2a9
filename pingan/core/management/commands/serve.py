from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from pingan.core.serving import server_workers


def shared_cache(say: Any) -> None:
    """Several server processes must count rate limits in one cache: without ``CACHE_URL`` (the default is
    per process), the children get a file cache under ``PINGAN_VAR_DIR``."""
    if os.environ.get("CACHE_URL"):
        return
    folder = Path(settings.VAR_DIR) / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["CACHE_URL"] = f"filecache://{folder}"
    say(f"CACHE_URL is not set: the server processes share the file cache {folder}")


def tcp_socket(sock: socket.socket) -> socket.socket:
    """The listening socket uvicorn bound, marked as TCP. ``Config.bind_socket`` leaves ``proto`` at 0, accepted
    connections inherit it, and asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP; so with
    several server processes every keep-alive request after the first waited ~40 ms for a delayed ACK
    (uvicorn issue #3149). One process is not affected: uvicorn then binds through asyncio."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto == socket.IPPROTO_TCP:
        return sock
    marked = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    marked.set_inheritable(True)
    return marked


class Command(BaseCommand):
    help = "Serve Pingan with uvicorn (ASGI); also runs the periodic jobs and consumers unless --no-worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="production: run `pingan worker` apart")
        parser.add_argument("--workers", type=int, default=None,
                            help="server processes (default PINGAN_SERVE_WORKERS: 1 on SQLite, the cores on PostgreSQL)")

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
        processes = max(1, options["workers"] or server_workers())
        self.stdout.write(f"Pingan on http://{options['host']}:{options['port']}/ ({processes} server processes)")
        config = uvicorn.Config(
            "pingan.asgi:application", host=options["host"], port=options["port"], lifespan="off",
            proxy_headers=True, forwarded_allow_ips=settings.PINGAN_FORWARDED_ALLOW_IPS, log_level="info",
            workers=processes,
        )
        server = uvicorn.Server(config)
        previous = signal.getsignal(signal.SIGTERM)
        try:
            if processes > 1:
                shared_cache(self.stdout.write)
                # What uvicorn.run does for workers: the socket bound here, served by child processes
                # (the jobs thread stays in this process, so jobs run once).
                from uvicorn.supervisors import Multiprocess

                Multiprocess(config, sockets=[tcp_socket(config.bind_socket())]).run()
            else:
                server.run()
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)
            signal.signal(signal.SIGTERM, previous)

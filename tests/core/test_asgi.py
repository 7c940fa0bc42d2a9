"""The ASGI application pingan serve runs: Django's WSGI handler on a fixed pool of threads (a2wsgi), or
Django's ASGI handler where a2wsgi is not installed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def call(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []
    asked = []

    async def receive() -> dict[str, Any]:
        asked.append(1)
        if len(asked) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the answer is written
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout=30)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.django_db(transaction=True)
def test_the_served_application_answers_through_the_middleware(settings) -> None:  # type: ignore[no-untyped-def]
    from pingan.asgi import application

    settings.ALLOWED_HOSTS = ["testserver"]
    status, headers, body = call(application, "/healthz")
    assert status in (200, 503) and b"status" in body  # 503 only if the thread cannot reach the test database
    assert headers.get("x-request-id")  # the request went through Pingan's middleware


def test_a2wsgi_serves_on_the_configured_number_of_threads(settings) -> None:  # type: ignore[no-untyped-def]
    a2wsgi = pytest.importorskip("a2wsgi")
    from pingan.asgi import application

    assert isinstance(application, a2wsgi.WSGIMiddleware)
    assert application.executor._max_workers == settings.PINGAN_SERVE_THREADS


def test_the_socket_shared_by_several_server_processes_is_marked_tcp_so_answers_are_not_held_back() -> None:
    import socket

    import uvicorn

    from pingan.core.management.commands.serve import tcp_socket

    config = uvicorn.Config("pingan.asgi:application", host="127.0.0.1", port=0)
    bound = config.bind_socket()  # what uvicorn hands its worker processes: proto 0
    address = bound.getsockname()
    marked = tcp_socket(bound)
    try:
        assert marked.proto == socket.IPPROTO_TCP and marked.getsockname() == address and marked.get_inheritable()
        marked.listen()  # as asyncio does in each worker
        client = socket.create_connection(address)
        accepted, _ = marked.accept()
        assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks before setting TCP_NODELAY
        accepted.close()
        client.close()
    finally:
        marked.close()

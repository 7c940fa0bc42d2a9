from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from pingan.core import context


def client_ip(request: HttpRequest, *args: object) -> str | None:
    """The client's address. Behind a proxy, uvicorn sets REMOTE_ADDR from X-Forwarded-For, but
    only when the connection comes from a trusted proxy (PINGAN_FORWARDED_ALLOW_IPS)."""
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Gives each request an id (or keeps the proxy's X-Request-ID) for logs and the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if incoming.isalnum() and len(incoming) <= 64 else None
        channel = "api" if request.path.startswith("/api/") else "web"
        with context.request_context(ip=client_ip(request), channel=channel, request_id=rid) as ctx:
            request.request_id = ctx.request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response


class ActorMiddleware:
    """Marks responses to logged-in users as private (pages may hold personal data)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response.setdefault("Cache-Control", "private, no-store")
        return response

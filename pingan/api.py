"""The REST API: one NinjaAPI that mounts each app's router and maps domain errors to HTTP."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from pingan.accounts import actions as account_actions
from pingan.core.errors import DomainError

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    """``Authorization: Bearer pa_…`` — a personal API token. A read-only token cannot write."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = account_actions.authenticate_token(token)
        if found is None:
            return None
        user, api_token = found
        if request.method not in SAFE_METHODS and "write" not in api_token.scopes:
            raise DomainError("token_scope", "this token may only read")
        request.user = user
        request.api_token = api_token  # type: ignore[attr-defined]
        return user


class SessionAuth(APIKeyCookie):
    """The browser's session (pages call the API with it); CSRF is checked for writes."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


api = NinjaAPI(
    title="Pingan API",
    version="1",
    description="平安建设 platform API. Authenticate with a personal token (POST /api/v1/auth/token) or a session.",
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    urls_namespace="api",
)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    status = exc.status if exc.code != "token_scope" else 403
    return api.create_response(request, body, status=status)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"code": "unauthenticated", "message": "log in or send a valid API token"}, status=401)


def _mount() -> None:
    from pingan.accounts.api import router as accounts_router
    from pingan.core.api import router as core_router
    from pingan.corrections.api import router as corrections_router
    from pingan.dashboard.api import router as dashboard_router
    from pingan.events.api import router as events_router
    from pingan.fieldwork.api import router as fieldwork_router
    from pingan.geo.api import router as geo_router
    from pingan.tracking.api import router as tracking_router

    api.add_router("/", accounts_router)
    api.add_router("/areas", geo_router)
    api.add_router("/audit", core_router)
    api.add_router("/events", events_router)
    api.add_router("/fieldwork", fieldwork_router)
    api.add_router("/dashboard", dashboard_router)
    api.add_router("/tracking", tracking_router)
    api.add_router("/corrections", corrections_router)


_mount()

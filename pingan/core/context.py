"""Who is acting, from where, under which request id: held in ContextVars for the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    channel: str = "system"  # web, api, cli, worker, device


_current: ContextVar[RequestContext | None] = ContextVar("pingan_request_context", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        ctx = RequestContext(request_id=new_request_id())
        _current.set(ctx)
    return ctx


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_context(*, ip: str | None = None, channel: str = "system", request_id: str | None = None) -> Iterator[RequestContext]:
    ctx = RequestContext(request_id=request_id or new_request_id(), ip=ip, channel=channel)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)

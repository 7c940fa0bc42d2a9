"""Outbound notification channels behind one interface: console, email, webhook (DingTalk-style), SMS.

A channel is a class registered with ``@channel("name")``. It says which addresses a set of users has
on it (``addresses``) and sends one stored :class:`~pingan.events.models.OutboundMessage` (``send``).
A send that fails raises :class:`ChannelError`; ``permanent=True`` means retrying cannot help (no such
address, a refused signature), otherwise the message is retried later with backoff (``notify.deliver_due``).

Settings:

- ``PINGAN_NOTIFY_CHANNELS``: the channels notifications go out on, default ``["console"]``.
- ``PINGAN_WEBHOOK_URL``, ``PINGAN_WEBHOOK_SECRET``: the group robot's URL (with its ``access_token``) and
  the "加签" secret (``SEC…``); ``PINGAN_WEBHOOK_TIMEOUT`` seconds (default 10).
- ``PINGAN_SMS_GATEWAY``: dotted path of an :class:`SmsGateway` subclass (default: this logging one).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from pingan.events.models import OutboundMessage

log = logging.getLogger("pingan.notify")


class ChannelError(Exception):
    """A send failed. ``permanent``: retrying will not help, so the message is marked failed at once."""

    def __init__(self, message: str = "", *, permanent: bool = False) -> None:
        super().__init__(message or "send failed")
        self.permanent = permanent


class Channel:
    """One way of getting a message to people."""

    name: ClassVar[str] = ""

    def addresses(self, users: Iterable[Any]) -> list[str]:
        """The recipients (one OutboundMessage each) for these users; users without an address are skipped."""
        return [user.username for user in users]

    def send(self, message: OutboundMessage) -> None:
        raise NotImplementedError


_registry: dict[str, type[Channel]] = {}

C = TypeVar("C", bound=type[Channel])


def channel(name: str) -> Callable[[C], C]:
    """Register a channel class under ``name`` (the value stored in ``OutboundMessage.channel``)."""

    def decorator(cls: C) -> C:
        if name in _registry and _registry[name] is not cls:
            raise ValueError(f"channel {name!r} registered twice")
        cls.name = name
        _registry[name] = cls
        return cls

    return decorator


def registered() -> dict[str, type[Channel]]:
    return dict(_registry)


def get_channel(name: str) -> Channel:
    try:
        return _registry[name]()
    except KeyError:
        raise ChannelError(f"no channel named {name!r}", permanent=True) from None


def configured_channels() -> list[str]:
    return list(getattr(settings, "PINGAN_NOTIFY_CHANNELS", None) or ["console"])


def _text(message: OutboundMessage) -> str:
    return f"{message.subject}\n{message.body}" if message.subject else message.body


@channel("console")
class ConsoleChannel(Channel):
    """Writes the message to the log: for the demo, development, and sites without outbound mail."""

    def send(self, message: OutboundMessage) -> None:
        log.info("notification to %s: %s", message.recipient, _text(message).replace("\n", " · "))


@channel("email")
class EmailChannel(Channel):
    """Django's mail backend (``EMAIL_*`` settings); the recipient is the user's e-mail address."""

    def addresses(self, users: Iterable[Any]) -> list[str]:
        return [user.email for user in users if getattr(user, "email", "")]

    def send(self, message: OutboundMessage) -> None:
        try:
            send_mail(message.subject or message.body[:60], message.body, None, [message.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"mail server: {exc}") from exc


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), UTF-8.

    The value is not yet URL-encoded; :func:`signed_url` encodes it as a query parameter."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """``url`` with ``timestamp`` and ``sign`` query parameters added (``url`` may already hold some)."""
    if not secret:
        return url
    query = urllib.parse.urlencode({"timestamp": str(timestamp_ms), "sign": dingtalk_sign(secret, timestamp_ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


# DingTalk answers HTTP 200 with {"errcode": …}; these codes mean "slow down", worth retrying.
_DINGTALK_RETRY_CODES = {130101, -1}


@channel("webhook")
class WebhookChannel(Channel):
    """A group robot (DingTalk-style): one message per notification, POSTed as JSON to the robot's URL."""

    def addresses(self, users: Iterable[Any]) -> list[str]:
        return ["group"]  # one post to the group chat, whoever the users are

    def send(self, message: OutboundMessage) -> None:
        url = getattr(settings, "PINGAN_WEBHOOK_URL", "")
        if not url:
            raise ChannelError("PINGAN_WEBHOOK_URL is not set", permanent=True)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ChannelError("PINGAN_WEBHOOK_URL must be http(s)", permanent=True)
        secret = getattr(settings, "PINGAN_WEBHOOK_SECRET", "")
        # The robot checks the timestamp against its own clock (within an hour), so this is the
        # machine's real time, not the platform's injectable clock.
        target = signed_url(url, secret, int(time.time() * 1000))
        payload = json.dumps({"msgtype": "text", "text": {"content": _text(message)}}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            target, data=payload, method="POST", headers={"Content-Type": "application/json; charset=utf-8"})
        timeout = float(getattr(settings, "PINGAN_WEBHOOK_TIMEOUT", 10))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"HTTP {exc.code}", permanent=exc.code < 500 and exc.code not in (408, 429)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ChannelError(f"connection: {exc}") from exc
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return  # not a DingTalk answer; HTTP 2xx is success
        code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if code:
            raise ChannelError(f"errcode {code}: {answer.get('errmsg', '')}", permanent=code not in _DINGTALK_RETRY_CODES)


class SmsGateway:
    """The SMS interface. This default only logs; a real gateway subclasses it and is named by dotted path
    in ``PINGAN_SMS_GATEWAY``. ``send`` raises :class:`ChannelError` on failure."""

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)


@functools.cache
def _gateway(path: str) -> SmsGateway:
    gateway = import_string(path)()
    if not isinstance(gateway, SmsGateway):
        raise TypeError(f"{path} is not an SmsGateway")
    return gateway


def sms_gateway() -> SmsGateway:
    return _gateway(getattr(settings, "PINGAN_SMS_GATEWAY", "") or "pingan.events.channels.SmsGateway")


@channel("sms")
class SmsChannel(Channel):
    """Text messages through the configured :class:`SmsGateway`; the recipient is the user's phone."""

    def addresses(self, users: Iterable[Any]) -> list[str]:
        return [user.phone for user in users if getattr(user, "phone", "")]

    def send(self, message: OutboundMessage) -> None:
        try:
            gateway = sms_gateway()
        except (ImportError, TypeError) as exc:
            raise ChannelError(f"PINGAN_SMS_GATEWAY: {exc}", permanent=True) from exc
        gateway.send(message.recipient, _text(message))

"""Notifications: in-app rows, outbound messages per channel, delivery with retries and backoff."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from pingan.core.clock import FrozenClock, use_clock
from pingan.core.models import AuditEntry
from pingan.events import channels, notify
from pingan.events.channels import ChannelError, SmsGateway
from pingan.events.models import Notification, OutboundMessage
from tests.conftest import GRID_A

T0 = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)
Status = OutboundMessage.Status

pytestmark = pytest.mark.django_db


class Flaky:
    """State for the test channels below: how many sends to fail, and when sends were tried."""

    fail_times = 0
    permanent = False
    boom = False
    tried: list[dt.datetime] = []
    clock: FrozenClock | None = None


@channels.channel("test-flaky")
class FlakyChannel(channels.Channel):
    def send(self, message: OutboundMessage) -> None:
        Flaky.tried.append(Flaky.clock.now() if Flaky.clock else T0)
        if Flaky.boom:
            raise RuntimeError("a bug in the channel")
        if Flaky.fail_times:
            Flaky.fail_times -= 1
            raise ChannelError("gateway down", permanent=Flaky.permanent)


class RecordingGateway(SmsGateway):
    sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        RecordingGateway.sent.append((phone, text))


@pytest.fixture(autouse=True)
def _reset_flaky() -> Iterator[None]:
    Flaky.fail_times, Flaky.permanent, Flaky.boom, Flaky.tried, Flaky.clock = 0, False, False, [], None
    RecordingGateway.sent = []
    yield


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    a = make_user("grid_worker", area=GRID_A)
    b = make_user("workstation_staff", area=GRID_A)
    a.email, a.phone = "a@example.org", "13800000001"
    a.save(update_fields=["email", "phone"])
    return a, b


def test_notify_writes_one_in_app_row_per_active_user_and_console_messages_by_default(people, settings) -> None:  # type: ignore[no-untyped-def]
    a, b = people
    settings.PINGAN_NOTIFY_CHANNELS = None  # unset: console only
    inactive = type(a).objects.create(username="gone", is_active=False)
    with use_clock(FrozenClock(T0)):
        rows = notify.notify(None, "event.dispatched", "An event was dispatched to you", [a, b, a, None, inactive])
    assert sorted(r.user_id for r in rows) == sorted([a.pk, b.pk])
    assert Notification.objects.filter(kind="event.dispatched", created_at=T0).count() == 2
    assert sorted(OutboundMessage.objects.values_list("channel", "recipient")) == sorted(
        [("console", a.username), ("console", b.username)])


def test_each_channel_gets_the_addresses_it_can_use(people, settings) -> None:  # type: ignore[no-untyped-def]
    a, b = people
    settings.PINGAN_NOTIFY_CHANNELS = ["email", "sms", "webhook", "no-such-channel"]
    rows = notify.notify(None, "event.overdue", "overdue", [a, b])
    assert len(rows) == 2  # an unknown channel costs nothing in-app
    assert sorted(OutboundMessage.objects.values_list("channel", "recipient")) == [
        ("email", "a@example.org"), ("sms", "13800000001"), ("webhook", "group")]  # b has no email or phone


def test_notify_never_raises_into_the_caller(people, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Notification.objects, "bulk_create", broken)
    with caplog.at_level(logging.ERROR, logger="pingan.notify"):
        assert notify.notify(None, "event.accepted", "accepted", list(people)) == []
    assert "could not be stored" in caplog.text


def test_a_failing_channel_neither_blocks_nor_rolls_back_the_change_and_is_retried_later(
        people, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    a, _b = people
    settings.PINGAN_NOTIFY_CHANNELS = ["test-flaky"]
    Flaky.fail_times = 1
    clock = Flaky.clock = FrozenClock(T0)
    # the "transition": a change, and its notification after commit
    with use_clock(clock), django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        type(a).objects.filter(pk=a.pk).update(first_name="changed")
        transaction.on_commit(lambda: notify.notify(None, "event.accepted", "accepted", [a]))
    assert type(a).objects.get(pk=a.pk).first_name == "changed"
    message = OutboundMessage.objects.get()

    assert notify.deliver_due(T0) == 0  # the channel fails: no exception, the change stands
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == (Status.PENDING, 1, T0 + dt.timedelta(minutes=1))
    assert "gateway down" in message.last_error
    assert type(a).objects.get(pk=a.pk).first_name == "changed"

    assert notify.deliver_due(T0 + dt.timedelta(seconds=59)) == 0  # not yet
    assert len(Flaky.tried) == 1
    assert notify.deliver_due(T0 + dt.timedelta(minutes=1)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.SENT, 2, "")


def test_retries_back_off_1_5_30_and_120_minutes_then_the_message_fails() -> None:
    OutboundMessage.objects.create(channel="test-flaky", recipient="x", body="b", next_attempt_at=T0, created_at=T0)
    Flaky.fail_times = 99
    clock = Flaky.clock = FrozenClock(T0)
    for _ in range(6 * 60):  # six hours, minute by minute
        notify.deliver_due(clock.now())
        clock.advance(minutes=1)
    minutes = [int((t - T0).total_seconds() // 60) for t in Flaky.tried]
    assert minutes == [0, 1, 1 + 5, 1 + 5 + 30, 1 + 5 + 30 + 120]
    message = OutboundMessage.objects.get()
    assert (message.status, message.attempts) == (Status.FAILED, 5)
    assert message.last_error.startswith("attempt 5:")


def test_a_permanent_error_fails_the_message_at_once() -> None:
    OutboundMessage.objects.create(channel="test-flaky", recipient="x", body="b", next_attempt_at=T0, created_at=T0)
    Flaky.fail_times, Flaky.permanent = 1, True
    notify.deliver_due(T0)
    notify.deliver_due(T0 + dt.timedelta(hours=5))
    assert len(Flaky.tried) == 1
    assert OutboundMessage.objects.get().status == Status.FAILED


def test_a_channel_with_a_bug_is_retried_and_does_not_stop_the_other_messages(caplog) -> None:  # type: ignore[no-untyped-def]
    broken = OutboundMessage.objects.create(channel="test-flaky", recipient="x", body="b", next_attempt_at=T0,
                                            created_at=T0)
    fine = OutboundMessage.objects.create(channel="console", recipient="y", body="hello", next_attempt_at=T0,
                                          created_at=T0)
    Flaky.boom = True
    with caplog.at_level(logging.INFO, logger="pingan.notify"):
        assert notify.deliver_due(T0) == 1
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.status, broken.attempts) == (Status.PENDING, 1)
    assert "RuntimeError" in broken.last_error
    assert fine.status == Status.SENT
    assert "notification to y: hello" in caplog.text


def test_a_channel_that_is_down_is_tried_once_per_pass_and_the_others_wait_without_losing_an_attempt() -> None:
    first, second = (OutboundMessage.objects.create(channel="test-flaky", recipient=r, body="b", next_attempt_at=T0,
                                                    created_at=T0) for r in ("x", "y"))
    Flaky.fail_times = 1
    assert notify.deliver_due(T0) == 0
    assert len(Flaky.tried) == 1
    second.refresh_from_db()
    assert (second.status, second.attempts, second.next_attempt_at) == (Status.PENDING, 0, T0)
    assert notify.deliver_due(T0 + dt.timedelta(seconds=10)) == 1  # the channel is back: the waiting one goes
    assert notify.deliver_due(T0 + dt.timedelta(minutes=1)) == 1  # and the first one at its retry time
    assert OutboundMessage.objects.filter(status=Status.SENT).count() == 2


def test_a_pass_starts_no_send_once_its_time_budget_is_spent(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    OutboundMessage.objects.create(channel="console", recipient="y", body="b", next_attempt_at=T0, created_at=T0)
    monkeypatch.setattr(notify, "BUDGET_SECONDS", -1.0)
    assert notify.deliver_due(T0) == 0
    assert OutboundMessage.objects.get().attempts == 0


def test_a_message_claimed_by_another_worker_is_not_sent_twice() -> None:
    message = OutboundMessage.objects.create(channel="console", recipient="y", body="b", next_attempt_at=T0,
                                             created_at=T0)
    assert notify._claim(message.pk, 0, T0)
    assert not notify._claim(message.pk, 0, T0)  # the second worker read attempts=0 too
    assert notify.deliver_due(T0) == 0  # leased until T0 + 1 minute


def test_a_message_whose_last_attempt_was_interrupted_is_given_up() -> None:
    OutboundMessage.objects.create(channel="console", recipient="y", body="b", next_attempt_at=T0, created_at=T0,
                                   attempts=notify.MAX_ATTEMPTS)
    assert notify.deliver_due(T0) == 0
    assert OutboundMessage.objects.get().status == Status.FAILED


def test_messages_due_later_or_already_sent_are_left_alone() -> None:
    OutboundMessage.objects.create(channel="test-flaky", recipient="x", body="b", created_at=T0,
                                   next_attempt_at=T0 + dt.timedelta(minutes=5))
    OutboundMessage.objects.create(channel="test-flaky", recipient="x", body="b", created_at=T0, next_attempt_at=T0,
                                   status=Status.SENT)
    assert notify.deliver_due(T0) == 0
    assert Flaky.tried == []


def test_the_email_channel_sends_through_django_mail(people, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_NOTIFY_CHANNELS = ["email"]
    notify.notify(None, "event.overdue", "Event NX-1 is overdue", list(people))
    assert notify.deliver_due(dt.datetime.now(dt.UTC)) == 1
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    assert mail.outbox[0].body == "Event NX-1 is overdue"


def test_the_sms_channel_uses_the_gateway_named_in_the_settings(people, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_NOTIFY_CHANNELS = ["sms"]
    settings.PINGAN_SMS_GATEWAY = "tests.events.test_notify.RecordingGateway"
    notify.notify(None, "event.overdue", "overdue", list(people))
    assert notify.deliver_due(dt.datetime.now(dt.UTC)) == 1
    assert RecordingGateway.sent == [("13800000001", "overdue")]


def test_an_sms_gateway_that_is_not_one_is_a_permanent_failure(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_SMS_GATEWAY = "datetime.date"
    message = OutboundMessage(channel="sms", recipient="1", body="b")
    with pytest.raises(ChannelError) as caught:
        channels.get_channel("sms").send(message)
    assert caught.value.permanent


# --- webhook -------------------------------------------------------------------------------------

def test_the_webhook_signature_matches_a_hand_computed_example() -> None:
    # printf '1700000000000\nSECa1b2c3' | openssl dgst -sha256 -hmac 'SECa1b2c3' -binary | base64
    assert channels.dingtalk_sign("SECa1b2c3", 1700000000000) == "r3A3qrlgRa+TdR5aXyvO01zn0wmdf5B/XKtKbV42SDc="
    url = channels.signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "SECa1b2c3", 1700000000000)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000"
                   "&sign=r3A3qrlgRa%2BTdR5aXyvO01zn0wmdf5B%2FXKtKbV42SDc%3D")
    assert channels.signed_url("https://h/robot", "", 1) == "https://h/robot"  # no secret, no signature


class _Robot(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []
    answer: tuple[int, bytes] = (200, b'{"errcode":0,"errmsg":"ok"}')

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Robot.received.append((self.path, json.loads(body)))
        status, payload = _Robot.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def robot(settings) -> Iterator[type[_Robot]]:  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _Robot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Robot.received, _Robot.answer = [], (200, b'{"errcode":0,"errmsg":"ok"}')
    settings.PINGAN_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/robot/send?access_token=tok"
    settings.PINGAN_WEBHOOK_SECRET = "SECa1b2c3"
    settings.PINGAN_WEBHOOK_TIMEOUT = 5
    yield _Robot
    server.shutdown()
    server.server_close()


def _webhook_message() -> OutboundMessage:
    return OutboundMessage.objects.create(channel="webhook", recipient="group", subject="NX-1 噪音扰民",
                                          body="已超期", next_attempt_at=T0, created_at=T0)


def test_the_webhook_posts_dingtalk_text_json_with_a_valid_signature(robot) -> None:  # type: ignore[no-untyped-def]
    _webhook_message()
    assert notify.deliver_due(T0) == 1
    (path, payload), = robot.received
    assert payload == {"msgtype": "text", "text": {"content": "NX-1 噪音扰民\n已超期"}}
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert query["access_token"] == ["tok"]
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    expected = base64.b64encode(hmac.new(b"SECa1b2c3", f"{timestamp}\nSECa1b2c3".encode(), hashlib.sha256).digest())
    assert sign == expected.decode()


def test_a_webhook_server_error_is_retried_and_a_refusal_is_final(robot) -> None:  # type: ignore[no-untyped-def]
    message = _webhook_message()
    robot.answer = (502, b"bad gateway")
    notify.deliver_due(T0)
    message.refresh_from_db()
    assert (message.status, message.last_error) == (Status.PENDING, "attempt 1: ChannelError: HTTP 502")
    robot.answer = (200, b'{"errcode":310000,"errmsg":"sign not match"}')
    notify.deliver_due(T0 + dt.timedelta(minutes=1))
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "310000" in message.last_error


def test_a_webhook_without_a_url_fails_permanently(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_WEBHOOK_URL = ""
    with pytest.raises(ChannelError) as caught:
        channels.get_channel("webhook").send(OutboundMessage(channel="webhook", recipient="group", body="b"))
    assert caught.value.permanent


def test_an_unreachable_webhook_is_a_temporary_failure(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_WEBHOOK_URL = "http://127.0.0.1:9/robot"  # discard port: nothing listens
    settings.PINGAN_WEBHOOK_TIMEOUT = 2
    with pytest.raises(ChannelError) as caught:
        channels.get_channel("webhook").send(OutboundMessage(channel="webhook", recipient="group", body="b"))
    assert not caught.value.permanent


# --- in-app ----------------------------------------------------------------------------------------

def test_unread_for_shows_only_the_users_own_unread_notifications_and_mark_read_touches_only_those(people) -> None:  # type: ignore[no-untyped-def]
    a, b = people
    with use_clock(FrozenClock(T0)):
        notify.notify(None, "k", "first", [a, b])
    with use_clock(FrozenClock(T0 + dt.timedelta(minutes=1))):
        notify.notify(None, "k", "second", [a])
    assert [n.text for n in notify.unread_for(a)] == ["second", "first"]
    b_row = notify.unread_for(b).get()
    first_a = notify.unread_for(a).get(text="first")

    assert notify.mark_read(a, [first_a.pk, b_row.pk]) == 1  # b's row is not a's to mark
    assert [n.text for n in notify.unread_for(a)] == ["second"]
    assert notify.unread_for(b).count() == 1
    assert AuditEntry.objects.filter(action="pingan.notification.read", actor=a).count() == 1
    assert notify.mark_read(a) == 1  # all the rest
    assert not notify.unread_for(a).exists()
    assert notify.mark_read(a, [first_a.pk]) == 0  # already read: nothing, and no audit entry
    assert AuditEntry.objects.filter(action="pingan.notification.read").count() == 2


def test_mark_read_needs_a_signed_in_user() -> None:
    from pingan.core.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        notify.mark_read("system", [1])  # type: ignore[arg-type]

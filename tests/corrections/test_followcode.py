"""The follow code (随行码): a signed token that rotates every window and carries no personal data, a short code
to type, and what a scan answers — the colour and what to do, never the identity for a checkpoint. Expired,
forged, replayed and other-subject codes are refused with a reason; rotating the key keeps codes in flight
valid until they expire; typed codes are rate-limited; a scan and a check-in count as positions."""

from __future__ import annotations

import datetime as dt

import pytest

from pingan.core.errors import ConflictError, DomainError, PermissionDeniedError
from pingan.core.models import AuditEntry
from pingan.corrections import actions, followcode
from pingan.corrections.models import CheckIn, Scan
from pingan.events.models import Notification
from pingan.tracking import actions as tracking_actions
from pingan.tracking import engine as eng
from pingan.tracking.models import Fix, LatestPosition, Target
from tests.corrections.conftest import IN_GRID_A, TODAY

NEAR = (IN_GRID_A[0] + 0.001, IN_GRID_A[1])     # about 100 m east
FAR = (IN_GRID_A[0] + 0.06, IN_GRID_A[1])       # about 5.7 km east


@pytest.fixture
def keys(settings):  # type: ignore[no-untyped-def]
    settings.PINGAN_FOLLOWCODE_KEYS = ["key-one-" + "x" * 40]
    settings.PINGAN_FOLLOWCODE_SECONDS = 60
    return settings


def subject_with_code(corr):  # type: ignore[no-untyped-def]
    subject = corr.taken_in()
    corr.linked(subject)
    return subject, actions.issue_code(corr.subject_user)


def scan(corr, code: str, user=None, where=IN_GRID_A, **kw):  # type: ignore[no-untyped-def]
    return actions.verify_code(user or corr.checkpoint, code, lon=where[0], lat=where[1], **kw)


def test_a_token_carries_no_personal_data(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    raw = followcode._unb32(code.token[len(followcode.PREFIX):])
    version, kid, handle, window, nonce = followcode.PAYLOAD.unpack(raw[:followcode.PAYLOAD.size])
    assert (version, handle.hex(), window) == (1, subject.handle, followcode.window_of(corr.clock.now().timestamp()))
    person = subject.person
    for secret in (person.name, person.id_number, subject.phone, subject.phone[3:], subject.number):
        assert secret.encode() not in raw and secret not in code.token
    assert set(code.token[len(followcode.PREFIX):]) <= set(followcode.CROCKFORD)  # QR alphanumeric mode
    assert len(code.short) == 8 and set(code.short) <= set(followcode.CROCKFORD)


def test_the_code_is_stable_within_a_window_and_rotates_with_the_next(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, first = subject_with_code(corr)
    corr.clock.advance(seconds=20)
    assert actions.issue_code(corr.subject_user).token == first.token
    assert first.refresh_at - first.window_start == dt.timedelta(seconds=60)
    assert first.expires_at - first.window_start == dt.timedelta(seconds=120)
    corr.clock.advance(seconds=45)
    second = actions.issue_code(corr.subject_user)
    assert second.token != first.token and second.short != first.short


def test_a_scan_answers_green_for_a_subject_in_good_standing_without_identity(corr, keys, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    with django_capture_on_commit_callbacks(execute=True):
        out = scan(corr, code.token)
    assert out.valid and out.colour == "green" and out.action == "let_pass" and out.advice
    assert out.subject is None and out.reasons == []   # the checkpoint learns no identity and no reasons
    stored = Scan.objects.get(pk=out.scan_id)
    assert stored.subject == subject and stored.result == "accepted" and stored.fix_id is not None
    assert not Notification.objects.filter(kind="corrections.scanned").exists()
    assert AuditEntry.objects.filter(action="pingan.followcode.scanned").count() == 1


def test_an_officer_who_may_see_the_subject_gets_the_masked_name_and_the_reasons(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    actions.change_level(corr.officer_a, subject, level="strict", reason="违规")
    out = scan(corr, code.token, user=corr.officer_a2)
    assert out.subject == subject and out.colour == "yellow" and out.reasons == ["strict_level"]
    police = scan(corr, code.token, user=corr.police)
    assert police.valid and police.subject is None and police.reasons == []


def test_strict_level_or_an_open_warning_is_yellow(corr, keys, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    actions.add_record(corr.officer_a, subject, kind="warning", text="未按时报告")
    with django_capture_on_commit_callbacks(execute=True):
        out = scan(corr, code.token)
    assert out.colour == "yellow" and out.action == "let_pass_and_note"
    assert Notification.objects.filter(user=corr.officer_a, kind="corrections.scanned").count() == 1


def test_a_pending_revoke_proposal_or_lost_contact_is_red(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    actions.add_record(corr.officer_a, subject, kind="revoke_proposal", text="严重违反禁止令", serious=True)
    assert scan(corr, code.token).colour == "red"
    assert actions.status(subject) == ("red", ["revoke_proposal_pending"])
    other = corr.taken_in(name="赵六")
    actions.add_record(corr.officer_a, other, kind="lost_contact", text="电话不通，住所无人")
    assert actions.status(other) == ("red", ["lost_contact"])


def test_an_escalated_alert_is_red(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    effect = eng.Effect(kind="raise", target=subject.target_id, rule="zone_exclusion", zone=None,
                        t=corr.clock.now().timestamp(), refs=(), severity="alarm",
                        detail={"lon": IN_GRID_A[0], "lat": IN_GRID_A[1]})
    alert = tracking_actions.open_alert(effect, corr.clock.now())
    assert actions.status(subject) == ("yellow", ["active_alert"])
    tracking_actions.escalate_alert("test", alert, note="核实属实")
    out = scan(corr, code.token)
    assert out.colour == "red" and out.action == "stop_and_report"


def test_an_expired_code_is_rejected(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    corr.clock.current = code.expires_at - dt.timedelta(seconds=1)
    assert scan(corr, code.token).valid
    corr.clock.current = code.expires_at
    out = scan(corr, code.token, user=corr.police)
    assert (out.valid, out.reason) == (False, "expired")
    assert Scan.objects.get(pk=out.scan_id).result == "rejected"


def test_a_forged_code_is_rejected(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    window = followcode.window_of(corr.clock.now().timestamp())
    issued = subject.handle
    real_kid = followcode.kid(followcode.keys()[0])
    payload = followcode._payload(real_kid, issued, window, "00" * 6)
    forged = followcode.PREFIX + followcode._b32(payload + followcode._mac(b"attacker", payload))
    assert scan(corr, forged).reason == "bad_signature"
    other_key, _short = followcode.encode(b"attacker", handle=issued, window=window, nonce="11" * 6)
    assert scan(corr, other_key).reason == "unknown_key"
    tampered = code.token[:-3] + ("A" if code.token[-3] != "A" else "B") + code.token[-2:]
    assert scan(corr, tampered).reason in ("bad_signature", "malformed")
    assert scan(corr, "RY1.NOT-BASE32!").reason == "malformed"
    assert not Fix.objects.filter(source="scan").exists()
    assert AuditEntry.objects.filter(action="pingan.followcode.rejected").count() == 4


def test_a_code_of_another_subject_is_rejected_when_the_officer_expects_one(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    other = corr.taken_in(name="孙七")
    out = scan(corr, code.token, user=corr.officer_a, expected_subject=other)
    assert (out.valid, out.reason) == (False, "other_subject")
    assert scan(corr, code.token, user=corr.officer_a, expected_subject=subject).valid


def test_the_same_scanner_scanning_twice_is_a_repeat_without_a_second_fix(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    first = scan(corr, code.token)
    again = scan(corr, code.token, where=FAR)
    assert again.valid and again.repeat and not first.repeat
    assert Fix.objects.filter(source="scan", target_id=subject.target_id).count() == 1


def test_a_second_scanner_far_away_is_a_replay_and_one_nearby_is_not(corr, keys, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    assert scan(corr, code.token).valid
    corr.clock.advance(seconds=30)
    nearby = scan(corr, code.token, user=corr.police, where=NEAR)   # the next gate of the same compound
    assert nearby.valid and not nearby.repeat
    with django_capture_on_commit_callbacks(execute=True):
        far = scan(corr, code.token, user=corr.checkpoint_2, where=FAR)  # a photo of the code sent across town
    assert (far.valid, far.reason) == (False, "replayed")
    assert Notification.objects.filter(user=corr.officer_a, kind="corrections.code_replayed").count() == 1
    assert Scan.objects.get(pk=far.scan_id).subject == subject


def test_rotating_the_key_keeps_codes_in_flight_valid_until_they_expire(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, old = subject_with_code(corr)
    old_kid = followcode.kid(followcode.keys()[0])
    keys.PINGAN_FOLLOWCODE_KEYS = ["key-two-" + "y" * 40, "key-one-" + "x" * 40]
    assert scan(corr, old.token).valid                          # in flight: still valid
    assert actions.issue_code(corr.subject_user).token == old.token  # the same window keeps its code
    corr.clock.advance(seconds=60)
    new = actions.issue_code(corr.subject_user)
    assert new.token != old.token
    assert followcode.decode(new.token).kid == followcode.kid(b"key-two-" + b"y" * 40) != old_kid
    assert scan(corr, old.token, user=corr.police).valid and scan(corr, new.token, user=corr.police).valid
    corr.clock.current = old.expires_at
    assert scan(corr, old.token, user=corr.checkpoint_2).reason == "expired"
    keys.PINGAN_FOLLOWCODE_KEYS = ["key-two-" + "y" * 40]       # the old key retired
    assert scan(corr, old.token).reason == "unknown_key"
    assert scan(corr, new.token, user=corr.checkpoint_2).valid


def test_the_default_key_is_derived_from_the_signing_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_FOLLOWCODE_KEYS = []
    settings.PINGAN_SIGNING_KEY = "one"
    first = followcode.keys()
    settings.PINGAN_SIGNING_KEY = "two"
    assert len(first) == 1 and followcode.keys() != first and b"two" not in followcode.keys()[0]


def test_a_typed_short_code_is_accepted_and_forgives_ambiguous_letters(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    typed = code.short.lower().replace("1", "l").replace("0", "o")
    out = scan(corr, f"{typed[:4]}-{typed[4:]}")
    assert out.valid and Scan.objects.get(pk=out.scan_id).typed
    assert scan(corr, "ZZZZZZZZ", user=corr.police).reason == "unknown_code"
    assert scan(corr, "ABC", user=corr.police).reason == "malformed"
    corr.clock.current = code.expires_at
    assert scan(corr, code.short, user=corr.police).reason == "expired"


def test_typed_codes_are_rate_limited_per_scanner(corr, keys, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_FOLLOWCODE_TYPED_PER_MINUTE = 5
    subject, code = subject_with_code(corr)
    for _ in range(5):
        scan(corr, "ZZZZZZZZ")
    with pytest.raises(DomainError) as error:
        scan(corr, code.short)
    assert (error.value.code, error.value.status) == ("rate_limited", 429)
    assert scan(corr, code.short, user=corr.police).valid     # another scanner is not limited
    assert scan(corr, code.token).valid                        # a scanned QR code is not limited either
    corr.clock.advance(seconds=60)
    assert scan(corr, actions.issue_code(corr.subject_user).short).valid


def test_only_checkpoint_roles_may_scan(corr, keys) -> None:  # type: ignore[no-untyped-def]
    _subject, code = subject_with_code(corr)
    for user in (corr.grid_worker, corr.judge, corr.enterprise, corr.procurator, corr.subject_user):
        with pytest.raises(PermissionDeniedError):
            scan(corr, code.token, user=user)


def test_a_scan_counts_as_a_position_while_monitoring_is_off(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    assert not Target.objects.get(pk=subject.target_id).monitored
    out = scan(corr, code.token, where=NEAR, accuracy_m=8)
    fix = Fix.objects.get(pk=Scan.objects.get(pk=out.scan_id).fix_id)
    assert (fix.source, fix.target_id, fix.lon, fix.accuracy_m) == ("scan", subject.target_id, NEAR[0], 8)
    assert LatestPosition.objects.get(target_id=subject.target_id).fix_id == fix.pk


def test_a_scan_while_monitored_goes_through_the_pipeline(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    corr.authorise(subject)
    out = scan(corr, code.token)
    assert Fix.objects.get(pk=Scan.objects.get(pk=out.scan_id).fix_id).source == "scan"


def test_a_check_in_counts_as_a_fix_and_a_report(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, _code = subject_with_code(corr)
    row = actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1], accuracy_m=15)
    assert row.day == TODAY and CheckIn.objects.filter(subject=subject).count() == 1
    assert Fix.objects.get(pk=row.fix_id).source == "checkin"
    assert not Target.objects.get(pk=subject.target_id).monitored


def test_a_pending_subject_checks_in_only_after_intake(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject = corr.register()
    corr.linked(subject)
    with pytest.raises(ConflictError):
        actions.check_in(corr.subject_user, lon=IN_GRID_A[0], lat=IN_GRID_A[1])


def test_a_released_subjects_code_is_rejected(corr, keys) -> None:  # type: ignore[no-untyped-def]
    subject, code = subject_with_code(corr)
    subject.supervision_end = TODAY
    subject.save(update_fields=["supervision_end"])
    actions.release_subject(corr.officer_a, subject)
    assert scan(corr, code.token).reason == "not_in_correction"
    assert scan(corr, code.short, user=corr.police).reason == "unknown_code"
    with pytest.raises(ConflictError):
        actions.issue_code(corr.subject_user)


def test_a_login_that_is_not_a_subject_gets_no_code(corr, keys) -> None:  # type: ignore[no-untyped-def]
    from pingan.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        actions.issue_code(corr.other_subject_user)
    with pytest.raises(PermissionDeniedError):
        actions.issue_code(corr.officer_a)

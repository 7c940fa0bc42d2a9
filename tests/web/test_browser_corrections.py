"""如燕's phone pages in a real browser (Debian's Chromium via Playwright), against the live server: the subject's
phone page shows a live follow code (a QR code and the 8-character short code) that renews itself before it
changes; a checkpoint user on the scanner page types the short code from that page (the position comes from the
browser's geolocation) and sees green "放行" without any identity; the same code typed at a checkpoint far away a
moment later is refused as replayed, and once it has expired it is refused as expired. A second test scans the
QR code through Chromium's fake camera (a .y4m video of the code) and gets the same green answer."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from pingan.core import clock
from pingan.corrections import followcode
from tests.conftest import GRID_A, TOWN_A, Personas
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HERE = (120.32, 30.85)          # the checkpoint in grid A
FAR = (120.95, 31.30)           # another checkpoint, some 80 km away
ANSWERED = "#scan-result[data-valid=true], #scan-result[data-valid=false]"
RENEW_WITHIN = 5                # seconds between the phone's first code and the end of its window


class OffsetClock(clock.Clock):
    """Real time plus an offset the test may move (the live server runs in this process)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def now(self) -> dt.datetime:
        return timezone.now() + self.offset


@pytest.fixture
def moved() -> Iterator[OffsetClock]:
    c = OffsetClock()
    with clock.use_clock(c):
        yield c


@pytest.fixture
def subject(tree, make_user, moved, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A subject in correction in grid A with the phone login ``rx_subject``, and checkpoint logins."""
    from pingan.accounts import actions as account_actions
    from pingan.accounts.models import Organisation, OrgKind
    from pingan.core.personal import id_check_digit
    from pingan.corrections import actions
    from pingan.corrections.setup import ensure_roles

    settings.PINGAN_FOLLOWCODE_SECONDS = 30  # the page renews within half a minute; a code lives 30–60 s
    ensure_roles()
    office = Organisation.objects.create(code="sfs-a", name="甲镇司法所", kind=OrgKind.JUDICIAL_OFFICE, area=tree[TOWN_A])
    officer = make_user("correction_officer", area=TOWN_A, organisation="sfs-a", username="officer_a")
    login = make_user("correction_subject", username="rx_subject")
    for name in ("gate_1", "gate_2", "gate_3"):
        make_user("checkpoint_staff", area=TOWN_A, username=name)
    today = timezone.localdate()
    stem = "33050319900101123"
    s = actions.register_subject("test", actions.SubjectInput(
        person_input=account_actions.PersonInput(name="王某某", id_number=stem + id_check_digit(stem), area_code=GRID_A),
        correction_type="probation", decision_body="南浔区人民法院", decision_number="(2026)浙0503刑初1号",
        decision_effective_on=today - dt.timedelta(days=2), supervision_start=today - dt.timedelta(days=2),
        supervision_end=today + dt.timedelta(days=300), judicial_office=office, officer=officer, area=tree[GRID_A],
        phone="13857212345", home_lon=HERE[0], home_lat=HERE[1]))
    actions.record_intake("test", s)
    actions.link_user("test", s, login)
    return {"subject": s, "login": login}


def _open_as(browser: Any, live_server: Any, username: str, errors: list[str], *, at: tuple[float, float] | None = None) -> Any:
    options: dict[str, Any] = {"viewport": {"width": 420, "height": 860}, "locale": "zh-CN"}
    if at is not None:
        options |= {"geolocation": {"longitude": at[0], "latitude": at[1], "accuracy": 15}, "permissions": ["geolocation"]}
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", Personas.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _scanner(page: Any, live_server: Any) -> Any:
    page.goto(f"{live_server.url}/corrections/scan/")
    page.wait_for_selector("#position-status[data-state=ok]")
    return page


def _type(page: Any, code: str) -> Any:
    page.fill("#code", code)
    page.click("#verify")
    return page.wait_for_selector(ANSWERED)


def test_phone_code_typed_at_a_checkpoint(browser: Any, live_server: Any, subject: dict[str, Any],
                                          moved: OffsetClock) -> None:
    errors: list[str] = []
    gate_1 = _scanner(_open_as(browser, live_server, "gate_1", errors, at=HERE), live_server)
    gate_2 = _scanner(_open_as(browser, live_server, "gate_2", errors, at=FAR), live_server)
    phone = _open_as(browser, live_server, "rx_subject", errors)
    # The server's clock moved on (forward only) to RENEW_WITHIN seconds before its window ends, so that the page's
    # own renewal below comes after a few seconds and not after up to a whole window (30 s) of waiting.
    to_end = followcode.period() - (clock.now().timestamp() % followcode.period())
    moved.offset += dt.timedelta(seconds=(to_end - RENEW_WITHIN) % followcode.period())
    phone.goto(f"{live_server.url}/corrections/me/")
    card = phone.wait_for_selector("#follow-code svg")
    assert card is not None
    short = phone.get_attribute("#follow-code", "data-short") or ""
    assert re.fullmatch(r"[0-9A-Z]{8}", short)
    assert phone.inner_text("#short-code").replace(" ", "") == short

    # the checkpoint types it (as shown, with its space) → green, let pass, no identity
    _type(gate_1, phone.inner_text("#short-code"))
    result = gate_1.locator("#scan-result")
    assert result.get_attribute("data-valid") == "true" and result.get_attribute("data-colour") == "green"
    assert "放行" in result.inner_text()
    assert "王" not in result.inner_text() and subject["subject"].number not in gate_1.content()

    # the same code typed far away a moment later: a replay
    _type(gate_2, short)
    assert gate_2.get_attribute("#scan-result", "data-reason") == "replayed"
    assert "重放" in gate_2.inner_text("#scan-result")

    # the phone page renews its code by itself before it changes
    phone.wait_for_function("old => document.querySelector('#follow-code').dataset.short !== old", arg=short,
                            timeout=45_000)
    assert phone.query_selector("#follow-code svg") is not None

    # two windows later (server time) the first code has expired
    moved.offset += dt.timedelta(seconds=90)
    gate_1.reload()
    gate_1.wait_for_selector("#position-status[data-state=ok]")
    _type(gate_1, short)
    assert gate_1.get_attribute("#scan-result", "data-reason") == "expired"
    assert "过期" in gate_1.inner_text("#scan-result")
    for p in (gate_1, gate_2, phone):
        p.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _y4m(text: str, path: Path, width: int = 640, height: int = 480) -> Path:
    """A short grey-scale video (YUV4MPEG2, 4:2:0) showing the QR code of ``text`` in the middle."""
    import qrcode
    from PIL import Image

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image().get_image().convert("L")
    side = min(height - 40, image.width * (400 // image.width or 1))
    image = image.resize((side, side), Image.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(image, ((width - side) // 2, (height - side) // 2))
    y = frame.tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            fh.write(b"FRAME\n" + y + chroma + chroma)
    return path


def test_phone_code_scanned_through_the_camera(browser: Any, live_server: Any, subject: dict[str, Any],
                                               tmp_path: Path) -> None:
    errors: list[str] = []
    phone = _open_as(browser, live_server, "rx_subject", errors)
    phone.goto(f"{live_server.url}/corrections/me/")
    phone.wait_for_selector("#follow-code svg")
    token = phone.get_attribute("#follow-code", "data-token") or ""
    assert token.startswith("RY1.")
    video = _y4m(token, tmp_path / "code.y4m")
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
    # a second Chromium with the fake camera (the module's browser has none), from the same Playwright
    camera_browser = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
    try:
        gate = _open_as(camera_browser, live_server, "gate_3", errors, at=HERE)
        gate.context.grant_permissions(["camera", "geolocation"])
        _scanner(gate, live_server)
        gate.click("#camera-start")
        gate.wait_for_selector("#camera[data-state=scanning], #camera[data-state=found]")
        gate.wait_for_selector(ANSWERED, timeout=20_000)
        assert gate.get_attribute("#scan-result", "data-valid") == "true"
        assert gate.get_attribute("#scan-result", "data-colour") == "green"
        assert "放行" in gate.inner_text("#scan-result")
        assert gate.get_attribute("#camera", "data-state") == "found"
    finally:
        camera_browser.close()
    phone.context.close()
    from pingan.corrections.models import Scan

    scan = Scan.objects.get(scanner__username="gate_3")
    assert not scan.typed and scan.result == "accepted" and scan.subject_id == subject["subject"].pk
    assert not errors, f"JavaScript errors on the page: {errors}"

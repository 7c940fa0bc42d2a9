"""The phone-check page (/corrections/phone-checks/): the officer's schedule of the day per subject, results
with their verdicts, filters, and the "check now" button; procurators read it and start nothing; nobody
else opens it, and an officer of another town does not see the subject on it."""

from __future__ import annotations

from typing import Any

import pytest

from pingan.corrections import actions, jobs, telephony
from pingan.corrections.models import PhoneCheck
from tests.corrections.conftest import OUTSIDE_DISTRICT, TODAY

PAGE = "/corrections/phone-checks/"
START = "/corrections/phone-checks/start/"
PHONE = "13857212345"


@pytest.fixture(autouse=True)
def _no_scripts() -> Any:
    telephony.unscript(PHONE)
    yield
    telephony.unscript(PHONE)


def page(client, user, query: str = "") -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    response = client.get(PAGE + query, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def strict(corr):  # type: ignore[no-untyped-def]
    """A strict subject: three checks a day, one in each third of 08:00–21:00, so at least two after 10:00."""
    subject = corr.taken_in()
    actions.change_level(corr.officer_a, subject, level="strict", reason="多次违规")
    return subject


def test_the_officer_sees_todays_schedule_and_checks_now(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = strict(corr)
    jobs.phone_checks(corr.clock.now())
    assert PhoneCheck.objects.filter(subject=subject, day=TODAY).count() >= 2
    html = page(client, corr.officer_a)
    assert "电话核查" in html and subject.number in html and f'data-subject="{subject.pk}"' in html
    assert subject.person.name not in html   # masked
    telephony.script(PHONE, errors=0, answer=True, voice="match", at=OUTSIDE_DISTRICT, accuracy_m=1000)
    response = client.post(START, {"subject": subject.pk, "next": PAGE})
    assert response.status_code == 302 and response["Location"] == PAGE
    started = PhoneCheck.objects.get(subject=subject, planned=False)
    assert (started.requested_by, started.verdict) == (corr.officer_a, "position_mismatch")
    html = page(client, corr.officer_a)
    assert f'data-check="{started.pk}" data-verdict="position_mismatch"' in html and started.alert.number in html
    assert f'data-check="{started.pk}"' not in page(client, corr.officer_a, "?verdict=ok")
    assert f'data-check="{started.pk}"' in page(client, corr.officer_a, "?verdict=position_mismatch&level=strict")
    assert f'data-check="{started.pk}"' not in page(client, corr.officer_a, "?level=lenient")


def test_missed_checks_are_listed_as_problems(corr, client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PINGAN_CORRECTIONS_PHONE_CHECK_RETRIES = 0
    subject = corr.taken_in()
    telephony.script(PHONE, errors=0, answer=False)
    client.force_login(corr.officer_a)
    client.post(START, {"subject": subject.pk})
    missed = PhoneCheck.objects.get(subject=subject)
    assert missed.state == "missed"
    html = page(client, corr.officer_a)
    problems = html.split('id="problems"')[1].split('id="results"')[0]
    assert f'data-check="{missed.pk}"' in problems and "未接听" in problems


def test_who_may_open_the_page_and_press_the_button(corr, client) -> None:  # type: ignore[no-untyped-def]
    subject = strict(corr)
    jobs.phone_checks(corr.clock.now())
    html = page(client, corr.procurator)
    assert subject.number in html and 'id="check-now"' not in html   # reads, no button
    assert client.post(START, {"subject": subject.pk}).status_code == 403
    assert subject.number not in page(client, corr.officer_b)   # another town
    client.force_login(corr.officer_b)
    assert client.post(START, {"subject": subject.pk}).status_code == 404
    for who in ("grid_worker", "judge", "enterprise", "admin", "police"):
        client.force_login(getattr(corr, who))
        assert client.get(PAGE).status_code == 403, who
        assert client.post(START, {"subject": subject.pk}).status_code == 404, who
    client.logout()
    assert client.get(PAGE).status_code == 302
    assert not PhoneCheck.objects.filter(planned=False).exists()
    assert PhoneCheck.objects.filter(subject=subject, day=TODAY).exists()

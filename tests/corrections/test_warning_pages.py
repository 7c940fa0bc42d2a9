"""The core-area warning queue as pages: a fixed number of queries however many warnings it lists (page and API),
and verification without JavaScript — each warning's page renders the panel, its forms post to the same actions
the API uses and come back to the page with a message (PRG)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pingan.accounts.models import Organisation, OrgKind
from pingan.core.models import AuditEntry
from pingan.corrections import actions
from pingan.events.models import Event
from pingan.tracking.models import Alert
from tests.conftest import TOWN_A
from tests.corrections.test_warnings import INSIDE, carrier, core_area

QUEUE = "/corrections/warnings/"
API = "/api/v1/corrections/warnings"
FORM = re.compile(r'<form class="cw-action" data-action="(\w+)"([^>]*)>')


@pytest.fixture
def post(corr, make_user):  # type: ignore[no-untyped-def]
    """Town A's police post and its officer (police_officer, organisation = the post)."""
    org = Organisation.objects.create(code="pcs-a", name="甲镇派出所", kind=OrgKind.POLICE_STATION, area=corr.tree[TOWN_A])
    return org, make_user("police_officer", area=TOWN_A, organisation="pcs-a", username="post_a")


def warn(corr, n: int) -> list[Alert]:  # type: ignore[no-untyped-def]
    """``n`` new subjects, each with a possible-entry warning (a coarse carrier position inside the core area)."""
    out = []
    for _ in range(n):
        subject = corr.taken_in()
        carrier(subject, *INSIDE, 100)
        out.append(Alert.objects.get(target_id=subject.target_id, rule="corearea_possible"))
    return out


def count_queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def visible_forms(html: str) -> set[str]:
    return {action for action, attrs in FORM.findall(html) if not re.search(r"\bhidden\b", attrs)}


def message(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'<ul class="messages">(.*?)</ul>', response.content.decode(), re.S)
    return found.group(1) if found else ""


# -- 3. a fixed number of queries ------------------------------------------------------------------------


def test_the_queue_and_the_api_take_the_same_queries_for_3_or_9_warnings(corr, post, client, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    first = warn(corr, 3)
    actions.dismiss_warning(corr.officer_a, first[0], reason="position_error")  # "recently handled" is not empty
    client.force_login(corr.officer_a)
    count_queries(client, QUEUE), count_queries(client, API)  # warm the caches (content types, …)
    page_few, api_few = count_queries(client, QUEUE), count_queries(client, API)

    more = warn(corr, 6)
    for alert in more[:2]:
        actions.dismiss_warning(corr.officer_a, alert, reason="position_error")
    listed = client.get(API + "?state=recent").json()
    assert listed["count"] == 9 and all(w["can_act"] for w in listed["items"])
    assert {w["subject_number"] for w in listed["items"]} == {
        s.number for s in actions.Subject.objects.filter(target_id__in=[a.target_id for a in first + more])}
    page = client.get(QUEUE).content.decode()
    assert len(re.findall(r'class="al-row cw-row[^"]*" data-id="\d+"', page)) == 9  # 6 waiting, 3 recently handled
    assert count_queries(client, QUEUE) == page_few
    assert count_queries(client, API) == api_few
    assert count_queries(client, API + "?state=recent") == api_few
    with django_assert_max_num_queries(page_few):
        client.get(QUEUE)
    # a procurator reads the same rows, none of them to act on, in as few queries
    client.force_login(corr.procurator)
    items = client.get(API + "?state=recent").json()["items"]
    assert len(items) == 9 and not any(w["can_act"] for w in items)


def test_a_page_of_the_api_presents_only_its_rows(corr, post, client) -> None:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    alerts = warn(corr, 4)
    client.force_login(corr.officer_a)
    answer = client.get(API + "?limit=2&offset=1").json()
    assert answer["count"] == 4
    assert [w["id"] for w in answer["items"]] == [a.pk for a in sorted(alerts, key=lambda a: (a.raised_at, a.pk),
                                                                        reverse=True)][1:3]


# -- 4. verification without JavaScript --------------------------------------------------------------------


@pytest.fixture
def warning(corr, post) -> Alert:  # type: ignore[no-untyped-def]
    core_area(corr, post)
    (alert,) = warn(corr, 1)
    return alert


def test_the_queue_links_each_warning_to_its_page_with_the_panel_and_its_forms(corr, warning, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(corr.officer_a)
    queue = client.get(QUEUE).content.decode()
    assert f'href="/corrections/warnings/{warning.pk}/#w{warning.pk}"' in queue
    assert 'id="verify-panel" hidden' in queue  # nothing chosen: the panel waits for a click
    page = client.get(f"{QUEUE}{warning.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'id="verify-panel" data-id="{warning.pk}" data-state="open"' in html
    assert warning.number in html and "会展中心" in html
    assert visible_forms(html) == {"verify", "found", "dismiss", "escalate"}
    for step in ("verify", "found", "dismiss", "escalate"):
        assert f'action="/corrections/warnings/{warning.pk}/{step}/"' in html
    assert html.count('name="csrfmiddlewaretoken"') >= 4
    assert f'name="version" value="{warning.version}"' in html


def test_verify_find_and_dismiss_by_plain_form_posts(corr, warning, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(corr.officer_a)
    page = f"{QUEUE}{warning.pk}/"
    answer = client.post(f"{page}verify/", {"version": str(warning.version)})
    assert answer.status_code == 302 and answer.url == f"{page}#w{warning.pk}"
    warning.refresh_from_db()
    assert warning.state == "acknowledged"
    shown = client.get(answer.url)
    assert "核查" in message(shown) or "Verification started" in message(shown)
    assert visible_forms(shown.content.decode()) == {"found", "dismiss", "escalate"}

    empty = client.post(f"{page}found/", {"method": "phoned_subject", "text": "  "})
    assert empty.status_code == 302 and warning.steps.filter(action="noted").count() == 0
    assert message(client.get(empty.url))  # the refusal is shown, nothing changed
    client.post(f"{page}found/", {"method": "phoned_subject", "text": "本人称在附近就医"})
    (noted,) = warning.steps.filter(action="noted")
    assert noted.data == {"method": "phoned_subject", "found": "本人称在附近就医"} and noted.actor == corr.officer_a

    no_note = client.post(f"{page}dismiss/", {"reason": "other", "version": str(warning.version)})
    assert no_note.status_code == 302
    warning.refresh_from_db()
    assert warning.state == "acknowledged"  # "other" needs a note
    stale = client.post(f"{page}dismiss/", {"reason": "position_error", "version": str(warning.version - 1)})
    assert stale.status_code == 302
    text = message(client.get(stale.url))
    assert "changed this warning first" in text or "先" in text
    warning.refresh_from_db()
    assert warning.state == "acknowledged"
    done = client.post(f"{page}dismiss/", {"reason": "position_error", "note": "基站定位偏差",
                                           "version": str(warning.version)})
    assert done.status_code == 302
    warning.refresh_from_db()
    assert (warning.state, warning.dismiss_reason) == ("dismissed", "position_error")
    html = client.get(done.url).content.decode()
    assert visible_forms(html) == set() and 'data-state="dismissed"' in html
    # the same actions as the API: the same steps and audit entries, by the officer
    trail = list(AuditEntry.objects.filter(object_id=str(warning.pk), action__startswith="pingan.alert.")
                 .order_by("id").values_list("action", "actor_username"))
    assert trail == [("pingan.alert.raised", "system"), ("pingan.alert.acknowledged", "officer_a"),
                     ("pingan.alert.noted", "officer_a"), ("pingan.alert.dismissed", "officer_a")]
    assert [s.action for s in warning.steps.order_by("at", "id")] == ["raised", "acknowledged", "noted", "dismissed"]


def test_escalate_by_a_plain_form_post_opens_an_event(corr, warning, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(corr.officer_a)
    answer = client.post(f"{QUEUE}{warning.pk}/escalate/", {"note": "无法联系", "version": str(warning.version)})
    assert answer.status_code == 302
    warning.refresh_from_db()
    assert warning.state == "escalated" and warning.event_id is not None
    event = Event.objects.get(pk=warning.event_id)
    shown = client.get(answer.url)
    assert event.number in message(shown)
    assert visible_forms(shown.content.decode()) == {"found"}  # what was found may still be recorded
    again = client.post(f"{QUEUE}{warning.pk}/escalate/", {"version": str(warning.version)})
    assert again.status_code == 302 and message(client.get(again.url))
    assert Event.objects.count() == 1


@pytest.mark.parametrize("step", ["verify", "found", "dismiss", "escalate"])
def test_who_may_post_the_forms(corr, warning, client, step) -> None:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"version": str(warning.version), "method": "other", "text": "x", "reason": "position_error"}
    client.force_login(corr.procurator)  # reads, changes nothing
    page = client.get(f"{QUEUE}{warning.pk}/")
    assert page.status_code == 200 and visible_forms(page.content.decode()) == set()
    assert client.post(f"{QUEUE}{warning.pk}/{step}/", body).status_code == 403
    for other in (corr.officer_b, corr.police, corr.admin):  # another town, the police post, the district admin
        client.force_login(other)
        assert client.get(f"{QUEUE}{warning.pk}/").status_code == 404
        assert client.post(f"{QUEUE}{warning.pk}/{step}/", body).status_code == 404
    client.force_login(corr.officer_a)
    assert client.get(f"{QUEUE}{warning.pk}/{step}/").status_code == 405
    warning.refresh_from_db()
    assert warning.state == "open" and warning.steps.count() == 1


def test_an_unknown_step_or_warning_is_404(corr, warning, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(corr.officer_a)
    assert client.post(f"{QUEUE}{warning.pk}/close/", {}).status_code == 404
    assert client.post(f"{QUEUE}{warning.pk + 1000}/verify/", {}).status_code == 404
    assert client.get(f"{QUEUE}{warning.pk + 1000}/").status_code == 404
    client.logout()
    assert client.post(f"{QUEUE}{warning.pk}/verify/", {}).status_code == 302  # to the login page

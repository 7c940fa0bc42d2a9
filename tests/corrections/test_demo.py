"""The demo's 如燕 data: loaded into a district like the demo's (town B of the test tree stands in for 双林镇),
every corrections page shows something, and loading again changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pingan.accounts.models import Organisation, OrgKind
from pingan.corrections import demo
from pingan.corrections.models import CheckIn, MonitoringAuthorisation, Record, Subject
from pingan.tracking.models import Device, LatestPosition
from tests.conftest import TOWN_B

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(tree, make_user, monkeypatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from pingan.tracking import pipeline

    pipeline.reset_engine()
    monkeypatch.setattr(demo, "SHUANGLIN", TOWN_B)
    Organisation.objects.create(code="sfs-demo", name="双林司法所", kind=OrgKind.JUDICIAL_OFFICE, area=tree[TOWN_B])
    users = {"officer": make_user("correction_officer", area=TOWN_B, organisation="sfs-demo", username="corr_officer"),
             "subject": make_user("correction_subject", username="subject"),
             "checkpoint": make_user("checkpoint_staff", area=TOWN_B, username="checkpoint"),
             "procurator": make_user("procurator", username="procurator")}
    yield users
    pipeline.reset_engine()


def test_demo_loads_subjects_for_every_page_and_is_idempotent(demo_world: dict[str, Any], client: Any) -> None:
    logins = demo.load_users("demo password 123")
    assert [row[:2] for row in logins] == [("justice_head", "justice_bureau_head")]
    started = time.monotonic()
    assert demo.load() == 4
    took = time.monotonic() - started
    assert took < 20, took  # the demo must start quickly (a few seconds at most, on a loaded machine)
    wang = Subject.objects.get(person__name="王某")
    assert (wang.correction_type, wang.level, wang.state) == ("probation", "ordinary", "in_correction")
    assert wang.target.monitored and wang.user == demo_world["subject"]
    assert MonitoringAuthorisation.objects.get(subject=wang).state == "active"
    assert Device.objects.filter(uid=demo.DEVICE, target=wang.target).exists()
    assert LatestPosition.objects.filter(target=wang.target).exists() and CheckIn.objects.filter(subject=wang).exists()
    assert Record.objects.filter(subject__person__name="李某", kind="warning", is_open=True).exists()
    assert Subject.objects.get(person__name="张某").state == "pending"

    client.force_login(demo_world["officer"])
    html = client.get("/corrections/").content.decode()
    assert Subject.objects.get(person__name="张某").number in html.split('id="intake-overdue"')[1]
    assert f'"/corrections/subjects/{wang.pk}/"' in html   # on the map
    assert "王某" not in html
    assert client.get(f"/corrections/subjects/{wang.pk}/").status_code == 200
    client.force_login(demo_world["subject"])
    assert 'id="short-code"' in client.get("/corrections/me/").content.decode()
    client.force_login(demo_world["checkpoint"])
    assert client.get("/corrections/scan/").status_code == 200

    assert demo.load() == 0 and Subject.objects.count() == 4
    assert demo.load_users("demo password 123") == logins

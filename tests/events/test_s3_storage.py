"""Attachments in an S3-compatible bucket (``PINGAN_MEDIA_STORAGE=s3``): the same upload path writes the cleaned
file to the bucket, not to the local folder, and the API serves it back only within the event's scope.

The store is moto's S3 server, started on a loopback port: django-storages and boto3 speak the S3 protocol to
it over HTTP as they would to MinIO or a cloud store."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from pingan.events.models import Attachment
from pingan.settings import s3_storage
from tests.events.test_api import as_user, jpeg_with_gps, upload

BUCKET = "pingan-attachments"
KEYS = {"access_key": "pingan-test", "secret_key": "pingan-test-secret", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, tmp_path) -> Any:  # type: ignore[no-untyped-def]
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=KEYS["access_key"],
                          aws_secret_access_key=KEYS["secret_key"], region_name=KEYS["region_name"])
    client.create_bucket(Bucket=BUCKET)
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(bucket_name=BUCKET, endpoint_url=s3_endpoint,
                                                                    location="media", **KEYS)}
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_an_attachment_goes_to_the_bucket_private_and_is_served_only_within_scope(world, bucket, tmp_path) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    response = upload(world.grid_a, event, "现场.jpg", jpeg_with_gps(), "image/jpeg")
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["id"])

    keys = [item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == [f"media/{attachment.file.name}"] and keys[0].startswith("media/events/")
    assert not any(tmp_path.rglob("*.jpg"))  # nothing on the local disk
    stored = bucket.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and not img.getexif().get_ifd(0x8825)  # the GPS position is gone
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=keys[0])["Grants"]
    assert all("AllUsers" not in str(g.get("Grantee", {}).get("URI", "")) for g in grants)  # not public

    served = as_user(world.ws).get(response.json()["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content) == stored
    assert as_user(world.grid_b).get(response.json()["url"]).status_code == 404


def test_a_second_file_of_the_same_name_never_overwrites_the_first(world, bucket) -> None:  # type: ignore[no-untyped-def]
    event = world.report()
    first = upload(world.grid_a, event, "协议.pdf", b"%PDF-1.4\n% first\n%%EOF\n").json()
    second = upload(world.grid_a, event, "协议.pdf", b"%PDF-1.4\n% second\n%%EOF\n").json()
    assert len(bucket.list_objects_v2(Bucket=BUCKET)["Contents"]) == 2
    bodies = [b"".join(as_user(world.ws).get(a["url"]).streaming_content) for a in (first, second)]
    assert bodies == [b"%PDF-1.4\n% first\n%%EOF\n", b"%PDF-1.4\n% second\n%%EOF\n"]

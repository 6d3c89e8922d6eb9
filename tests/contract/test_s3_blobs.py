"""What only the S3 blob store does, against moto, in the bucket `terraform apply` of
infra/modules/data made: retention tags for the lifecycle rules, and presigned URLs in the
addressing style of the endpoint. What every blob store promises is in test_blob_stores.py.

The store is built as the service builds it (no client, no endpoint): boto3 finds moto
through AWS_ENDPOINT_URL_S3, as it finds S3 in production. The tests read tags back through
a client of their own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from imagegen.storage.blobs import SAVED_RETENTION, blob_key
from imagegen.storage.s3 import S3BlobStore
from tests.contract.aws import s3_client

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def bucket(data_layer: dict[str, Any]) -> str:
    return str(data_layer["bucket_name"])


@pytest.fixture
def store(aws_env: str, bucket: str) -> S3BlobStore:
    return S3BlobStore(bucket, ttl_seconds=300)


@pytest.fixture
def key() -> str:
    # A tenant of its own per test, so tests share the bucket but no object.
    tenant = "t-" + uuid.uuid4().hex[:12]
    return blob_key(tenant, "generated", "2026-11-01T10:00:00.000Z", "img_1.png")


def tags(client: Any, bucket: str, key: str) -> dict[str, str]:
    tag_set = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def test_an_object_starts_temporary_and_saving_retags_it(store, bucket, key, aws_env):
    client = s3_client(aws_env)
    store.put(key, PNG)
    assert tags(client, bucket, key) == {"retention": "temporary"}
    store.set_retention(key, SAVED_RETENTION)
    assert tags(client, bucket, key) == {"retention": "saved"}
    assert store.get(key) == PNG  # retagged in place, not copied or changed


def test_a_presigned_url_works_with_an_endpoint_named_by_host(
    aws_env, bucket, key, monkeypatch: pytest.MonkeyPatch
):
    # Virtual-hosted style would sign for <bucket>.localhost, which does not resolve: with
    # an endpoint override the store signs path-style URLs.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env.replace("127.0.0.1", "localhost"))
    store = S3BlobStore(bucket, ttl_seconds=60)
    store.put(key, b"GIF89a")

    url = store.signed_url(key)

    assert url.startswith(aws_env.replace("127.0.0.1", "localhost") + f"/{bucket}/")
    response = requests.get(url, timeout=10)
    assert (response.status_code, response.content) == (200, b"GIF89a")
    assert response.headers["Content-Type"] == "image/png"  # the key's type


def test_a_url_for_aws_itself_is_virtual_hosted_and_regional(monkeypatch: pytest.MonkeyPatch):
    # Without an endpoint override the store signs for S3 as AWS documents it (nothing is
    # requested: presigning is local).
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3BlobStore("imagegen-images", ttl_seconds=86400, region_name="eu-west-1")

    url = store.signed_url("t1/generated/2026/11/01/img_1.png")

    assert url.startswith(
        "https://imagegen-images.s3.eu-west-1.amazonaws.com/t1/generated/2026/11/01/img_1.png?"
    )
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=86400" in url

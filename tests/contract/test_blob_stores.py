"""One contract for both blob stores (imagegen/storage/blobs.py's BlobStore): the disk store,
whose signed URLs the API's /files route serves, and S3 on moto's server, in the bucket
`terraform apply` of infra/modules/data made, whose presigned URLs S3 serves.

Each store is built as the service builds it (build_services for the disk, S3BlobStore with
no client for S3), and read back the way a client reads it: through its signed URL.
"""

from __future__ import annotations

import calendar
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app import create_app
from imagegen.config import Settings
from imagegen.services import build_services
from imagegen.storage.blobs import SAVED_RETENTION, BlobStore, blob_key
from imagegen.storage.s3 import S3BlobStore

TTL_SECONDS = 300
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class Fetched:
    status: int
    content_type: str | None
    body: bytes


@dataclass
class Backend:
    store: BlobStore
    # What anyone holding the URL gets: no API key, no AWS credentials.
    fetch: Callable[[str], Fetched]
    # When the URL stops working, as the URL itself states it (epoch seconds).
    expires_at: Callable[[str], float]


def _disk(tmp_path: Path) -> Backend:
    settings = Settings.from_env(
        {
            "IMAGEGEN_DATA_DIR": str(tmp_path / "data"),
            "IMAGEGEN_PUBLIC_BASE_URL": "http://files.test",
            "IMAGEGEN_SIGNED_URL_TTL_SECONDS": str(TTL_SECONDS),
        }
    )
    services = build_services(settings)
    client = create_app(settings, services).test_client()

    def fetch(url: str) -> Fetched:
        assert url.startswith("http://files.test/files/"), url
        parts = urlsplit(url)
        response = client.get(parts.path, query_string=parts.query)
        return Fetched(response.status_code, response.mimetype, response.get_data())

    def expires_at(url: str) -> float:
        return float(parse_qs(urlsplit(url).query)["expires"][0])

    return Backend(services.blobs, fetch, expires_at)


def _s3(bucket: str) -> Backend:
    def fetch(url: str) -> Fetched:
        response = requests.get(url, timeout=10)
        return Fetched(response.status_code, response.headers.get("Content-Type"), response.content)

    def expires_at(url: str) -> float:
        query = parse_qs(urlsplit(url).query)
        signed = calendar.timegm(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"))
        return signed + int(query["X-Amz-Expires"][0])

    return Backend(S3BlobStore(bucket, ttl_seconds=TTL_SECONDS), fetch, expires_at)


STORES = ["disk", "s3"]


@pytest.fixture(params=STORES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "disk":
        yield _disk(tmp_path)
        return
    request.getfixturevalue("aws_env")
    yield _s3(str(request.getfixturevalue("data_layer")["bucket_name"]))


@pytest.fixture
def tenant() -> str:
    # A tenant of its own per test: the tests share the bucket, never an object.
    return "t-" + uuid.uuid4().hex[:12]


def key_of(tenant: str, name: str = "img_1.png", kind: str = "generated") -> str:
    return blob_key(tenant, kind, "2026-11-01T10:00:00.000Z", name)


def test_an_object_reads_back_as_it_was_put(backend: Backend, tenant: str) -> None:
    key = key_of(tenant)
    backend.store.put(key, PNG)
    assert backend.store.get(key) == PNG


def test_an_empty_object_is_an_object(backend: Backend, tenant: str) -> None:
    key = key_of(tenant, "empty.png")
    backend.store.put(key, b"")
    assert backend.store.get(key) == b""
    assert backend.fetch(backend.store.signed_url(key)).status == 200


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("img_1.png", "image/png"),
        ("img_1.jpeg", "image/jpeg"),
        ("img_1.webp", "image/webp"),
        ("img_1.bin", "application/octet-stream"),
    ],
)
def test_a_signed_url_serves_the_bytes_with_their_keys_content_type_to_anyone(
    backend: Backend, tenant: str, name: str, content_type: str
) -> None:
    # Both stores take an object's type from its key (blobs.content_type_for): keys are ours,
    # named for their format, so the type cannot disagree with the name.
    key = key_of(tenant, name)
    backend.store.put(key, PNG)

    fetched = backend.fetch(backend.store.signed_url(key))

    assert (fetched.status, fetched.content_type, fetched.body) == (200, content_type, PNG)


def test_a_key_with_any_tenants_characters_round_trips_through_its_url(
    backend: Backend,
) -> None:
    key = key_of(f"tenant with space+é&?#-{uuid.uuid4().hex[:8]}")
    backend.store.put(key, PNG)
    fetched = backend.fetch(backend.store.signed_url(key))
    assert (fetched.status, fetched.body) == (200, PNG)


def test_putting_again_replaces_the_object(backend: Backend, tenant: str) -> None:
    key = key_of(tenant)
    backend.store.put(key, b"first version")
    backend.store.put(key, PNG)

    assert backend.store.get(key) == PNG
    assert backend.fetch(backend.store.signed_url(key)).body == PNG


def test_a_deleted_object_is_gone_and_its_neighbours_are_not(backend: Backend, tenant: str) -> None:
    key, neighbour = key_of(tenant, "img_1.png"), key_of(tenant, "img_2.png")
    backend.store.put(key, PNG)
    backend.store.put(neighbour, b"GIF89a")
    url = backend.store.signed_url(key)

    backend.store.delete(key)

    assert backend.fetch(url).status == 404
    assert backend.store.get(neighbour) == b"GIF89a"


def test_deleting_a_missing_object_is_harmless(backend: Backend, tenant: str) -> None:
    key = key_of(tenant)
    backend.store.delete(key)  # never there
    backend.store.put(key, PNG)
    backend.store.delete(key)
    backend.store.delete(key)  # there no more
    assert backend.fetch(backend.store.signed_url(key)).status == 404


@pytest.mark.parametrize("missing", ["never-put", "deleted", "folder"])
def test_reading_a_missing_object_raises_file_not_found(
    backend: Backend, tenant: str, missing: str
) -> None:
    # As BlobStore.get says; app/api/files.py answers 404 for it.
    key = key_of(tenant)
    if missing == "deleted":
        backend.store.put(key, PNG)
        backend.store.delete(key)
    if missing == "folder":
        # A key's folders are not objects (they are not on S3).
        backend.store.put(key, PNG)
        key = key.rsplit("/", 1)[0]

    with pytest.raises(FileNotFoundError):
        backend.store.get(key)


def test_a_signed_url_is_good_for_the_stores_ttl(backend: Backend, tenant: str) -> None:
    key = key_of(tenant)
    backend.store.put(key, PNG)
    before = time.time()
    url = backend.store.signed_url(key)
    after = time.time()
    # Both stores state expiry in whole seconds.
    assert int(before) + TTL_SECONDS <= backend.expires_at(url) <= after + TTL_SECONDS


def test_retaining_a_missing_object_is_harmless(backend: Backend, tenant: str) -> None:
    # Saving an image whose file is already gone must not fail the save.
    backend.store.set_retention(key_of(tenant), SAVED_RETENTION)


def test_a_saved_object_is_unchanged_and_still_served(backend: Backend, tenant: str) -> None:
    key = key_of(tenant)
    backend.store.put(key, PNG)

    backend.store.set_retention(key, SAVED_RETENTION)

    assert backend.store.get(key) == PNG
    fetched = backend.fetch(backend.store.signed_url(key))
    assert (fetched.status, fetched.content_type, fetched.body) == (200, "image/png", PNG)

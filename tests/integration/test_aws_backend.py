"""The whole service on its AWS backends: the API and worker processes keep their records in
DynamoDB and their files in S3 (moto's server, in the table and bucket `terraform apply` of
infra/modules/data created), found only through the standard AWS_ENDPOINT_URL_* variables."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import yaml
from openapi_core import OpenAPI
from PIL import Image as PilImage
from redis import Redis

from tests.conftest import (
    PYTHON,
    ROOT,
    Stack,
    Tenant,
    free_port,
    run_stack,
    service_env,
    wait_until,
)
from tests.integration.conftest import Api
from tests.integration.webhook_receiver import Receiver

NOVA = "amazon.nova-canvas-v1:0"


@pytest.fixture(scope="module")
def aws_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    model_endpoint: str,
    moto_endpoint: str,
    data_layer: dict[str, Any],
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("aws-stack")
    api_port = free_port()
    # A Redis database of its own, so the local stack's worker never takes these jobs.
    stack_redis = redis_url.rsplit("/", 1)[0] + "/14"
    Redis.from_url(stack_redis).flushdb()
    env = service_env(data_dir, stack_redis, model_endpoint, api_port)
    env.update(
        IMAGEGEN_STORAGE_BACKEND="aws",
        IMAGEGEN_DYNAMODB_TABLE=data_layer["table_name"],
        IMAGEGEN_S3_BUCKET=data_layer["bucket_name"],
        AWS_ENDPOINT_URL_DYNAMODB=moto_endpoint,
        AWS_ENDPOINT_URL_S3=moto_endpoint,
    )
    yield from run_stack(data_dir, env, api_port, model_endpoint)


def create_key(stack: Stack, tenant_id: str, user_id: str) -> Tenant:
    """Through the operator CLI, which must store the key in DynamoDB too."""
    key = subprocess.run(
        [PYTHON, "-m", "imagegen.cli", "create-key", "--tenant", tenant_id, "--user", user_id],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Tenant(tenant_id, user_id, key)


@pytest.fixture(scope="module")
def aws_openapi(aws_stack: Stack) -> OpenAPI:
    document = yaml.safe_load((ROOT / "app" / "openapi.yaml").read_text(encoding="utf-8"))
    document["servers"] = [{"url": aws_stack.base_url}]
    return OpenAPI.from_dict(document)


@pytest.fixture(scope="module")
def api(aws_stack: Stack, aws_openapi: OpenAPI) -> Api:
    return Api(aws_stack, create_key(aws_stack, "aws-tenant", "alice"), aws_openapi)


@pytest.fixture(scope="module")
def other_api(aws_stack: Stack, aws_openapi: OpenAPI) -> Api:
    return Api(aws_stack, create_key(aws_stack, "aws-other", "bob"), aws_openapi)


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def retention_of(s3: Any, bucket: str, key: str) -> str:
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tags}["retention"]


def object_keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def decoded(url: str) -> PilImage.Image:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    picture = PilImage.open(io.BytesIO(response.content))
    picture.load()
    return picture


def test_generated_images_are_stored_in_s3_and_recorded_in_dynamodb(api, s3, data_layer):
    response = api.generate({"prompt": "a lighthouse at dusk", "model": NOVA, "n": 2})
    assert response.status_code == 200, response.text
    images = response.json()["images"]
    assert len(images) == 2
    bucket = data_layer["bucket_name"]
    for image in images:
        assert decoded(image["url"]).size == (1024, 1024)
        assert decoded(image["thumbnail_url"]).format == "WEBP"
    stored = object_keys(s3, bucket, "aws-tenant/")
    assert len(stored) == 4  # two originals, two thumbnails
    assert {retention_of(s3, bucket, key) for key in stored} == {"temporary"}
    # The job is read back from DynamoDB by another process (the API).
    job_id = response.json()["job_id"]
    assert api.job(job_id).json()["job"]["status"]["status"] == "completed"


def test_the_library_lists_saves_redirects_and_deletes_on_aws(api, other_api, s3, data_layer):
    job = api.generate({"prompt": "a red kite over hills", "model": NOVA, "n": 2}).json()
    first, second = (image["image_id"] for image in job["images"])
    bucket = data_layer["bucket_name"]

    listing = api.request("GET", "/v1/images", params={"search": "red kite"}).json()
    assert {image["image_id"] for image in listing["images"]} == {first, second}
    assert listing["total"] == 2
    before = api.request("GET", "/v1/images").json()["summary"]

    saved = api.request("PATCH", f"/v1/images/{first}", json={"status": "saved"})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["status"] == "saved" and body["permanent_url"].endswith(f"/{first}/content")
    keys = {key for key in object_keys(s3, bucket, "aws-tenant/") if first in key}
    assert len(keys) == 2 and {retention_of(s3, bucket, key) for key in keys} == {"saved"}

    content = api.request(
        "GET", f"/v1/images/{first}/content", allow_redirects=False, documented=False
    )
    assert content.status_code == 302
    assert decoded(content.headers["Location"]).size == (1024, 1024)
    viewed = api.request("GET", f"/v1/images/{first}").json()
    assert (viewed["view_count"], viewed["download_count"]) == (1, 1)

    summary = api.request("GET", "/v1/images").json()["summary"]
    assert summary["saved_images"] == before["saved_images"] + 1
    assert summary["total_images"] == before["total_images"]
    assert other_api.request("GET", f"/v1/images/{first}").status_code == 404

    assert api.request("DELETE", f"/v1/images/{second}").status_code == 204
    assert not {key for key in object_keys(s3, bucket, "aws-tenant/") if second in key}
    assert api.request("GET", f"/v1/images/{second}").status_code == 404
    after = api.request("GET", "/v1/images").json()["summary"]
    assert after["total_images"] == before["total_images"] - 1


def test_a_batch_with_an_idempotency_key_and_a_webhook_runs_on_dynamodb(api, receiver: Receiver):
    path = "/aws-batch"
    body = {
        "requests": [
            {"prompt": "a fox", "model": NOVA},
            {"prompt": "a hare", "model": NOVA},
        ],
        "webhook_url": receiver.url(path),
    }
    headers = {"Idempotency-Key": f"aws-batch-{time.time_ns()}"}
    created = api.request("POST", "/v1/batches", json=body, headers=headers)
    assert created.status_code == 202, created.text
    replay = api.request("POST", "/v1/batches", json=body, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    batch_id = created.json()["batch_id"]
    assert replay.json()["batch_id"] == batch_id
    wait_until(
        lambda: api.request("GET", f"/v1/batches/{batch_id}").json()["status"] == "completed",
        timeout=60,
        what="the batch to complete",
    )
    events = {d.event["event"] for d in receiver.wait_for(path, 3, timeout=30)}
    assert "image.batch.completed" in events

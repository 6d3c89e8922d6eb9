"""The use cases of submitting and controlling jobs, run in-process on the local backend
(SQLite, files on disk) and a real Redis, with no worker: each asserts what the use case
itself leaves recorded, queued and stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from imagegen.caller import Caller
from imagegen.config import Settings
from imagegen.editing import parse_edit_request
from imagegen.errors import ServiceError
from imagegen.generation import parse_request
from imagegen.job_control import cancel_batch, cancel_job, retry_job
from imagegen.jobqueue import QUEUE_NAMES
from imagegen.records import CANCELLED, PENDING
from imagegen.services import Services, build_services
from imagegen.submissions import submit_batch, submit_edit, submit_generation
from localrun import EVERY_MODEL_ACTIVE
from tests.integration.images import b64, encode, scene

NOVA = "amazon.nova-canvas-v1:0"
CALLER = Caller(tenant_id="t1", user_id="u1", request_id="req_test")


@pytest.fixture
def svc(tmp_path: Path, redis_url: str) -> Iterator[Services]:
    # A database of its own on the suite's Redis, so no stack's runner takes these jobs.
    url = redis_url.rsplit("/", 1)[0] + "/9"
    Redis.from_url(url).flushdb()
    services = build_services(
        Settings.from_env(
            {
                "IMAGEGEN_DATA_DIR": str(tmp_path),
                "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
                "IMAGEGEN_REDIS_URL": url,
            }
        )
    )
    yield services
    services.redis.flushdb()


def _queued(svc: Services) -> set[str]:
    return {
        job_id.decode()
        for name in QUEUE_NAMES
        for job_id in svc.redis.lrange(f"rq:queue:{name}", 0, -1)
    }


def _inputs(svc: Services) -> list[Path]:
    return sorted((svc.settings.blob_dir / CALLER.tenant_id).glob("inputs/**/*.png"))


def _edit(prompt: str) -> dict[str, object]:
    return {
        "task": "variation",
        "model": NOVA,
        "prompt": prompt,
        "input_image_base64": b64(encode(scene((512, 512)))),
    }


def test_a_submitted_generation_is_recorded_then_queued(svc):
    job = submit_generation(svc, CALLER, parse_request({"prompt": "a fox", "model": NOVA}), None)
    stored = svc.repository.get_job(CALLER.tenant_id, job.job_id)
    assert stored is not None and stored.status == PENDING
    assert stored.plan == job.plan  # the typed plan survives the repository
    assert _queued(svc) == {job.job_id}


def test_cancelling_a_batch_removes_its_pending_edits_inputs_as_cancelling_a_job_does(svc):
    single = submit_edit(svc, CALLER, parse_edit_request(_edit("a fox in snow")), None)
    batch = submit_batch(
        svc, CALLER, {"requests": [{"type": "edit", **_edit(f"a hare {i}")} for i in range(2)]},
        None,
    )  # fmt: skip
    assert len(_inputs(svc)) == 3  # one prepared source per edit

    cancel_job(svc, CALLER, single.job_id)
    assert len(_inputs(svc)) == 2
    cancel_batch(svc, CALLER, batch.batch_id)
    assert _inputs(svc) == []
    for job_id in [single.job_id, *batch.job_ids]:
        job = svc.repository.get_job(CALLER.tenant_id, job_id)
        assert job is not None and job.status == CANCELLED


def test_a_failed_job_keeps_its_inputs_for_its_retry(svc):
    job = submit_edit(svc, CALLER, parse_edit_request(_edit("a heron")), None)
    svc.redis.delete(*(f"rq:queue:{name}" for name in QUEUE_NAMES))
    assert svc.repository.fail_job(job.job_id, {"code": "IMG201", "message": "x"}, job.created_at)
    retried = retry_job(svc, CALLER, job.job_id)
    assert (retried.status, retried.retry_count) == (PENDING, 1)
    assert len(_inputs(svc)) == 1
    assert _queued(svc) == {job.job_id}


def test_cancel_and_retry_refuse_a_job_in_no_state_for_them(svc):
    job = submit_generation(svc, CALLER, parse_request({"prompt": "a fox", "model": NOVA}), None)
    with pytest.raises(ServiceError) as refused:
        retry_job(svc, CALLER, job.job_id)
    assert refused.value.http_status == 409
    cancel_job(svc, CALLER, job.job_id)
    with pytest.raises(ServiceError) as again:
        cancel_job(svc, CALLER, job.job_id)
    assert again.value.http_status == 409
    with pytest.raises(ServiceError) as elsewhere:
        cancel_job(svc, Caller("t2", "u2", "r"), job.job_id)
    assert elsewhere.value.http_status == 404


def test_a_job_redis_does_not_take_is_still_accepted_and_recorded(svc, tmp_path):
    down = build_services(
        Settings.from_env(
            {
                "IMAGEGEN_DATA_DIR": str(tmp_path),
                "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE,
                "IMAGEGEN_REDIS_URL": "redis://127.0.0.1:1/0",
            }
        )
    )
    job = submit_generation(down, CALLER, parse_request({"prompt": "a fox", "model": NOVA}), None)
    stored = down.repository.get_job(CALLER.tenant_id, job.job_id)
    assert stored is not None and stored.status == PENDING  # the sweeper queues it

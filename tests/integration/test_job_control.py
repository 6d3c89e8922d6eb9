"""Cancel and retry through the real stack, with the flags telling the truth."""

from __future__ import annotations

import time

MODEL = "amazon.titan-image-generator-v1"
# The endpoint sleeps 4 s on this word; the stack's read timeout is 2 s, so a job with it
# runs for about 2 s per attempt and then fails with IMG202.
SLOW = "a slow trigger-slow lighthouse"


def _submit(api, prompt: str, **fields) -> str:
    response = api.generate({"prompt": prompt, "model": MODEL, "async": True, **fields})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _wait_for_status(api, job_id: str, status: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.job(job_id).json()
        if body["job"]["status"]["status"] == status:
            return body
        time.sleep(0.05)
    raise TimeoutError(f"{job_id} never became {status}")


def _files(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_cancelled_pending_job_never_runs(api, model_calls):
    # Both worker slots busy with slow jobs, so the third job waits in the queue.
    blockers = [_submit(api, SLOW) for _ in range(2)]
    for job_id in blockers:
        _wait_for_status(api, job_id, "processing")
    waiting = _submit(api, "a harbour that should never be drawn")
    before = api.job(waiting).json()
    assert before["job"]["status"]["status"] == "pending"
    assert before["can_cancel"] is True and before["can_retry"] is False

    response = api.request("POST", f"/v1/jobs/{waiting}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"]["status"] == "cancelled"
    assert response.json()["can_cancel"] is False
    for job_id in blockers:
        api.wait_for_job(job_id)
    time.sleep(0.5)  # give the worker time to pick the cancelled job up and drop it
    after = api.job(waiting).json()["job"]
    assert after["status"]["status"] == "cancelled" and "result" not in after
    prompts = [c["body"].get("textToImageParams", {}).get("text") for c in model_calls()]
    assert "a harbour that should never be drawn" not in prompts


def test_a_cancelled_processing_job_keeps_nothing(api, stack, tenant):
    """Cancelled while its three model calls (300 ms each) run: the images that come back
    are written, then removed, and none is recorded."""
    generated = stack.data_dir / "blobs" / tenant.tenant_id / "generated"
    files_before = _files(generated)
    response = api.generate(
        {"prompt": "a meadow", "model": "stability.stable-diffusion-xl-v1", "n": 3,
         "async": True}
    )  # fmt: skip
    job_id = response.json()["job_id"]
    _wait_for_status(api, job_id, "processing")

    cancel = api.request("POST", f"/v1/jobs/{job_id}/cancel")

    assert cancel.status_code == 200, cancel.text
    time.sleep(1.5)  # the calls come back and the worker notices the cancel
    job = api.job(job_id).json()["job"]
    assert job["status"]["status"] == "cancelled"
    assert "result" not in job and job["completed_at"]
    assert _files(generated) == files_before


def test_a_slow_cancelled_job_stays_cancelled_when_its_call_fails(api):
    job_id = _submit(api, SLOW)
    _wait_for_status(api, job_id, "processing")
    assert api.request("POST", f"/v1/jobs/{job_id}/cancel").status_code == 200
    time.sleep(3)  # the model call times out after the cancel
    job = api.job(job_id).json()["job"]
    assert job["status"]["status"] == "cancelled" and "error" not in job["status"]


def test_cancel_and_retry_refuse_jobs_in_the_wrong_state(api):
    done = api.generate({"prompt": "a barn", "model": MODEL}).json()["job_id"]
    for action in ("cancel", "retry"):
        response = api.request("POST", f"/v1/jobs/{done}/{action}")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "IMG302" and error["details"]["status"] == "completed"


def test_a_failed_job_is_retried_as_a_new_attempt_of_the_same_job(api, model_calls):
    job_id = _submit(api, "a castle trigger-error")
    failed = api.wait_for_job(job_id)
    assert failed["job"]["status"]["status"] == "failed"
    assert failed["can_retry"] is True and failed["can_cancel"] is False
    calls_before = len(model_calls())

    response = api.request("POST", f"/v1/jobs/{job_id}/retry")

    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/jobs/{job_id}"
    assert response.json()["job"]["retry_count"] == 1
    again = api.wait_for_job(job_id)
    assert again["job"]["retry_count"] == 1
    assert again["job"]["status"]["status"] == "failed"  # the model still fails on this prompt
    assert again["job"]["status"]["error"]["code"] == "IMG201"
    assert len(model_calls()) > calls_before  # it really ran again


def test_cancel_and_retry_of_another_tenants_job_are_404(api, other_api):
    job_id = _submit(other_api, "a private garden")
    for action in ("cancel", "retry"):
        assert api.request("POST", f"/v1/jobs/{job_id}/{action}").status_code == 404


def test_a_cancelled_running_job_stops_without_waiting_for_its_model_call(api, stack):
    from datetime import UTC, datetime

    from redis import Redis
    from rq.job import Job as RqJob

    job_id = _submit(api, SLOW)  # its one model call takes 2 s (the read timeout)
    _wait_for_status(api, job_id, "processing")
    cancelled_at = datetime.now(UTC)
    assert api.request("POST", f"/v1/jobs/{job_id}/cancel").status_code == 200
    rq_job = RqJob.fetch(job_id, connection=Redis.from_url(stack.env["IMAGEGEN_REDIS_URL"]))
    deadline = time.monotonic() + 5
    while rq_job.ended_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
        rq_job.refresh()
    assert rq_job.ended_at is not None
    # The run noticed within its 0.5 s check: before its call's 2 s were up, and before its
    # lease renewal (every 1 s here) would have told it.
    stopped_after = rq_job.ended_at.replace(tzinfo=UTC) - cancelled_at
    print(f"stopped {stopped_after.total_seconds():.3f} s after the cancel")
    assert stopped_after.total_seconds() < 0.75
    assert api.job(job_id).json()["job"]["status"]["status"] == "cancelled"

"""Progress moves per image as a job's model calls return, and the estimate follows from it.

The model is the one part faked here (Bedrock is out of reach); the repository, blob store
and the worker's own code are the real ones.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import timedelta

from PIL import Image as PILImage

from imagegen.config import Settings
from imagegen.generation import parse_request, plan_generation
from imagegen.plan import GenerationPlan, ModelCall
from imagegen.providers.bedrock import CallWindow
from imagegen.providers.bodies import Artifact, ModelInputs
from imagegen.records import PENDING, Job, parse_utc, utc_in, utc_now
from imagegen.serializers import status_detail
from imagegen.services import build_services
from localrun import EVERY_MODEL_ACTIVE
from worker.jobs import Lease, _generate

SDXL = "stability.stable-diffusion-xl-v1"


class StaggeredModel:
    """Answers each call after its own delay: the second image 0.4 s after the first, etc."""

    def generate(
        self,
        plan: GenerationPlan,
        call: ModelCall,
        window: CallWindow,
        inputs: ModelInputs | None = None,
    ) -> list[Artifact]:
        index = call.seed - plan.seed
        time.sleep(0.2 + 0.4 * index)
        buffer = io.BytesIO()
        PILImage.new("RGB", (plan.width, plan.height), (index * 60, 90, 160)).save(buffer, "PNG")
        return [Artifact(buffer.getvalue(), call.seed)]


def test_progress_moves_per_image_and_the_estimate_appears_after_the_first(tmp_path):
    services = build_services(
        Settings.from_env(
            {"IMAGEGEN_DATA_DIR": str(tmp_path), "IMAGEGEN_MODEL_LIFECYCLE": EVERY_MODEL_ACTIVE}
        )
    )
    request = parse_request({"prompt": "a fox", "model": SDXL, "n": 3, "seed": 5})
    job = Job(
        job_id="job_" + uuid.uuid4().hex, tenant_id="t1", user_id="u1", request_id="r",
        kind="text_to_image", request={}, plan=plan_generation(request, SDXL),
        status=PENDING, created_at=utc_now(),
    )  # fmt: skip
    services.repository.add_job(job)
    run_id = "run_" + uuid.uuid4().hex
    assert services.repository.start_job(job.job_id, run_id, utc_now(), utc_in(30))

    seen: list[tuple[int, object]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            current = services.repository.load_job(job.job_id)
            assert current is not None
            detail = status_detail(current)
            if not seen or seen[-1][0] != detail["progress"]:
                seen.append((detail["progress"], detail.get("estimated_time")))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with Lease(services.repository, job.job_id, run_id, 30) as lease:
            window = CallWindow(time.monotonic() + 60, threading.Event())
            images = _generate(services, StaggeredModel(), job, run_id, lease, window)
    finally:
        stop.set()
        watcher.join()

    # The last step (99: 3 of 3) may come too close to the end for the watcher to see it.
    assert [progress for progress, _ in seen][:3] == [0, 33, 66]
    assert seen[0][1] is None  # nothing to estimate from before the first image
    assert all(estimate is not None and estimate >= 1 for _, estimate in seen[1:3])
    assert [image.seed for image in images] == [5, 6, 7]
    done = services.repository.load_job(job.job_id)
    assert done is not None and (done.progress, done.status_message) == (99, "3 of 3 images done")


def test_the_estimate_is_time_per_image_so_far_times_those_left():
    started = utc_now()
    job = Job(
        job_id="job_x", tenant_id="t1", user_id="u1", request_id="r", kind="text_to_image",
        request={}, plan=plan_generation(parse_request({"prompt": "x", "n": 4}), SDXL), status="processing", created_at=started,
        started_at=started, progress=25,
    )  # fmt: skip
    ten_seconds_in = parse_utc(started) + timedelta(seconds=10)
    assert status_detail(job, ten_seconds_in)["estimated_time"] == 30
    job.progress = 0
    assert "estimated_time" not in status_detail(job, ten_seconds_in)
    job.status, job.progress = "completed", 100
    assert "estimated_time" not in status_detail(job, ten_seconds_in)


def test_a_job_waiting_for_quota_says_where_it_waits_and_when_its_turn_comes():
    job = Job(
        job_id="job_w", tenant_id="t1", user_id="u1", request_id="r", kind="text_to_image",
        request={}, plan=plan_generation(parse_request({"prompt": "x"}), SDXL), status=PENDING, created_at=utc_now(),
    )  # fmt: skip
    place = {
        "model": SDXL,
        "requests_per_minute": 120,
        "current_per_minute": 120.0,
        "jobs_ahead": 9,
        "estimated_wait_seconds": 5.0,
    }
    detail = status_detail(job, quota_wait=place)
    assert detail["quota_wait"] == place
    assert detail["estimated_time"] == 5.0
    # Once it runs, the place it had in line is not its state any more.
    job.status, job.progress = "processing", 0
    assert "quota_wait" not in status_detail(job, quota_wait=place)

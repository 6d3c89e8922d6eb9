"""Job functions the RQ worker runs. Each takes an id, loads state, calls adapters, records.

Running a job twice never produces two results: a job that is not pending is left alone,
and each run holds the job under its own run id and lease (imagegen.storage.repository).
"""

from __future__ import annotations

import base64
import logging
import mmap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

from imagegen import catalog, errors, library
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done, job_webhook
from imagegen.generation import GenerationPlan
from imagegen.imaging import check_and_thumbnail
from imagegen.job_files import discard_files, image_id, image_keys
from imagegen.logs import log_context
from imagegen.metrics import record_outcome
from imagegen.providers.bedrock import BedrockImageModels, CallWindow
from imagegen.providers.bodies import Artifact, ModelInputs
from imagegen.records import (
    CANCELLED,
    COMPLETED,
    EDITED,
    FAILED,
    GENERATED,
    Image,
    Job,
    utc_in,
    utc_now,
)
from imagegen.services import Services, build_services
from imagegen.storage.repository import Repository

log = logging.getLogger(__name__)


@cache
def services() -> Services:
    """This process's adapters, built once (see warm_up)."""
    return build_services(Settings.from_env())


@cache
def _models() -> BedrockImageModels:
    return BedrockImageModels(services().settings, services().budget)


def warm_up() -> None:
    """Build the adapters before forking. The parent never opens a connection with them,
    so the forked processes share no live sockets (redis-py also resets pools after fork)."""
    services()
    _models()


def run_generation(job_id: str) -> None:
    svc = services()
    job = svc.repository.load_job(job_id)
    if job is None:
        log.error("job not found", extra={"job_id": job_id})
        return
    with log_context(request_id=job.request_id, job_id=job.job_id, tenant_id=job.tenant_id):
        lease_seconds = svc.settings.job_lease_seconds
        run_id = "run_" + uuid.uuid4().hex
        # Announced before the job is taken, so there is no moment when this process holds
        # the job and its supervisor does not know which run it is.
        with _held(job_id, run_id):
            if not svc.repository.start_job(job_id, run_id, utc_now(), utc_in(lease_seconds)):
                log.info("job is not pending; nothing to do", extra={"status": job.status})
                return
            log.info(
                "generation started",
                extra={"model": job.plan["model_id"], "n": job.plan["n"], "run_id": run_id},
            )
            with Lease(svc.repository, job_id, run_id, lease_seconds) as lease:
                outcome = _run(svc, job, run_id, lease)
        if outcome in (COMPLETED, FAILED):
            record_outcome(svc.redis, outcome)
        if outcome != LOST:
            svc.queue.signal_finished(job_id)
            finish_batch_if_done(svc.repository, job)


# The run gave the job up: it was taken back and runs again elsewhere.
LOST = "lost"


class RunSlot:
    """Which job, under which run, the work horse of one RQ worker process holds.

    Anonymous shared memory: the supervisor makes one per RQ worker process before forking
    it, and the horses that process forks write to the same pages. So when the supervisor
    hands back the job of a horse it killed at shutdown, it names exactly the run that horse
    held: a run that replaced it elsewhere (its lease ran out) is left alone, and Redis is
    not needed to find out.
    """

    _SIZE = 256

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, self._SIZE)  # MAP_SHARED | MAP_ANONYMOUS

    def hold(self, job_id: str, run_id: str) -> None:
        data = f"{job_id} {run_id}".encode()
        if len(data) > self._SIZE:
            raise ValueError("job and run ids too long for the run slot")
        self._memory[:] = data.ljust(self._SIZE, b"\0")

    def release(self) -> None:
        self._memory[:] = bytes(self._SIZE)

    def held(self) -> tuple[str, str] | None:
        """(job id, run id), or None when no run is held. Read it once the horse is gone."""
        data = self._memory[:].rstrip(b"\0")
        if not data:
            return None
        job_id, _, run_id = data.decode().partition(" ")
        return job_id, run_id


_run_slot: RunSlot | None = None


def use_run_slot(slot: RunSlot) -> None:
    """In an RQ worker process: its horses report their runs to this slot."""
    global _run_slot
    _run_slot = slot


@contextmanager
def _held(job_id: str, run_id: str) -> Iterator[None]:
    if _run_slot is None:
        yield
        return
    _run_slot.hold(job_id, run_id)
    try:
        yield
    finally:
        _run_slot.release()


def _run(services: Services, job: Job, run_id: str, lease: Lease) -> str:
    """Generate, then record the outcome; the job's outcome, as far as this run knows it."""
    try:
        images = _generate(services, _models(), job, run_id, lease)
    except RunStopped:
        return _stopped(services, job)
    except Exception as exc:
        if not isinstance(exc, ServiceError):
            log.exception("generation failed unexpectedly")
        error = (
            exc
            if isinstance(exc, ServiceError)
            else ServiceError(errors.GENERATION_FAILED, "image generation failed")
        )
        now = utc_now()
        webhook = job_webhook(job, FAILED, now)
        if services.repository.fail_job(job.job_id, error.to_dict(), now, run_id, webhook):
            discard_files(services.blobs, job)
            log.warning("generation failed", extra={"error_code": error.code})
            return FAILED
        return _stopped(services, job)
    plan = GenerationPlan.from_dict(job.plan)
    now = utc_now()
    webhook = job_webhook(job, COMPLETED, now)
    if services.repository.complete_job(job.job_id, run_id, images, plan.cost(), now, webhook):
        log.info("generation completed", extra={"images": len(images)})
        return COMPLETED
    return _stopped(services, job)


def _stopped(services: Services, job: Job) -> str:
    """The run no longer holds the job. Cancelled: its files go. Taken back: they stay, as
    the run that replaced this one writes the same keys."""
    current = services.repository.load_job(job.job_id)
    if current is not None and current.status == CANCELLED:
        discard_files(services.blobs, job)
        log.info("job cancelled while running; its files were removed")
        return CANCELLED
    log.warning("job was taken back from this run; leaving it to the run that replaced it")
    return LOST


class RunStopped(Exception):
    """The run lost the job while its model calls ran: cancelled, or taken back."""


class Lease:
    """Keeps renewing the run's lease on its job from a thread, while the job runs.

    The sweeper takes back a job whose lease ran out (its worker died); a renewal that
    fails means the run lost the job (cancelled, or taken back), which `lost` reports.
    """

    def __init__(self, repository: Repository, job_id: str, run_id: str, seconds: float) -> None:
        self._repository = repository
        self._job_id = job_id
        self._run_id = run_id
        self._seconds = seconds
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                held = self._repository.renew_lease(
                    self._job_id, self._run_id, utc_in(self._seconds)
                )
            except Exception:
                log.exception("renewing the job's lease failed; trying again")
                continue
            if not held:
                self.lost.set()
                return


def _generate(
    services: Services, models: BedrockImageModels, job: Job, run_id: str, lease: Lease
) -> list[Image]:
    """Make every call of the plan at once; store each image as it arrives.

    Image ids and file keys follow from the job and the image's place in it, so a run that
    replaces a dead one overwrites its files instead of leaving a second set.
    """
    plan = GenerationPlan.from_dict(job.plan)
    inputs = _load_inputs(services, plan)
    images: list[Image] = []
    window = CallWindow(_deadline(services, job), threading.Event())
    pool = ThreadPoolExecutor(max_workers=len(plan.calls()))
    pending = {
        pool.submit(models.generate, plan, call, window, inputs): call for call in plan.calls()
    }
    waiting_said = False
    try:
        while pending:
            done, _ = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            if lease.lost.is_set() or services.queue.is_cancelled(job.job_id):
                raise RunStopped()
            # Said once while the calls wait, not at every poll: waits can last an hour.
            if window.waited.is_set() and not waiting_said:
                waiting_said = True
                progress = min(99, 100 * len(images) // plan.n)
                message = f"waiting for {plan.model_id}'s quota ({len(images)} of {plan.n} done)"
                if not services.repository.update_progress(job.job_id, run_id, progress, message):
                    raise RunStopped()
            for future in done:
                call = pending.pop(future)
                first = call.seed - plan.seed
                for offset, artifact in enumerate(future.result()):
                    images.append(_store(services, job, plan, first + offset, artifact))
            if done:
                window.waited.clear()
                waiting_said = False
                progress = min(99, 100 * len(images) // plan.n)
                message = f"{len(images)} of {plan.n} images done"
                if not services.repository.update_progress(job.job_id, run_id, progress, message):
                    raise RunStopped()
    finally:
        # On failure or cancel, calls still in flight are abandoned rather than awaited: they
        # only return bytes, and nothing stores them. Calls still waiting for the model's
        # budget stop waiting and are never sent.
        window.stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)
    images.sort(key=lambda image: image.seed or 0)
    return images


def _deadline(services: Services, job: Job) -> float:
    """When (time.monotonic()) the job's calls stop waiting for quota: its deadline counts
    from when it was accepted, across runs and recoveries."""
    created = datetime.fromisoformat(job.created_at)
    left = services.settings.job_deadline_seconds - (datetime.now(UTC) - created).total_seconds()
    return time.monotonic() + left


# How often a run waiting on model calls checks whether it was cancelled.
_POLL_SECONDS = 0.5


def _load_inputs(services: Services, plan: GenerationPlan) -> ModelInputs:
    """An edit's prepared images, read back from the blob store once for all its calls."""

    def load(key: str) -> str:
        return base64.b64encode(services.blobs.get(key)).decode("ascii")

    return ModelInputs(
        source=load(plan.source_key) if plan.source_key else None,
        mask=load(plan.mask_key) if plan.mask_key else None,
        references=tuple(load(key) for key in plan.reference_keys),
    )


def _store(
    services: Services, job: Job, plan: GenerationPlan, index: int, artifact: Artifact
) -> Image:
    checked = check_and_thumbnail(artifact.data)
    key, thumb_key = image_keys(job, index, checked.format)
    services.blobs.put(key, checked.data, checked.content_type)
    services.blobs.put(thumb_key, checked.thumbnail, "image/webp")
    request = job.request
    edited = plan.task != catalog.TEXT_TO_IMAGE
    created_at = utc_now()
    return Image(
        image_id=image_id(job.job_id, index),
        tenant_id=job.tenant_id,
        user_id=job.user_id,
        job_id=job.job_id,
        model_id=plan.model_id,
        original_prompt=plan.prompt or None,
        revised_prompt=plan.prompt or None,
        negative_prompt=plan.negative_prompt,
        width=checked.width,
        height=checked.height,
        format=checked.format,
        size_bytes=len(checked.data),
        quality=plan.quality,
        style=plan.style,
        seed=artifact.seed if plan.task != catalog.REMOVE_BACKGROUND else None,
        blob_key=key,
        thumbnail_key=thumb_key,
        created_at=created_at,
        chat_id=request.get("chat_id"),
        user_tags=list(request.get("user_tags") or []),
        description=request.get("description"),
        image_type=EDITED if edited else GENERATED,
        expires_at=library.temporary_expiry(services.settings, created_at),
    )

"""Job functions the RQ worker runs. Each takes an id, loads state, calls adapters, records.

Running a job twice never produces two results: a job that is not pending is left alone.
"""

from __future__ import annotations

import base64
import logging
import uuid
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import cache

from imagegen import catalog, errors
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.generation import GenerationPlan
from imagegen.imaging import check_and_thumbnail
from imagegen.logs import log_context
from imagegen.metrics import record_outcome
from imagegen.providers.bedrock import BedrockImageModels
from imagegen.providers.bodies import Artifact, ModelInputs
from imagegen.records import EDITED, GENERATED, Image, Job, utc_now
from imagegen.services import Services, build_services
from imagegen.storage.blobs import blob_key

log = logging.getLogger(__name__)


@cache
def _services() -> Services:
    return build_services(Settings.from_env())


@cache
def _models() -> BedrockImageModels:
    return BedrockImageModels(_services().settings)


def warm_up() -> None:
    """Build the adapters before forking. The parent never opens a connection with them,
    so the forked processes share no live sockets (redis-py also resets pools after fork)."""
    _services()
    _models()


def run_generation(job_id: str) -> None:
    services = _services()
    job = services.repository.load_job(job_id)
    if job is None:
        log.error("job not found", extra={"job_id": job_id})
        return
    with log_context(request_id=job.request_id, job_id=job.job_id, tenant_id=job.tenant_id):
        if not services.repository.start_job(job_id, utc_now()):
            log.info("job is not pending; nothing to do", extra={"status": job.status})
            return
        log.info("generation started", extra={"model": job.plan["model_id"], "n": job.plan["n"]})
        outcome = "failed"
        try:
            images = _generate(services, _models(), job)
        except JobCancelled:
            outcome = "cancelled"
            log.info("job cancelled while running; its files were removed")
        except Exception as exc:
            if not isinstance(exc, ServiceError):
                log.exception("generation failed unexpectedly")
            error = (
                exc
                if isinstance(exc, ServiceError)
                else ServiceError(errors.GENERATION_FAILED, "image generation failed")
            )
            if services.repository.fail_job(job_id, error.to_dict(), utc_now()):
                log.warning("generation failed", extra={"error_code": error.code})
            else:
                outcome = "cancelled"  # the failure came after a cancel: it stays cancelled
        else:
            plan = GenerationPlan.from_dict(job.plan)
            if services.repository.complete_job(job_id, images, plan.cost(), utc_now()):
                outcome = "completed"
                log.info("generation completed", extra={"images": len(images)})
            else:
                _delete_files(services, images)
                outcome = "cancelled"
                log.info("job cancelled before it could complete; its files were removed")
        finally:
            if outcome != "cancelled":
                record_outcome(services.redis, outcome)
            services.queue.signal_finished(job_id)


class JobCancelled(Exception):
    """The job was cancelled while its model calls ran."""


def _generate(services: Services, models: BedrockImageModels, job: Job) -> list[Image]:
    """Make every call of the plan at once; store each image as it arrives.

    If any call fails, the files already written are removed, so a failed job leaves
    nothing half-written behind.
    """
    plan = GenerationPlan.from_dict(job.plan)
    calls = plan.calls()
    inputs = _load_inputs(services, plan)
    images: list[Image] = []
    try:
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            pending = {pool.submit(models.generate, plan, call, inputs) for call in calls}
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    for artifact in future.result():
                        images.append(_store(services, job, plan, artifact))
                    progress = min(99, 100 * len(images) // plan.n)
                    still_running = services.repository.update_progress(
                        job.job_id, progress, f"{len(images)} of {plan.n} images done"
                    )
                    if not still_running:
                        for future in pending:
                            future.cancel()
                        raise JobCancelled()
    except BaseException:
        _delete_files(services, images)
        raise
    images.sort(key=lambda image: image.seed or 0)
    return images


def _delete_files(services: Services, images: list[Image]) -> None:
    for image in images:
        services.blobs.delete(image.blob_key)
        if image.thumbnail_key:
            services.blobs.delete(image.thumbnail_key)


def _load_inputs(services: Services, plan: GenerationPlan) -> ModelInputs:
    """An edit's prepared images, read back from the blob store once for all its calls."""

    def load(key: str) -> str:
        return base64.b64encode(services.blobs.get(key)).decode("ascii")

    return ModelInputs(
        source=load(plan.source_key) if plan.source_key else None,
        mask=load(plan.mask_key) if plan.mask_key else None,
        references=tuple(load(key) for key in plan.reference_keys),
    )


def _store(services: Services, job: Job, plan: GenerationPlan, artifact: Artifact) -> Image:
    checked = check_and_thumbnail(artifact.data)
    image_id = "img_" + uuid.uuid4().hex
    created_at = utc_now()
    edited = plan.task != catalog.TEXT_TO_IMAGE
    kind = "edited" if edited else "generated"
    key = blob_key(job.tenant_id, kind, created_at, f"{image_id}.{checked.format}")
    thumb_key = blob_key(job.tenant_id, "thumbnails", created_at, f"{image_id}.webp")
    services.blobs.put(key, checked.data, checked.content_type)
    services.blobs.put(thumb_key, checked.thumbnail, "image/webp")
    request = job.request
    return Image(
        image_id=image_id,
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
    )

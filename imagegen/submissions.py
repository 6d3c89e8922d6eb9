"""Submitting work: a generation, an edit or a batch of them becomes jobs, recorded, then queued.

A job is accepted once it is recorded: the database, not Redis, is the record of what was
accepted. Queueing comes second, and a job Redis does not take (Redis down, a timeout)
stays pending in the record; the worker's sweeper queues it once it has waited
IMAGEGEN_REQUEUE_AFTER_SECONDS. So a submission answers 202 whether or not the queue took
its jobs, and nothing accepted depends on Redis to survive (docs/architecture.md).

A batch's requests are all checked before anything is stored, so a batch is accepted whole
or refused whole, the error naming the request by `details.index`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from imagegen import catalog, errors
from imagegen.admission import admit_images, admit_storage
from imagegen.caller import Caller
from imagegen.credits import hold_prices, refused
from imagegen.edit_inputs import EditDraft
from imagegen.editing import EditRequest, parse_edit_request
from imagegen.errors import ServiceError
from imagegen.generation import GenerationRequest, parse_request, plan_generation, validate_body
from imagegen.job_files import discard_inputs
from imagegen.plan import GenerationPlan
from imagegen.records import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    PENDING,
    Batch,
    IdempotencyClaim,
    IdempotencyKey,
    Job,
    utc_now,
)
from imagegen.services import Services
from imagegen.storage.repository import IdempotencyKeyTaken, InsufficientCredits
from imagegen.webhooks.destinations import check_webhook_url

log = logging.getLogger(__name__)


def submit_generation(
    svc: Services, caller: Caller, generation: GenerationRequest, claim: IdempotencyClaim | None
) -> Job:
    """Record and queue a text-to-image job (IdempotencyKeyTaken: see submit_job)."""
    job = _generation_job(svc, caller, generation)
    admit_images(svc, caller, job.plan.n)
    admit_storage(svc, caller)
    return submit_job(svc, job, claim)


def submit_edit(
    svc: Services, caller: Caller, edit: EditRequest, claim: IdempotencyClaim | None
) -> Job:
    """Check an edit and its images, store its inputs, record and queue its job."""
    draft = EditDraft.check(svc, caller, edit)
    admit_images(svc, caller, draft.edit.n)
    admit_storage(svc, caller)
    return submit_job(svc, _edit_job(caller, draft), claim)


def submit_job(svc: Services, job: Job, claim: IdempotencyClaim | None) -> Job:
    """Record a new job with its idempotency binding, then queue it.

    Raises IdempotencyKeyTaken when an identical request bound the key meanwhile: nothing
    is recorded and the inputs this job stored are removed; the caller answers about the
    job the binding names. A metered tenant's job holds its price from the same write, or
    is refused (402 IMG101) with nothing recorded.
    """
    hold_prices(svc, job.tenant_id, [job])
    try:
        svc.repository.add_job(job, _bound(svc, claim, job.tenant_id, job.job_id))
    except (IdempotencyKeyTaken, InsufficientCredits) as refusal:
        discard_inputs(svc.blobs, job.plan)
        if isinstance(refusal, InsufficientCredits):
            raise refused(refusal) from None
        raise
    queue_recorded(svc, [job])
    log.info(
        "job accepted",
        extra={
            "job_id": job.job_id,
            "task": job.kind,
            "model": job.plan.model_id,
            "n": job.plan.n,
            "priority": job.priority,
        },
    )
    return job


_ITEM_TYPES = ("generation", "edit")


class BatchRequest(BaseModel):
    """The body of POST /v1/batches: the requests, and the settings each inherits unless it
    sets its own. Each request is checked on its own, as its route would check it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    requests: list[dict[str, Any]] = Field(min_length=1)
    webhook_url: str | None = Field(default=None, max_length=2048)
    priority: int | None = Field(default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY)

    def items(self) -> list[dict[str, Any]]:
        inherited = self.model_dump(exclude={"requests"}, exclude_none=True)
        return [{**inherited, **item} for item in self.requests]


def submit_batch(svc: Services, caller: Caller, body: Any, claim: IdempotencyClaim | None) -> Batch:
    """Check every request of a batch, then store their inputs, record the batch with all
    its jobs in one write, and queue them (IdempotencyKeyTaken as submit_job)."""
    request = parse_batch(svc, body)
    batch_id = "bat_" + uuid.uuid4().hex
    drafts: list[EditDraft | Job] = []
    for index, item in enumerate(request.items()):
        with _naming_item(index):
            drafts.append(_checked_item(svc, caller, item, batch_id))
    admit_images(
        svc,
        caller,
        sum(draft.edit.n if isinstance(draft, EditDraft) else draft.plan.n for draft in drafts),
    )
    admit_storage(svc, caller)
    jobs = [
        _edit_job(caller, draft, batch_id) if isinstance(draft, EditDraft) else draft
        for draft in drafts
    ]
    batch = Batch(
        batch_id=batch_id,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        request_id=caller.request_id,
        job_ids=[job.job_id for job in jobs],
        status=PENDING,
        created_at=utc_now(),
        webhook_url=request.webhook_url,
    )
    hold_prices(svc, caller.tenant_id, jobs)
    try:
        svc.repository.add_batch(batch, jobs, _bound(svc, claim, batch.tenant_id, batch_id))
    except (IdempotencyKeyTaken, InsufficientCredits) as refusal:
        for job in jobs:
            discard_inputs(svc.blobs, job.plan)
        if isinstance(refusal, InsufficientCredits):
            raise refused(refusal) from None
        raise
    queue_recorded(svc, jobs)
    log.info("batch accepted", extra={"batch_id": batch_id, "jobs": len(jobs)})
    return batch


def queue_recorded(svc: Services, jobs: list[Job]) -> None:
    """Put recorded jobs on their queues, all in one round trip to Redis. Jobs Redis does
    not take stay pending in the record, and the sweeper queues them."""
    try:
        svc.queue.enqueue_generations([(job.job_id, job.request_id, job.priority) for job in jobs])
    except RedisError:
        log.warning(
            "could not queue recorded jobs; the sweeper will",
            exc_info=True,
            extra={"job_ids": [job.job_id for job in jobs]},
        )


def _bound(
    svc: Services, claim: IdempotencyClaim | None, tenant_id: str, resource_id: str
) -> IdempotencyKey | None:
    if claim is None:
        return None
    return claim.bind(tenant_id, resource_id, svc.settings.idempotency_ttl_seconds)


def _generation_job(
    svc: Services, caller: Caller, generation: GenerationRequest, batch_id: str | None = None
) -> Job:
    plan = plan_generation(generation, svc.lifecycle.serving_default(svc.settings.default_model))
    svc.lifecycle.require_usable(plan.model_id)
    check_webhook_url(generation.webhook_url, svc.webhook_policy)
    return _new_job(
        caller,
        "job_" + uuid.uuid4().hex,
        utc_now(),
        kind=catalog.TEXT_TO_IMAGE,
        request=generation.model_dump(by_alias=True, exclude_none=True),
        plan=plan,
        webhook_url=generation.webhook_url,
        priority=generation.priority,
        batch_id=batch_id,
    )


def _edit_job(caller: Caller, draft: EditDraft, batch_id: str | None = None) -> Job:
    job_id = "job_" + uuid.uuid4().hex
    created_at = utc_now()
    stored_request, plan = draft.store(job_id, created_at)
    return _new_job(
        caller,
        job_id,
        created_at,
        kind=draft.edit.task,
        request=stored_request,
        plan=plan,
        webhook_url=draft.edit.webhook_url,
        priority=draft.edit.priority,
        batch_id=batch_id,
    )


def _new_job(
    caller: Caller,
    job_id: str,
    created_at: str,
    *,
    kind: str,
    request: dict[str, Any],
    plan: GenerationPlan,
    webhook_url: str | None,
    priority: int,
    batch_id: str | None,
) -> Job:
    return Job(
        job_id=job_id,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        request_id=caller.request_id,
        kind=kind,
        request=request,
        plan=plan,
        status=PENDING,
        status_message="queued",
        created_at=created_at,
        webhook_url=webhook_url,
        priority=priority,
        batch_id=batch_id,
    )


def parse_batch(svc: Services, body: Any) -> BatchRequest:
    """The batch's shape and shared settings; each request is checked on its own later."""
    request = validate_body(BatchRequest, body)
    limit = svc.settings.max_batch_requests
    if len(request.requests) > limit:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"a batch takes at most {limit} requests, got {len(request.requests)}",
            {"parameter": "requests", "limit": limit},
        )
    check_webhook_url(request.webhook_url, svc.webhook_policy)
    return request


def _checked_item(
    svc: Services, caller: Caller, item: dict[str, Any], batch_id: str
) -> EditDraft | Job:
    fields = dict(item)
    kind = fields.pop("type", "generation")
    if kind not in _ITEM_TYPES:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            f"type must be one of {', '.join(_ITEM_TYPES)}",
            {"parameter": "type", "allowed": list(_ITEM_TYPES)},
        )
    if "async" in fields:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "the requests of a batch always run asynchronously: leave out 'async'",
            {"parameter": "async"},
        )
    if kind == "edit":
        return EditDraft.check(svc, caller, parse_edit_request(fields, strict=True))
    return _generation_job(svc, caller, parse_request(fields), batch_id)


@contextmanager
def _naming_item(index: int) -> Iterator[None]:
    """Prefixes a refused request's error with its place in the batch."""
    try:
        yield
    except ServiceError as error:
        error.message = f"requests[{index}]: {error.message}"
        error.details = {**error.details, "index": index}
        raise

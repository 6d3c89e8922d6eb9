"""What a client does with a job it submitted: read it, wait for it, cancel it, retry it.

Cancel is one rule for a job and for a batch's jobs: a pending job never runs, and the files
it could leave (a dead run's images, an edit's prepared inputs) are removed at once; a
processing job stops at its next image and its run removes what it wrote. Retry runs a
failed job again as a new attempt of the same job (retry_count + 1). Both answer 409 when
the job is in no state for it. The database holds each change; the Redis signals that
follow only save runs and waiters from polling, so a Redis failure does not undo them.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from imagegen import errors
from imagegen.admission import admit_images
from imagegen.caller import Caller
from imagegen.credits import refused
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done
from imagegen.job_files import discard_files, discard_inputs
from imagegen.records import FAILED, PENDING, PROCESSING, Batch, Job, parse_utc, utc_now
from imagegen.services import Services
from imagegen.storage.repository import InsufficientCredits
from imagegen.submissions import queue_recorded

log = logging.getLogger(__name__)


def owned_job(svc: Services, caller: Caller, job_id: str) -> Job:
    """The caller's job; another tenant's job is indistinguishable from a missing one."""
    job = svc.repository.get_job(caller.tenant_id, job_id)
    if job is None:
        raise ServiceError(errors.NOT_FOUND, f"no job {job_id}")
    return job


def owned_batch(svc: Services, caller: Caller, batch_id: str) -> Batch:
    batch = svc.repository.get_batch(caller.tenant_id, batch_id)
    if batch is None:
        raise ServiceError(errors.NOT_FOUND, f"no batch {batch_id}")
    return batch


def job_with_quota_wait(
    svc: Services, caller: Caller, job_id: str
) -> tuple[Job, dict[str, Any] | None]:
    """The caller's job and, while it is parked, where it waits for its model's quota.
    One Redis read, so only for a job asked about on its own, not in a listing."""
    job = owned_job(svc, caller, job_id)
    if job.status != PENDING:
        return job, None
    return job, svc.budget.place(job.plan.model_id, job.job_id)


@dataclass(frozen=True)
class JobQuery:
    """A page of the caller's jobs, newest first: all, or those in one status or of one
    user; cursor is the next_cursor of the page before."""

    status: str | None = None
    user_id: str | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None  # None on the last page


def job_page(svc: Services, caller: Caller, query: JobQuery) -> JobPage:
    after = _cursor_position(query.cursor)
    found = svc.repository.list_jobs(
        caller.tenant_id, query.status, query.limit + 1, after, user_id=query.user_id
    )
    if len(found) <= query.limit:
        return JobPage(found, None)
    last = found[query.limit - 1]
    cursor = base64.urlsafe_b64encode(f"{last.created_at}|{last.job_id}".encode()).decode()
    return JobPage(found[: query.limit], cursor)


def _cursor_position(cursor: str | None) -> tuple[str, str] | None:
    """Where a page starts: after the (created_at, job_id) its cursor names. Cursors are
    opaque to clients."""
    if cursor is None:
        return None
    try:
        created_at, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parse_utc(created_at)
    except ValueError:
        raise ServiceError(
            errors.INVALID_PARAMETERS,
            "cursor is not one this API gave out (pass next_cursor as it came)",
            {"parameter": "cursor"},
        ) from None
    return created_at, job_id


def wait_for_job(svc: Services, job: Job, seconds: float) -> Job:
    """The job once it finished, or as it is when `seconds` ran out (or Redis failed)."""
    if job.finished:
        return job
    svc.queue.wait_until_finished(job.job_id, seconds)
    return svc.repository.get_job(job.tenant_id, job.job_id) or job


def cancel_job(svc: Services, caller: Caller, job_id: str) -> Job:
    job = owned_job(svc, caller, job_id)
    if not _cancel(svc, job):
        raise _conflict(job, "cancelled", "only a pending or processing job can be cancelled")
    finish_batch_if_done(svc.repository, job)
    return owned_job(svc, caller, job_id)


def cancel_batch(svc: Services, caller: Caller, batch_id: str) -> Batch:
    """Cancel every job of the batch that has not finished; finished ones keep their result."""
    owned_batch(svc, caller, batch_id)
    last_cancelled = None
    for job_id, status in svc.repository.batch_job_states(batch_id).items():
        if status not in (PENDING, PROCESSING):
            continue
        job = svc.repository.get_job(caller.tenant_id, job_id)
        if job is not None and _cancel(svc, job):
            last_cancelled = job
    if last_cancelled is not None:
        finish_batch_if_done(svc.repository, last_cancelled)
    return owned_batch(svc, caller, batch_id)


def retry_job(svc: Services, caller: Caller, job_id: str) -> Job:
    job = owned_job(svc, caller, job_id)
    if job.status == FAILED:  # its images count again; a refused retry changes nothing
        admit_images(svc, caller, job.plan.n)
    try:
        retried = svc.repository.retry_job(caller.tenant_id, job_id, utc_now())
    except InsufficientCredits as shortfall:
        raise refused(shortfall) from None
    if not retried:
        raise _conflict(job, "retried", "only a failed job can be retried")
    queue_recorded(svc, [job])
    return owned_job(svc, caller, job_id)


def _cancel(svc: Services, job: Job) -> bool:
    """Cancel one job as read just before; False when it was no longer cancellable."""
    if not svc.repository.cancel_job(job.tenant_id, job.job_id, utc_now()):
        return False
    if job.status == PENDING:
        # A run that died before it was taken back may have left images; a running job's
        # run removes its own when it sees the cancel, and may still be reading its inputs.
        discard_files(svc.blobs, job)
        discard_inputs(svc.blobs, job.plan)
    try:
        svc.queue.signal_cancelled(job.job_id)
        svc.queue.signal_finished(job.job_id)
    except RedisError:
        log.warning(
            "could not signal a cancel; its run sees it at its next write",
            exc_info=True,
            extra={"job_id": job.job_id},
        )
    return True


def _conflict(job: Job, action: str, message: str) -> ServiceError:
    return ServiceError(
        errors.INVALID_PARAMETERS,
        f"job {job.job_id} is {job.status} and cannot be {action}: {message}",
        {"job_id": job.job_id, "status": job.status},
        status=409,
    )

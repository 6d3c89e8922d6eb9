"""The job function a runner slot runs. Each takes an id, loads state, calls adapters, records.

Running a job twice never produces two results: a job that is not pending is left alone,
and each run holds the job under its own run id and lease (imagegen.storage.repository).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache

from imagegen import catalog, errors, library
from imagegen.config import Settings
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done, job_webhook
from imagegen.imaging import check_and_thumbnail
from imagegen.job_files import discard_files, image_id, image_keys
from imagegen.logs import log_context
from imagegen.metrics import record_outcome
from imagegen.plan import GenerationPlan
from imagegen.providers.bedrock import BedrockImageModels, CallWindow
from imagegen.providers.bodies import Artifact, ModelInputs
from imagegen.quota import rank
from imagegen.records import (
    CANCELLED,
    COMPLETED,
    EDITED,
    FAILED,
    GENERATED,
    PENDING,
    PROCESSING,
    Image,
    Job,
    parse_utc,
    utc_in,
    utc_now,
)
from imagegen.services import Services, build_services
from imagegen.storage.repository import Repository
from imagegen.tenant_concurrency import TenantSlots
from worker.run_table import RunTable

log = logging.getLogger(__name__)


@cache
def services() -> Services:
    """This process's adapters, built once (see warm_up)."""
    return build_services(Settings.from_env())


@cache
def _models() -> BedrockImageModels:
    return BedrockImageModels(services().settings, services().budget)


@cache
def tenant_slots() -> TenantSlots:
    """Every tenant's running jobs and waiting line (imagegen.tenant_concurrency); a slot
    lasts as long as a job's lease."""
    return TenantSlots(services().redis, services().settings.job_lease_seconds)


def warm_up() -> None:
    """Build the adapters before forking. The parent never opens a connection with them,
    so the forked processes share no live sockets (redis-py also resets pools after fork)."""
    services()
    _models().make_clients()
    tenant_slots()


def run_generation(job_id: str, turn_at: float | None = None, turn_spent: bool = True) -> str:
    """Run the job if it is pending; its outcome (COMPLETED, FAILED, CANCELLED, LOST), or
    PARKED when it waits (for one of its tenant's slots, or its model's budget), or SKIPPED.

    First the job takes one of its tenant's slots (imagegen.tenant_concurrency), or waits
    in its tenant's line, without a worker slot, while the tenant runs its
    max_concurrent_jobs already. Its slot is freed however the run ends, and when the job
    parks for its model's budget.

    turn_at: the job was taken from the parked jobs together with its first call's turn
    (quota.ProviderBudget.take_parked), which the call may use from this time.monotonic()
    on (turn_spent False: the take spent no turn, as the job's deadline had passed); a job
    that waits for its tenant instead gives the turn back. Otherwise (None) a job takes its
    first turn here, before it starts, and parks when there is none: a job that waits for
    its model's quota does not hold a slot that jobs of other models could use.
    """
    svc = services()
    job = svc.repository.load_job(job_id)
    if job is None:
        log.error("job not found", extra={"job_id": job_id})
        return SKIPPED
    with log_context(request_id=job.request_id, job_id=job.job_id, tenant_id=job.tenant_id):
        slots = tenant_slots()
        if job.status != PENDING:
            if job.status != PROCESSING:
                # Taken from its tenant's line with a slot, it was cancelled meanwhile (or
                # ran to its end elsewhere). A processing job's slot is its run's.
                slots.release(job.tenant_id, job_id)
            log.info("job is not pending; nothing to do", extra={"status": job.status})
            return SKIPPED
        cap = svc.limits.get(job.tenant_id).max_concurrent_jobs
        # Waiting for its tenant's own jobs counts neither against the job's deadline nor
        # for its place among a model's waiting jobs: both count from this.
        accepted = parse_utc(job.created_at) + timedelta(seconds=slots.waited_seconds(job_id))
        job_rank = rank(job.priority, accepted)
        if not slots.admit(job.tenant_id, job_id, cap, job_rank).admitted:
            if turn_at is not None and turn_spent:
                svc.budget.give_back(job.plan.model_id)
                log.info("the model's turn goes back: the job waits for its tenant")
            _wait_for_tenant(svc, job, cap)
            return PARKED
        release = True
        try:
            outcome = _start_and_run(svc, job, job_rank, accepted, turn_at)
            if outcome == LOST:
                # Taken back: the slot goes with the job to the run that replaces this one.
                release = False
            elif outcome == SKIPPED:
                # start_job refused it: a run elsewhere may hold the job, and its slot.
                current = svc.repository.load_job(job_id)
                release = current is None or current.status != PROCESSING
            return outcome
        finally:
            if release:
                slots.release(job.tenant_id, job_id)


def _start_and_run(
    svc: Services, job: Job, job_rank: float, accepted: datetime, turn_at: float | None
) -> str:
    """The rest of run_generation, once the job holds one of its tenant's slots."""
    job_id = job.job_id
    model_id = job.plan.model_id
    if turn_at is None:
        grant = svc.budget.try_acquire(model_id, job_rank)
        if not grant.granted:
            _park(svc, job, model_id, job_rank)
            return PARKED
        turn_at = time.monotonic() + grant.wait_seconds
    lease_seconds = svc.settings.job_lease_seconds
    run_id = "run_" + uuid.uuid4().hex
    slots = tenant_slots()
    # Announced before the job is taken, so there is no moment when this process holds
    # the job and its supervisor does not know which run it is.
    with _held(job_id, run_id):
        if not svc.repository.start_job(job_id, run_id, utc_now(), utc_in(lease_seconds)):
            log.info("job is no longer pending; nothing to do")
            return SKIPPED
        log.info(
            "generation started",
            extra={"model": model_id, "n": job.plan.n, "run_id": run_id},
        )
        with Lease(
            svc.repository,
            job_id,
            run_id,
            lease_seconds,
            # The tenant's slot runs out when the lease would: a dead run frees it.
            on_renewed=lambda: slots.renew(job.tenant_id, job_id),
        ) as lease:
            window = CallWindow(
                _deadline(svc, accepted), threading.Event(), rank=job_rank, turn_at=turn_at
            )
            window.granted.release()  # the turn taken above, or with the parked job
            outcome = _run(svc, job, run_id, lease, window)
    if outcome in (COMPLETED, FAILED):
        record_outcome(svc.redis, outcome)
    if outcome != LOST:
        svc.queue.signal_finished(job_id)
        finish_batch_if_done(svc.repository, job)
    return outcome


def _wait_for_tenant(svc: Services, job: Job, cap: int | None) -> None:
    """The job waits in its tenant's line, deferred in RQ's record by the same step that put
    it there (tenant_concurrency.TenantSlots.admit): its status says why."""
    if cap is None:  # the limit was lifted while jobs waited: they go first
        message = "waiting: the tenant's earlier jobs go first"
    elif cap == 1:
        message = "waiting: the tenant's 1 concurrent job is running"
    else:
        message = f"waiting: the tenant's {cap} concurrent jobs are running"
    svc.repository.mark_queued(job.job_id, utc_now(), message)
    log.info("job waits for one of its tenant's slots", extra={"max_concurrent_jobs": cap})


def _park(svc: Services, job: Job, model_id: str, job_rank: float) -> None:
    # In the parked line first, then deferred in RQ's record, from when on the sweeper counts
    # it as waiting and never queues it again while it is parked. A crash between the two
    # leaves it started in RQ's record and parked: the sweeper then queues it again too, and
    # whichever copy starts first runs it (start_job moves it once). The other order would
    # leave it deferred in no line, which nothing would ever run.
    svc.budget.park(model_id, job.job_id, job_rank)
    svc.queue.mark_parked(job.job_id)
    message = f"waiting for {model_id}'s quota (0 of {job.plan.n} done)"
    svc.repository.mark_queued(job.job_id, utc_now(), message)
    log.info("job parked until its model's quota has a turn for it", extra={"model": model_id})


# The job waits for its model's budget among the parked jobs, without a worker slot.
PARKED = "parked"
# The job was not pending (already run, cancelled, or missing): nothing was done.
SKIPPED = "skipped"
# The run gave the job up: it was taken back and runs again elsewhere.
LOST = "lost"


_run_table: RunTable | None = None


def use_run_table(table: RunTable) -> None:
    """In a runner process: its runs are written to this table (worker.run_table)."""
    global _run_table
    _run_table = table


@contextmanager
def _held(job_id: str, run_id: str) -> Iterator[None]:
    if _run_table is None:
        yield
        return
    row = _run_table.hold(job_id, run_id)
    try:
        yield
    finally:
        _run_table.release(row)


def _run(services: Services, job: Job, run_id: str, lease: Lease, window: CallWindow) -> str:
    """Generate, then record the outcome; the job's outcome, as far as this run knows it."""
    try:
        images = _generate(services, _models(), job, run_id, lease, window)
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
    plan = job.plan
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

    def __init__(
        self,
        repository: Repository,
        job_id: str,
        run_id: str,
        seconds: float,
        on_renewed: Callable[[], None] | None = None,
    ) -> None:
        """on_renewed: called after each renewal (the job's tenant slot is renewed with it)."""
        self._repository = repository
        self._job_id = job_id
        self._run_id = run_id
        self._seconds = seconds
        self._on_renewed = on_renewed
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
            if self._on_renewed is not None:
                self._on_renewed()


def _generate(
    services: Services,
    models: BedrockImageModels,
    job: Job,
    run_id: str,
    lease: Lease,
    window: CallWindow,
) -> list[Image]:
    """Make every call of the plan at once; store each image as it arrives.

    Image ids and file keys follow from the job and the image's place in it, so a run that
    replaces a dead one overwrites its files instead of leaving a second set.
    """
    plan = job.plan
    # A job accepted before its model's end of life fails as a new request would, naming
    # the successor, instead of calling a model Bedrock no longer serves.
    services.lifecycle.require_usable(plan.model_id)
    inputs = _load_inputs(services, plan)
    images: list[Image] = []
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


def _deadline(services: Services, accepted: datetime) -> float:
    """When (time.monotonic()) the job's calls stop waiting for quota: its deadline counts
    from when it was accepted, across runs and recoveries, not counting the time it waited
    for one of its tenant's slots (run_generation)."""
    left = services.settings.job_deadline_seconds - (datetime.now(UTC) - accepted).total_seconds()
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
    services.blobs.put(key, checked.data)
    services.blobs.put(thumb_key, checked.thumbnail)
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
        chat_id=plan.labels.chat_id,
        user_tags=list(plan.labels.user_tags),
        description=plan.labels.description,
        image_type=EDITED if edited else GENERATED,
        expires_at=library.temporary_expiry(services.settings, created_at),
    )

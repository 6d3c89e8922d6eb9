"""The sweeper: puts back what a dead worker or an emptied Redis lost.

The database is the record of every accepted job; Redis only carries the queue. Every
IMAGEGEN_SWEEP_INTERVAL_SECONDS the sweeper of each worker container:
- takes back processing jobs whose lease ran out (the run stopped renewing it: its worker
  was killed) and queues them again, or fails them once they were taken back
  IMAGEGEN_JOB_MAX_RECOVERIES times (removing any files their runs stored);
- queues again pending jobs that have waited IMAGEGEN_REQUEUE_AFTER_SECONDS and that Redis
  no longer holds (it restarted empty, or the API died between recording and queueing), nor
  a runner started within that time (one taking a job from a line starts it in RQ's record
  a moment before the database says so);
- drops expired idempotency keys;
- removes images (and the tombstones of deleted ones) whose expiry has passed: first their
  records, with the tenant's counters, then their files (original and thumbnail). A file
  that cannot be removed is logged and left; the record is gone either way, and on S3 the
  lifecycle rules remove such a file a day later.
Several sweepers at once are safe: every move is a conditional write, and queueing a job
twice runs it once (a run starts only a pending job).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from rq.job import Job as RqJob
from rq.job import JobStatus

from imagegen import errors
from imagegen.errors import ServiceError
from imagegen.events import finish_batch_if_done, job_webhook
from imagegen.job_files import discard_files
from imagegen.metrics import record_outcome
from imagegen.records import FAILED, Image, Job, utc_now, utc_timestamp
from imagegen.services import Services

log = logging.getLogger(__name__)

# Jobs looked at per sweep. Pending jobs are looked at longest-waiting first: with a backlog
# larger than this, a lost job is found once the jobs queued before it have drained.
_BATCH = 1000
# Batches of expired images removed per sweep at most; a larger backlog waits for the next.
_EXPIRY_ROUNDS = 10


class Sweeper:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._settings = services.settings

    def sweep(self) -> None:
        now = datetime.now(UTC)
        for job in self._services.repository.jobs_with_expired_leases(utc_timestamp(now), _BATCH):
            # One job that cannot be moved must not hold back the others (nor the rest of
            # the sweep): it is tried again at the next sweep.
            try:
                self._take_back(job)
            except Exception:
                log.exception("taking a job back failed", extra={"job_id": job.job_id})
        self._requeue_lost(now)
        self._services.repository.delete_expired_idempotency_keys(utc_timestamp(now))
        self.expire_images(now)

    def expire_images(self, now: datetime) -> int:
        """Remove what expired by now, records first and then files; how many images went.

        Records first: once its record is gone an image is never listed or served again; the
        other way round, a record could outlive its files and be listed with broken links.
        """
        removed = 0
        for _round in range(_EXPIRY_ROUNDS):
            expired = self._services.repository.expire_images(utc_timestamp(now), _BATCH)
            for image in expired:
                self._delete_files(image)
            removed += len(expired)
            if len(expired) < _BATCH:
                break
        if removed:
            log.info("expired images removed", extra={"images": removed})
        return removed

    def _delete_files(self, image: Image) -> None:
        for key in image.file_keys:
            try:
                self._services.blobs.delete(key)
            except Exception:
                log.exception(
                    "deleting an expired image's file failed",
                    extra={"image_id": image.image_id, "tenant_id": image.tenant_id, "key": key},
                )

    def _take_back(self, job: Job) -> None:
        repository = self._services.repository
        assert job.run_id is not None  # a processing job always has its run
        extra = {"job_id": job.job_id, "tenant_id": job.tenant_id, "recoveries": job.recoveries}
        if job.recoveries >= self._settings.job_max_recoveries:
            error = ServiceError(
                errors.GENERATION_FAILED,
                f"the worker running this job stopped {job.recoveries + 1} times; "
                "it was not tried again",
                {"reason": "worker_lost", "attempts": job.recoveries + 1},
            )
            now = utc_now()
            webhook = job_webhook(job, FAILED, now)
            if repository.fail_job(job.job_id, error.to_dict(), now, job.run_id, webhook):
                # Its runs may have stored images before they died; a failed job keeps none.
                discard_files(self._services.blobs, job)
                log.error("job failed: its worker stopped too often", extra=extra)
                record_outcome(self._services.redis, FAILED)
                self._services.queue.signal_finished(job.job_id)
                finish_batch_if_done(repository, job)
            return
        message = "queued again: the worker running it stopped"
        if repository.requeue_job(job.job_id, job.run_id, utc_now(), message):
            log.warning("job taken back from a worker that stopped", extra=extra)
            self._services.queue.enqueue_generation(job.job_id, job.request_id, job.priority)

    def _requeue_lost(self, now: datetime) -> None:
        repository = self._services.repository
        queue = self._services.queue
        before = now - timedelta(seconds=self._settings.requeue_after_seconds)
        waiting = repository.pending_jobs(utc_timestamp(before), _BATCH)
        if not waiting:
            return
        waiting_in_redis = queue.waiting_job_ids([job.job_id for job in waiting])
        starting = self._started_since(
            [job.job_id for job in waiting if job.job_id not in waiting_in_redis], before
        )
        for job in waiting:
            if job.job_id in waiting_in_redis or job.job_id in starting:
                continue
            # Marked before it is queued: a runner may start it the moment it is, and a
            # job no longer pending cannot be marked.
            repository.mark_queued(job.job_id, utc_now())
            queue.enqueue_generation(job.job_id, job.request_id, job.priority)
            log.warning(
                "pending job was not in the queue; queued it again",
                extra={"job_id": job.job_id, "tenant_id": job.tenant_id},
            )

    def _started_since(self, job_ids: list[str], since: datetime) -> set[str]:
        """Those of the jobs a runner marked started in RQ's record since then: taken from
        a line a moment ago (their waits there are old), they start or wait again now."""
        if not job_ids:
            return set()
        found = RqJob.fetch_many(job_ids, connection=self._services.redis)
        return {
            job.id
            for job in found
            if job is not None
            and job.get_status(refresh=False) == JobStatus.STARTED
            and job.started_at is not None
            and job.started_at >= since
        }

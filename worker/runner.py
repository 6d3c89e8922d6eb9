"""The runner: one long-lived process that runs IMAGEGEN_WORKER_CONCURRENCY jobs at once.

A generation is mostly waiting: for Bedrock to answer (seconds to tens of seconds) or for
the model's quota. So each job runs on a thread of this process, not in a process of its
own: a thread costs tens of kilobytes where a forked RQ work horse cost tens of megabytes,
and one container holds dozens of model calls in flight (bench/RESULTS.md, "Calls in
flight"). RQ's own workers run one job per process (a fork per job, or none at a time with
its SimpleWorker), hence this runner: it takes jobs from the same RQ queues, highest
priority first (one BLPOP over the queues in priority order), and marks them started and
finished in RQ's job records as RQ's workers do, so RQ's tools still read them.

A slot is taken before a job is: the runner never holds a job it has no thread for. A job
whose model's budget has no turn for it is parked (worker.jobs, imagegen.quota) and gives
its slot back; the runner takes parked jobs back as their turns come. A job whose tenant
runs its max_concurrent_jobs already waits in its tenant's line the same way
(imagegen.tenant_concurrency): when one of the tenant's jobs ends, the slot thread that ran
it takes the best-ranked waiting job of any tenant with a free slot before it gives its
slot back, and the loop looks at the lines too (a dead worker's tenant slots free
themselves, and a limit may be raised). So a tenant's burst takes at most its limit of
slots, and other tenants' jobs of the same priority run meanwhile. A tenant without a limit
is not held back: its jobs are taken first come first served within their priority, as
queued. What keeps a job safe is unchanged from the forked design: the job's run id and
lease in the database (worker.jobs), the run table the supervisor reads to hand runs back
at shutdown (worker.run_table), and the sweeper for a runner that died with its jobs.

On SIGINT or SIGTERM (sent by the supervisor) the runner takes no more jobs, lets the
running ones finish, then exits; the supervisor kills it when its grace runs out.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.utils import now, utcformat

from imagegen.jobqueue import QUEUE_NAMES, RunnerStatus
from imagegen.quota import ParkedTurn, ProviderBudget
from imagegen.tenant_concurrency import WaitingJob
from worker import jobs
from worker.run_table import RunTable

log = logging.getLogger(__name__)

# The longest a dequeue blocks: how soon a stopping runner notices it should stop taking
# jobs. Well under the Redis client's socket timeout.
_DEQUEUE_SECONDS = 1
# How often the runner says it is alive and how many of its slots are busy; its record
# lives three times as long, so a dead runner drops out of the count soon after.
_HEARTBEAT_SECONDS = 2.0
# After a Redis error, how long the runner waits before it tries to take a job again.
_REDIS_RETRY_SECONDS = 1.0
# While jobs are parked, the longest the runner waits before it looks at them again; sooner
# when a model's budget says its next turn comes sooner. (With none parked, the runner
# waits on the queues for up to _DEQUEUE_SECONDS: whichever runner parks a job next frees
# its slot in doing so, and looks at the parked jobs at once.)
_PARKED_POLL_SECONDS = 0.5
# While jobs wait in tenants' lines, the longest the runner waits before it looks at them
# again: a slot freed by a job's end is taken at once by its slot thread, but one that ran
# out (its worker died) or a limit raised is noticed only here.
_WAITING_POLL_SECONDS = 0.5
# How late Redis may end a blocking pop: at its next 100 ms tick (hz 10) after the timeout.
_REDIS_TIMEOUT_RESOLUTION_SECONDS = 0.1
# Redis counts a blocking pop's timeout in milliseconds, and one that rounds to 0 blocks
# for ever.
_SHORTEST_BLOCKING_POP_SECONDS = 0.01


class Runner:
    def __init__(self, name: str, slots: int, table: RunTable) -> None:
        self._name = name
        self._slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        # Set once the jobs still running at a stop have finished: until then the runner
        # keeps saying how many slots are busy.
        self._drained = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="job")
        jobs.use_run_table(table)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        services = jobs.services()
        queues = [Queue(name, connection=services.redis) for name in QUEUE_NAMES]
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        budget = services.budget
        log.info("runner started", extra={"runner": self._name, "slots": self._slots})
        # One loop takes parked, waiting and queued jobs: with a slot free, a parked job
        # whose turn has come goes first, then a job waiting in its tenant's line whose
        # tenant has a free slot; otherwise the loop waits for a queued job until the next
        # turn of a parked one may come.
        while not self._stop.is_set():
            if not self._free.acquire(timeout=_DEQUEUE_SECONDS):
                continue
            try:
                taken, pause = self._next_parked(budget)
            except RedisError:
                log.exception("taking a parked job failed; trying again")
                taken, pause = None, _REDIS_RETRY_SECONDS
            if taken is not None:
                turn_at = time.monotonic() + taken.wait_seconds
                rq_job = self._fetch_started(taken.job_id)
                self._submit(taken.job_id, rq_job, turn_at, not taken.expired)
                continue
            waiting, lines = self._next_waiting()
            if waiting is not None:
                self._submit(waiting.job_id, self._fetch_started(waiting.job_id), None)
                continue
            if lines:
                pause = min(pause, _WAITING_POLL_SECONDS)
            rq_job = self._wait_for_job(queues, pause)
            if rq_job is None:
                self._free.release()
                continue
            self._submit(rq_job.id, rq_job, None)
        log.info("runner stopping: finishing the jobs it runs", extra={"busy": self._busy})
        self._pool.shutdown(wait=True)
        self._drained.set()
        heartbeat.join()
        log.info("runner stopped", extra={"runner": self._name})

    def _request_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def _wait_for_job(self, queues: list[Queue], seconds: float) -> RqJob | None:
        """A queued job if one comes within seconds, else None once they have passed. Redis
        ends a blocking pop only at its next tick after the timeout, so the wait on the
        queues ends a tick early and the rest is waited here: a parked job's turn taken late
        is quota lost for good."""
        blocking = seconds - _REDIS_TIMEOUT_RESOLUTION_SECONDS
        if blocking >= _SHORTEST_BLOCKING_POP_SECONDS:
            return self._dequeue(queues, blocking)
        rq_job = self._dequeue(queues, None)
        if rq_job is None:
            self._stop.wait(seconds)
        return rq_job

    def _dequeue(self, queues: list[Queue], timeout: float | None) -> RqJob | None:
        """The next queued job, waiting up to timeout seconds for one (None: not at all),
        marked started in RQ's record before anything else happens to it: the sweeper
        queues a pending job again only when RQ no longer says it waits."""
        try:
            # Redis takes a fractional BLPOP timeout, though RQ's signature says int.
            wait = None if timeout is None else min(timeout, _DEQUEUE_SECONDS)
            found = Queue.dequeue_any(queues, wait, connection=queues[0].connection)  # type: ignore[arg-type]
            if found is None:
                return None
            return self._mark_started(found[0])
        except DequeueTimeout:
            return None
        except RedisError:
            log.exception("taking a job from the queue failed; trying again")
            self._stop.wait(_REDIS_RETRY_SECONDS)
            return None

    @staticmethod
    def _next_parked(budget: ProviderBudget) -> tuple[ParkedTurn | None, float]:
        """(a parked job taken with its turn, or None; how long until a turn may come)."""
        models = budget.parked_models()
        pause = _PARKED_POLL_SECONDS if models else _DEQUEUE_SECONDS
        for model_id in models:
            turn = budget.take_parked(model_id)
            if isinstance(turn, ParkedTurn):
                if turn.expired:
                    # Run all the same: its first call finds the deadline passed and the
                    # job fails with IMG203 through the usual path (status, webhook, batch).
                    log.info("a parked job's deadline passed", extra={"job_id": turn.job_id})
                return turn, 0.0
            if turn is not None:
                pause = min(pause, turn.wait_seconds)
        return None, pause

    @staticmethod
    def _next_waiting() -> tuple[WaitingJob | None, bool]:
        """(a job taken from a tenant's line with one of its tenant's slots, or None;
        whether any tenant has jobs in its line). Each tenant's limit is read through the
        process's limits cache, so a change applies within its few seconds."""
        slots = jobs.tenant_slots()
        try:
            tenants = slots.waiting_tenants()
            if not tenants:
                return None, False
            limits = jobs.services().limits
            caps = {tenant: limits.get(tenant).max_concurrent_jobs for tenant in tenants}
            return slots.take_waiting(caps), True
        except Exception:
            # Redis or the database: the lines keep their jobs, and are looked at again.
            log.exception("taking a job from a tenant's line failed; trying again")
            return None, True

    def _fetch_started(self, job_id: str) -> RqJob | None:
        """RQ's record of a job taken from the parked or waiting ones, marked started. None
        when it cannot be had: the job was taken (with its turn, or its tenant's slot) and
        runs all the same, as the database is its record."""
        try:
            return self._mark_started(RqJob.fetch(job_id, connection=jobs.services().redis))
        except NoSuchJobError:
            return None
        except RedisError:
            log.warning("could not mark a parked job started in RQ", extra={"job_id": job_id})
            return None

    def _mark_started(self, rq_job: RqJob) -> RqJob:
        with rq_job.connection.pipeline() as pipe:
            rq_job.prepare_for_execution(self._name, pipe)
            pipe.execute()
        return rq_job

    def _submit(
        self, job_id: str, rq_job: RqJob | None, turn_at: float | None, turn_spent: bool = True
    ) -> None:
        with self._busy_lock:
            self._busy += 1
        self._pool.submit(self._run, job_id, rq_job, turn_at, turn_spent)

    def _run(
        self, job_id: str, rq_job: RqJob | None, turn_at: float | None, turn_spent: bool
    ) -> None:
        try:
            while True:
                self._run_one(job_id, rq_job, turn_at, turn_spent)
                # The job's end freed a slot of its tenant, maybe one a waiting job of that
                # tenant (or another) can have now: this thread runs it, in the same slot.
                if self._stop.is_set():
                    return
                waiting, _ = self._next_waiting()
                if waiting is None:
                    return
                job_id, turn_at, turn_spent = waiting.job_id, None, True
                rq_job = self._fetch_started(job_id)
        finally:
            with self._busy_lock:
                self._busy -= 1
            self._free.release()

    def _run_one(
        self, job_id: str, rq_job: RqJob | None, turn_at: float | None, turn_spent: bool
    ) -> None:
        status = JobStatus.FAILED
        outcome = None
        try:
            outcome = jobs.run_generation(job_id, turn_at, turn_spent)
            status = JobStatus.FINISHED
        except Exception:
            # A job's own failures are recorded by its run; this is a fault around it (the
            # database unreachable, say). The job stays as its record says: pending or
            # processing under a lease, which the sweeper takes back if nothing else does.
            log.exception("running a job failed", extra={"job_id": job_id})
        finally:
            if rq_job is not None and outcome != jobs.PARKED:
                self._mark_ended(rq_job, status)

    @staticmethod
    def _mark_ended(rq_job: RqJob, status: JobStatus) -> None:
        """Close RQ's record of the job as RQ's own workers do (RQ's tools read it)."""
        ttl = rq_job.result_ttl if status == JobStatus.FINISHED else rq_job.failure_ttl
        try:
            with rq_job.connection.pipeline() as pipe:
                rq_job.set_status(status, pipe)
                pipe.hset(rq_job.key, "ended_at", utcformat(now()))
                rq_job.cleanup(ttl, pipe, remove_from_queue=False)
                pipe.execute()
        except RedisError:
            log.warning("could not record the end of a job in RQ", extra={"job_id": rq_job.id})

    def _heartbeat(self) -> None:
        queue = jobs.services().queue
        while True:
            try:
                status = RunnerStatus(self._name, os.getpid(), self._slots, self._busy)
                queue.runner_alive(status, 3 * _HEARTBEAT_SECONDS)
            except RedisError:
                log.warning("could not record the runner's heartbeat")
            if self._drained.wait(_HEARTBEAT_SECONDS):
                break
        try:
            queue.runner_gone(self._name)
        except RedisError:
            log.warning("could not remove the runner's heartbeat; it expires on its own")

"""The worker container's main process: it runs and watches the other processes.

- IMAGEGEN_WORKER_CONCURRENCY RQ worker processes, each forking a work horse per job (so a
  crashing job cannot take its worker down), listening to the priority queues highest
  first. One that dies is started again.
- One maintenance process: the sweeper, the webhook dispatcher and the metrics publisher,
  each a thread there. They live in their own process so that this one never holds a
  thread when it forks a worker.

On SIGTERM (ECS stopping the task) or SIGINT: the workers stop taking jobs and finish the
ones they run (RQ's warm shutdown). Whatever still runs after
IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is handed back: its work horse is killed and the job
goes back on the queue, for another worker to run from the start. Keep the grace below the
time ECS waits before SIGKILL (the task's stopTimeout), so the hand-back happens first; if
SIGKILL comes anyway, the sweeper takes the job back when its lease runs out.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

import boto3
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

from imagegen.config import Settings
from imagegen.jobqueue import QUEUE_NAMES
from imagegen.metrics import MetricsPublisher
from imagegen.records import utc_now
from worker import jobs
from worker.dispatcher import WebhookDispatcher
from worker.sweeper import Sweeper

log = logging.getLogger(__name__)

_CHECK_SECONDS = 0.5
# RQ ignores a second stop signal within a second of the first (its pool sends duplicates);
# the cold-shutdown signal must come later than that.
_RQ_DUPLICATE_SIGNAL_WINDOW = 1.1

_fork = multiprocessing.get_context("fork")


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._workers: dict[str, BaseProcess] = {}
        # What each RQ worker process's horse runs, written by the horse (jobs.RunSlot).
        self._run_slots: dict[str, jobs.RunSlot] = {}
        self._maintenance: BaseProcess | None = None
        self._stop_requested = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        for _ in range(self._settings.worker_concurrency):
            self._start_worker()
        self._start_maintenance()
        log.info("worker pool started", extra={"concurrency": self._settings.worker_concurrency})
        while not self._stop_requested:
            self._replace_dead()
            time.sleep(_CHECK_SECONDS)
        self._shut_down()

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self._stop_requested = True

    def _start_worker(self) -> None:
        name = f"imagegen-{uuid.uuid4().hex[:12]}"
        slot = jobs.RunSlot()
        process = _fork.Process(target=_run_rq_worker, args=(self._settings, name, slot), name=name)
        process.start()
        self._workers[name] = process
        self._run_slots[name] = slot

    def _start_maintenance(self) -> None:
        self._maintenance = _fork.Process(
            target=_run_maintenance, args=(self._settings,), name="imagegen-maintenance"
        )
        self._maintenance.start()

    def _replace_dead(self) -> None:
        for name, process in list(self._workers.items()):
            if not process.is_alive():
                log.warning("worker process died; starting another", extra={"worker": name})
                process.join()
                del self._workers[name]
                del self._run_slots[name]
                self._start_worker()
        if self._maintenance is not None and not self._maintenance.is_alive():
            log.warning("maintenance process died; starting another")
            self._maintenance.join()
            self._start_maintenance()

    def _shut_down(self) -> None:
        if self._maintenance is not None:
            self._maintenance.terminate()
        for process in self._workers.values():
            _signal(process, signal.SIGINT)  # warm: finish the current job, take no other
        deadline = time.monotonic() + self._settings.worker_shutdown_grace_seconds
        while time.monotonic() < deadline and any(p.is_alive() for p in self._workers.values()):
            time.sleep(_CHECK_SECONDS)
        still_running = [name for name, p in self._workers.items() if p.is_alive()]
        if still_running:
            self._hand_back(still_running)
        for process in self._workers.values():
            process.join()
        if self._maintenance is not None:
            self._maintenance.join()
        log.info("worker pool stopped")

    def _hand_back(self, names: list[str]) -> None:
        """Stop the work horses still running and put their jobs back on the queue.

        Each job goes back only from the run its horse held (the run slot names it), so a
        job that another worker took over meanwhile (this horse's lease had run out) is left
        to that worker.
        """
        time.sleep(_RQ_DUPLICATE_SIGNAL_WINDOW)
        for name in names:
            _signal(self._workers[name], signal.SIGTERM)  # cold: kills the horse, then exits
        for name in names:
            self._workers[name].join()
        services = jobs.services()
        message = "queued again: its worker shut down before it finished"
        for name in names:
            held = self._run_slots[name].held()
            if held is None:
                continue
            job_id, run_id = held
            extra = {"job_id": job_id, "run_id": run_id}
            try:
                if not services.repository.requeue_job(job_id, run_id, utc_now(), message):
                    continue  # finished, cancelled, or taken over by another run
                job = services.repository.load_job(job_id)
                if job is not None:
                    services.queue.enqueue_generation(job_id, job.request_id, job.priority)
                log.warning("job handed back at shutdown", extra=extra)
            except RedisError:
                # Pending in the database: a sweeper queues it again once Redis answers.
                log.exception("could not queue a handed-back job", extra=extra)
            except Exception:
                # Still processing: a sweeper takes it back when its lease runs out.
                log.exception("could not hand a job back", extra=extra)


def _signal(process: BaseProcess, signum: int) -> None:
    if process.pid is not None and process.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


def _run_rq_worker(settings: Settings, name: str, slot: jobs.RunSlot) -> None:
    # The supervisor's handlers were inherited; RQ installs its own in work().
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    jobs.use_run_slot(slot)
    worker = Worker(QUEUE_NAMES, connection=Redis.from_url(settings.redis_url), name=name)
    worker.work(with_scheduler=False, logging_level=settings.log_level)


def _run_maintenance(settings: Settings) -> None:
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when this stops
    services = jobs.services()
    loops: list[Callable[[], None]] = [
        lambda: _every(settings.sweep_interval_seconds, Sweeper(services).sweep, stop),
        lambda: WebhookDispatcher(services).run(stop),
    ]
    if settings.metrics_namespace:
        publisher = MetricsPublisher(
            services.redis,
            boto3.client("cloudwatch", region_name=settings.aws_region),
            settings.metrics_namespace,
        )
        loops.append(lambda: publisher.run(settings.metrics_interval_seconds, stop))
    threads = [threading.Thread(target=loop, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _every(interval_seconds: float, task: Callable[[], None], stop: threading.Event) -> None:
    """Run the task now and then every interval until stopped; a failure is logged only."""
    while not stop.is_set():
        try:
            task()
        except Exception:
            log.exception("periodic task failed", extra={"task": task.__qualname__})
        stop.wait(interval_seconds)

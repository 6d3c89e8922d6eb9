"""The worker container's main process: it runs and watches the other processes.

- One runner process (worker.runner): IMAGEGEN_WORKER_CONCURRENCY jobs at once, each on a
  thread, taken from the priority queues highest first. If it dies it is started again;
  the jobs it ran are taken back by the sweeper when their leases run out.
- One maintenance process: the sweeper, the webhook dispatcher and the metrics publisher,
  each a thread there. They live in their own process so that this one never holds a
  thread when it forks the runner.

On SIGTERM (ECS stopping the task) or SIGINT: the runner stops taking jobs and finishes the
ones it runs. Whatever still runs after IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS is handed
back: the runner is killed and its jobs go back on the queue, for another worker to run
from the start. Keep the grace below the time ECS waits before SIGKILL (the task's
stopTimeout), so the hand-back happens first; if SIGKILL comes anyway, the sweeper takes
the jobs back when their leases run out.
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
from redis.exceptions import RedisError

from imagegen.config import Settings
from imagegen.metrics import MetricsPublisher
from imagegen.records import utc_now
from worker import jobs
from worker.dispatcher import WebhookDispatcher
from worker.run_table import RunTable
from worker.runner import Runner
from worker.sweeper import Sweeper

log = logging.getLogger(__name__)

_CHECK_SECONDS = 0.5

_fork = multiprocessing.get_context("fork")


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._runner: BaseProcess | None = None
        # What the runner's jobs run under, written by the runner (worker.run_table).
        self._run_table = RunTable(settings.worker_concurrency)
        self._maintenance: BaseProcess | None = None
        self._stop_requested = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self._start_runner()
        self._start_maintenance()
        log.info("worker started", extra={"concurrency": self._settings.worker_concurrency})
        while not self._stop_requested:
            self._replace_dead()
            time.sleep(_CHECK_SECONDS)
        self._shut_down()

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self._stop_requested = True

    def _start_runner(self) -> None:
        name = f"imagegen-{uuid.uuid4().hex[:12]}"
        self._runner = _fork.Process(
            target=_run_runner, args=(self._settings, name, self._run_table), name=name
        )
        self._runner.start()

    def _start_maintenance(self) -> None:
        self._maintenance = _fork.Process(
            target=_run_maintenance, args=(self._settings,), name="imagegen-maintenance"
        )
        self._maintenance.start()

    def _replace_dead(self) -> None:
        if self._runner is not None and not self._runner.is_alive():
            log.warning(
                "runner process died; starting another", extra={"runner": self._runner.name}
            )
            self._runner.join()
            # Its rows name runs that no process runs any more: the sweeper takes those jobs
            # back when their leases run out; the new runner starts from an empty table.
            self._run_table.clear()
            self._start_runner()
        if self._maintenance is not None and not self._maintenance.is_alive():
            log.warning("maintenance process died; starting another")
            self._maintenance.join()
            self._start_maintenance()

    def _shut_down(self) -> None:
        if self._maintenance is not None:
            self._maintenance.terminate()
        runner = self._runner
        if runner is not None:
            _signal(runner, signal.SIGINT)  # finish the jobs it runs, take no other
            runner.join(self._settings.worker_shutdown_grace_seconds)
            if runner.is_alive():
                _signal(runner, signal.SIGKILL)
                runner.join()
                self._hand_back()
        if self._maintenance is not None:
            self._maintenance.join()
        log.info("worker stopped")

    def _hand_back(self) -> None:
        """Put the jobs the killed runner still ran back on the queue.

        Each job goes back only from the run the runner held (its row in the run table names
        it), so a job that another worker took over meanwhile (this run's lease had run out)
        is left to that worker.
        """
        services = jobs.services()
        message = "queued again: its worker shut down before it finished"
        for job_id, run_id in self._run_table.held():
            extra = {"job_id": job_id, "run_id": run_id}
            try:
                if not services.repository.requeue_job(job_id, run_id, utc_now(), message):
                    continue  # finished, cancelled, or taken over by another run
                job = services.repository.load_job(job_id)
                if job is not None:
                    # The killed run's slot of its tenant, free now rather than with the lease.
                    jobs.tenant_slots().release(job.tenant_id, job_id)
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


def _run_runner(settings: Settings, name: str, table: RunTable) -> None:
    Runner(name, settings.worker_concurrency, table).run()


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

"""A stack of its own for the crash-recovery tests, which kill workers and restart Redis.

Its own redis-server (no persistence, so a restart comes back empty), data directory, API
and worker processes; only the model endpoint is shared with the other tests. Workers are
started per test, as each test needs its own shutdown grace, and are killed the way a
container is: every process of the tree at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import requests
import yaml
from openapi_core import OpenAPI
from redis import Redis

from imagegen.jobqueue import JobQueue
from imagegen.storage.sqlite import SqliteRepository
from tests.conftest import (
    GUNICORN,
    PYTHON,
    ROOT,
    Process,
    free_port,
    service_env,
    start_process,
    wait_until,
)

LEASE_SECONDS = 3.0
SWEEP_INTERVAL_SECONDS = 0.5
REQUEUE_AFTER_SECONDS = 2.0
MAX_RECOVERIES = 2
CONCURRENCY = 2


# --- processes, read from /proc ------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def is_running(pid: int) -> bool:
    """Alive: not gone, and not a zombie waiting to be reaped."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """Live child processes of pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return sorted(found)


@dataclass
class WorkerTree:
    """The processes of one worker container: the supervisor and its two children, the
    runner (whose threads run the jobs) and the maintenance process."""

    supervisor: int
    runner: int
    maintenance: int


# --- the stack -----------------------------------------------------------------------------


@dataclass
class RecoveryStack:
    base_url: str
    model_endpoint: str
    data_dir: Path
    env: dict[str, str]
    redis_port: int
    api: Process | None = None
    redis_process: Process | None = None
    workers: list[Process] = field(default_factory=list)
    _starts: int = 0

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    @cached_property
    def repository(self) -> SqliteRepository:
        """The stack's database, for what the API does not show (run ids, recoveries).
        Made once: opening it migrates, a write the tests should not repeat while polling."""
        return SqliteRepository(self.data_dir / "imagegen.sqlite3")

    def _log(self, name: str) -> Path:
        self._starts += 1
        return self.data_dir / f"{self._starts:02d}-{name}.log"

    # Redis -------------------------------------------------------------------------------

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server must be installed (apt-get install redis-server)"
        workdir = self.data_dir / "redis"
        workdir.mkdir(exist_ok=True)
        self.redis_process = start_process(
            [server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            dict(os.environ),
            self._log("redis"),
        )  # fmt: skip

        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        wait_until(ping, what="redis-server")

    def kill_redis(self) -> None:
        assert self.redis_process is not None
        self.redis_process.popen.kill()
        self.redis_process.popen.wait()
        self.redis_process = None

    def restart_redis_empty(self) -> None:
        """Redis dies and comes back on the same port with nothing in it."""
        self.kill_redis()
        self.start_redis()

    # workers -----------------------------------------------------------------------------

    def start_worker(self, grace_seconds: float = 20.0, concurrency: int = CONCURRENCY) -> Process:
        """A worker container (python -m worker), once its runner takes jobs."""
        env = {
            **self.env,
            "IMAGEGEN_WORKER_SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
            "IMAGEGEN_WORKER_CONCURRENCY": str(concurrency),
        }
        worker = start_process([PYTHON, "-m", "worker"], env, self._log("worker"))
        self.workers.append(worker)

        def listening() -> bool:
            assert worker.popen.poll() is None, worker.log()
            return self.tree(worker) is not None

        wait_until(listening, timeout=30, what="the worker's runner")
        return worker

    def tree(self, worker: Process) -> WorkerTree | None:
        """The worker's processes, once all of them run (None before). The runner is the
        child whose heartbeat is in Redis; the other child is the maintenance process."""
        supervisor = worker.popen.pid
        direct = children(supervisor)
        alive = {runner.pid for runner in JobQueue(self.redis()).runners()}
        runners = [pid for pid in direct if pid in alive]
        others = [pid for pid in direct if pid not in alive]
        if len(runners) != 1 or len(others) != 1:
            return None
        return WorkerTree(supervisor, runners[0], others[0])

    def runner(self, worker: Process) -> int:
        """The pid of the worker's runner, once it takes jobs."""
        wait_until(lambda: self.tree(worker) is not None, what="the worker's runner")
        tree = self.tree(worker)
        assert tree is not None
        return tree.runner

    def kill_container(self, worker: Process) -> list[int]:
        """SIGKILL every process of the worker, as when its container is killed.

        The tree is frozen first (SIGSTOP), so that the supervisor cannot start a runner in
        place of a killed one while the tree is being killed.
        """
        root = worker.popen.pid
        frozen: set[int] = set()
        while True:
            tree = {root, *descendants(root)} - frozen
            if not tree:
                break
            for pid in tree:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            frozen |= tree
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.popen.wait(timeout=10)
        wait_until(lambda: not any(is_running(pid) for pid in frozen), what="the killed processes")
        return sorted(frozen)

    def stop_all_workers(self) -> None:
        for worker in self.workers:
            if worker.popen.poll() is None:
                self.kill_container(worker)
        self.workers.clear()

    # API ---------------------------------------------------------------------------------

    def start_api(self) -> None:
        self.api = start_process(
            [GUNICORN, "-c", "gunicorn.conf.py", "app.wsgi:app"], self.env, self._log("api")
        )
        wait_until(lambda: requests.get(f"{self.base_url}/healthz", timeout=1).ok, what="the API")

    def openapi(self) -> OpenAPI:
        document = yaml.safe_load((ROOT / "app" / "openapi.yaml").read_text(encoding="utf-8"))
        document["servers"] = [{"url": self.base_url}]
        return OpenAPI.from_dict(document)

    def stop(self) -> None:
        self.stop_all_workers()
        if self.api is not None:
            self.api.stop()
        if self.redis_process is not None:
            self.redis_process.stop()


def recovery_stack(data_dir: Path, model_endpoint: str) -> RecoveryStack:
    api_port, redis_port = free_port(), free_port()
    stack = RecoveryStack(
        base_url=f"http://127.0.0.1:{api_port}",
        model_endpoint=model_endpoint,
        data_dir=data_dir,
        env={},
        redis_port=redis_port,
    )
    stack.env = {
        **service_env(data_dir, stack.redis_url, model_endpoint, api_port),
        "IMAGEGEN_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "IMAGEGEN_SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL_SECONDS),
        "IMAGEGEN_REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER_SECONDS),
        "IMAGEGEN_JOB_MAX_RECOVERIES": str(MAX_RECOVERIES),
        "IMAGEGEN_WORKER_CONCURRENCY": str(CONCURRENCY),
        # The endpoint's slow trigger answers after 4 s: the model call must wait for it
        # (the shared stack's 2 s read timeout would fail these jobs instead).
        "IMAGEGEN_BEDROCK_READ_TIMEOUT_SECONDS": "30",
    }
    try:
        stack.start_redis()
        stack.start_api()
    except BaseException:
        stack.stop()
        raise
    return stack
